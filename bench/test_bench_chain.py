"""The Euclid simulation chain: redshift -> add_noise -> merge_bins.

Stivaktakis et al. (2019): rest-frame SEDs on 3750 bins of 5 A
(1252.5-20002.5 A), z uniform in [1, 1.8), observed on Euclid NISP's 1800 bins
of 5 A (11000-20000 A), white Gaussian noise, merged to 900 bins. deepz runs
the chain with its kernels; the peer is a straightforward vectorised numpy
implementation of the same chain (cumulative-integral rebinning, numpy's
Generator for the noise, a reshape-sum merge). Throughput in spectra/s is
``N / mean`` of each row.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepz
from deepz import grids

N = 10_000
K = 64
GROUP = "chain-euclid (10k spectra)"


def _templates(rng, rest):
    """K smooth positive SEDs with a few emission lines (stand-ins for a library)."""
    x = (rest - rest.min()) / np.ptp(rest)
    t = np.empty((K, rest.size))
    for k in range(K):
        slope = rng.uniform(-2, 1)
        t[k] = np.exp(slope * x) * (1 + 0.3 * np.tanh((rest - 4000) / 50))
        for line in (3727.1, 4862.7, 5008.2, 6564.6):
            t[k] += rng.uniform(0, 5) * np.exp(-0.5 * ((rest - line) / 5) ** 2)
    return t


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(1)
    rest = grids.preset("euclid_rest")
    obs = grids.preset("euclid_nisp")
    templates = _templates(rng, rest).astype(np.float32)
    index = rng.integers(0, K, N)
    z = rng.uniform(1.0, 1.8, N)
    return rest, obs, templates, index, z


def _deepz_chain(rest, obs, templates, index, z, threads):
    flux = deepz.redshift(templates, rest, index, z, obs, threads=threads)
    noisy, ivar = deepz.add_noise(flux, 0.05, seed=7, threads=threads)
    return deepz.merge_bins(noisy, 2, ivar=ivar, threads=threads)


def _numpy_chain(rest, obs, templates, index, z, rng, sigma=0.05):
    def edges(c):
        e = np.empty(c.size + 1)
        e[1:-1] = 0.5 * (c[1:] + c[:-1])
        e[0] = c[0] - 0.5 * (c[1] - c[0])
        e[-1] = c[-1] + 0.5 * (c[-1] - c[-2])
        return e

    re, oe = edges(rest), edges(obs)
    cum = np.zeros((templates.shape[0], re.size))
    cum[:, 1:] = np.cumsum(templates * np.diff(re), axis=1)
    pos = oe[None, :] / (1 + z[:, None])  # (N, P+1) rest-frame edges
    i = np.clip(np.searchsorted(re, pos) - 1, 0, re.size - 2)
    frac = (pos - re[i]) / (re[i + 1] - re[i])
    c = cum[index[:, None], i] + frac * (cum[index[:, None], i + 1] - cum[index[:, None], i])
    flux = np.diff(c, axis=1) / np.diff(pos, axis=1) / (1 + z[:, None])
    noisy = flux + sigma * rng.standard_normal(flux.shape, dtype=np.float32)
    var = np.full_like(noisy, sigma**2)
    merged = noisy.reshape(N, -1, 2).sum(axis=2)
    return merged, 1 / var.reshape(N, -1, 2).sum(axis=2)


@pytest.mark.benchmark(group=GROUP)
def test_deepz_chain_one_thread(benchmark, setup):
    out, _ = benchmark(_deepz_chain, *setup, threads=1)
    assert out.shape == (N, 900)


@pytest.mark.benchmark(group=GROUP)
def test_deepz_chain_all_cores(benchmark, setup):
    out, _ = benchmark(_deepz_chain, *setup, threads=None)
    assert out.shape == (N, 900)


@pytest.mark.benchmark(group=GROUP)
def test_numpy_chain(benchmark, setup):
    rng = np.random.default_rng(7)
    out, _ = benchmark(_numpy_chain, *setup, rng)
    assert out.shape == (N, 900)


def test_numpy_peer_computes_the_same_spectra(setup):
    """The peer is a fair one: without noise both chains give the same spectra."""
    rest, obs, templates, index, z = setup
    ref, _ = _numpy_chain(rest, obs, templates, index, z, np.random.default_rng(0), 1e-30)
    clean = deepz.merge_bins(deepz.redshift(templates, rest, index, z, obs), 2)
    np.testing.assert_allclose(clean, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
