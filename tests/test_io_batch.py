"""SpectraBatch: construction, units, selection, concatenation, specutils round trips."""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from deepz import io
from deepz.io.batch import flux_factor

C_AA_PER_S = 2.99792458e18  # speed of light in Angstrom / s


def _batch(rng, n=3, m=50, w0=4000.0, unit=io.FLAM, dtype=np.float32):
    wave = w0 + 2.0 * np.arange(m)
    flux = rng.normal(1, 0.1, (n, m)).astype(dtype)
    return io.from_arrays(
        wave,
        flux,
        ivar=np.full((n, m), 4.0),
        unit=unit,
        dtype=dtype,
        targetid=np.arange(100, 100 + n),
    )


# ------------------------------------------------------------------ from_arrays
def test_from_arrays_plain_arrays_are_angstrom_and_arbitrary_units(rng):
    wave = np.linspace(4000, 5000, 11)
    flux = rng.normal(size=(2, 11))
    b = io.from_arrays(wave, flux, err=np.full((2, 11), 0.5))
    assert b.flux.shape == (2, 11)
    assert b.flux.dtype == np.float64
    np.testing.assert_array_equal(b.wave, wave)
    np.testing.assert_allclose(b.ivar, 4.0)
    assert b.flux_unit == u.dimensionless_unscaled
    np.testing.assert_array_equal(b.targetid, [0, 1])
    assert list(b.meta["SOURCE"]) == ["<arrays>"] * 2


def test_from_arrays_one_spectrum_and_dtype(rng):
    b = io.from_arrays(np.arange(10.0) + 5000, np.ones(10, np.float32), ivar=np.ones(10))
    assert b.flux.shape == (1, 10)
    assert b.flux.dtype == np.float32
    assert b.ivar.dtype == np.float32


def test_from_arrays_quantities_nm_and_fnu_become_angstrom_flambda():
    wave_nm = np.linspace(400.0, 500.0, 21) * u.nm
    fnu = np.full(21, 3.0) * u.mJy
    err = np.full(21, 0.3) * u.mJy
    b = io.from_arrays(wave_nm, fnu, err=err)
    wave_aa = wave_nm.to_value(u.AA)
    np.testing.assert_allclose(b.wave, wave_aa)
    assert b.flux_unit == io.FLAM
    # f_lambda = f_nu c / lambda^2, in units of 1e-17 erg/s/cm2/A
    expect = 3.0e-26 * C_AA_PER_S / wave_aa**2 / 1e-17
    np.testing.assert_allclose(b.flux[0], expect, rtol=1e-10)
    np.testing.assert_allclose(1 / np.sqrt(b.ivar[0]), expect / 10, rtol=1e-10)


def test_from_arrays_flambda_quantity_keeps_or_converts_unit():
    wave = np.linspace(4000, 5000, 5) * u.AA
    flux = np.ones(5) * u.W / u.m**2 / u.nm
    b = io.from_arrays(wave, flux)
    assert b.flux_unit == u.W / u.m**2 / u.nm
    b2 = io.from_arrays(wave, flux, unit=io.FLAM)
    # 1 W m^-2 nm^-1 = 1e7 erg/s / 1e4 cm2 / 10 A = 100 erg/s/cm2/A
    np.testing.assert_allclose(b2.flux, 100.0 / 1e-17)


def test_from_arrays_frequency_axis_is_reversed():
    freq = np.linspace(6e14, 7e14, 9) * u.Hz  # increasing frequency
    flux = np.arange(9.0) * u.Jy
    b = io.from_arrays(freq, flux)
    assert np.all(np.diff(b.wave) > 0)
    np.testing.assert_allclose(b.wave, (C_AA_PER_S / freq.value)[::-1])
    # the reddest pixel (lowest frequency) carried flux 0 before conversion
    assert b.flux[0, -1] == 0
    assert b.flux[0, 0] > 0


