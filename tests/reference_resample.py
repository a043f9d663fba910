"""Numpy reference of deepz.kernels.resample: explicit loops, no cleverness.

Same signature and semantics as the public function; each output pixel is
computed on its own from the overlaps (or the bracketing pixels) it reads.
"""

from __future__ import annotations

import numpy as np


def _edges(centres: np.ndarray) -> np.ndarray:
    """Bin edges half-way between centres; outer edges mirror the half-widths."""
    edges = np.empty(len(centres) + 1)
    edges[0] = centres[0] - (centres[1] - centres[0]) / 2
    edges[-1] = centres[-1] + (centres[-1] - centres[-2]) / 2
    edges[1:-1] = (centres[1:] + centres[:-1]) / 2
    return edges


def _flux_one(wave, flux, var, valid, new_wave, fill):
    """Overlap-weighted mean of one increasing spectrum on increasing new_wave."""
    old_edges, new_edges = _edges(wave), _edges(new_wave)
    out = np.full(len(new_wave), fill, dtype=float)
    out_ivar = np.zeros(len(new_wave))
    for j in range(len(new_wave)):
        lo, hi = new_edges[j], new_edges[j + 1]
        tol = 1e-9 * (hi - lo)  # rounding-level slack at the outer edges
        if lo < old_edges[0] - tol or hi > old_edges[-1] + tol:
            continue  # not fully covered
        lo, hi = max(lo, old_edges[0]), min(hi, old_edges[-1])
        overlap = np.minimum(old_edges[1:], hi) - np.maximum(old_edges[:-1], lo)
        w = np.where(valid & (overlap > tol), overlap, 0.0)  # rounding slivers left out
        if w.sum() == 0:
            continue  # every overlapping pixel masked
        out[j] = np.sum(w * np.where(valid, flux, 0.0)) / w.sum()
        sigma = np.sqrt(np.sum((w * np.sqrt(np.where(valid, var, 0.0))) ** 2)) / w.sum()
        out_ivar[j] = 1.0 / sigma**2 if sigma > 0 else 0.0
    return out, out_ivar


def _linear_one(wave, flux, var, valid, new_wave, fill):
    """Linear interpolation of one increasing spectrum at increasing new_wave."""
    out = np.full(len(new_wave), fill, dtype=float)
    out_ivar = np.zeros(len(new_wave))
    for j, x in enumerate(new_wave):
        if x < wave[0] or x > wave[-1]:
            continue
        i = min(max(np.searchsorted(wave, x, side="right") - 1, 0), len(wave) - 2)
        t = (x - wave[i]) / (wave[i + 1] - wave[i])
        pixels, weights = [i, i + 1], [1.0 - t, t]
        used = [(k, w) for k, w in zip(pixels, weights, strict=True) if w > 0]
        if not all(valid[k] for k, _ in used):
            continue  # a masked pixel with nonzero weight
        out[j] = sum(w * flux[k] for k, w in used)
        out_ivar[j] = 1.0 / sum(w * w * var[k] for k, w in used)
    return out, out_ivar


def resample(wave, flux, new_wave, ivar=None, method="flux", fill=np.nan, threads=None):
    """Reference of :func:`deepz.kernels.resample` (``threads`` is ignored)."""
    del threads
    flux = np.asarray(flux)
    dtype = flux.dtype
    one = flux.ndim == 1
    flux2 = np.atleast_2d(flux).astype(float)
    n = flux2.shape[0]
    ivar2 = None if ivar is None else np.atleast_2d(np.asarray(ivar)).astype(float)
    wave2 = np.broadcast_to(np.atleast_2d(np.asarray(wave, dtype=float)), (n, flux2.shape[1]))
    new2 = np.atleast_2d(np.asarray(new_wave, dtype=float))
    new2 = np.broadcast_to(new2, (n, new2.shape[1]))
    out = np.empty((n, new2.shape[1]))
    out_ivar = np.empty_like(out)
    for s in range(n):
        w, f, nw = wave2[s], flux2[s], new2[s]
        iv = np.ones_like(f) if ivar2 is None else ivar2[s]
        if w[0] > w[-1]:  # decreasing input: flip it
            w, f, iv = w[::-1], f[::-1], iv[::-1]
        flip_out = nw[0] > nw[-1] if len(nw) > 1 else False
        if flip_out:
            nw = nw[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            valid = np.isfinite(f) & np.isfinite(iv) & (iv > 0)
            var = np.where(valid, 1.0 / iv, 0.0)
        one_spec = _linear_one if method == "linear" else _flux_one
        o, oi = one_spec(w, f, var, valid, nw, fill)
        out[s], out_ivar[s] = (o[::-1], oi[::-1]) if flip_out else (o, oi)
    out, out_ivar = out.astype(dtype), out_ivar.astype(dtype)
    if one:
        out, out_ivar = out[0], out_ivar[0]
    return out if ivar is None else (out, out_ivar)
