"""FITS image spectra: the spectral WCS in each convention a file may use (astropy.wcs).

Each file puts the same vacuum grid (3600-9800 A) on disk in another
convention; reading must give that grid back.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from deepz import io
from deepz.lines import air_to_vacuum, vacuum_to_air

M = 200
VAC = np.linspace(3600.0, 9800.0, M)


def write_image(tmp_path, name, cards, n=1):
    flux = np.arange(1.0, 1.0 + n * M).reshape(n, M) if n > 1 else np.linspace(1.0, 2.0, M)
    hdu = fits.PrimaryHDU(flux)
    for key, value in cards.items():
        hdu.header[key] = value
    path = tmp_path / name
    hdu.writeto(path)
    return str(path)


def linear_cards(wave, ctype="WAVE", unit="Angstrom"):
    return {
        "CTYPE1": ctype,
        "CUNIT1": unit,
        "CRVAL1": wave[0],
        "CDELT1": wave[1] - wave[0],
        "CRPIX1": 1.0,
    }


def test_linear_vacuum_axis_in_angstrom(tmp_path):
    batch = io.read(write_image(tmp_path, "a.fits", linear_cards(VAC)))
    np.testing.assert_allclose(batch.wave.reshape(-1), VAC, rtol=1e-12)


def test_linear_axis_in_nm_is_converted(tmp_path):
    batch = io.read(write_image(tmp_path, "nm.fits", linear_cards(VAC / 10, unit="nm")))
    np.testing.assert_allclose(batch.wave.reshape(-1), VAC, rtol=1e-12)


def test_crpix_offsets_the_axis(tmp_path):
    cards = linear_cards(VAC)
    cards.update(CRVAL1=VAC[10], CRPIX1=11.0)
    batch = io.read(write_image(tmp_path, "px.fits", cards))
    np.testing.assert_allclose(batch.wave.reshape(-1), VAC, rtol=1e-12)


def test_awav_axis_is_air_and_becomes_vacuum(tmp_path):
    air = vacuum_to_air(VAC)
    # a linear air axis: written from the first two air wavelengths
    cards = linear_cards(air, ctype="AWAV")
    batch = io.read(write_image(tmp_path, "air.fits", cards))
    expected = air_to_vacuum(air[0] + (air[1] - air[0]) * np.arange(M))
    np.testing.assert_allclose(batch.wave.reshape(-1), expected, rtol=1e-12)
    # and not read as vacuum: that would be off by about 1.7 A at 6000 A
    assert np.all(batch.wave.reshape(-1) - (air[0] + (air[1] - air[0]) * np.arange(M)) > 0.9)


@pytest.mark.parametrize("cards", [{"AIRORVAC": "air"}, {"VACUUM": False}])
def test_survey_air_keywords_become_vacuum(tmp_path, cards):
    air = vacuum_to_air(VAC)
    all_cards = linear_cards(air, ctype="LINEAR")
    all_cards.update(cards)
    batch = io.read(write_image(tmp_path, "air2.fits", all_cards))
    expected = air_to_vacuum(air[0] + (air[1] - air[0]) * np.arange(M))
    np.testing.assert_allclose(batch.wave.reshape(-1), expected, rtol=1e-12)


def test_standard_wave_log_axis(tmp_path):
    # FITS standard (Greisen et al. 2006): lambda = CRVAL exp(w / CRVAL), w = CDELT (p - CRPIX)
    lam_r, dw = 3600.0, 2.0
    expected = lam_r * np.exp(dw * np.arange(M) / lam_r)
    cards = {"CTYPE1": "WAVE-LOG", "CUNIT1": "Angstrom", "CRVAL1": lam_r, "CDELT1": dw}
    cards["CRPIX1"] = 1.0
    batch = io.read(write_image(tmp_path, "log.fits", cards))
    np.testing.assert_allclose(batch.wave.reshape(-1), expected, rtol=1e-10)


@pytest.mark.parametrize(
    "extra",
    [{"DC-FLAG": 1, "CTYPE1": "LINEAR"}, {"CTYPE1": "LOGLAM"}, {"CTYPE1": "WAVE-LOG"}],
    ids=["dc-flag", "loglam", "wave-log-with-log10-values"],
)
def test_log10_survey_conventions(tmp_path, extra):
    loglam = np.log10(3600.0) + 1e-4 * np.arange(M)
    cards = {"CRVAL1": loglam[0], "CDELT1": 1e-4, "CRPIX1": 1.0, **extra}
    batch = io.read(write_image(tmp_path, "dc.fits", cards))
    np.testing.assert_allclose(batch.wave.reshape(-1), 10**loglam, rtol=1e-12)


def test_frequency_axis_running_backwards_is_refused(tmp_path):
    nu = 2.998e18 / VAC  # Hz, decreasing with the pixel index when wavelength increases
    cards = {"CTYPE1": "FREQ", "CUNIT1": "Hz", "CRVAL1": nu[-1], "CDELT1": 1e12, "CRPIX1": 1.0}
    with pytest.raises(io.ReadError, match="decreasing wavelengths"):
        io.read(write_image(tmp_path, "nu.fits", cards))


def test_image_without_wcs_is_named(tmp_path):
    path = write_image(tmp_path, "bare.fits", {"CRVAL1": 3600.0})
    with pytest.raises(io.ReadError, match="no wavelength WCS"):
        io.read(path)


def test_two_dimensional_image_uses_the_first_axis(tmp_path):
    cards = linear_cards(VAC)
    cards.update(CTYPE2="", CRVAL2=0.0, CDELT2=1.0)
    batch = io.read(write_image(tmp_path, "n.fits", cards, n=3))
    assert batch.flux.shape == (3, M)
    np.testing.assert_allclose(np.broadcast_to(batch.wave, (3, M))[2], VAC, rtol=1e-12)
