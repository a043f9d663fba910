"""Benchmarks of add_noise on the Euclid set-up (10000 x 1800 float32).

Run: pytest bench/test_bench_add_noise.py --benchmark-only --benchmark-columns=min,median,ops
Spectra per second = ops * N_SPECTRA.

- group "add_noise": deepz Gaussian noise (1 thread, all cores) vs numpy's
  fastest generator (PCG64 + ziggurat ``standard_normal`` in float32) scaled
  and added, with the same constant ivar array made by ``np.full``.
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


@pytest.mark.benchmark(group="add_noise")
@pytest.mark.parametrize("threads", [1, ALL], ids=["1 thread", f"{ALL} threads"])
def test_deepz_add_noise(benchmark, flux, threads):
    noisy, iv = benchmark(deepz.add_noise, flux, SIGMA, 12345, threads=threads)
    benchmark.extra_info["spectra"] = N_SPECTRA
    assert noisy.shape == flux.shape
    assert iv.dtype == np.float32


@pytest.mark.benchmark(group="add_noise")
def test_numpy_standard_normal(benchmark, flux):
    rng = np.random.default_rng(12345)

    def numpy_noise():
        z = rng.standard_normal(flux.shape, dtype=np.float32)
        z *= SIGMA
        z += flux
        return z, np.full(flux.shape, 1 / SIGMA**2, dtype=np.float32)

    noisy, iv = benchmark(numpy_noise)
    benchmark.extra_info["spectra"] = N_SPECTRA
    assert noisy.shape == flux.shape
    assert iv.dtype == np.float32
