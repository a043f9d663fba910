"""numpy reference of deepz.merge_bins: reshape the kept pixels to (N, M // k, k)."""

from __future__ import annotations

import numpy as np


def merge_bins(flux, factor, ivar=None, how="sum", threads=None):
    """Reference merge_bins: same signature and semantics as deepz.merge_bins."""
    flux = np.asarray(flux)
    was_1d = flux.ndim == 1
    f = np.atleast_2d(flux).astype(np.float64)
    n, m = f.shape
    k = factor
    m_out = m // k
    f = f[:, : m_out * k].reshape(n, m_out, k)
    if ivar is None:
        w = np.ones_like(f)
    else:
        w = np.atleast_2d(np.asarray(ivar)).astype(np.float64)[:, : m_out * k].reshape(n, m_out, k)
    valid = np.isfinite(f) & (w > 0)  # NaN ivar compares False: masked
    n_valid = valid.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(valid, f, 0.0).sum(axis=2)
        var = np.where(valid, 1.0 / np.where(valid, w, 1.0), 0.0).sum(axis=2)
        mean_valid = total / n_valid
        var_mean_valid = var / n_valid**2
        if how == "sum":
            out = mean_valid * k
            out_var = var_mean_valid * k**2
        else:
            out = mean_valid
            out_var = var_mean_valid
        out = np.where(n_valid == 0, np.nan, out)
        out_ivar = np.where(n_valid == 0, 0.0, 1.0 / out_var)
    out = out.astype(flux.dtype)
    out_ivar = out_ivar.astype(flux.dtype)
    if was_1d:
        out, out_ivar = out[0], out_ivar[0]
    return out if ivar is None else (out, out_ivar)
