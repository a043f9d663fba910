"""Predict redshifts with a trained network: :class:`Predictor`.

:class:`Predictor` wraps a network (eager ``nn.Module``, TorchScript module or
the module of a ``torch.export`` program) and its *meta* -- the JSON
description of what the network expects and what it returns -- and turns any
spectra into a redshift catalogue:

1. the spectra (numpy arrays with their wavelengths, one grid for all or one
   per spectrum, or a :class:`deepz.io.SpectraBatch`) are resampled onto the
   model's grid with :func:`deepz.resample` (flux-conserving, inverse
   variances propagated, masked pixels excluded); pixels the input does not
   cover or that are masked become 0 for the network;
2. they are normalised as the meta says (``xmax``: divided by a fixed
   divisor; ``max``: by each spectrum's max |flux|; ``l2``: by its L2 norm;
   ``none``);
3. the network runs in batches under ``torch.inference_mode`` on the CPU or
   the GPU (pinned host memory, non-blocking copies);
4. its output becomes catalogue columns (see :meth:`Predictor.predict`):
   for classifiers over redshift bins the full P(z), the argmax, mean and
   median, the confidence (max P), the 68 % width; for ensembles the mean and
   sigma; for object classifiers the class probabilities and names;
5. optionally z is refined by :func:`deepz.line_search` on the *input*
   spectrum (``refine=True``), and ZWARN bits (:class:`deepz.io.ZWarn`) are
   set per target.

Saved models (meta, :func:`deepz.save`, :func:`deepz.load`) live in
:mod:`deepz.modelfile`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .modelfile import _check_meta

log = logging.getLogger(__name__)

__all__ = ["Predictor"]


def _resolve_device(device: Any) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} asked for, but torch sees no CUDA device")
    return dev


def _bin_edges(centres: np.ndarray, z_range) -> np.ndarray:
    if z_range is not None:
        return np.linspace(z_range[0], z_range[1], centres.size + 1)
    mid = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def _pdf_quantile(prob: np.ndarray, edges: np.ndarray, q: float) -> np.ndarray:
    """Quantile q of piecewise-constant PDFs (N, K) over bins with ``edges`` (K+1,)."""
    cdf = np.cumsum(prob, axis=1)
    cdf /= cdf[:, -1:]
    k = np.minimum((cdf < q).sum(axis=1), prob.shape[1] - 1)  # first bin with cdf >= q
    rows = np.arange(prob.shape[0])
    below = np.where(k > 0, cdf[rows, np.maximum(k - 1, 0)], 0.0)
    p = prob[rows, k] / np.maximum(cdf[:, -1], 1e-300)
    frac = np.where(p > 0, (q - below) / np.where(p > 0, p, 1.0), 0.5)
    frac = np.clip(frac, 0.0, 1.0)
    return edges[k] + frac * (edges[k + 1] - edges[k])


def _median_snr(f: np.ndarray, iv: np.ndarray) -> np.ndarray:
    """Median S/N per pixel, |flux| sqrt(ivar), over each spectrum's good pixels (0 if none)."""
    snr = np.where(iv > 0, np.abs(f) * np.sqrt(np.maximum(iv, 0.0)), np.nan)
    out = np.zeros(f.shape[0])
    ok = (iv > 0).any(axis=1)
    if ok.any():
        out[ok] = np.nanmedian(snr[ok], axis=1)
    return out


def _split_class(name: str) -> tuple[str, str]:
    """``"GALAXY:PASSIVE"`` / ``"STAR_K1"`` -> (SPECTYPE, SUBTYPE) (``"QSO"`` -> ("QSO", ""))."""
    name = str(name)
    for sep in (":", "_"):
        if sep in name:
            head, tail = name.split(sep, 1)
            return head, tail
    return name, ""


