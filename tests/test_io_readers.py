"""Readers on files written in the exact SDSS and DESI layouts (tests/make_fixtures.py).

The DESI arm combination calls ``deepz.kernels.resample`` when the arms are
not on one lattice; the ``spy`` fixture counts those calls.
"""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np
import pytest
from make_fixtures import make_all, write_sdss

from deepz import io
from deepz.io import desi as desi_mod
from deepz.kernels import resample


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return make_all(tmp_path_factory.mktemp("io_fixtures"))


@pytest.fixture
def spy(monkeypatch):
    """Count the calls the DESI reader makes to the real resample kernel."""
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[0].size)
        return resample(*args, **kwargs)

    monkeypatch.setattr(desi_mod, "resample", counting)
    return calls


# ======================================================================= SDSS
def test_sdss_one_file_values_and_ids(fx):
    b = io.read_sdss(fx.sdss_a)
    cols = fx.sdss_a_cols
    assert b.flux.shape == (1, 200)
    assert b.flux.dtype == np.float32
    np.testing.assert_allclose(b.wave, 10 ** cols["loglam"], rtol=1e-12)
    good = cols["and_mask"] == 0
    np.testing.assert_array_equal(b.flux[0], cols["flux"])
    np.testing.assert_array_equal(b.ivar[0, good], cols["ivar"][good])
    # and_mask pixels had ivar > 0 in the file: masked now, bits kept
    assert np.all(cols["ivar"][~good] > 0)
    assert np.all(b.ivar[0, ~good] == 0)
    np.testing.assert_array_equal(b.mask[0], cols["and_mask"].view(np.uint32))
    plate, mjd, fiber = io.sdss_unpack_id(b.targetid)
    assert (plate[0], mjd[0], fiber[0]) == fx.sdss_a_id
    assert b.targetid[0] == io.sdss_id(*fx.sdss_a_id)
    # the catalogue redshift and class of SPECOBJ, in DESI names
    assert b.meta["Z_CAT"][0] == pytest.approx(0.1234, rel=1e-6)
    assert b.meta["SPECTYPE_CAT"][0] == "GALAXY"
    assert b.meta["SUBTYPE_CAT"][0] == "STARFORMING"
    assert b.meta["SOURCE"][0] == fx.sdss_a
    assert b.meta["HDU"][0] == "COADD"
    # SPECOBJID and our id agree on plate, fiber, mjd (SPECOBJID adds run2d bits)
    assert b.meta["SPECOBJID"][0] >> 24 == b.targetid[0] >> 24


def test_sdss_grid_is_float64_lattice_not_float32_column(fx):
    b = io.read_sdss(fx.sdss_a)
    dlog = np.diff(np.log10(b.wave))
    np.testing.assert_allclose(dlog, 1e-4, rtol=1e-9)  # float32 loglam alone gives ~1e-3


def test_sdss_nan_inf_and_zero_ivar_are_masked(fx):
    b = io.read_sdss(fx.sdss_b)
    assert b.ivar[0, 5] == 0
    assert b.flux[0, 5] == 0
    assert b.ivar[0, 6] == 0  # inf ivar
    assert np.all(b.ivar[0, 7:10] == 0)  # zero ivar
    assert b.meta["NPIX_NONFINITE"][0] == 2
    assert np.all(np.isfinite(b.flux))
    assert np.all(np.isfinite(b.ivar))
    assert "Z_CAT" not in b.meta.colnames  # no SPECOBJ in this file
    assert io.sdss_unpack_id(b.targetid)[0][0] == fx.sdss_b_id[0]


def test_sdss_ids_from_file_name(fx):
    b = io.read_sdss(fx.sdss_c)
    assert tuple(int(x[0]) for x in io.sdss_unpack_id(b.targetid)) == fx.sdss_c_id


