"""Simulated spectra per second: deepz's euclid_nisp observer against a plain numpy chain.

The whole observer call is timed -- per-sample draws (z, template, H-alpha
flux), redshifting onto the NISP grid, flux scaling and normalisation, white
Gaussian noise, merging -- for N = 10,000 noisy spectra per call, beside a
straightforward vectorised numpy implementation of the same chain
(cumulative-integral rebinning of the same float32 templates, numpy's
Generator for the draws and the noise, a reshape-mean merge) measured in the
same run. Throughput in spectra/s is ``N / mean`` of each row (also stored as
``extra_info["spectra_per_s"]``).

Run: pytest bench/test_bench_simulate.py --benchmark-only --benchmark-columns=min,median,ops
"""

from __future__ import annotations

import numpy as np
import pytest

from deepz import simulate as sim
from deepz.simulate import _common as cm

N = 10_000
GROUP = "simulate-euclid-noisy (10k spectra)"


@pytest.fixture(scope="module", params=[1, 2], ids=["1800px", "merge2-900px"])
def observer(request):
    obs = sim.euclid_nisp(noise=True, merge=request.param, n_templates=200)
    obs = obs.fit_xmax()  # the pilot, once, outside the timing
    obs.simulate(10, 0)  # library built and cached
    return obs


def _numpy_chain(obs, seed, offset):
    """The same chain in plain numpy (float64 arithmetic on float32 templates)."""
    prep = obs.prepared()
    f10 = obs.halpha_10pc()
    usable = np.flatnonzero(f10 > 0)
    rng = np.random.default_rng([seed, offset])
    z = rng.uniform(obs.z_min, obs.z_max, N)
    index = usable[rng.integers(0, usable.size, N)]
    lo, hi = obs.halpha_flux
    b = obs.halpha_slope
    f_ha = (lo**-b + rng.random(N) * (hi**-b - lo**-b)) ** (-1.0 / b)
    scale = f_ha / f10[index] / (2 * obs.xmax)
    rest_e = cm.edges(prep.rest_wave)
    obs_e = cm.edges(obs.wave if obs.merge == 1 else sim.euclid_nisp().wave)
    cum = np.zeros((prep.flux.shape[0], rest_e.size))
    cum[:, 1:] = np.cumsum(prep.flux * np.diff(rest_e), axis=1)
    pos = obs_e[None, :] / (1 + z[:, None])  # (N, P+1) rest-frame edges
    i = np.clip(np.searchsorted(rest_e, pos) - 1, 0, rest_e.size - 2)
    frac = (pos - rest_e[i]) / (rest_e[i + 1] - rest_e[i])
    rows = index[:, None]
    c = cum[rows, i] + frac * (cum[rows, i + 1] - cum[rows, i])
    flux = np.diff(c, axis=1) / np.diff(pos, axis=1) / (1 + z[:, None])
    flux = (flux * scale[:, None]).astype(np.float32)
    sigma = np.float32(obs.sigma_pixel / (2 * obs.xmax))
    noisy = flux + sigma * rng.standard_normal(flux.shape, dtype=np.float32)
    ivar = np.full_like(noisy, 1 / sigma**2)
    k = obs.merge
    if k > 1:
        p = noisy.shape[1] // k
        noisy = noisy[:, : p * k].reshape(N, p, k).mean(axis=2)
        ivar = 1 / (1 / ivar[:, : p * k]).reshape(N, p, k).sum(axis=2) * k * k
    return noisy, ivar


def _rate(benchmark):
    benchmark.extra_info["spectra_per_s"] = N / benchmark.stats.stats.mean


@pytest.mark.benchmark(group=GROUP)
def test_deepz_observer_all_cores(benchmark, observer):
    batch = benchmark(observer.simulate, N, 7, offset=123_456)
    _rate(benchmark)
    assert batch.flux.shape == (N, observer.n_pixels)


@pytest.mark.benchmark(group=GROUP)
def test_deepz_observer_one_thread(benchmark, observer):
    batch = benchmark(observer.simulate, N, 7, offset=123_456, threads=1)
    _rate(benchmark)
    assert batch.flux.shape == (N, observer.n_pixels)


@pytest.mark.benchmark(group=GROUP)
def test_numpy_chain(benchmark, observer):
    flux, _ = benchmark(_numpy_chain, observer, 7, 123_456)
    _rate(benchmark)
    assert flux.shape == (N, observer.n_pixels)


def test_numpy_peer_makes_the_same_clean_spectra(observer):
    """A fair peer: fed the observer's own draws, the numpy rebinning gives its clean spectra."""
    import dataclasses

    clean = dataclasses.replace(observer, noise=False)
    b = clean.simulate(200, 3)
    prep = clean.prepared()
    rest_e = cm.edges(prep.rest_wave)
    obs_e = cm.edges(clean.wave)
    cum = np.zeros((prep.flux.shape[0], rest_e.size))
    cum[:, 1:] = np.cumsum(prep.flux * np.diff(rest_e), axis=1)
    pos = obs_e[None, :] / (1 + b.z[:, None])
    i = np.clip(np.searchsorted(rest_e, pos) - 1, 0, rest_e.size - 2)
    frac = (pos - rest_e[i]) / (rest_e[i + 1] - rest_e[i])
    rows = b.template[:, None]
    c = cum[rows, i] + frac * (cum[rows, i + 1] - cum[rows, i])
    ref = np.diff(c, axis=1) / np.diff(pos, axis=1) / (1 + b.z[:, None])
    ref *= (b.extra["flux_scale"] / b.norm)[:, None]
    np.testing.assert_allclose(b.flux, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
