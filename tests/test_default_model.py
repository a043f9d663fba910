"""The shipped default model: self-describing, calibrated, right on spectra it never saw."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest

import deepz
from deepz import grids, simulate
from deepz.cli import main
from deepz.default import DEFAULT_MODEL, load_default, model_path
from deepz.io import ZWarn, read_catalog
from deepz.modelfile import read_meta

pytestmark = pytest.mark.filterwarnings(
    r"ignore:`torch\.jit\.(script|save|load)` is deprecated:DeprecationWarning"
)


@pytest.fixture(scope="module")
def default():
    return load_default(device="cpu")


def test_shipped_model_is_self_describing():
    path = model_path()
    assert path.name == DEFAULT_MODEL
    assert path.stat().st_size < 20 * 2**20
    meta = read_meta(path)
    assert meta["model"]["name"] == "optical_cnn"
    assert meta["model"]["task"] == "spectro"
    np.testing.assert_allclose(meta["input"]["wave"], grids.preset("optical"))
    cal = meta["calibration"]
    assert cal["class_temperature"] > 0
    assert cal["z_temperature"] > 0
    assert cal["zerr_scale"] > 0
    assert cal["zerr_lines_scale"] > 0
    training = meta["training"]
    assert isinstance(training["seed"], int)
    assert training["observer"]["kind"] == "mixture"
    assert sorted({c.split(":")[0] for c in meta["class_names"]}) == ["GALAXY", "QSO", "STAR"]


def test_unseen_simulated_spectra(default):
    # a template library the model never saw (template_seed 5), SDSS-like sampling, S/N 10
    targets = (
        simulate.Target("GALAXY", "GALAXY", 0.5, 0.02, 1.0, snr=10.0, snr_dex=0.1),
        simulate.Target("QSO", "QSO", 0.25, 0.3, 3.5, snr=10.0, snr_dex=0.1),
        simulate.Target("STAR", "STAR", 0.25, -0.001, 0.001, snr=10.0, snr_dex=0.1),
    )
    obs = simulate.sdss(targets=targets, n_galaxies=60, n_stars=20, n_qsos=20, template_seed=5)
    b = obs.simulate(120, seed=11)
    cat = default.predict(b.flux, wave=b.wave, ivar=b.ivar, refine=True)
    true_cls = np.asarray(b.class_names)[b.label]
    assert np.mean(np.asarray(cat["SPECTYPE"]).astype(str) == true_cls) >= 0.95
    gal = (true_cls == "GALAXY") | (true_cls == "QSO")
    dz = np.abs(np.asarray(cat["Z"]) - b.z) / (1 + b.z)
    assert np.mean(dz[gal] > 0.01) <= 0.05
    star = true_cls == "STAR"
    assert np.all(np.abs(np.asarray(cat["Z"])[star]) < 0.005)
    # errors are honest: most pulls are within 3 sigma
    pull = (np.asarray(cat["Z"]) - b.z) / np.asarray(cat["ZERR"])
    assert np.mean(np.abs(pull[gal]) < 3) >= 0.8


def test_unit_of_the_flux_does_not_matter(default):
    obs = simulate.sdss(n_galaxies=20, n_stars=10, n_qsos=10, template_seed=6)
    b = obs.simulate(12, seed=2)
    a = default.predict(b.flux, wave=b.wave, ivar=b.ivar)
    f64, iv64 = b.flux.astype(np.float64), b.ivar.astype(np.float64)
    c = default.predict(f64 * 1e-17, wave=b.wave, ivar=iv64 * 1e34)  # erg/s/cm2/A
    np.testing.assert_allclose(np.asarray(c["Z"]), np.asarray(a["Z"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(c["SPECTYPE"]), np.asarray(a["SPECTYPE"]))


def _site(package):
    mod = pytest.importorskip(package)
    return os.path.dirname(mod.__file__)


def test_real_sdss_galaxies(default):
    """ppxf's SDSS DR18 spectra of NGC 3073 and NGC 3522 (SPECOBJ z 0.0038, 0.0040)."""
    files = sorted(glob.glob(os.path.join(_site("ppxf"), "spectra", "*SDSS*.fits")))
    assert len(files) == 2
    batch = deepz.io.read(files)
    cat = default.predict(batch, refine=True)
    z_cat = np.asarray(batch.meta["Z_CAT"], dtype=float)
    np.testing.assert_allclose(np.asarray(cat["Z"]), z_cat, atol=0.001)
    assert list(np.asarray(cat["SPECTYPE"]).astype(str)) == ["GALAXY", "GALAXY"]
    assert np.all(np.asarray(cat["NLINES"]) >= 1)


