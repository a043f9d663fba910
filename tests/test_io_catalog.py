"""Catalogue writers (FITS, CSV, ECSV, HDF5, Parquet), ZWARN bits, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import deepz
from deepz import io


def _catalog(n=5, seed=3):
    rng = np.random.default_rng(seed)
    return io.make_catalog(
        targetid=np.arange(n) + 39633345008634465,
        z=rng.uniform(0, 2, n),
        zerr=rng.uniform(1e-4, 1e-3, n),
        zwarn=[0, int(io.ZWarn.LOW_SNR), int(io.ZWarn.OUT_OF_RANGE | io.ZWarn.NODATA), 0, 0][:n],
        spectype=["GALAXY", "QSO", "STAR", "GALAXY", "GALAXY"][:n],
        subtype=["", "", "K", "", ""][:n],
        deltachi2=rng.uniform(0, 100, n),
        NLINES=np.arange(n),
        Z_PDF=rng.dirichlet(np.ones(8), n),
    )


def _scalar_part(t):
    return t[[c for c in t.colnames if t[c].ndim == 1]]


# ========================================================================= ZWARN
def test_zwarn_shares_redrock_bits_where_meanings_match():
    zw = pytest.importorskip("redrock.zwarning", reason="redrock is optional")
    mask = zw.ZWarningMask
    for name in (
        "SKY",
        "LITTLE_COVERAGE",
        "SMALL_DELTA_CHI2",
        "NEGATIVE_MODEL",
        "MANY_OUTLIERS",
        "Z_FITLIMIT",
        "NEGATIVE_EMISSION",
        "UNPLUGGED",
        "BAD_TARGET",
        "NODATA",
        "BAD_MINFIT",
        "POORDATA",
    ):
        assert int(io.ZWarn[name]) == getattr(mask, name)
    # deepz's own bits avoid everything redrock defines or reserves (0-23)
    redrock_bits = 0
    for _, value in mask.flags():
        redrock_bits |= value
    own = (
        io.ZWarn.LOW_SNR
        | io.ZWarn.LINE_SEARCH_DISAGREES
        | io.ZWarn.MASKED_TOO_MUCH
        | io.ZWarn.CLASS_AMBIGUOUS
        | io.ZWarn.BAD_INPUT
    )
    assert int(own) & redrock_bits == 0
    assert int(own) < 2**31


def test_zwarn_aliases_and_names():
    assert io.ZWarn.OUT_OF_RANGE is io.ZWarn.LITTLE_COVERAGE
    assert io.ZWarn.LOW_CONFIDENCE is io.ZWarn.SMALL_DELTA_CHI2
    assert io.ZWarn.Z_AT_EDGE is io.ZWarn.Z_FITLIMIT
    v = io.ZWarn.LOW_SNR | io.ZWarn.NODATA | (1 << 40)
    assert io.ZWarn.names(v) == ["NODATA", "LOW_SNR", "BIT40"]
    assert io.ZWarn.names(0) == []
    assert io.REDROCK_COMPATIBLE & io.ZWarn.LOW_SNR == 0


# ================================================================= make_catalog
def test_make_catalog_standard_columns_first_and_typed():
    t = _catalog()
    assert t.colnames[:7] == ["TARGETID", "Z", "ZERR", "ZWARN", "SPECTYPE", "SUBTYPE", "DELTACHI2"]
    assert t["TARGETID"].dtype == np.int64
    assert t["ZWARN"].dtype == np.int64
    assert t["Z"].dtype == np.float64
    assert t["SPECTYPE"].dtype.kind == "U"
    assert t["Z_PDF"].shape == (5, 8)
    minimal = io.make_catalog([1, 2], [0.1, 0.2])
    assert np.all(np.isnan(minimal["ZERR"]))
    assert np.all(minimal["ZWARN"] == 0)
    with pytest.raises(ValueError, match="Z must have shape"):
        io.make_catalog([1, 2], [0.1])


# ======================================================================= writers
@pytest.mark.parametrize("ext", [".fits", ".ecsv", ".h5"])
def test_round_trip_all_columns(tmp_path, ext):
    t = _catalog()
    p = io.write_catalog(tmp_path / f"zcat{ext}", t, seed=42)
    back = io.read_catalog(p)
    assert back.colnames == t.colnames
    for c in t.colnames:
        if t[c].dtype.kind == "U":
            assert list(back[c]) == list(t[c])
        else:
            np.testing.assert_array_equal(np.asarray(back[c]), np.asarray(t[c]))
    assert str(back.meta["DEEPZVER"]) == deepz.__version__
    assert int(back.meta["SEED"]) == 42


def test_csv_round_trip_and_metadata_comments(tmp_path):
    t = _scalar_part(_catalog())
    p = io.write_catalog(tmp_path / "zcat.csv", t, seed=7, meta={"MODEL": "gasnet"})
    text = Path(p).read_text()
    assert text.startswith("#")
    assert f"DEEPZVER: {deepz.__version__}" in text
    assert "SEED: 7" in text
    assert "MODEL: gasnet" in text
    back = io.read_catalog(p)
    np.testing.assert_array_equal(back["TARGETID"], t["TARGETID"])
    np.testing.assert_allclose(back["Z"], t["Z"], rtol=1e-15)
    np.testing.assert_array_equal(back["ZWARN"], t["ZWARN"])
    assert list(back["SUBTYPE"]) == list(t["SUBTYPE"])
    assert back.meta["SEED"] == "7"
    assert back.meta["MODEL"] == "gasnet"


@pytest.mark.parametrize("ext", [".fits", ".ecsv", ".h5", ".csv"])
def test_round_trip_keeps_the_tables_own_metadata(tmp_path, ext):
    # a Predictor catalogue's meta (bins, model, task) must survive, exactly, for evaluation
    t = _catalog() if ext != ".csv" else _scalar_part(_catalog())
    bins = [0.1 * k + 0.05 for k in range(40)]  # not all exact in 16 digits
    t.meta.update(MODEL="euclid_cnn", TASK="pdf", Z_BINS=bins, CLASSES=["GALAXY", "QSO"], SEED=1)
    p = io.write_catalog(tmp_path / f"zcat{ext}", t, seed=42, meta={"TASK": "override"})
    back = io.read_catalog(p)
    assert list(back.meta["Z_BINS"]) == bins
    assert list(back.meta["CLASSES"]) == ["GALAXY", "QSO"]
    assert back.meta["MODEL"] == "euclid_cnn"
    assert back.meta["TASK"] == "override"  # the caller's meta wins, then seed, then the table's
    assert str(back.meta["SEED"]) == "42"
    assert str(back.meta["DEEPZVER"]) == deepz.__version__
    assert t.meta["TASK"] == "pdf"  # the caller's table is left alone


def test_fits_skips_table_metadata_it_cannot_hold(tmp_path, caplog):
    t = _catalog()
    t.meta["NOTE"] = "na\u00efve"  # not ASCII: no FITS card can hold it
    p = io.write_catalog(tmp_path / "zcat.fits", t)
    assert "NOTE" in caplog.text
    assert "NOTE" not in io.read_catalog(p).meta
    # the caller's own meta is not dropped silently
    with pytest.raises(ValueError, match="ASCII"):
        io.write_catalog(tmp_path / "zcat2.fits", _catalog(), meta={"NOTE": "na\u00efve"})


def test_read_catalog_ignores_foreign_header_cards(tmp_path):
    p = io.write_catalog(tmp_path / "zcat.fits", _catalog())
    with fits.open(p, mode="update") as h:
        h[1].header["SURVEY"] = "main"  # another tool's card: not deepz meta
    assert set(io.read_catalog(p).meta) == {"DEEPZVER", "DATE"}


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_vector_columns_split_and_join_again(tmp_path, ext):
    if ext == "parquet":
        pytest.importorskip("pyarrow")
    cat = _catalog()
    p = io.write_catalog(tmp_path / f"zcat.{ext}", cat)
    if ext == "csv":
        with open(p) as fh:
            header = [ln for ln in fh if not ln.startswith("#")][0]
        assert "Z_PDF_0" in header
        assert "Z_PDF," not in header
    back = io.read_catalog(p)
    assert back.colnames == cat.colnames
    np.testing.assert_allclose(np.asarray(back["Z_PDF"]), np.asarray(cat["Z_PDF"]), rtol=1e-15)
    assert "VECTORS" not in back.meta


def test_fits_puts_long_lists_in_their_own_hdu_and_documents_columns(tmp_path):
    cat = _catalog()
    bins = np.linspace(0.0, 4.5, 929)
    cat.meta.update(Z_BINS=bins.tolist(), SUBCLASSES=["GALAXY:PASSIVE", "QSO:BROADLINE"])
    p = io.write_catalog(tmp_path / "zcat.fits", cat)
    with fits.open(p) as h:
        assert "Z_BINS" in [x.name for x in h]
        assert "Z_BINS" not in h[1].header
        assert "Z_BINS" not in h[0].header
        assert len(h[1].header.tostring()) < 20_000  # was ~110 KB of JSON cards
        names = h[1].columns.names
        for i, name in enumerate(names, start=1):
            assert h[1].header.get(f"TCOMM{i}"), name
        assert h[1].header[f"TCOMM{names.index('Z') + 1}"] == "best redshift"
    back = io.read_catalog(p)
    assert back.meta["Z_BINS"] == bins.tolist()
    assert back.meta["SUBCLASSES"] == ["GALAXY:PASSIVE", "QSO:BROADLINE"]


def test_fits_layout_is_redrock_like(tmp_path):
    p = io.write_catalog(tmp_path / "zcat.fits", _catalog(), seed=1)
    with fits.open(p) as h:
        assert h[1].name == "REDSHIFTS"
        assert h[1].columns["TARGETID"].format == "K"
        assert h[1].columns["Z"].format == "D"
        assert h[0].header["DEEPZVER"] == deepz.__version__
        assert h[0].header["SEED"] == 1
        assert h[1].header["ZWBIT24"] == "LOW_SNR"
        assert h[1].header["ZWBIT01"] == "LITTLE_COVERAGE"
    # the DESI reader's catalogue join reads it like a redrock file
    t = io.read_catalog(p)
    np.testing.assert_array_equal(t["TARGETID"], _catalog()["TARGETID"])


def test_parquet_needs_pyarrow(tmp_path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"deepz\[parquet\]"):
            io.write_catalog(tmp_path / "zcat.parquet", _catalog())
        assert not os.listdir(tmp_path)
        return
    p = io.write_catalog(tmp_path / "zcat.parquet", _catalog())
    np.testing.assert_array_equal(io.read_catalog(p)["TARGETID"], _catalog()["TARGETID"])


def test_write_accepts_dicts_and_structured_arrays(tmp_path):
    d = {"TARGETID": np.array([1, 2]), "Z": np.array([0.5, 0.6])}
    p = io.write_catalog(tmp_path / "a.fits", d)
    np.testing.assert_allclose(io.read_catalog(p)["Z"], [0.5, 0.6])
    s = np.array([(1, 0.5)], dtype=[("TARGETID", "i8"), ("Z", "f8")])
    io.write_catalog(tmp_path / "b.csv", s)
    with pytest.raises(TypeError, match="table must be"):
        io.write_catalog(tmp_path / "c.fits", [1, 2, 3])
    with pytest.raises(ValueError, match="extension"):
        io.write_catalog(tmp_path / "c.xyz", d)


# ==================================================================== atomicity
def test_overwrite_false_keeps_the_old_file(tmp_path):
    p = io.write_catalog(tmp_path / "zcat.fits", _catalog(seed=1))
    before = Path(p).read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        io.write_catalog(p, _catalog(seed=2))
    assert Path(p).read_bytes() == before
    io.write_catalog(p, _catalog(seed=2), overwrite=True)
    assert Path(p).read_bytes() != before


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_fits_write_leaves_old_file_intact(tmp_path, monkeypatch, error):
    p = io.write_catalog(tmp_path / "zcat.fits", _catalog(seed=1))
    before = Path(p).read_bytes()
    real_writeto = fits.HDUList.writeto

    def half_then_fail(self, fileobj, *args, **kwargs):
        real_writeto(self, fileobj, *args, **kwargs)  # the whole file...
        size = os.path.getsize(fileobj)
        with open(fileobj, "r+b") as fh:  # ...cut in the middle
            fh.truncate(size // 2)
        raise error("disk full (simulated)")

    monkeypatch.setattr(fits.HDUList, "writeto", half_then_fail)
    with pytest.raises(error, match="simulated"):
        io.write_catalog(p, _catalog(seed=2), overwrite=True)
    assert os.listdir(tmp_path) == ["zcat.fits"]  # no temporary file left
    assert Path(p).read_bytes() == before
    monkeypatch.undo()
    np.testing.assert_array_equal(io.read_catalog(p)["Z"], _catalog(seed=1)["Z"])


def test_interrupted_csv_write_leaves_no_file(tmp_path, monkeypatch):
    def fail(self, target, *args, **kwargs):
        target.write("TARGETID,Z\n1,0.")  # a truncated row
        target.flush()
        raise OSError("interrupted (simulated)")

    monkeypatch.setattr(Table, "write", fail)
    with pytest.raises(OSError, match="simulated"):
        io.write_catalog(tmp_path / "zcat.csv", _scalar_part(_catalog()))
    assert os.listdir(tmp_path) == []


def test_new_file_has_normal_permissions(tmp_path):
    p = io.write_catalog(tmp_path / "zcat.fits", _catalog())
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(p).st_mode & 0o777 == 0o666 & ~umask


# ================================================================= catalogue join
def test_attach_catalog_joins_on_targetid():
    b = io.from_arrays(np.arange(10.0) + 4000, np.ones((3, 10)), targetid=[5, 6, 7])
    cat = io.make_catalog([7, 5], [0.7, 0.5], spectype=["QSO", "GALAXY"])
    io.attach_catalog(b, cat)
    np.testing.assert_allclose(b.meta["Z_CAT"], [0.5, np.nan, 0.7])
    assert list(b.meta["SPECTYPE_CAT"]) == ["GALAXY", "", "QSO"]
    assert list(b.meta["ZWARN_CAT"]) == [0, -1, 0]
    io.attach_catalog(b, io.make_catalog([], []))  # an empty catalogue
    assert np.all(np.isnan(b.meta["Z_CAT"]))


def test_read_catalog_errors(tmp_path):
    with pytest.raises(io.ReadError, match="no such file"):
        io.read_catalog(tmp_path / "none.fits")
    p = tmp_path / "img.fits"
    fits.PrimaryHDU(np.zeros(3)).writeto(p)
    with pytest.raises(io.ReadError, match="no table HDU"):
        io.read_catalog(p)