def test_sdss_many_files_per_spectrum_grids(fx):
    b = io.read_sdss([fx.sdss_a, fx.sdss_b, fx.sdss_c])
    assert len(b) == 3
    assert b.wave.shape == (3, 200)
    np.testing.assert_array_equal(b.meta["NPIX"], [200, 180, 150])
    np.testing.assert_allclose(b.wave[1, :180], 10 ** fx.sdss_b_cols["loglam"], rtol=1e-12)
    assert np.all(b.ivar[1, 180:] == 0)
    assert list(b.source) == [fx.sdss_a, fx.sdss_b, fx.sdss_c]


def test_sdss_common_grid_places_without_interpolation(fx):
    b = io.read_sdss([fx.sdss_a, fx.sdss_b], common_grid=True)
    assert b.wave.ndim == 1
    i0 = int(np.argmin(np.abs(b.wave - 10 ** fx.sdss_b_cols["loglam"][0])))
    np.testing.assert_array_equal(b.flux[1, i0 : i0 + 180][:5], fx.sdss_b_cols["flux"][:5])
    assert np.all(b.ivar[1, :i0] == 0)


def test_sdss_float64(fx):
    assert io.read_sdss(fx.sdss_a, dtype=np.float64).flux.dtype == np.float64


# ======================================================================= DESI
def test_desi_separate_arms_values(fx):
    b = io.read_desi(fx.desi, arms="separate")
    assert b.arms == ["B", "R", "Z"]
    assert len(b) == 4
    np.testing.assert_array_equal(b.targetid, fx.desi_tid)
    for arm, a in fx.desi_arms.items():
        np.testing.assert_array_equal(b.wave[arm], a["wave"])
        assert b.flux[arm].shape == (4, 120)
        ok = (a["mask"] == 0) & np.isfinite(a["flux"])
        np.testing.assert_array_equal(b.ivar[arm][ok], a["ivar"][ok])
        assert np.all(b.ivar[arm][~ok] == 0)
        np.testing.assert_array_equal(b.mask[arm], a["mask"])
    assert b.flux["R"][1, 7] == 0
    assert b.ivar["R"][1, 7] == 0
    assert list(b.meta["OBJTYPE"]) == ["TGT", "TGT", "TGT", "SKY"]
    assert b.meta["NPIX_GOOD"][3] == 0


def test_desi_combined_is_ivar_weighted_in_overlaps(fx):
    b = io.read_desi(fx.desi)
    a = fx.desi_arms
    # arms on one 0.8 A lattice: B 3600 + [0, 120), R starts at pixel 100, Z at 200
    assert b.wave.shape == (320,)
    np.testing.assert_allclose(b.wave, 3600.0 + 0.8 * np.arange(320))
    i = 0
    ivb = np.where(a["B"]["mask"][i] != 0, 0, a["B"]["ivar"][i]).astype(float)[100:]
    ivr = a["R"]["ivar"][i].astype(float)[:20]
    fb, fr = a["B"]["flux"][i][100:].astype(float), a["R"]["flux"][i][:20].astype(float)
    expect = (ivb * fb + ivr * fr) / (ivb + ivr)
    np.testing.assert_allclose(b.flux[i, 100:120], expect, rtol=1e-6)
    np.testing.assert_allclose(b.ivar[i, 100:120], ivb + ivr, rtol=1e-6)
    # outside overlaps: the single arm's values
    np.testing.assert_array_equal(b.flux[i, 20:100], a["B"]["flux"][i][20:100])
    np.testing.assert_array_equal(b.flux[i, 220:], a["Z"]["flux"][i][20:])
    # spectrum 1: B's red end is masked, R alone gives the overlap
    np.testing.assert_allclose(b.flux[1, 110:120], a["R"]["flux"][1][10:20], rtol=1e-6)
    assert np.all(b.mask[1, 110:120] == 0)  # AND of masks: R is good there
    # spectrum 3 (dead sky fibre): all masked, mask bits survive where every arm has them
    assert np.all(b.ivar[3] == 0)
    assert np.all(b.mask[3] == 2)