def test_real_desi_coadd_agrees_with_redrock(default):
    """fastspecfit's DESI coadd 4-80613 (redrock z = 0.3687, GALAXY)."""
    path = os.path.join(_site("fastspecfit"), "test", "data", "coadd-4-80613-thru20210324.fits")
    cat = default.predict(deepz.io.read(path), refine=True)
    assert abs(float(cat["Z"][0]) - 0.3687) < 0.002
    assert str(cat["SPECTYPE"][0]) == "GALAXY"


def test_cli_predict_without_a_model(tmp_path):
    obs = simulate.sdss(n_galaxies=20, n_stars=10, n_qsos=10)
    b = obs.simulate(5, seed=4)
    from make_fixtures import write_sdss

    paths = []
    for i in range(len(b)):
        p = tmp_path / f"spec-0001-51000-{i + 1:04d}.fits"
        zeros = np.zeros(b.wave.size, np.int32)
        write_sdss(
            p,
            1,
            51000,
            i + 1,
            {
                "loglam": np.log10(b.wave),
                "flux": b.flux[i],
                "ivar": b.ivar[i],
                "and_mask": zeros,
                "or_mask": zeros,
            },
        )
        paths.append(str(p))
    out = tmp_path / "zcat.fits"
    assert main(["predict", *paths, "--out", str(out)]) == 0
    cat = read_catalog(out)
    assert len(cat) == 5
    for col in ("Z", "ZERR", "ZWARN", "SPECTYPE", "P_GALAXY", "P_QSO", "P_STAR", "Z_LINES"):
        assert col in cat.colnames
    assert not np.any(np.asarray(cat["ZWARN"]) & int(ZWarn.OUT_OF_RANGE))


def test_training_command_end_to_end_on_a_tiny_config(tmp_path):
    """configs/default.toml's pipeline (train -> calibrate -> held-out tables) at toy size."""
    import tomllib

    from deepz import pipeline

    with open(os.path.join(os.path.dirname(__file__), "..", "configs", "default.toml"), "rb") as fh:
        cfg = tomllib.load(fh)
    small = {"n_galaxies": 40, "n_stars": 10, "n_qsos": 10}
    cfg["observer"]["observers"] = [dict(o, **small) for o in cfg["observer"]["observers"][:2]]
    cfg["model"].update(
        input_length=1088, channels=[4, 4, 8], kernels=[5, 3, 3], hidden=16, n_z_bins=64
    )
    cfg["train"].update(batch_size=16, steps_per_epoch=2, epochs=2)
    cfg["calibrate"].update(n=40)
    cfg["eval"].update(n=40)
    out = tmp_path / "run"
    summary = pipeline.train(cfg, out, progress=False)
    meta = read_meta(out / "model.pt")
    assert set(meta["calibration"]) >= {"class_temperature", "z_temperature", "zerr_scale"}
    assert meta["training"]["seed"] == cfg["seed"]
    assert (out / "tables.md").read_text().startswith("| class |")
    cat = read_catalog(out / "predictions.fits")
    assert len(cat) == 40
    assert {"Z_TRUE", "CLASS_TRUE", "SNR_TRUE", "SURVEY"} <= set(cat.colnames)
    assert summary["metrics"]["tables"]
