"""Calibrating a class + P(z) network, and its held-out evaluation per class and S/N.

After training, :func:`calibrate_and_evaluate` (called by :func:`deepz.pipeline.train`
for ``spectro`` models such as the shipped default) does, on spectra the network
never saw:

1. a *calibration* set, simulated at each survey's native sampling (the
   Predictor resamples them, as it does real spectra) from another template
   library (``template_seed`` 2): the temperatures of the class and redshift
   softmaxes are fitted by maximum likelihood (Guo et al. 2017), then the
   factors that turn the PDF's 68 % half-width and the line-search pixel
   error into ZERR are fitted so that 68 % of ``|z - z_true| / ZERR`` are
   below 1, separately for network and line-search redshifts;
2. the calibrated meta is written into the model file;
3. a *held-out* set from a third library (``[eval].template_seed``, default 1)
   is predicted with line-search refinement and evaluated: catastrophic
   rate (``|dz|/(1+z) > 0.01``), sigma_MAD and class accuracy per true class
   and per S/N bin, the coverage of ZERR at 1 and 3 sigma, the PIT histogram,
   and the reliability of the class probabilities; figures and
   ``metrics.json`` go to ``report/``, the tables to ``tables.md``.

The S/N of a spectrum is the median S/N per pixel the simulator drew for it
(mean flux over median sigma, in the survey's native pixels).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "SNR_BINS",
    "calibrate_and_evaluate",
    "fit_temperature",
    "fit_zerr_scale",
    "native_observers",
    "score_table",
    "simulate_native",
]

#: S/N bins (median S/N per native pixel) of the held-out tables.
SNR_BINS = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, math.inf)
#: |dz| / (1 + z) above which a redshift is a catastrophic failure.
CATASTROPHIC = 0.01


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature T > 0 minimising the NLL of ``softmax(logits / T)`` at ``labels``.

    Parameters
    ----------
    logits : ndarray (N, K)
        Raw network outputs.
    labels : ndarray (N,) of int in [0, K)
        True classes.

    Returns
    -------
    float
        T in [0.05, 20] (> 1: the network was over-confident).

    """
    from scipy.optimize import minimize_scalar
    from scipy.special import logsumexp

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(
            f"logits (N, K) and labels (N,) expected, got {logits.shape} and {labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels must be in [0, {logits.shape[1]})")
    picked = logits[np.arange(labels.size), labels]

    def nll(log_t: float) -> float:
        t = math.exp(log_t)
        return float(np.mean(logsumexp(logits / t, axis=1) - picked / t))

    res = minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded")
    return float(math.exp(res.x))


def fit_zerr_scale(dz: np.ndarray, zerr: np.ndarray, level: float = 0.68) -> float:
    """Factor s such that a fraction ``level`` of ``|dz| / (s zerr)`` is below 1.

    Returns 1.0 when there is nothing to fit (no finite pair).
    """
    ratio = np.abs(np.asarray(dz, dtype=np.float64)) / np.asarray(zerr, dtype=np.float64)
    ratio = ratio[np.isfinite(ratio)]
    if ratio.size == 0:
        return 1.0
    return float(max(np.quantile(ratio, level), 1e-3))


def native_observers(spec: Mapping[str, Any], template_seed: int) -> list:
    """Return the observers of a training mixture at native sampling, with another library.

    Each entry of ``spec["observers"]`` loses its ``grid`` (DESI-like arms on one
    lattice are coadded with ``combine=True``) and gets ``template_seed``.
    """
    from .simulate import OBSERVERS

    subs = spec.get("observers") if spec.get("name") == "mixture" else [spec]
    out = []
    for i, sub in enumerate(subs):
        sub = dict(sub)
        preset = sub.pop("preset", sub.get("name"))
        sub.pop("grid", None)
        sub["template_seed"] = int(template_seed)
        obs = OBSERVERS[preset](**sub)
        if len(obs.arms) > 1:
            obs = dataclasses.replace(obs, combine=True)
        log.debug("native observer %d: %s", i, obs.name)
        out.append(obs)
    return out