def test_desi_redrock_catalogue_joined(fx):
    b = io.read_desi(fx.desi)
    np.testing.assert_allclose(b.meta["Z_CAT"][:3], fx.desi_z)
    assert list(b.meta["SPECTYPE_CAT"][:3]) == ["GALAXY", "QSO", "STAR"]
    assert np.isnan(b.meta["Z_CAT"][3])
    assert b.meta["ZWARN_CAT"][3] == -1
    none = io.read_desi(fx.desi, redrock=None)
    assert "Z_CAT" not in none.meta.colnames


def test_desi_spectra_file_with_compressed_masks(fx):
    b = io.read_desi(fx.desi_spectra, arms="separate")
    a = fx.desi_spectra_arms
    np.testing.assert_array_equal(b.mask["R"], a["R"]["mask"])
    assert np.all(b.ivar["R"][1, :5] == 0)
    assert np.all(b.ivar["R"][1, 5:] > 0)
    assert "FIBERSTATUS" in b.meta.colnames


def test_desi_arms_off_lattice_use_resample(fx, spy):
    b = io.read_desi(fx.desi_offset)
    assert len(spy) == 3  # one call per arm
    a = fx.desi_offset_arms
    assert b.wave[0] == pytest.approx(3600.0)
    assert b.wave[-1] <= a["Z"]["wave"][-1] + 1e-9
    np.testing.assert_allclose(np.diff(b.wave), 0.8)
    fb, ivb = resample(a["B"]["wave"], a["B"]["flux"][:1], b.wave, ivar=a["B"]["ivar"][:1], fill=0)
    fr, ivr = resample(a["R"]["wave"], a["R"]["flux"][:1], b.wave, ivar=a["R"]["ivar"][:1], fill=0)
    # where only B covers, the combination is B resampled
    only_b = (ivb[0] > 0) & (ivr[0] == 0)
    assert only_b.sum() > 10
    np.testing.assert_allclose(b.flux[0, only_b], fb[0, only_b], rtol=1e-6)
    # in the B/R overlap both contribute: ivar adds up, flux is ivar-weighted
    ov = (ivb[0] > 0) & (ivr[0] > 0)
    assert ov.sum() > 5
    np.testing.assert_allclose(b.ivar[0, ov], (ivb + ivr)[0, ov], rtol=1e-6)
    want = (fb * ivb + fr * ivr)[0, ov] / (ivb + ivr)[0, ov]
    np.testing.assert_allclose(b.flux[0, ov], want, rtol=1e-5)


def test_desi_resample_path_equals_placement_on_lattice(fx, spy):
    placed = io.read_desi(fx.desi)
    resampled = io.read_desi(fx.desi, combine_wave=placed.wave)
    assert len(spy) == 3
    np.testing.assert_allclose(resampled.ivar, placed.ivar, rtol=1e-6)
    # masked pixels (ivar 0) carry no flux information: the kernel excludes them
    good = placed.ivar > 0
    assert good.mean() > 0.5
    np.testing.assert_allclose(resampled.flux[good], placed.flux[good], rtol=1e-6, atol=1e-6)


def test_combine_arms_without_masks():
    wave = {"B": np.arange(10.0), "R": np.arange(5.0, 15.0)}
    flux = {"B": np.ones((1, 10)), "R": 3 * np.ones((1, 10))}
    ivar = {"B": np.ones((1, 10)), "R": 3 * np.ones((1, 10))}
    w, f, iv, m = io.combine_arms(wave, flux, ivar)
    np.testing.assert_array_equal(w, np.arange(15.0))
    np.testing.assert_allclose(f[0, 5:10], (1 + 9) / 4)
    np.testing.assert_allclose(iv[0, 5:10], 4)
    assert f[0, 0] == 1
    assert f[0, 14] == 3
    assert not m.any()


# ==================================================================== generic
def test_generic_csv(fx):
    b = io.read_table(fx.csv)
    np.testing.assert_allclose(b.wave, fx.gen_wave)
    np.testing.assert_allclose(b.flux[0], fx.gen_flux)
    np.testing.assert_allclose(b.ivar[0], 1 / fx.gen_err**2)


