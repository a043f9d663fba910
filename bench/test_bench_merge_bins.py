"""Benchmarks of merge_bins on the Euclid set-up (10000 x 1800 float32).

Run: pytest bench/test_bench_merge_bins.py --benchmark-only --benchmark-columns=min,median,ops
Spectra per second = ops * N_SPECTRA.

- group "merge_bins": merge 2 pixels with ivar (deepz, 1 thread and all
  cores) vs numpy reshape-sum of flux and variance (no masking).
"""

from __future__ import annotations

import numpy as np
import pytest

import deepz
from deepz.threads import _available_cores

N_SPECTRA, N_PIXELS = 10000, 1800
SIGMA = np.float32(0.3)
ALL = _available_cores()


@pytest.fixture(scope="module")
def flux():
    rng = np.random.default_rng(20261125)
    return (rng.random((N_SPECTRA, N_PIXELS)) + 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def ivar(flux):
    return np.full_like(flux, 1 / SIGMA**2)


@pytest.mark.benchmark(group="merge_bins")
@pytest.mark.parametrize("threads", [1, ALL], ids=["1 thread", f"{ALL} threads"])
def test_deepz_merge_bins(benchmark, flux, ivar, threads):
    f, iv = benchmark(deepz.merge_bins, flux, 2, ivar=ivar, threads=threads)
    benchmark.extra_info["spectra"] = N_SPECTRA
    assert f.shape == (N_SPECTRA, N_PIXELS // 2)


@pytest.mark.benchmark(group="merge_bins")
def test_numpy_reshape_sum(benchmark, flux, ivar):
    def numpy_merge():
        f = flux.reshape(N_SPECTRA, -1, 2).sum(axis=2)
        var = (1 / ivar).reshape(N_SPECTRA, -1, 2).sum(axis=2)
        return f, 1 / var

    f, iv = benchmark(numpy_merge)
    benchmark.extra_info["spectra"] = N_SPECTRA
    assert f.shape == (N_SPECTRA, N_PIXELS // 2)