class Predictor:
    """Batched prediction with a deepz network and its meta (see the module notes).

    Parameters
    ----------
    model : torch.nn.Module
        The network (eager, scripted, or ``ExportedProgram.module()``); put in
        eval mode. Its ``forward`` gives logits (``pdf``, ``classification``),
        z (``regression``) or ``(z, sigma_z, members)`` (``ensemble``).
    meta : dict
        Its description (:func:`build_meta`; :func:`load` reads it from the file).
    device : {"auto", "cpu", "cuda", ...}
        Where the network runs ("auto": CUDA when torch sees a GPU).
    batch_size : int
        Spectra per forward pass.
    threads : int, optional
        Threads of the resampling and line-search kernels.

    Attributes
    ----------
    wave : ndarray (P,)
        The model's input grid (Angstrom).
    task : str
        "pdf", "regression", "classification" or "ensemble".
    z_bins, z_edges : ndarray or None
        Redshift bin centres (K,) and edges (K+1,) of ``pdf`` models.
    class_names : list of str or None

    Examples
    --------
    >>> import deepz                                             # doctest: +SKIP
    >>> pred = deepz.load("model.pt")                           # doctest: +SKIP
    >>> cat = pred.predict(flux, wave=wave, ivar=ivar)          # doctest: +SKIP
    >>> cat["Z", "ZERR", "ZWARN", "CONFIDENCE"][:3]             # doctest: +SKIP

    """

    def __init__(
        self,
        model: torch.nn.Module,
        meta: Mapping[str, Any],
        *,
        device: Any = "auto",
        batch_size: int = 1024,
        threads: int | None = None,
    ) -> None:
        self.meta = _check_meta(meta, "meta")
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.batch_size = batch_size
        self.threads = threads
        self.device = _resolve_device(device)
        if isinstance(model, torch.nn.Module) and not isinstance(model, torch.fx.GraphModule):
            model.eval()  # (the module of an ExportedProgram refuses eval(): exported in eval)
        self.model = model.to(self.device) if hasattr(model, "to") else model
        self.task: str = self.meta["model"]["task"]
        self.wave = np.asarray(self.meta["input"]["wave"], dtype=np.float64)
        self.normalisation: dict[str, Any] = dict(
            self.meta["input"].get("normalisation", {"kind": "none"})
        )
        self.min_coverage = float(self.meta["input"].get("min_coverage", 0.9))
        self.z_bins = (
            None
            if self.meta.get("z_bins") is None
            else np.asarray(self.meta["z_bins"], dtype=np.float64)
        )
        self.z_edges = (
            None
            if self.z_bins is None
            else np.asarray(self.meta["z_edges"], dtype=np.float64)
            if self.meta.get("z_edges") is not None
            else _bin_edges(self.z_bins, self.meta.get("z_range"))
        )
        if self.z_edges is not None and self.meta.get("z_range") is not None:
            # equal bins: exact float64 centres (the network's buffer holds float32 ones)
            self.z_bins = 0.5 * (self.z_edges[1:] + self.z_edges[:-1])
        self.class_names = self.meta.get("class_names")
        self.calibration: dict[str, Any] = dict(self.meta.get("calibration") or {})
        shape = self.meta["model"].get("input_shape") or [self.wave.size]
        self._input_shape = tuple(int(s) for s in shape)

    def __repr__(self) -> str:
        m = self.meta["model"]
        return (
            f"Predictor({m['name']}, task={self.task}, {self.wave.size} pixels "
            f"{self.wave[0]:.1f}-{self.wave[-1]:.1f} A, device={self.device})"
        )

    # -- input preparation ------------------------------------------------------------
    def prepare(self, flux, wave=None, ivar=None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Resample and normalise spectra for the network.

        Parameters
        ----------
        flux : array_like (N, M) or (M,), or SpectraBatch
            Spectra (f_lambda, the unit the model was trained in).
        wave : array_like (M,) or (N, M), optional
            Their pixel centres in Angstrom (default: the model's grid).
        ivar : array_like like flux, optional
            Inverse variances (0 = masked); NaN flux is masked too.

        Returns
        -------
        x : ndarray (N, P) float32
            Network input (uncovered and masked pixels are 0).
        info : dict
            ``coverage`` (fraction of the model's grid inside the input's
            range), ``masked`` (fraction of the covered pixels without data),
            ``ivar`` (N, P) on the model grid (unnormalised).

        """
        from . import kernels

        flux, wave, ivar = self._as_arrays(flux, wave, ivar)
        n = flux.shape[0]
        same = (
            wave.ndim == 1
            and wave.shape == self.wave.shape
            and np.allclose(
                wave, self.wave, rtol=0, atol=1e-6 * float(np.median(np.diff(self.wave)))
            )
        )
        if same:
            f = flux.astype(np.float64).copy()
            iv = ivar.astype(np.float64).copy()
            bad = ~np.isfinite(f)
            iv[bad] = 0.0
        else:
            f, iv = kernels.resample(
                wave,
                flux.astype(np.float64),
                self.wave,
                ivar=ivar.astype(np.float64),
                fill=np.nan,
                threads=self.threads,
            )
            f = np.atleast_2d(f)
            iv = np.atleast_2d(iv)
        # coverage: the model pixels inside the input's wavelength range
        w = np.broadcast_to(wave, (n, wave.shape[-1])) if wave.ndim == 1 else wave
        lo, hi = np.minimum(w[:, 0], w[:, -1]), np.maximum(w[:, 0], w[:, -1])
        inside = (self.wave[None, :] >= lo[:, None]) & (self.wave[None, :] <= hi[:, None])
        coverage = inside.mean(axis=1)
        good = np.isfinite(f) & (iv > 0)
        masked = 1.0 - good.sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
        f = np.where(good, f, 0.0)
        iv = np.where(good, iv, 0.0)
        info = {
            "coverage": coverage,
            "masked": np.clip(masked, 0, 1),
            "ivar": iv,
            "snr": _median_snr(f, iv),
        }
        if self.task == "spectro":  # (flux, ivar): the network normalises them itself
            c = np.abs(f).sum(axis=1) / np.maximum(good.sum(axis=1), 1)
            c = np.where(c > 0, c, 1.0)[:, None]  # unit-free scale: no float32 overflow
            return np.stack([f / c, iv * (c * c)], axis=1).astype(np.float32), info
        x = self._normalise(f)
        return x.astype(np.float32), info

    def _as_arrays(self, flux, wave, ivar):
        from .io import SpectraBatch

        if isinstance(flux, SpectraBatch):
            batch = flux
            if isinstance(batch.flux, dict):
                from .io import combine_arms

                w, f, iv = combine_arms(batch.wave, batch.flux, batch.ivar)[:3]
                return np.asarray(f), np.asarray(w, dtype=np.float64), np.asarray(iv)
            return (
                np.asarray(batch.flux),
                np.asarray(batch.wave, dtype=np.float64),
                np.asarray(batch.ivar),
            )
        flux = np.asarray(flux)
        if flux.ndim == 1:
            flux = flux[None, :]
        if flux.ndim != 2 or flux.shape[0] == 0:
            raise ValueError(f"flux: expected (N, M) spectra with N >= 1, got shape {flux.shape}")
        if flux.dtype not in (np.float32, np.float64):
            raise TypeError(f"flux: expected float32 or float64, got {flux.dtype}")
        wave = self.wave if wave is None else np.asarray(wave, dtype=np.float64)
        if (
            wave.shape[-1] != flux.shape[1]
            or wave.ndim not in (1, 2)
            or (wave.ndim == 2 and wave.shape[0] != flux.shape[0])
        ):
            raise ValueError(f"wave: expected ({flux.shape[1]},) or {flux.shape}, got {wave.shape}")
        if ivar is None:
            ivar = np.where(np.isfinite(flux), 1.0, 0.0)
        ivar = np.asarray(ivar)
        if ivar.ndim == 1:
            ivar = ivar[None, :]
        if ivar.shape != flux.shape:
            raise ValueError(f"ivar: expected shape {flux.shape} like flux, got {ivar.shape}")
        return flux, wave, ivar

    def _normalise(self, f: np.ndarray) -> np.ndarray:
        kind = self.normalisation.get("kind", "none")
        if kind == "xmax":
            return f / float(self.normalisation["divisor"])
        if kind == "max":
            d = np.abs(f).max(axis=1)
        elif kind == "l2":
            d = np.sqrt((f * f).sum(axis=1))
        else:
            return f
        return f / np.where(d > 0, d, 1.0)[:, None]

    # -- the network --------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Run the network on prepared inputs (N, P) in batches; return raw outputs.

        Returns ``{"prob": (N, K)}`` (pdf, classification), ``{"z": (N,)}``
        (regression), ``{"z", "sigma_z", "members"}`` (ensemble) or
        ``{"class_prob": (N, C), "prob": (N, K)}`` (spectro, with the
        calibration temperatures of the meta applied).
        """
        cuda = self.device.type == "cuda"
        outs: dict[str, list[np.ndarray]] = {}
        with torch.inference_mode():
            for i in range(0, x.shape[0], self.batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(x[i : i + self.batch_size]))
                xb = xb.reshape((xb.shape[0], *self._input_shape))
                if cuda:
                    xb = xb.pin_memory().to(self.device, non_blocking=True)
                out = self.model(xb)
                for k, v in self._decode(out).items():
                    outs.setdefault(k, []).append(v.float().cpu().numpy())
        return {k: np.concatenate(v) for k, v in outs.items()}

    def _decode(self, out: Any) -> dict[str, torch.Tensor]:
        if self.task == "spectro":
            t_cls = float(self.calibration.get("class_temperature", 1.0))
            t_z = float(self.calibration.get("z_temperature", 1.0))
            return {
                "class_prob": torch.softmax(out[0].float() / t_cls, dim=1),
                "prob": torch.softmax(out[1].float() / t_z, dim=1),
            }
        if self.task in ("pdf", "classification"):
            logits = out[0] if isinstance(out, (tuple, list)) else out
            return {"prob": torch.softmax(logits.float(), dim=1)}
        if self.task == "ensemble":
            if isinstance(out, Mapping):
                return {"z": out["z"], "sigma_z": out["sigma_z"], "members": out["members"]}
            return {"z": out[0], "sigma_z": out[1], "members": out[2]}
        z = out[0] if isinstance(out, (tuple, list)) else out
        return {"z": z.reshape(-1)}

    # -- the catalogue --------------------------------------------------------------------
    def predict(
        self,
        flux,
        wave=None,
        ivar=None,
        *,
        targetid=None,
        refine: bool = False,
        keep_pdf: bool = True,
        low_confidence: float = 0.5,
        refine_window: float | None = None,
        refine_tolerance: float | None = None,
        max_masked: float = 0.5,
    ):
        """Predict redshifts (and classes) of spectra; return a catalogue table.

        Parameters
        ----------
        flux, wave, ivar
            As :meth:`prepare` (a :class:`deepz.io.SpectraBatch` brings its own).
        targetid : array_like (N,), optional
            Ids (default: the batch's, else 0..N-1).
        refine : bool
            Refine z with :func:`deepz.line_search` on the input spectrum
            (continuum = running median of 101 pixels subtracted).
        keep_pdf : bool
            Keep the full P(z) (column ``Z_PDF``, (N, K)) for pdf models.
        low_confidence : float
            ZWARN LOW_CONFIDENCE when the probability within +-1 bin of the
            argmax (``PEAK_PROB``) is below this (pdf models), or when the top
            class probability is (classifiers: CLASS_AMBIGUOUS when the two
            best classes are within 0.1).
        refine_window, refine_tolerance : float, optional
            Line-search window (default max(0.01, 2 ZERR)) and the largest
            |dz| accepted (default: 3 bins, else 0.005); a larger move sets
            LINE_SEARCH_DISAGREES and keeps the network's z.
        max_masked : float
            ZWARN MASKED_TOO_MUCH when more of the covered model pixels are masked.

        Returns
        -------
        astropy.table.Table
            :func:`deepz.io.make_catalog` columns (TARGETID, Z, ZERR, ZWARN,
            SPECTYPE, SUBTYPE, DELTACHI2) plus, by task: pdf -- Z_ARGMAX,
            Z_MEAN, Z_MEDIAN, Z_LO68, Z_HI68, WIDTH68, CONFIDENCE (max P),
            PEAK_PROB, Z_CLASS (argmax bin), Z_PDF (with ``keep_pdf``);
            ensemble -- Z_MEMBERS; classification -- P_CLASS (N, C), CLASS,
            CONFIDENCE; always COVERAGE and MASKED_FRAC; with ``refine`` --
            Z_NET, Z_LINES, NLINES. Table meta: model name, z bin centres
            (``Z_BINS``) or class names.

        """
        from .io import SpectraBatch, ZWarn, make_catalog

        if isinstance(flux, SpectraBatch) and targetid is None:
            targetid = flux.targetid
        x, info = self.prepare(flux, wave, ivar)
        n = x.shape[0]
        tid = np.arange(n) if targetid is None else np.asarray(targetid).reshape(-1)
        if tid.shape != (n,):
            raise ValueError(f"targetid: expected {n} ids, got shape {tid.shape}")
        raw = self.forward(x)
        zwarn = np.zeros(n, dtype=np.int64)
        zwarn[info["coverage"] < self.min_coverage] |= int(ZWarn.OUT_OF_RANGE)
        zwarn[info["masked"] > max_masked] |= int(ZWarn.MASKED_TOO_MUCH)
        zwarn[info["masked"] >= 1.0] |= int(ZWarn.NODATA)
        if self.task == "spectro":
            return self._predict_spectro(
                flux,
                wave,
                ivar,
                tid,
                raw,
                info,
                zwarn,
                refine=refine,
                keep_pdf=keep_pdf,
                low_confidence=low_confidence,
            )
        cols: dict[str, Any] = {}
        spectype = np.full(n, self.meta.get("spectype") or "GALAXY", dtype=object)
        subtype = None
        zerr = deltachi2 = None
        if self.task == "pdf":
            p = raw["prob"].astype(np.float64)
            p /= p.sum(axis=1, keepdims=True)
            k = p.argmax(axis=1)
            rows = np.arange(n)
            z_arg = self.z_bins[k]
            z_mean = p @ self.z_bins
            z_med = _pdf_quantile(p, self.z_edges, 0.5)
            lo, hi = _pdf_quantile(p, self.z_edges, 0.16), _pdf_quantile(p, self.z_edges, 0.84)
            conf = p[rows, k]
            c = np.cumsum(np.pad(p, ((0, 0), (1, 0))), axis=1)
            kk = p.shape[1]
            peak = c[rows, np.minimum(k + 2, kk)] - c[rows, np.maximum(k - 1, 0)]
            far = p.copy()
            for d in (-2, -1, 0, 1, 2):
                far[rows, np.clip(k + d, 0, kk - 1)] = 0.0
            p2 = far.max(axis=1)
            deltachi2 = 2.0 * np.log(np.maximum(conf, 1e-300) / np.maximum(p2, 1e-300))
            z = z_arg
            zerr = 0.5 * (hi - lo)
            zwarn[peak < low_confidence] |= int(ZWarn.LOW_CONFIDENCE)
            zwarn[(k == 0) | (k == kk - 1)] |= int(ZWarn.Z_AT_EDGE)
            cols.update(
                Z_ARGMAX=z_arg,
                Z_MEAN=z_mean,
                Z_MEDIAN=z_med,
                Z_LO68=lo,
                Z_HI68=hi,
                WIDTH68=hi - lo,
                CONFIDENCE=conf,
                PEAK_PROB=peak,
                Z_CLASS=k,
            )
            if keep_pdf:
                cols["Z_PDF"] = p.astype(np.float32)
        elif self.task == "ensemble":
            z, zerr = raw["z"].astype(np.float64), raw["sigma_z"].astype(np.float64)
            cols["Z_MEMBERS"] = raw["members"].astype(np.float32)
        elif self.task == "regression":
            z = raw["z"].astype(np.float64)
        else:  # classification over object classes
            p = raw["prob"].astype(np.float64)
            k = p.argmax(axis=1)
            srt = np.sort(p, axis=1)
            names = self.class_names or [str(i) for i in range(p.shape[1])]
            cls = np.asarray(names, dtype=object)[k]
            spectype = np.array([_split_class(c)[0] for c in cls], dtype=object)
            subtype = np.array([_split_class(c)[1] for c in cls], dtype=object)
            z = np.full(n, np.nan)
            conf = srt[:, -1]
            if p.shape[1] > 1:
                zwarn[(srt[:, -1] - srt[:, -2]) < 0.1] |= int(ZWarn.CLASS_AMBIGUOUS)
            zwarn[conf < low_confidence] |= int(ZWarn.LOW_CONFIDENCE)
            cols.update(CLASS=cls.astype(str), CONFIDENCE=conf, P_CLASS=p.astype(np.float32))
        if refine and self.task != "classification":
            z, zwarn, extra = self._refine(
                flux, wave, ivar, z, zerr, zwarn, refine_window, refine_tolerance
            )
            cols.update(extra)
        cols.update(COVERAGE=info["coverage"], MASKED_FRAC=info["masked"])
        cat = make_catalog(
            tid,
            z,
            zerr=zerr,
            zwarn=zwarn,
            spectype=spectype,
            subtype=subtype,
            deltachi2=deltachi2,
            **cols,
        )
        cat.meta["MODEL"] = str(self.meta["model"]["name"])
        cat.meta["TASK"] = self.task
        if self.z_bins is not None:
            cat.meta["Z_BINS"] = [float(v) for v in self.z_bins]
        if self.class_names is not None:
            cat.meta["CLASSES"] = list(self.class_names)
        return cat

    def _predict_spectro(
        self, flux, wave, ivar, tid, raw, info, zwarn, *, refine, keep_pdf, low_confidence
    ):
        """Catalogue of a class + P(z) network (see :meth:`predict` and :mod:`deepz.default`)."""
        from .io import ZWarn, make_catalog

        cal = self.calibration
        n = tid.size
        rows = np.arange(n)
        names = list(self.class_names)
        parents = [_split_class(c)[0] for c in names]
        classes = list(dict.fromkeys(parents))
        member = np.array([[p == c for p in parents] for c in classes], dtype=np.float64)
        psub = raw["class_prob"].astype(np.float64)
        psub /= psub.sum(axis=1, keepdims=True)
        pcls = psub @ member.T  # (N, n_classes)
        kc = pcls.argmax(axis=1)
        spectype = np.asarray(classes, dtype=object)[kc]
        masked_sub = np.where(member[kc] > 0, psub, -1.0)
        subtype = np.array(
            [_split_class(names[j])[1] for j in masked_sub.argmax(axis=1)], dtype=object
        )
        p = raw["prob"].astype(np.float64)
        p /= p.sum(axis=1, keepdims=True)
        edges = self.z_edges
        u_edges = np.log1p(edges)
        du = np.diff(u_edges)
        k = p.argmax(axis=1)
        kk = p.shape[1]
        # mode, refined by the parabola through the peak bin and its neighbours (in ln(1+z))
        pl = p[rows, np.maximum(k - 1, 0)]
        pr = p[rows, np.minimum(k + 1, kk - 1)]
        pk = p[rows, k]
        den = pl - 2.0 * pk + pr
        shift = np.where(
            (k > 0) & (k < kk - 1) & (den < 0), 0.5 * (pl - pr) / np.where(den < 0, den, -1.0), 0.0
        )
        u_mode = 0.5 * (u_edges[k] + u_edges[k + 1]) + np.clip(shift, -0.5, 0.5) * du[k]
        z_net = np.expm1(u_mode)
        lo, hi = _pdf_quantile(p, edges, 0.16), _pdf_quantile(p, edges, 0.84)
        z_med = _pdf_quantile(p, edges, 0.5)
        # probability within the catastrophic-failure tolerance |dz|/(1+z) < 0.01 of the mode
        u_c = 0.5 * (u_edges[:-1] + u_edges[1:])
        near = np.abs(u_c[None, :] - u_mode[:, None]) < 0.01
        peak = (p * near).sum(axis=1)
        far = np.where(near, 0.0, p)
        deltachi2 = 2.0 * np.log(np.maximum(pk, 1e-300) / np.maximum(far.max(axis=1), 1e-300))
        floor = (1.0 + z_net) * du[k] / math.sqrt(12.0)
        zerr = float(cal.get("zerr_scale", 1.0)) * np.maximum(0.5 * (hi - lo), floor)
        zwarn[peak < low_confidence] |= int(ZWarn.LOW_CONFIDENCE)
        zwarn[(k == 0) | (k == kk - 1)] |= int(ZWarn.Z_AT_EDGE)
        zwarn[pcls.max(axis=1) < float(cal.get("class_ambiguous", 0.8))] |= int(
            ZWarn.CLASS_AMBIGUOUS
        )
        zwarn[info["snr"] < float(cal.get("low_snr", 2.0))] |= int(ZWarn.LOW_SNR)
        cols: dict[str, Any] = {}
        z = z_net.copy()
        if refine:
            sel = np.flatnonzero(spectype != "STAR")
            z_lines = np.full(n, np.nan)
            n_lines = np.zeros(n, dtype=np.int64)
            if sel.size:
                f_in, w_in, iv_in = self._as_arrays(flux, wave, ivar)
                w_sel = w_in if w_in.ndim == 1 else w_in[sel]
                tol = 3.0 * (1.0 + z_net[sel]) * du[k[sel]]
                z_s, zw_s, extra = self._refine(
                    f_in[sel], w_sel, iv_in[sel], z_net[sel], zerr[sel], zwarn[sel], 0.02, tol
                )
                z[sel], zwarn[sel] = z_s, zw_s
                z_lines[sel], n_lines[sel] = extra["Z_LINES"], extra["NLINES"]
                used = np.zeros(n, dtype=bool)
                used[sel] = np.isfinite(extra["Z_LINES"]) & (z_s == extra["Z_LINES"])
                if used.any():
                    # a line-based z: the pixel width of the input, shrunk by the lines found
                    w2 = np.broadcast_to(w_in, f_in.shape) if w_in.ndim == 1 else w_in
                    pix = np.median(np.abs(np.diff(np.log(w2[used]), axis=1)), axis=1)
                    zerr[used] = (
                        float(cal.get("zerr_lines_scale", 1.0))
                        * (1.0 + z[used])
                        * (pix / np.sqrt(n_lines[used]))
                    )
            cols.update(Z_NET=z_net, Z_LINES=z_lines, NLINES=n_lines)
        order = np.argsort(classes)
        for j in order:
            cols[f"P_{classes[j]}"] = pcls[:, j]
        cols.update(
            P_SUBCLASS=psub.astype(np.float32),
            Z_MODE=z_net,
            Z_MEDIAN=z_med,
            Z_LO68=lo,
            Z_HI68=hi,
            PEAK_PROB=peak,
            CONFIDENCE=pcls.max(axis=1),
            SNR_MEDIAN=info["snr"],
        )
        if keep_pdf:
            cols["Z_PDF"] = p.astype(np.float32)
        cols.update(COVERAGE=info["coverage"], MASKED_FRAC=info["masked"])
        cat = make_catalog(
            tid,
            z,
            zerr=zerr,
            zwarn=zwarn,
            spectype=spectype,
            subtype=subtype,
            deltachi2=deltachi2,
            **cols,
        )
        cat.meta["MODEL"] = str(self.meta["model"]["name"])
        cat.meta["TASK"] = self.task
        cat.meta["Z_BINS"] = [float(v) for v in self.z_bins]
        cat.meta["Z_EDGES"] = [float(v) for v in edges]
        cat.meta["SUBCLASSES"] = names
        return cat

    def _refine(self, flux, wave, ivar, z, zerr, zwarn, window, tolerance):
        """Line-search refinement of z on the input spectra (continuum-subtracted)."""
        from scipy.ndimage import median_filter

        from . import kernels
        from .io import ZWarn

        f, w, iv = self._as_arrays(flux, wave, ivar)
        f = np.where(np.isfinite(f) & (iv > 0), f, 0.0).astype(np.float64)
        cont = median_filter(f, size=(1, min(101, f.shape[1] | 1)), mode="nearest")
        resid = f - cont
        if window is None:
            base = 0.01 if zerr is None else np.maximum(0.01, 2 * np.nan_to_num(zerr))
            window = float(np.max(base)) if np.ndim(base) else base
        if tolerance is None:
            tolerance = (
                3 * float(np.median(np.diff(self.z_bins))) if self.z_bins is not None else 0.005
            )
        ok = np.isfinite(z) & (z > -1)
        z_lines = np.full(z.shape, np.nan)
        n_found = np.zeros(z.shape, dtype=np.int64)
        if ok.any():
            wsel = w if w.ndim == 1 else w[ok]
            res = kernels.line_search(
                wsel,
                resid[ok],
                z[ok],
                window=float(window),
                ivar=iv[ok].astype(np.float64),
                threads=self.threads,
            )
            z_lines[ok] = np.asarray(res.z, dtype=np.float64)
            n_found[ok] = np.asarray(res.n_found)
        found = n_found > 0
        dz = np.abs(z_lines - z)
        agree = found & (dz <= tolerance)
        disagree = found & ~(dz <= tolerance)
        z_new = np.where(agree, z_lines, z)
        zwarn = zwarn.copy()
        zwarn[disagree] |= int(ZWarn.LINE_SEARCH_DISAGREES)
        z_lines = np.where(found, z_lines, np.nan)
        return z_new, zwarn, {"Z_NET": z, "Z_LINES": z_lines, "NLINES": n_found}
