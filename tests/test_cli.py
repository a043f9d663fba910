"""The ``deepz`` command: --help on every verb, demo --quick, train, predict, evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from make_fixtures import make_all

from deepz import models
from deepz.cli import main
from deepz.io import ZWarn, make_catalog, read_catalog, write_catalog
from deepz.modelfile import build_meta, save

pytestmark = pytest.mark.filterwarnings(
    r"ignore:`torch\.jit\.(script|save|load)` is deprecated:DeprecationWarning"
)

VERBS = ["info", "simulate", "train", "predict", "evaluate", "demo"]


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"deepz {verb}" in out
    assert "--help" in out


def tiny_model(tmp_path, wave, name="model.pt"):
    torch.manual_seed(0)
    net = models.create("euclid_cnn", input_length=wave.size, n_classes=16, n_conv=1, n_filters=4)
    meta = build_meta(net, wave, normalisation={"kind": "max"}, training={"seed": 0})
    return save(net, tmp_path / name, meta)


def test_demo_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "accuracy_within_1" in text
    assert "sigma_mad" in text
    for name in ("z_pred_vs_true.png", "residuals.png", "confidence.png", "metrics.json"):
        assert (out / "report" / name).is_file(), name
    assert (out / "model.pt").is_file()
    assert (out / "predictions.fits").is_file()
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert 0.0 <= metrics["classification"]["accuracy_within_1"] <= 1.0
    # the saved demo model predicts its own held-out catalogue again
    cat = read_catalog(out / "predictions.fits")
    assert len(cat) == 200
    assert {"Z", "ZERR", "ZWARN", "Z_TRUE"} <= set(cat.colnames)


def test_train_from_toml_and_resume(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        'seed = 3\n[observer]\nname = "euclid"\nmerge = 8\nn_templates = 32\npilot_n = 100\n'
        '[model]\nname = "euclid_cnn"\nn_conv = 1\nn_filters = 4\n'
        '[train]\noptimizer = "adagrad"\nlr = 0.05\nbatch_size = 16\nsteps_per_epoch = 3\n'
        "epochs = 1\n[eval]\nn = 50\n"
    )
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(run), "--no-progress"]) == 0
    assert (run / "model.pt").is_file()
    assert (run / "report" / "metrics.json").is_file()
    assert "seed 3" in capsys.readouterr().out
    history = json.loads((run / "history.json").read_text())
    assert len(history) == 1
    # --resume continues the finished run (nothing to do) without error
    assert (
        main(["train", "--config", str(cfg), "--out", str(run), "--resume", "--no-progress"]) == 0
    )


def test_predict_on_sdss_files_flags_uncovered_targets(tmp_path, capsys):
    fx = make_all(tmp_path / "fixtures")
    # sdss_a and sdss_b cover 3811-3970 A; sdss_c starts at 3981 A
    model = tiny_model(tmp_path, np.linspace(3820.0, 3960.0, 64))
    out = tmp_path / "zcat.fits"
    assert (
        main(["predict", "--model", model, fx.sdss_a, fx.sdss_b, fx.sdss_c, "--out", str(out)]) == 0
    )
    assert "3 targets" in capsys.readouterr().out
    cat = read_catalog(out)
    assert len(cat) == 3
    flags = (np.asarray(cat["ZWARN"]) & int(ZWarn.OUT_OF_RANGE)) != 0
    assert list(flags) == [False, False, True]
    assert np.all(np.isfinite(cat["Z"]))
    # an existing catalogue is not replaced without --overwrite
    assert main(["predict", "--model", model, fx.sdss_a, "--out", str(out)]) == 2


def test_predict_on_simulated_hdf5(tmp_path):
    from deepz.simulate import euclid_nisp, write_hdf5

    obs = euclid_nisp(merge=8, n_templates=16, pilot_n=50)
    h5 = write_hdf5(tmp_path / "sim.h5", obs, 20, seed=5, progress=False)
    model = tiny_model(tmp_path, obs.wave)
    out = tmp_path / "zcat.ecsv"
    assert main(["predict", "--model", model, str(h5), "--out", str(out), "--pdf"]) == 0
    cat = read_catalog(out)
    assert len(cat) == 20
    assert np.all((np.asarray(cat["Z"]) >= 1.0) & (np.asarray(cat["Z"]) < 1.8))
    assert not np.any(np.asarray(cat["ZWARN"]) & int(ZWarn.OUT_OF_RANGE))


def test_evaluate_prediction_against_truth(tmp_path, capsys):
    rng = np.random.default_rng(0)
    z = rng.uniform(1.0, 1.8, 40)
    zp = z + rng.normal(0, 0.002, 40)
    zp[:2] += 0.3  # two outliers
    tid = np.arange(100, 140)
    pred = make_catalog(tid, zp, zerr=np.full(40, 0.002))
    write_catalog(tmp_path / "pred.fits", pred)
    truth = make_catalog(tid[::-1], z[::-1])  # joined on TARGETID, not position
    truth.rename_column("Z", "Z_TRUE")
    write_catalog(tmp_path / "truth.fits", truth)
    out = tmp_path / "report"
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "pred.fits"),
                str(tmp_path / "truth.fits"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "outlier_fraction" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["redshift"]["outlier_fraction"] == pytest.approx(2 / 40)
    assert (out / "z_pred_vs_true.png").is_file()


def test_evaluate_a_catalogue_against_its_own_catalogue_redshifts(tmp_path, capsys):
    # deepz predict copies the survey's redshift (SDSS SPECOBJ Z) into Z_CAT: without TRUTH
    # the catalogue is its own truth table, and its predicted Z is never taken as a truth
    rng = np.random.default_rng(1)
    z = rng.uniform(0.1, 1.0, 30)
    zp = z + rng.normal(0, 0.001, 30)
    zp[:3] += 0.5  # three outliers
    pred = make_catalog(np.arange(30), zp, Z_CAT=z)
    path = tmp_path / "zcat.fits"
    write_catalog(path, pred)
    out = tmp_path / "report"
    assert main(["evaluate", str(path), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["column"] == "Z_CAT"
    assert metrics["redshift"]["outlier_fraction"] == pytest.approx(3 / 30)
    # naming the file twice is the same; asking for its Z as the truth is refused
    assert (
        main(
            ["evaluate", str(path), str(path), "--out", str(tmp_path / "r2"), "--truth-column", "Z"]
        )
        == 2
    )
    assert "is the prediction" in capsys.readouterr().err
    pred.remove_column("Z_CAT")
    write_catalog(path, pred, overwrite=True)
    assert main(["evaluate", str(path), str(path), "--out", str(tmp_path / "r3")]) == 2
    assert "none of the columns ['Z_TRUE', 'Z_CAT']" in capsys.readouterr().err


def test_evaluate_reports_a_missing_file(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope.fits"), "--out", str(tmp_path / "r")]) == 2
    assert "nope.fits" in capsys.readouterr().err
