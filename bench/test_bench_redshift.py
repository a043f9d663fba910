"""Benchmarks of deepz.redshift beside redrock's template rebinning and numpy.

Run:
    pytest bench/test_bench_redshift.py --benchmark-only --benchmark-columns=min,median,ops

Each call redshifts a whole batch of N spectra; spectra/s = ops x N (N is in
each benchmark's extra_info).

- group "redshift": DESI-like set-up. K=10 templates on a rest log-lambda grid
  1000-11000 A (dloglam 1e-4), N=2000 samples with z in [0, 1.5), observed on
  3600-9800 A at 0.8 A (linear). Peer: redrock.rebin.trapz_rebin (numba),
  called once per sample with x = rest_wave (1+z) as redrock's users would for
  random (template, z) pairs, and, as a friendlier peer, once per template
  with all of its redshifts in redrock's batch mode (myz=...).
- group "redshift-loglam": the same, observed on the rest grid's own dloglam
  (3600-9800 A): deepz's log-lambda sweep, its general sweep, and redrock.
- group "redshift-euclid": the Euclid set-up of Stivaktakis et al. (rest 3750
  bins of 5 A -> observed 1800 bins of 5 A over 11000-20000 A, z in [1, 1.8)),
  N=10000; peer: a vectorised numpy implementation (cumulative integrals),
  written below.

redrock integrates the linear interpolant of the template (trapezoids) while
deepz averages its bins, so the numbers differ slightly; this is a speed
comparison.
"""

from __future__ import annotations

import numpy as np
import pytest

from deepz import _core, redshift
from deepz.threads import get_num_threads

rebin = pytest.importorskip("redrock.rebin")

ALL = get_num_threads()


def centres_to_edges(wave):
    edges = np.empty(wave.size + 1)
    edges[1:-1] = 0.5 * (wave[:-1] + wave[1:])
    edges[0] = wave[0] - 0.5 * (wave[1] - wave[0])
    edges[-1] = wave[-1] + 0.5 * (wave[-1] - wave[-2])
    return edges


def numpy_redshift(templates, rest_wave, index, z, obs_wave, chunk=1000):
    """Vectorised numpy redshift (f_lambda scale): cumulative integrals, one chunk at a time.

    The integral of template k from the first rest edge to x is
    C_k(x) = cum_k[i] + t_k[i] (x - e[i]) with i the rest bin holding x; the
    observed bin's mean is the difference of C at its two rest-frame edges over
    their distance.
    """
    rest_edges = centres_to_edges(rest_wave)
    obs_edges = centres_to_edges(obs_wave)
    cum = np.zeros((templates.shape[0], rest_wave.size + 1))
    cum[:, 1:] = np.cumsum(templates * np.diff(rest_edges), axis=1)
    out = np.empty((z.size, obs_wave.size), dtype=templates.dtype)
    for start in range(0, z.size, chunk):
        sl = slice(start, start + chunk)
        opz = 1.0 + z[sl, None]
        x = obs_edges[None, :] / opz  # (n, P+1) rest-frame edges
        i = np.clip(np.searchsorted(rest_edges, x) - 1, 0, rest_wave.size - 1)
        k = index[sl, None]
        c = cum[k, i] + templates[k, i] * (x - rest_edges[i])
        mean = np.diff(c, axis=1) / np.diff(x, axis=1)
        covered = (x[:, :-1] >= rest_edges[0]) & (x[:, 1:] <= rest_edges[-1])
        out[sl] = np.where(covered, mean / opz, np.nan)
    return out


def redrock_loop(templates, rest_wave, index, z, obs_edges):
    """redrock's rebinning, one sample at a time (x = rest_wave (1+z))."""
    out = np.empty((z.size, obs_edges.size - 1))
    for n in range(z.size):
        out[n] = rebin.trapz_rebin(rest_wave * (1.0 + z[n]), templates[index[n]], edges=obs_edges)
    return out


def redrock_by_template(templates, rest_wave, index, z, obs_edges):
    """redrock's batch mode: one call per template with all of its redshifts."""
    out = np.empty((z.size, obs_edges.size - 1))
    for k in range(templates.shape[0]):
        sel = np.flatnonzero(index == k)
        if sel.size:
            out[sel] = rebin.trapz_rebin(rest_wave, templates[k], edges=obs_edges, myz=z[sel])
    return out


def desi_problem(rng, obs_wave):
    rest = 10.0 ** np.arange(3.0, np.log10(11000.0), 1e-4)  # 1000-11000 A, dloglam 1e-4
    k, n = 10, 2000
    templates = rng.uniform(0.5, 1.5, (k, rest.size))
    index = rng.integers(0, k, n)
    z = rng.uniform(0.0, 1.5, n)
    return templates, rest, index, z, obs_wave