def test_generic_ecsv_units_converted(fx):
    b = io.read_table(fx.ecsv_units)
    np.testing.assert_allclose(b.wave, fx.gen_wave)  # nm -> Angstrom
    assert b.flux_unit == io.FLAM
    expect = fx.gen_flux * 1e-26 * 2.99792458e18 / fx.gen_wave**2 / 1e-17  # mJy -> f_lambda
    np.testing.assert_allclose(b.flux[0], expect, rtol=1e-9)


def test_generic_npz_h5_fits(fx):
    z = io.read_table(fx.npz)
    assert z.flux.shape == (3, 101)
    np.testing.assert_array_equal(z.targetid, [7, 8, 9])
    h = io.read_table(fx.h5_plain)
    assert h.wave.shape == (2, 101)
    assert h.flux.dtype == np.float32
    np.testing.assert_allclose(h.ivar, 4.0)
    r = io.read_table(fx.fits_rows)
    np.testing.assert_allclose(r.wave, fx.gen_wave)  # TUNIT nm -> Angstrom
    assert r.flux_unit == io.FLAM
    assert r.ivar[0, 50] == 0
    assert r.mask[0, 50] == 1
    v = io.read_table(fx.fits_vector)
    assert v.wave.shape == (3, 101)
    np.testing.assert_array_equal(v.targetid, [101, 102, 103])
    np.testing.assert_allclose(v.meta["ZSPEC"], [0.1, 0.2, 0.3])


def test_write_spectra_round_trip(fx, tmp_path):
    b = io.read_sdss([fx.sdss_a, fx.sdss_b])
    for name in ("s.h5", "s.npz"):
        p = io.write_spectra(tmp_path / name, b)
        back = io.read(p)
        np.testing.assert_array_equal(back.wave, b.wave)
        np.testing.assert_array_equal(back.flux, b.flux)
        np.testing.assert_array_equal(back.ivar, b.ivar)
        np.testing.assert_array_equal(back.mask, b.mask)
        np.testing.assert_array_equal(back.targetid, b.targetid)
        assert back.flux_unit == b.flux_unit
        np.testing.assert_allclose(back.meta["Z_CAT"][0], b.meta["Z_CAT"][0])
        assert list(back.meta["ORIG_SOURCE"]) == [fx.sdss_a, fx.sdss_b]
        with pytest.raises(FileExistsError):
            io.write_spectra(p, b)


# ================================================================== dispatch
def test_read_dispatches_on_content_not_name(fx, tmp_path):
    p = tmp_path / "renamed.dat.fits"
    shutil.copy(fx.desi, p)
    q = tmp_path / "mystery.bin"
    shutil.copy(fx.sdss_a, q)
    assert io.sniff(str(p)) == "desi"
    assert io.sniff(str(q)) == "sdss"
    assert io.sniff(fx.redrock) == "catalog"
    b = io.read([p, q], redrock=None)
    assert len(b) == 5


def test_read_directory_and_glob(fx):
    b = io.read(fx.dir, redrock=None)  # catalogue files are passed over
    assert len(b) == 3 + 4 + 3 + 2
    g = io.read(os.path.join(fx.dir, "spec-*.fits"))
    assert len(g) == 3


def test_iter_read_chunks_equal_read(fx):
    files = [fx.sdss_a, fx.desi, fx.sdss_b, fx.desi_spectra]
    whole = io.read(files)
    chunks = list(io.iter_read(files, chunk_size=3))
    assert [len(c) for c in chunks] == [3, 3, 3]
    joined = io.concatenate(chunks)
    np.testing.assert_array_equal(joined.targetid, whole.targetid)
    np.testing.assert_array_equal(joined.flux, whole.flux)