def simulate_native(observers: Sequence, n: int, seed: int) -> list:
    """``n`` spectra split evenly over ``observers`` (seed ``seed + j`` for observer ``j``)."""
    per = -(-int(n) // len(observers))
    return [o.simulate(per, seed=int(seed) + j) for j, o in enumerate(observers)]


def _predict(pred, batches, *, refine: bool = True):
    """Predict each batch (physical flux) and stack the catalogues with the truths."""
    from astropy.table import vstack

    cats = []
    for b in batches:
        norm = b.norm[:, None]
        cat = pred.predict(b.flux * norm, wave=b.wave, ivar=b.ivar / norm**2, refine=refine)
        cat["Z_TRUE"] = b.z
        cat["CLASS_TRUE"] = np.asarray(b.class_names, dtype=object)[b.label].astype(str)
        cat["SUBCLASS_TRUE"] = np.asarray(b.subclass_names, dtype=object)[b.subclass].astype(str)
        cat["SNR_TRUE"] = b.extra["snr"]
        cat["SURVEY"] = np.full(len(b), b.observer)
        cats.append(cat)
    out = vstack(cats, metadata_conflicts="silent")
    out["TARGETID"] = np.arange(len(out))
    return out


def _logits(pred, batches):
    """Raw (class, redshift) logits of a spectro network on the batches, and the labels."""
    import torch

    cls, zl, sub, z = [], [], [], []
    for b in batches:
        norm = b.norm[:, None]
        x, _ = pred.prepare(b.flux * norm, wave=b.wave, ivar=b.ivar / norm**2)
        with torch.inference_mode():
            for i in range(0, x.shape[0], 1024):
                a, c = pred.model(torch.from_numpy(x[i : i + 1024]))
                cls.append(a.double().numpy())
                zl.append(c.double().numpy())
        sub.append(b.subclass)
        z.append(b.z)
    return np.concatenate(cls), np.concatenate(zl), np.concatenate(sub), np.concatenate(z)


def score_table(cat, snr_bins: Sequence[float] = SNR_BINS) -> list[dict[str, Any]]:
    """Rows (class, S/N bin) of N, catastrophic rate, sigma_MAD and class accuracy.

    ``cat`` is a :func:`_predict` catalogue (Z, SPECTYPE, Z_TRUE, CLASS_TRUE,
    SNR_TRUE). Rows ``"all"`` aggregate the S/N bins; ``"S/N>=3"`` the bins from 3.
    """
    z = np.asarray(cat["Z"], dtype=np.float64)
    zt = np.asarray(cat["Z_TRUE"], dtype=np.float64)
    dz = (z - zt) / (1.0 + zt)
    cls_true = np.asarray(cat["CLASS_TRUE"]).astype(str)
    cls_pred = np.asarray(cat["SPECTYPE"]).astype(str)
    snr = np.asarray(cat["SNR_TRUE"], dtype=np.float64)
    rows = []
    edges = list(snr_bins)
    ranges = [
        (f"{lo:g}-{hi:g}" if math.isfinite(hi) else f">={lo:g}", lo, hi)
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    ranges += [("S/N>=3", 3.0, math.inf), ("all", -math.inf, math.inf)]
    for c in sorted(set(cls_true)):
        for label, lo, hi in ranges:
            m = (cls_true == c) & (snr >= lo) & (snr < hi)
            if not m.any():
                continue
            d = dz[m]
            rows.append(
                {
                    "class": c,
                    "snr": label,
                    "n": int(m.sum()),
                    "catastrophic": float(np.mean(np.abs(d) > CATASTROPHIC)),
                    "sigma_mad": float(1.4826 * np.median(np.abs(d - np.median(d)))),
                    "class_accuracy": float(np.mean(cls_pred[m] == c)),
                }
            )
    return rows


def _markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| class | S/N per pixel | N | catastrophic | sigma_MAD | class accuracy |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['class']} | {r['snr']} | {r['n']} | {100 * r['catastrophic']:.2f} % "
            f"| {r['sigma_mad']:.5f} | {100 * r['class_accuracy']:.2f} % |"
        )
    return "\n".join(lines) + "\n"


