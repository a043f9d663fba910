"""End-to-end jobs behind the ``deepz train``, ``evaluate`` and ``demo`` commands.

- :func:`train` -- train a registered network on spectra simulated on the
  fly (:class:`deepz.simulate.SimulatedStream` fed to
  :class:`deepz.training.Trainer`, resumable), save it self-describing
  (:func:`deepz.save`) and evaluate it on a held-out simulated set;
- :func:`evaluate` -- metrics and figures (:func:`deepz.plots.report`) from
  predicted and true redshifts;
- :func:`demo` -- the built-in default: the Stivaktakis et al. (2019)
  Euclid classifier trained on clean simulated NISP spectra.

The demo's choices (tuned on a loaded 2-core CPU to fit 10 minutes)
-------------------------------------------------------------------
- Spectra: :func:`deepz.simulate.euclid_nisp` clean (the paper's clean set),
  ``merge=4`` (450 bins of 20 A; the paper also runs 900/450/225 bins), 200
  templates (the library is built in a few seconds).
- Normalisation: per spectrum, X / max|X| (``norm="max"``), NOT the paper's
  X / (2 X_max) over the training set: with the H-alpha-selected fluxes the
  global X_max leaves most inputs ~1e-2 and Adagrad did not move off
  ln(800) in 300 steps (measured), while per-spectrum scaling learns at once
  (0.85 within +-1 slot after 400 steps).
- Labels: the paper's 800 redshift slots of 0.001 over [1, 1.8).
- Network: :class:`deepz.models.EuclidCNN` with 1 convolutional layer of 16
  filters of width 8 (the paper has 1-3; one layer costs ~0.35 CPU-s per
  step of 256 at 450 bins vs ~0.5 for two), no BatchNorm, dropout 0.5, one
  dense softmax layer -- trained with Adagrad (the paper's optimiser), lr 0.05
  halved every 3 epochs (``schedule="halve_every_3"``).
- Training: batches of 256 fresh spectra every step (no sample seen twice),
  8 epochs of 250 steps = 2000 steps, 512k spectra (the paper: 400k).
- Held out: 5000 spectra of another seed.

Measured, the same configuration through ``deepz -v train --config`` (a TOML
copy of ``DEMO``), 2 torch threads on the 2-core machine with a lighter load:
6 min 05 s wall, held-out accuracy 0.719, accuracy within +-1 slot 0.994,
sigma_MAD 0.00020, outlier fraction 0, bias 1e-5. Without the halving
schedule (constant lr 0.05) the same run gave 0.611 / 0.943 (10 min 14 s
wall under load ~7): the decaying learning rate is what passes the 95 %
target.

``--quick`` shrinks everything (32 templates, 225 bins, a few steps) to run in
~20 s; it checks the plumbing, not the accuracy.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["DEMO", "QUICK", "demo", "evaluate", "make_observer", "train"]

#: The demo's configuration (a ``deepz train`` config; see the module notes).
DEMO: dict[str, Any] = {
    "seed": 1,
    "observer": {"name": "euclid", "merge": 4, "n_templates": 200, "norm": "max"},
    "model": {"name": "euclid_cnn", "n_conv": 1},
    "train": {
        "optimizer": "adagrad",
        "lr": 0.05,
        "batch_size": 256,
        "steps_per_epoch": 250,
        "epochs": 8,
        "schedule": "halve_every_3",
    },
    "eval": {"n": 5000, "seed": 999_001},
}

#: ``deepz demo --quick``: the plumbing only.
QUICK: dict[str, Any] = {
    "seed": 1,
    "observer": {"name": "euclid", "merge": 8, "n_templates": 32, "norm": "max"},
    "model": {"name": "euclid_cnn", "n_conv": 1},
    "train": {
        "optimizer": "adagrad",
        "lr": 0.05,
        "batch_size": 64,
        "steps_per_epoch": 5,
        "epochs": 2,
    },
    "eval": {"n": 200, "seed": 999_001},
}


def make_observer(spec: Mapping[str, Any]):
    """Build a simulation observer from ``{"name": preset, **fields}``."""
    from .simulate import observer

    spec = dict(spec)
    name = spec.pop("name", "euclid")
    return observer(name, **spec)


def _normalisation(obs) -> dict[str, Any]:
    norm = getattr(obs, "norm", "none")
    if norm == "xmax":
        return {"kind": "xmax", "divisor": 2.0 * float(obs.resolved_xmax())}
    return {"kind": norm}


def _model_config(obs, spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    spec = dict(spec)
    name = spec.pop("name", "euclid_cnn")
    from . import models

    entry = models.get_entry(name)
    fields = {f for f in entry.config_cls.__dataclass_fields__}
    if "input_length" in fields:
        spec.setdefault("input_length", int(obs.n_pixels))
    if name == "euclid_cnn" and hasattr(obs, "n_z_classes"):
        spec.setdefault("n_classes", int(obs.n_z_classes))
        spec.setdefault("z_min", float(obs.z_min))
        spec.setdefault("z_max", float(obs.z_max))
    return name, spec


def train(
    config: Mapping[str, Any],
    out_dir,
    *,
    resume: bool = False,
    progress: bool = True,
    fmt: str = "weights",
) -> dict[str, Any]:
    """Train a network on simulated spectra, save it and evaluate it on a held-out set.

    Parameters
    ----------
    config : mapping
        ``{"seed", "observer": {"name", ...fields}, "model": {"name", ...config},
        "train": {"optimizer", "lr", "batch_size", "steps_per_epoch", "epochs"},
        "eval": {"n", "seed"}}`` (the ``deepz train`` TOML file; see :data:`DEMO`).
    out_dir : path-like
        Run folder: the Trainer's checkpoint/history files, ``model.pt``,
        ``predictions.fits`` and ``report/``.
    resume : bool
        Continue an interrupted run in ``out_dir`` exactly.
    progress : bool
        Progress bars.
    fmt : {"weights", "torchscript", "export"}
        How ``model.pt`` is saved.

    Returns
    -------
    dict
        ``metrics`` (the report's metrics.json), ``model_path``, ``seconds``
        (``simulate_setup``, ``train``, ``evaluate``), ``history``.

    """
    import torch

    from . import models
    from .modelfile import build_meta, save
    from .simulate import SimulatedStream
    from .training import Trainer

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed = int(config.get("seed", 0))
    obs = make_observer(config.get("observer", {"name": "euclid"}))
    tcfg = dict(config.get("train", {}))
    batch_size = int(tcfg.pop("batch_size", 256))
    steps = int(tcfg.pop("steps_per_epoch", 100))
    epochs = int(tcfg.pop("epochs", 1))
    optimizer = tcfg.pop("optimizer", "adagrad")
    lr = tcfg.pop("lr", None)
    dcfg = dict(config.get("data", {}))
    if isinstance(dcfg.get("y"), list):
        dcfg["y"] = tuple(dcfg["y"])
    stream = SimulatedStream(obs, seed=seed, batch_size=batch_size, **dcfg)
    name, mcfg = _model_config(obs, config.get("model", {"name": "euclid_cnn"}))
    torch.manual_seed(seed)
    net = models.create(name, **mcfg)
    t1 = time.perf_counter()
    trainer = Trainer(
        net,
        net.loss,
        optimizer=optimizer,
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        steps_per_epoch=steps,
        seed=seed,
        out_dir=out,
        progress=progress,
        log_every=None,
        device="cpu",
        **tcfg,
    )
    result = trainer.fit(stream, resume=resume)
    t2 = time.perf_counter()
    meta = build_meta(
        net,
        obs.wave,
        normalisation=_normalisation(obs),
        name=name,
        training={
            "seed": seed,
            "observer": obs.config(),
            "steps_per_epoch": steps,
            "epochs": epochs,
            "batch_size": batch_size,
            "optimizer": str(optimizer),
            "lr": lr,
            "samples_seen": steps * epochs * batch_size,
            "data": f"on-the-fly simulated spectra ({obs.kind})",
        },
    )
    model_path = save(net, out / "model.pt", meta, fmt=fmt)
    if net.task == "spectro":  # classes + P(z): calibrated, then evaluated per class and S/N
        from .calibration import calibrate_and_evaluate

        done = calibrate_and_evaluate(net, meta, config, out, progress=progress, fmt=fmt)
        metrics, model_path = done["metrics"], done["model_path"]
    else:
        metrics = _evaluate_held_out(net, meta, obs, config, out, name, seed)
    t3 = time.perf_counter()
    seconds = {"simulate_setup": t1 - t0, "train": t2 - t1, "evaluate": t3 - t2, "total": t3 - t0}
    summary = {
        "metrics": metrics,
        "model_path": str(model_path),
        "seconds": seconds,
        "history": result.history,
        "seed": seed,
    }
    (out / "summary.json").write_text(
        json.dumps({k: v for k, v in summary.items() if k != "metrics"}, indent=2, default=str)
    )
    return summary


def _evaluate_held_out(net, meta, obs, config, out: Path, name: str, seed: int) -> dict:
    """Predict a held-out set of ``obs`` (physical flux) and write the catalogue and report."""
    from .inference import Predictor
    from .io import write_catalog

    ecfg = dict(config.get("eval", {}))
    n_eval, eval_seed = int(ecfg.get("n", 2000)), int(ecfg.get("seed", seed + 1_000_003))
    test = obs.simulate(n_eval, seed=eval_seed)
    pred = Predictor(net, meta, device="cpu")
    cat = pred.predict(
        test.flux * test.norm[:, None],
        wave=test.wave,
        ivar=test.ivar / (test.norm[:, None] ** 2),
        keep_pdf=False,
    )
    cat["Z_TRUE"] = test.z
    if test.z_class is not None:
        cat["Z_CLASS_TRUE"] = test.z_class
    write_catalog(out / "predictions.fits", cat, seed=seed, overwrite=True)
    return evaluate(
        cat,
        test.z,
        out / "report",
        y_true=test.z_class,
        meta={"model": name, "seed": seed, "eval_seed": eval_seed, "n_eval": n_eval},
    )


def evaluate(pred, z_true, out_dir, *, y_true=None, meta=None, overwrite: bool = True) -> dict:
    """Write metrics and figures of a prediction catalogue against true redshifts.

    Parameters
    ----------
    pred : astropy.table.Table
        A Predictor catalogue (Z; optional ZERR, Z_CLASS, CONFIDENCE, Z_PDF).
    z_true : array_like (N,)
        True redshifts, row-matched.
    out_dir : path-like
        Report folder (:func:`deepz.plots.report`).
    y_true : array_like (N,), optional
        True redshift slots (with Z_CLASS in ``pred``: accuracy and accuracy
        within +-1 slot).
    meta : mapping, optional
        Stored in metrics.json.
    overwrite : bool
        Replace the files of an existing report.

    Returns
    -------
    dict
        metrics.json's content.

    """
    from . import plots

    kw: dict[str, Any] = {}
    cols = pred.colnames
    if "Z_CLASS" in cols and y_true is not None:
        kw["y_pred"] = np.asarray(pred["Z_CLASS"])
        kw["y_true"] = np.asarray(y_true)
        kw["within_k"] = 1
    if "CONFIDENCE" in cols:
        kw["confidence"] = np.asarray(pred["CONFIDENCE"], dtype=np.float64)
    if "ZERR" in cols and np.isfinite(np.asarray(pred["ZERR"], dtype=float)).all():
        kw["sigma"] = np.maximum(np.asarray(pred["ZERR"], dtype=np.float64), 1e-6)
    if "Z_PDF" in cols and "Z_BINS" in pred.meta:
        kw["pdf"] = np.asarray(pred["Z_PDF"], dtype=np.float64)
        kw["bins"] = np.asarray(pred.meta["Z_BINS"], dtype=np.float64)
    return plots.report(
        out_dir,
        np.asarray(pred["Z"], dtype=np.float64),
        np.asarray(z_true, dtype=np.float64),
        meta=meta,
        overwrite=overwrite,
        **kw,
    )


def demo(
    out_dir="deepz-demo", *, quick: bool = False, progress: bool = True, threads: int | None = None
) -> dict[str, Any]:
    """Run the built-in demo (see the module notes); return :func:`train`'s summary."""
    import torch

    if threads is not None:
        torch.set_num_threads(int(threads))
    config = QUICK if quick else DEMO
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / "run.json").exists():
        raise FileExistsError(f"{out} exists and is not a deepz run folder; choose another --out")
    log.info(
        "demo (%s) in %s with %d torch threads",
        "quick" if quick else "full",
        out,
        torch.get_num_threads(),
    )
    os.makedirs(out, exist_ok=True)
    return train(config, out, resume=False, progress=progress)