def test_iter_read_slices_large_generic_files(fx, tmp_path):
    rng = np.random.default_rng(5)
    big = io.from_arrays(
        np.arange(30.0) + 4000,
        rng.normal(size=(25, 30)),
        ivar=np.ones((25, 30)),
        targetid=np.arange(25) + 1000,
    )
    p = io.write_spectra(tmp_path / "big.h5", big)
    chunks = list(io.iter_read(p, chunk_size=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    np.testing.assert_array_equal(chunks[2].targetid, np.arange(1020, 1025))
    np.testing.assert_array_equal(io.concatenate(chunks).flux, big.flux)
    assert list(chunks[1].meta["ROW"]) == list(range(10, 20))


# ================================================================= bad files
BAD = [
    ("sdss_truncated", "truncated"),
    ("sdss_nocoadd", "missing HDU 'COADD'"),
    ("sdss_allmasked", "no usable pixel"),
    ("sdss_nanwave", "loglam has 1 non-finite"),
    ("desi_truncated", "truncated"),
    ("desi_noivar", "missing HDU 'R_IVAR'"),
    ("desi_nofibermap", "missing HDU 'FIBERMAP'"),
    ("desi_allmasked", "no usable pixel"),
    ("desi_negivar", "negative"),
    ("empty", "empty file"),
    ("garbage", "not a FITS file"),
]


@pytest.mark.parametrize(("name", "problem"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_raises_read_error_naming_file_and_problem(fx, name, problem):
    path = getattr(fx, name)
    with pytest.raises(io.ReadError, match=problem) as info:
        io.read([fx.sdss_a, path])
    assert info.value.path == path
    assert str(info.value).startswith(path)


def test_missing_file_is_named(fx):
    missing = os.path.join(fx.dir, "spec-0001-55555-0001.fits")
    with pytest.raises(io.ReadError, match="no such file") as info:
        io.read_sdss(missing)
    assert info.value.path == missing


def test_skip_reads_the_good_files_and_reports_the_bad(fx, caplog):
    bad = [getattr(fx, n) for n, _ in BAD]
    with caplog.at_level(logging.WARNING, logger="deepz.io"):
        b = io.read([fx.sdss_a, *bad, fx.desi], on_error="skip")
    assert len(b) == 1 + 4
    assert [p for p, _ in b.errors] == bad
    assert all(msg for _, msg in b.errors)
    assert f"skipped {len(bad)} of {len(bad) + 2} files" in caplog.text
    assert fx.sdss_truncated in caplog.text


def test_skip_with_iter_read_reports_per_chunk(fx):
    chunks = list(
        io.iter_read([fx.sdss_truncated, fx.sdss_a, fx.sdss_b], chunk_size=1, on_error="skip")
    )
    assert [len(c) for c in chunks] == [1, 1]
    assert chunks[0].errors[0][0] == fx.sdss_truncated
    assert not chunks[1].errors


def test_skip_when_nothing_is_readable_raises(fx):
    with pytest.raises(io.ReadError, match="no file could be read"):
        io.read([fx.sdss_truncated, fx.empty], on_error="skip")


def test_reader_specific_functions_report_bad_files(fx):
    with pytest.raises(io.ReadError, match="missing HDU 'COADD'"):
        io.read_sdss(fx.desi)
    with pytest.raises(io.ReadError, match="FIBERMAP"):
        io.read_desi(fx.sdss_a)
    b = io.read_desi([fx.desi, fx.desi_noivar], on_error="skip")
    assert len(b) == 4
    assert b.errors[0][0] == fx.desi_noivar


def test_sdss_missing_ids_is_an_error(fx, tmp_path):
    p = write_sdss(tmp_path / "anonymous.fits", 1, 52000, 1, fx.sdss_c_cols, header_ids=False)
    with pytest.raises(io.ReadError, match="plate, mjd and fiber"):
        io.read_sdss(p)


def test_bad_arguments():
    with pytest.raises(ValueError, match="on_error"):
        io.read("x.fits", on_error="ignore")
    with pytest.raises(ValueError, match="arms"):
        io.read_desi("x.fits", arms="both")
    with pytest.raises(ValueError, match="chunk_size"):
        next(io.iter_read("x.fits", chunk_size=0))