def calibrate_and_evaluate(
    net,
    meta: Mapping[str, Any],
    config: Mapping[str, Any],
    out_dir,
    *,
    progress: bool = True,
    fmt: str = "weights",
    min_coverage: float = 0.75,
) -> dict[str, Any]:
    """Calibrate a trained spectro network, save it, evaluate it (see the module notes).

    Parameters
    ----------
    net : torch.nn.Module
        The trained network (eager, scripted or loaded).
    meta : mapping
        Its meta (:func:`deepz.modelfile.build_meta`).
    config : mapping
        The ``deepz train`` config: ``observer`` (the training mixture),
        ``calibrate`` (``n``, ``seed``, ``template_seed`` default 2) and
        ``eval`` (``n``, ``seed``, ``template_seed`` default 1).
    out_dir : path-like
        Run folder: ``model.pt`` is rewritten with the calibrated meta;
        ``predictions.fits``, ``tables.md``, ``calibration.json`` and
        ``report/`` are written.
    progress : bool
        Unused (kept for :func:`deepz.pipeline.train`'s call); the sets are predicted in
        one pass each.
    fmt : {"weights", "torchscript", "export"}
        How the calibrated ``model.pt`` is saved.
    min_coverage : float
        The meta's ``min_coverage`` (SDSS's 3800-9200 A covers 0.88 of the grid).

    Returns
    -------
    dict
        ``metrics`` (report metrics plus ``tables`` and ``calibration``),
        ``model_path``, ``calibration``.

    """
    from . import plots
    from .inference import Predictor
    from .io import write_catalog
    from .modelfile import save

    out = Path(out_dir)
    ccfg = dict(config.get("calibrate", {}))
    ecfg = dict(config.get("eval", {}))
    meta = json.loads(json.dumps(meta))
    meta["input"]["min_coverage"] = float(min_coverage)
    meta.pop("calibration", None)
    pred = Predictor(net, meta, device="cpu")
    cal_obs = native_observers(config["observer"], int(ccfg.get("template_seed", 2)))
    cal = simulate_native(cal_obs, int(ccfg.get("n", 6000)), int(ccfg.get("seed", 7001)))
    lc, lz, sub, z = _logits(pred, cal)
    t_cls = fit_temperature(lc, sub)
    edges = np.asarray(meta["z_edges"], dtype=np.float64)
    kz = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, edges.size - 2)
    t_z = fit_temperature(lz, kz)
    calib: dict[str, Any] = {
        "class_temperature": t_cls,
        "z_temperature": t_z,
        "class_ambiguous": 0.8,
        "low_snr": 2.0,
        "zerr_scale": 1.0,
        "zerr_lines_scale": 1.0,
    }
    meta["calibration"] = calib
    pred = Predictor(net, meta, device="cpu")
    cat = _predict(pred, cal)
    dz = np.asarray(cat["Z"], dtype=np.float64) - np.asarray(cat["Z_TRUE"], dtype=np.float64)
    lines = np.isfinite(np.asarray(cat["Z_LINES"], dtype=np.float64)) & (
        np.asarray(cat["Z"]) == np.asarray(cat["Z_LINES"])
    )
    zerr = np.asarray(cat["ZERR"], dtype=np.float64)
    calib["zerr_scale"] = fit_zerr_scale(dz[~lines], zerr[~lines])
    calib["zerr_lines_scale"] = fit_zerr_scale(dz[lines], zerr[lines]) if lines.any() else 1.0
    calib.update(
        n_calibration=len(cat),
        calibration_seed=int(ccfg.get("seed", 7001)),
        calibration_template_seed=int(ccfg.get("template_seed", 2)),
        n_line_redshifts=int(lines.sum()),
    )
    log.info(
        "calibration: T_class %.3f, T_z %.3f, zerr x %.3f (PDF), x %.3f (lines, %d)",
        t_cls,
        t_z,
        calib["zerr_scale"],
        calib["zerr_lines_scale"],
        int(lines.sum()),
    )
    meta["calibration"] = calib
    model_path = save(net, out / "model.pt", meta, fmt=fmt)
    # held-out evaluation
    pred = Predictor(net, meta, device="cpu")
    ev_obs = native_observers(config["observer"], int(ecfg.get("template_seed", 1)))
    ev = simulate_native(ev_obs, int(ecfg.get("n", 20000)), int(ecfg.get("seed", 7002)))
    cat = _predict(pred, ev)
    write_catalog(out / "predictions.fits", cat, seed=int(config.get("seed", 0)), overwrite=True)
    rows = score_table(cat)
    (out / "tables.md").write_text(_markdown(rows))
    classes = sorted({c.split(":")[0] for c in meta["class_names"]})
    probs = np.stack([np.asarray(cat[f"P_{c}"], dtype=np.float64) for c in classes], axis=1)
    y_true = np.array([classes.index(c) for c in np.asarray(cat["CLASS_TRUE"]).astype(str)])
    metrics = plots.report(
        out / "report",
        np.asarray(cat["Z"], dtype=np.float64),
        np.asarray(cat["Z_TRUE"], dtype=np.float64),
        sigma=np.asarray(cat["ZERR"], dtype=np.float64),
        pdf=np.asarray(cat["Z_PDF"], dtype=np.float64),
        bins=np.asarray(meta["z_edges"]),
        probs=probs,
        y_true=y_true,
        labels=list(range(len(classes))),
        snr=np.asarray(cat["SNR_TRUE"], dtype=np.float64),
        snr_bins=SNR_BINS,
        classes=np.asarray(cat["CLASS_TRUE"]).astype(str),
        catastrophic_threshold=CATASTROPHIC,
        meta={
            "model": meta["model"]["name"],
            "seed": config.get("seed"),
            "eval_seed": int(ecfg.get("seed", 7002)),
            "eval_template_seed": int(ecfg.get("template_seed", 1)),
            "n_eval": len(cat),
            "class_names": classes,
        },
        overwrite=True,
    )
    metrics["tables"] = rows
    metrics["calibration"] = calib
    (out / "calibration.json").write_text(json.dumps(calib, indent=2))
    (out / "report" / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    return {"metrics": metrics, "model_path": str(model_path), "calibration": calib}
