"""line_search on SDSS-like spectra: deepz (1 thread, all cores) vs the numpy reference.

5000 continuum-subtracted spectra on 4000-9000 A at 1 A (5001 pixels, float32)
holding the eight lines of Yurchuk & Skyruta at z in [0.01, 0.3], with z0 off
by up to half a window. The peer is the plain-loop numpy reference of
tests/reference_line_search.py, timed on a subset of ``N_REF`` spectra (it
runs at a few hundred spectra/s) and compared per spectrum: every row records
``extra_info["spectra_per_s"] = spectra / min time`` (see --benchmark-json),
and the speed-up of deepz is the ratio of its spectra/s to the reference's.

Run: pytest bench/test_bench_line_search.py --benchmark-only \
         --benchmark-columns=min,median,ops
"""

from __future__ import annotations

import numpy as np
import pytest
from reference_line_search import line_search as ref_line_search
from reference_line_search import simulate_line_spectra

import deepz

N = 5000
N_REF = 25
GROUP = "line_search"


@pytest.fixture(scope="module")
def spectra():
    rng = np.random.default_rng(20261125)
    parts = [simulate_line_spectra(500, rng) for _ in range(N // 500)]
    wave = parts[0][0]
    flux = np.concatenate([p[1] for p in parts]).astype(np.float32)
    ivar = np.concatenate([p[2] for p in parts]).astype(np.float32)
    z = np.concatenate([p[3] for p in parts])
    z0 = z + rng.uniform(-0.005, 0.005, N)
    return wave, flux, ivar, z0, z


def _record(benchmark, n):
    benchmark.extra_info["spectra"] = n
    benchmark.extra_info["spectra_per_s"] = n / benchmark.stats.stats.min


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("threads", [1, None], ids=["1-thread", "all-cores"])
def test_deepz_line_search(benchmark, spectra, threads):
    wave, flux, ivar, z0, z = spectra
    res = benchmark(deepz.line_search, wave, flux, z0, ivar=ivar, threads=threads)
    _record(benchmark, N)
    assert np.mean(np.abs(res.z - z) < 1e-4) > 0.98


@pytest.mark.benchmark(group=GROUP)
def test_deepz_line_search_mad_noise(benchmark, spectra):
    wave, flux, _, z0, z = spectra
    res = benchmark(deepz.line_search, wave, flux, z0, threads=None)
    _record(benchmark, N)
    assert np.mean(np.abs(res.z - z) < 1e-4) > 0.98


@pytest.mark.benchmark(group=GROUP)
def test_numpy_reference_line_search(benchmark, spectra):
    wave, flux, ivar, z0, z = spectra
    sub = slice(0, N_REF)
    res = benchmark.pedantic(
        ref_line_search,
        args=(wave, flux[sub], z0[sub]),
        kwargs={"ivar": ivar[sub]},
        rounds=3,
        iterations=1,
    )
    _record(benchmark, N_REF)
    assert np.mean(np.abs(res.z - z[sub]) < 1e-4) > 0.9
