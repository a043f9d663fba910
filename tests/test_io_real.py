"""Real survey files shipped inside installed packages (never copied into this repository).

Installed in CI with ``pip install --no-deps ppxf==9.5.2 fastspecfit==3.6.1``
and ``pip install specutils==2.4.0``; each test skips, saying which package is
missing, where they are not. The packages are located with
``importlib.util.find_spec`` and never imported (fastspecfit, installed
without its dependencies, cannot be).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from make_fixtures import real_file

from deepz import io

FASTSPEC = "fastspecfit", "test", "data"
FASTSPEC_NAMES = ["4-80613-thru20210324", "special-dark-27247"]
PPXF_NAMES = ["NGC3073_SDSS_DR18.fits", "NGC3522_SDSS_DR18.fits"]
SPECUTILS_DESI = "specutils", "io", "default_loaders", "tests", "desi_test_data"
SPECUTILS_NAMES = [
    "coadd-5-169-thru20210419.fits",
    "coadd-sv3-dark-26065.fits",
    "spectra-5-169-thru20210419.fits",
    "spectra-sv3-dark-26065.fits",
]


def _need(package, *relpath):
    p = real_file(package, *relpath)
    if p is None:
        pytest.skip(
            f"{package} (with {'/'.join(relpath)}) is not installed: "
            f"pip install --no-deps ppxf==9.5.2 fastspecfit==3.6.1; "
            f"pip install specutils==2.4.0"
        )
    return p


# ============================================================ DESI (fastspecfit)
@pytest.mark.parametrize("name", FASTSPEC_NAMES)
def test_fastspecfit_coadd_matches_its_redrock_catalogue(name):
    coadd = _need(*FASTSPEC, f"coadd-{name}.fits")
    redrock = _need(*FASTSPEC, f"redrock-{name}.fits")
    sep = io.read_desi(coadd, arms="separate", redrock=None)
    assert len(sep) == 1
    assert {a: w.size for a, w in sep.wave.items()} == {"B": 2751, "R": 2326, "Z": 2881}
    for arm, (lo, hi) in {"B": (3600, 5800), "R": (5760, 7620), "Z": (7520, 9824)}.items():
        np.testing.assert_allclose(sep.wave[arm][[0, -1]], [lo, hi], atol=1e-6)
        assert sep.flux[arm].dtype == np.float32
    b = io.read_desi(coadd)  # combined, catalogue found next to it
    assert b.wave.shape == (7781,)
    np.testing.assert_allclose(b.wave[[0, -1]], [3600.0, 9824.0], atol=1e-6)
    assert np.all(np.isfinite(b.flux))
    assert np.all(b.ivar >= 0)
    cat = io.read_catalog(redrock)
    np.testing.assert_array_equal(b.targetid, cat["TARGETID"])
    np.testing.assert_allclose(b.meta["Z_CAT"], cat["Z"])
    assert list(b.meta["SPECTYPE_CAT"]) == list(cat["SPECTYPE"])


def test_fastspecfit_redshifts_are_the_published_ones():
    paths = [_need(*FASTSPEC, f"coadd-{n}.fits") for n in FASTSPEC_NAMES]
    b = io.read(paths)
    # redrock's published values, printed in the report of this module's author
    np.testing.assert_allclose(b.meta["Z_CAT"], [0.36874355, 0.00726967], rtol=1e-6)
    np.testing.assert_array_equal(b.targetid, [39633345008634465, 39089837499744649])


# ============================================================== DESI (specutils)
def test_specutils_desi_files_shapes_and_masks():
    paths = [_need(*SPECUTILS_DESI, n) for n in SPECUTILS_NAMES]
    b = io.read(paths, arms="separate")
    assert len(b) == 20
    assert {a: f.shape for a, f in b.flux.items()} == {
        "B": (20, 2751),
        "R": (20, 2326),
        "Z": (20, 2881),
    }
    # pixels the pipeline flagged carry ivar 0; bad fibres (status != 0) are fully masked
    for arm in b.arms:
        assert np.all(b.ivar[arm][b.mask[arm] != 0] == 0)
    status = np.ma.filled(b.meta["COADD_FIBERSTATUS"], 0) | np.ma.filled(b.meta["FIBERSTATUS"], 0)
    good = np.asarray(b.meta["NPIX_GOOD"]) > 0
    # in these files a spectrum has data exactly when its fibre status is clean
    np.testing.assert_array_equal(good, status == 0)
    assert good.sum() == 5
    assert np.all(np.asarray(b.meta["OBJTYPE"])[good] == "TGT")


@pytest.mark.parametrize("name", SPECUTILS_NAMES)
def test_specutils_desi_files_agree_with_specutils_own_loader(name):
    path = _need(*SPECUTILS_DESI, name)
    specutils = pytest.importorskip("specutils")
    fmt = "DESI coadd" if name.startswith("coadd") else "DESI spectra"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = specutils.SpectrumList.read(path, format=fmt)
    ours = io.read_desi(path, arms="separate")
    assert len(theirs) == 3
    for arm, s in zip("BRZ", theirs, strict=True):
        np.testing.assert_allclose(s.spectral_axis.to_value("Angstrom"), ours.wave[arm])
        good = ours.ivar[arm] > 0
        np.testing.assert_array_equal(s.flux.value[good], ours.flux[arm][good])
        np.testing.assert_array_equal(s.uncertainty.array[good], ours.ivar[arm][good])
        assert s.flux.unit == ours.flux_unit


# ==================================================================== SDSS (ppxf)
def test_ppxf_sdss_spec_files():
    paths = [_need("ppxf", "spectra", n) for n in PPXF_NAMES]
    b = io.read_sdss(paths)
    assert len(b) == 2
    assert b.wave.shape == (2, 3848)
    np.testing.assert_array_equal(b.meta["NPIX"], [3848, 3815])
    np.testing.assert_allclose(b.wave[0, [0, 3847]], [3795.77, 9204.50], atol=0.01)
    np.testing.assert_allclose(b.wave[1, [0, 3814]], [3826.48, 9208.74], atol=0.01)
    # SPECOBJ redshifts and classes, under the DESI names
    np.testing.assert_allclose(b.meta["Z_CAT"], [0.00376266, 0.00401801], rtol=1e-5)
    assert list(b.meta["SPECTYPE_CAT"]) == ["STAR", "GALAXY"]
    plate, mjd, fiber = io.sdss_unpack_id(b.targetid)
    assert list(zip(plate, mjd, fiber, strict=True)) == [(945, 52652, 470), (2488, 54149, 1)]
    np.testing.assert_array_equal(b.meta["SPECOBJID"] >> 24, b.targetid >> 24)
    # and_mask pixels (6 and 2 in the files, all with ivar > 0 there) are masked now
    assert [int(np.count_nonzero(b.mask[i])) for i in range(2)] == [6, 2]
    assert np.all(b.ivar[b.mask != 0] == 0)
    c = io.read_sdss(paths, common_grid=True)
    assert c.wave.shape == (3850,)
    np.testing.assert_allclose(np.diff(np.log10(c.wave)), 1e-4, rtol=1e-9)


def test_ppxf_sdss_specutils_round_trip():
    paths = [_need("ppxf", "spectra", n) for n in PPXF_NAMES]
    pytest.importorskip("specutils")
    b = io.read_sdss(paths[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = io.from_specutils(b.to_specutils())
    np.testing.assert_allclose(back.wave, b.wave)
    np.testing.assert_array_equal(back.flux, b.flux)
    np.testing.assert_array_equal(back.ivar, b.ivar)
    np.testing.assert_array_equal(back.targetid, b.targetid)
