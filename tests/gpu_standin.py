"""A host stand-in for ``deepz._cuda``, to test the GPU paths of deepz.kernels on a CPU.

With the fixture ``standin`` (tests/test_gpu_dispatch.py), torch CPU tensors
are treated as GPU arrays: deepz.kernels dispatches them to the GPU path
(validation on the "device" with torch ops, outputs allocated like the input,
flips, broadcasting, the one batched transfer), which then calls this module
in place of ``deepz._cuda``. Each function has the signature of its
``deepz._cuda`` twin, re-checks what the binding checks (dtypes, shapes,
contiguity, writability) and computes with the host decomposition of the CUDA
kernel (``deepz._core``), writing into the given outputs.

What this does not test: the CUDA code itself, and the CuPy branches of
deepz._gpu (tests/test_gpu_kernels.py does, on a GPU).
"""

from __future__ import annotations

import numpy as np

from deepz import _core


def _host(x, name, dtype=None, shape=None, writable=False):
    """The numpy view of a torch CPU tensor, checked as the binding checks it."""
    assert x.is_contiguous(), f"{name}: not C-contiguous"
    assert not x.requires_grad, f"{name}: requires grad"
    arr = x.numpy()
    if dtype is not None:
        assert arr.dtype == np.dtype(dtype), f"{name}: {arr.dtype} != {np.dtype(dtype)}"
    if shape is not None:
        assert arr.shape == tuple(shape), f"{name}: shape {arr.shape} != {tuple(shape)}"
    if writable:
        assert arr.flags.writeable, f"{name}: not writable"
    return arr


class HostCuda:
    """The functions of deepz._cuda the kernels call, on torch CPU tensors."""

    def __init__(self):
        self.calls = []  # (kernel name, stream) of each call

    def redshift(
        self, templates, rest_wave, index, z, obs_wave, mode, fill, out, edges, stream=None
    ):
        self.calls.append(("redshift", stream))
        t = _host(templates, "templates")
        assert t.dtype in (np.float32, np.float64)
        assert t.ndim == 2
        k, r = t.shape
        rest = _host(rest_wave, "rest_wave", np.float64, (r,))
        idx = _host(index, "index", np.int64)
        n = idx.shape[0]
        zz = _host(z, "z", np.float64, (n,))
        obs = _host(obs_wave, "obs_wave", np.float64)
        p = obs.shape[0]
        o = _host(out, "out", t.dtype, (n, p), writable=True)
        _host(edges, "edges", np.float64, (r + p + 2,), writable=True)
        assert 0 <= mode <= 2
        o[...] = _core._redshift_pixelwise(t, rest, idx, zz, obs, mode, fill)

    def line_search(
        self,
        wave,
        flux,
        ivar,
        z0,
        line_rest,
        line_strength,
        line_sign,
        line_order,
        window,
        w_dist,
        w_height,
        w_spacing,
        snr_min,
        z,
        line_wave,
        line_snr,
        n_found,
        quality,
        scratch,
        stream=None,
    ):
        self.calls.append(("line_search", stream))
        f = _host(flux, "flux")
        assert f.dtype in (np.float32, np.float64)
        assert f.ndim == 2
        n, m = f.shape
        w = _host(wave, "wave", np.float64)
        assert w.shape in ((1, m), (n, m))
        iv = None if ivar is None else _host(ivar, "ivar", f.dtype, (n, m))
        zz = _host(z0, "z0", np.float64, (n,))
        rest = _host(line_rest, "line_rest", np.float64)
        n_lines = rest.shape[0]
        strength = _host(line_strength, "line_strength", np.float64, (n_lines,))
        sign = _host(line_sign, "line_sign", np.float64, (n_lines,))
        order = _host(line_order, "line_order", np.int64, (n_lines,))
        # the order the CPU binding makes: strongest first, ties in the given order
        want = sorted(range(n_lines), key=lambda i: -strength[i])
        np.testing.assert_array_equal(order, want)
        outs = [
            _host(z, "z", f.dtype, (n,), writable=True),
            _host(line_wave, "line_wave", f.dtype, (n, n_lines), writable=True),
            _host(line_snr, "line_snr", f.dtype, (n, n_lines), writable=True),
            _host(n_found, "n_found", np.int64, (n,), writable=True),
            _host(quality, "quality", f.dtype, (n,), writable=True),
        ]
        s = _host(scratch, "scratch", np.float64, writable=True)
        per_worker = m + 2 * n_lines
        assert s.ndim == 1
        assert s.size >= per_worker
        assert s.size % per_worker == 0
        got = _core.line_search(
            w, f, iv, zz, rest, strength, sign, window, w_dist, w_height, w_spacing, snr_min, 1
        )
        for o, g in zip(outs, got, strict=True):
            o[...] = g

    def add_noise(self, flux, sigma, seed, offset, kind, noisy, ivar, stream=None):
        self.calls.append(("add_noise", stream))
        f = _host(flux, "flux")
        assert f.dtype in (np.float32, np.float64)
        assert f.ndim == 2
        n, m = f.shape
        s = _host(sigma, "sigma", f.dtype)
        assert s.ndim == 2
        assert s.shape[0] in (1, n)
        assert s.shape[1] in (1, m)
        assert kind in (0, 1)
        outs = [
            _host(noisy, "noisy", f.dtype, (n, m), writable=True),
            _host(ivar, "ivar", f.dtype, (n, m), writable=True),
        ]
        for o, g in zip(outs, _core._noise_blockwise(f, s, seed, offset, kind), strict=True):
            o[...] = g

    def merge_bins(self, flux, factor, ivar, mean, flux_out, ivar_out, stream=None):
        self.calls.append(("merge_bins", stream))
        f = _host(flux, "flux")
        assert f.dtype in (np.float32, np.float64)
        assert f.ndim == 2
        n, m = f.shape
        assert 1 <= factor <= m
        assert (ivar is None) == (ivar_out is None)
        iv = None if ivar is None else _host(ivar, "ivar", f.dtype, (n, m))
        out, got_ivar = _core._merge_groupwise(f, factor, iv, mean)
        _host(flux_out, "flux_out", f.dtype, (n, m // factor), writable=True)[...] = out
        if ivar_out is not None:
            _host(ivar_out, "ivar_out", f.dtype, (n, m // factor), writable=True)[...] = got_ivar

    def resample(self, wave, flux, ivar, new_wave, linear, fill, out, out_ivar, plan, stream=None):
        self.calls.append(("resample", stream))
        f = _host(flux, "flux")
        assert f.dtype in (np.float32, np.float64)
        assert f.ndim == 2
        n, m = f.shape
        w = _host(wave, "wave", np.float64)
        assert w.shape in ((1, m), (n, m))
        nw = _host(new_wave, "new_wave", np.float64)
        assert nw.ndim == 2
        assert nw.shape[0] in (1, n)
        p = nw.shape[1]
        assert (ivar is None) == (out_ivar is None)
        iv = None if ivar is None else _host(ivar, "ivar", f.dtype, (n, m))
        _host(plan, "plan", np.float64, (5 * p,), writable=True)
        got, got_ivar = _core._resample_pixelwise(w, f, iv, nw, linear, fill)
        _host(out, "out", f.dtype, (n, p), writable=True)[...] = got
        if out_ivar is not None:
            _host(out_ivar, "out_ivar", f.dtype, (n, p), writable=True)[...] = got_ivar
