"""Numpy reference of deepz.redshift: loops over samples and observed bins."""

from __future__ import annotations

import numpy as np

_FACTOR = {
    "none": lambda opz: 1.0,
    "flambda": lambda opz: 1.0 / opz,
    "fnu": lambda opz: opz,
}


def edges_from_centres(wave):
    """Bin edges half-way between centres; the outer edges mirror the end half-widths."""
    wave = np.asarray(wave, dtype=np.float64)
    edges = np.empty(wave.size + 1)
    edges[1:-1] = 0.5 * (wave[:-1] + wave[1:])
    edges[0] = wave[0] - 0.5 * (wave[1] - wave[0])
    edges[-1] = wave[-1] + 0.5 * (wave[-1] - wave[-2])
    return edges


def redshift(templates, rest_wave, index, z, obs_wave, scale="flambda", fill=np.nan, threads=None):
    """Same contract as deepz.redshift, on increasing grids, written for clarity."""
    templates = np.asarray(templates)
    dtype = templates.dtype
    tmpl = np.atleast_2d(templates).astype(np.float64)
    one = np.ndim(index) == 0 and np.ndim(z) == 0
    index, z = np.broadcast_arrays(np.atleast_1d(index), np.atleast_1d(z).astype(np.float64))
    rest_edges = edges_from_centres(rest_wave)
    obs_edges = edges_from_centres(obs_wave)
    lo_rest, hi_rest = rest_edges[:-1], rest_edges[1:]
    out = np.full((index.size, obs_edges.size - 1), fill, dtype=np.float64)
    for n in range(index.size):
        t = tmpl[index[n]]
        opz = 1.0 + z[n]
        for j in range(obs_edges.size - 1):
            lo, hi = obs_edges[j] / opz, obs_edges[j + 1] / opz
            if lo < rest_edges[0] or hi > rest_edges[-1]:
                continue  # not fully covered: fill
            overlap = np.minimum(hi, hi_rest) - np.maximum(lo, lo_rest)
            use = (overlap > 0) & ~np.isnan(t)  # NaN pixels are masked
            if not use.any():
                continue
            mean = np.sum(overlap[use] * t[use]) / np.sum(overlap[use])
            out[n, j] = mean * _FACTOR[scale](opz)
    out = out.astype(dtype)
    return out[0] if one else out