@pytest.fixture(scope="module")
def warm_numba():
    """Compile redrock's numba kernels outside the timed region."""
    x = np.linspace(1000.0, 2000.0, 100)
    edges = np.linspace(1100.0, 1900.0, 50)
    rebin.trapz_rebin(x, np.ones(100), edges=edges)
    rebin.trapz_rebin(x, np.ones(100), edges=edges, myz=np.array([0.0, 0.01]))


DESI_OBS = np.arange(3600.0, 9800.0 + 0.4, 0.8)
LOGLAM_OBS = 10.0 ** np.arange(np.log10(3600.0), np.log10(9800.0), 1e-4)


def run(benchmark, fn, *args, n, **kw):
    benchmark.extra_info["n_spectra"] = n
    return benchmark(fn, *args, **kw)


# -- DESI-like: linear observed grid -----------------------------------------------------


@pytest.mark.benchmark(group="redshift")
@pytest.mark.parametrize("threads", [1, ALL], ids=["1thread", "allcores"])
def test_desi_deepz(benchmark, rng, threads):
    t, rest, index, z, obs = desi_problem(rng, DESI_OBS)
    out = run(benchmark, redshift, t, rest, index, z, obs, threads=threads, n=z.size)
    assert np.isfinite(out).all()


@pytest.mark.benchmark(group="redshift")
def test_desi_redrock_loop(benchmark, rng, warm_numba):
    t, rest, index, z, obs = desi_problem(rng, DESI_OBS)
    edges = centres_to_edges(obs)
    out = run(benchmark, redrock_loop, t, rest, index, z, edges, n=z.size)
    assert np.isfinite(out).all()


@pytest.mark.benchmark(group="redshift")
def test_desi_redrock_by_template(benchmark, rng, warm_numba):
    t, rest, index, z, obs = desi_problem(rng, DESI_OBS)
    edges = centres_to_edges(obs)
    out = run(benchmark, redrock_by_template, t, rest, index, z, edges, n=z.size)
    np.testing.assert_allclose(out, redrock_loop(t, rest, index, z, edges), rtol=1e-12)


# -- DESI-like, observed on the same dloglam: the log-lambda sweep ------------------------


@pytest.mark.benchmark(group="redshift-loglam")
@pytest.mark.parametrize("threads", [1, ALL], ids=["1thread", "allcores"])
def test_loglam_deepz(benchmark, rng, threads):
    t, rest, index, z, obs = desi_problem(rng, LOGLAM_OBS)
    run(benchmark, redshift, t, rest, index, z, obs, threads=threads, n=z.size)


@pytest.mark.benchmark(group="redshift-loglam")
def test_loglam_deepz_general_sweep(benchmark, rng):
    t, rest, index, z, obs = desi_problem(rng, LOGLAM_OBS)
    args = (t, rest, index.astype(np.int64), z, obs, 1, np.nan)
    slow = run(benchmark, _core.redshift, *args, False, 1, n=z.size)
    np.testing.assert_array_equal(slow, _core.redshift(*args, True, 1))


@pytest.mark.benchmark(group="redshift-loglam")
def test_loglam_redrock_loop(benchmark, rng, warm_numba):
    t, rest, index, z, obs = desi_problem(rng, LOGLAM_OBS)
    run(benchmark, redrock_loop, t, rest, index, z, centres_to_edges(obs), n=z.size)


# -- the Euclid set-up ----------------------------------------------------------------------


def euclid_problem(rng):
    rest = np.arange(1255.0, 20000.0 + 1.0, 5.0)  # 3750 bins
    obs = np.arange(11002.5, 20000.0, 5.0)  # 1800 bins
    k, n = 10, 10000
    templates = rng.uniform(0.5, 1.5, (k, rest.size))
    index = rng.integers(0, k, n)
    z = rng.uniform(1.0, 1.8, n)
    return templates, rest, index, z, obs


@pytest.mark.benchmark(group="redshift-euclid")
@pytest.mark.parametrize("threads", [1, ALL], ids=["1thread", "allcores"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_euclid_deepz(benchmark, rng, threads, dtype):
    t, rest, index, z, obs = euclid_problem(rng)
    run(benchmark, redshift, t.astype(dtype), rest, index, z, obs, threads=threads, n=z.size)


@pytest.mark.benchmark(group="redshift-euclid")
def test_euclid_numpy(benchmark, rng):
    t, rest, index, z, obs = euclid_problem(rng)
    out = run(benchmark, numpy_redshift, t, rest, index, z, obs, n=z.size)
    np.testing.assert_allclose(out, redshift(t, rest, index, z, obs), rtol=1e-9)