def test_from_arrays_masks_nonfinite_and_mask(rng):
    flux = rng.normal(size=(2, 20))
    flux[0, 3] = np.nan
    ivar = np.ones((2, 20))
    ivar[1, 4] = np.inf
    mask = np.zeros((2, 20), bool)
    mask[1, 10] = True
    b = io.from_arrays(np.arange(20.0) + 1, flux, ivar=ivar, mask=mask)
    assert b.ivar[0, 3] == 0
    assert b.flux[0, 3] == 0
    assert b.ivar[1, 4] == 0
    assert b.ivar[1, 10] == 0
    assert b.mask[1, 10] == 1
    assert b.mask.dtype == np.uint32
    np.testing.assert_array_equal(b.meta["NPIX_NONFINITE"], [1, 1])
    assert np.count_nonzero(b.ivar == 0) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ivar": -np.ones(5)}, "negative"),
        ({"ivar": np.ones(5), "err": np.ones(5)}, "not both"),
        ({"wave": np.array([1.0, 2.0, 2.0, 3.0, 4.0])}, "monotonic"),
        ({"wave": np.array([1.0, 2.0, np.nan, 3.0, 4.0])}, "non-finite"),
        ({"wave": np.arange(4.0)}, "wave must have shape"),
        ({"wave": np.arange(5.0) * u.s}, "spectral"),
    ],
)
def test_from_arrays_errors_name_the_argument(kwargs, match):
    args = {"wave": np.arange(5.0) + 1, "flux": np.ones(5)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        io.from_arrays(**args)


def test_batch_constructor_validates():
    w = np.arange(4.0)
    f = np.ones((2, 4), np.float32)
    with pytest.raises(ValueError, match="ivar must match flux"):
        io.SpectraBatch(w, f, np.ones((2, 4)))
    with pytest.raises(ValueError, match="wave must have shape"):
        io.SpectraBatch(np.arange(5.0), f, f.copy())
    with pytest.raises(ValueError, match="strictly increasing"):
        io.SpectraBatch(w[::-1].copy(), f, f.copy())
    with pytest.raises(ValueError, match="meta must have 2 rows"):
        io.SpectraBatch(w, f, f.copy(), meta=Table({"A": [1, 2, 3]}))
    with pytest.raises(ValueError, match="flux_unit"):
        io.SpectraBatch(w, f, f.copy(), flux_unit=u.km)


# ------------------------------------------------------------ select / concat
def test_select_keeps_shared_grid_and_rows(rng):
    b = _batch(rng, n=5)
    s = b.select([4, 1])
    assert s.wave is b.wave
    np.testing.assert_array_equal(s.flux, b.flux[[4, 1]])
    np.testing.assert_array_equal(s.targetid, [104, 101])
    assert list(s.meta["ROW"]) == [4, 1]
    assert len(b[b.targetid > 102]) == 2
    assert len(b[2]) == 1


def test_concatenate_same_grid_stays_shared(rng):
    a, b = _batch(rng, n=2), _batch(rng, n=3)
    c = io.concatenate([a, b])
    assert c.wave.ndim == 1
    assert c.flux.shape == (5, 50)
    np.testing.assert_array_equal(c.flux[2:], b.flux)


def test_concatenate_different_grids_pads_per_spectrum(rng):
    a = _batch(rng, n=2, m=50, w0=4000.0)
    b = _batch(rng, n=1, m=30, w0=4100.0, dtype=np.float64)
    c = io.concatenate([a, b])
    assert c.wave.shape == (3, 50)
    assert c.flux.dtype == np.float64
    np.testing.assert_array_equal(c.wave[2, :30], b.wave)
    assert np.all(np.diff(c.wave, axis=1) > 0)  # padded grids still increase
    assert np.all(c.ivar[2, 30:] == 0)
    assert np.all(c.flux[2, 30:] == 0)
    np.testing.assert_array_equal(c.meta["NPIX"], [50, 50, 30])
    np.testing.assert_array_equal(c.wave_of(2)[:30], b.wave)


def test_concatenate_converts_units(rng):
    a = _batch(rng, n=1)
    b = io.from_arrays(
        a.wave * u.AA,
        a.flux[0] * 1e-17 * u.erg / u.s / u.cm**2 / u.AA,
        unit=u.erg / u.s / u.cm**2 / u.AA,
    )
    c = io.concatenate([a, b])
    assert c.flux_unit == io.FLAM
    np.testing.assert_allclose(c.flux[1], a.flux[0], rtol=1e-6)


def test_concatenate_refuses_arbitrary_with_physical_units(rng):
    a = _batch(rng, n=1)
    b = io.from_arrays(a.wave, a.flux[0])
    with pytest.raises(ValueError, match="flux_unit="):
        io.concatenate([a, b])


def test_flux_factor_fnu_to_flambda():
    w = np.array([5000.0])
    k = flux_factor(u.Jy, io.FLAM, w)
    np.testing.assert_allclose(k, 1e-23 * C_AA_PER_S / 5000.0**2 / 1e-17)
    assert flux_factor(io.FLAM, u.erg / u.s / u.cm**2 / u.AA, w) == pytest.approx(1e-17)


# --------------------------------------------------------------- specutils
def _specutils():
    return pytest.importorskip("specutils", reason="specutils is optional")


def test_to_and_from_specutils_round_trip(rng):
    _specutils()
    b = _batch(rng, n=3)
    b.ivar[1, 5] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        specs = b.to_specutils()
        assert len(specs) == 3
        assert specs[0].flux.unit == io.FLAM
        assert specs[0].spectral_axis.unit == u.AA
        assert bool(specs[1].mask[5])
        assert not bool(specs[1].mask[4])
        assert specs[2].meta["targetid"] == 102
        back = io.from_specutils(specs)
    np.testing.assert_allclose(back.flux, b.flux)
    np.testing.assert_allclose(back.ivar, b.ivar)
    np.testing.assert_array_equal(back.targetid, b.targetid)
    np.testing.assert_allclose(back.wave, b.wave)


def test_to_specutils_stacked(rng):
    _specutils()
    b = _batch(rng, n=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = b.to_specutils(stack=True)
        assert s.flux.shape == (2, 50)
        back = io.from_specutils(s)
    np.testing.assert_allclose(back.flux, b.flux)


def test_from_specutils_converts_units_and_uncertainties():
    specutils = _specutils()
    from astropy.nddata import StdDevUncertainty

    Spectrum = getattr(specutils, "Spectrum", None) or specutils.Spectrum1D
    wave = np.linspace(500.0, 600.0, 11) * u.nm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Spectrum(
            flux=np.full(11, 2.0) * u.Jy,
            spectral_axis=wave,
            uncertainty=StdDevUncertainty(np.full(11, 0.5)),
            mask=np.arange(11) == 3,
        )
        b = io.from_specutils(s)
    w = wave.to_value(u.AA)
    expect = 2e-23 * C_AA_PER_S / w**2 / 1e-17
    np.testing.assert_allclose(b.wave, w)
    np.testing.assert_allclose(b.flux[0], expect, rtol=1e-10)
    good = np.arange(11) != 3
    np.testing.assert_allclose(1 / np.sqrt(b.ivar[0, good]), expect[good] / 4, rtol=1e-10)
    assert b.ivar[0, 3] == 0
    assert b.mask[0, 3] != 0
