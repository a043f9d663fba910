"""The decompositions of the CUDA kernels, run on the host, against the CPU kernels.

The CUDA kernels call the same DEEPZ_HD functions as the CPU ones, but some
split the work differently (redshift: one thread per observed bin, each
finding its first rest pixel by galloping from a guess, where the CPU sweeps
a spectrum). deepz._core._<kernel>_pixelwise runs that decomposition on the
host; it must give the CPU kernel's bits. On a GPU, tests/test_gpu_kernels.py
then checks the CUDA code around it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepz import _core

MODES = [0, 1, 2]


def _general(templates, rest, index, z, obs, mode, fill=np.nan):
    return _core.redshift(templates, rest, index, z, obs, mode, fill, False, 1)


def _pixelwise(templates, rest, index, z, obs, mode, fill=np.nan):
    return _core._redshift_pixelwise(templates, rest, index, z, obs, mode, fill)


def log_grid(start, dloglam, n):
    return 10.0 ** (np.log10(start) + dloglam * np.arange(n))


@st.composite
def grids(draw):
    """Rest and observed grids: irregular, linear, log-linear, or a mix."""
    seed = draw(st.integers(0, 2**32 - 1))
    r = np.random.default_rng(seed)
    m_rest = draw(st.integers(2, 80))
    p = draw(st.integers(2, 60))
    kind = draw(st.sampled_from(["irregular", "linear", "loglam", "log-rest-linear-obs"]))
    if kind == "irregular":
        rest = r.uniform(500.0, 1500.0) + np.cumsum(r.uniform(0.1, 10.0, m_rest))
        obs = r.uniform(500.0, 3000.0) + np.cumsum(r.uniform(0.1, 10.0, p))
    elif kind == "linear":
        rest = r.uniform(500.0, 1500.0) + r.uniform(0.5, 10.0) * np.arange(m_rest)
        obs = r.uniform(500.0, 3000.0) + r.uniform(0.5, 10.0) * np.arange(p)
    elif kind == "loglam":
        d = r.uniform(1e-4, 2e-2)
        rest = log_grid(r.uniform(500.0, 1500.0), d, m_rest)
        obs = log_grid(r.uniform(500.0, 3000.0), d, p)
    else:  # a curved mapping between the grids: the guesses are off, the search gallops
        rest = log_grid(r.uniform(300.0, 800.0), r.uniform(1e-3, 3e-2), m_rest)
        obs = r.uniform(500.0, 3000.0) + r.uniform(0.5, 40.0) * np.arange(p)
    return seed, rest, obs


@given(
    problem=grids(),
    mode=st.sampled_from(MODES),
    n=st.integers(1, 6),
    nan=st.booleans(),
    f32=st.booleans(),
)
def test_redshift_pixelwise_equals_the_cpu_sweep(problem, mode, n, nan, f32):
    seed, rest, obs = problem
    r = np.random.default_rng(seed + 1)
    k = 3
    templates = r.uniform(0.01, 10.0, (k, rest.size))
    if nan:
        templates[r.integers(0, k), r.integers(0, rest.size, 3)] = np.nan
    if f32:
        templates = templates.astype(np.float32)
    index = r.integers(0, k, n).astype(np.int64)
    z = r.uniform(-0.5, 3.0, n)
    got = _pixelwise(templates, rest, index, z, obs, mode)
    want = _general(templates, rest, index, z, obs, mode)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", MODES)
def test_redshift_pixelwise_on_the_euclid_grids(dtype, rng, mode):
    rest = np.arange(1255.0, 20002.5, 5.0)  # 3750 bins of 5 A (centres)
    obs = np.arange(11002.5, 20000.0, 5.0)  # 1800 bins of 5 A
    templates = rng.uniform(0.0, 2.0, (5, rest.size)).astype(dtype)
    templates[3, 1000:1010] = np.nan
    z = np.concatenate([rng.uniform(1.0, 1.8, 60), [1.0, 1.8, 0.0, 1e-9, 7.0, 1.2 + 1e-15]])
    index = rng.integers(0, 5, z.size)
    got = _pixelwise(templates, rest, index, z, obs, mode, fill=-1.0)
    np.testing.assert_array_equal(got, _general(templates, rest, index, z, obs, mode, fill=-1.0))


def test_redshift_pixelwise_on_exact_pixel_shifts(dtype, rng):
    # z such that observed edges fall exactly on rest edges: the start pixel of a
    # bin is then ambiguous between the GPU search and the CPU walk (an extra
    # pixel of zero overlap), and the values must still agree bit for bit.
    rest = np.arange(1000.0, 3000.0, 2.0)
    obs = np.arange(2000.0, 4000.0, 2.0)
    templates = rng.uniform(0.5, 1.5, (2, rest.size)).astype(dtype)
    z = np.array([0.0, 0.5, 1.0, 0.25, 0.125, 1.0 / 3.0])
    index = np.arange(z.size) % 2
    for obs_grid in (obs, 10.0 ** (3.3 + 2e-4 * np.arange(1500))):
        got = _pixelwise(templates, rest, index, z, obs_grid, 1)
        np.testing.assert_array_equal(got, _general(templates, rest, index, z, obs_grid, 1))


# -- add_noise: one thread per block of 4 pixels (Gaussian) or per pixel (Poisson) -----------


@pytest.mark.parametrize("kind", [0, 1])
@pytest.mark.parametrize(
    ("m", "sigma_shape"), [(1, (1, 1)), (7, (1, 7)), (1800, (5, 1)), (33, (5, 33))]
)
def test_noise_blockwise_equals_the_cpu_rows(dtype, rng, kind, m, sigma_shape):
    """Bit for bit, in float32 and float64, masked pixels included."""
    n = 5
    flux = rng.uniform(0.0, 50.0, (n, m)).astype(dtype)
    flux[0, m // 2] = np.nan
    flux[-1, 0] = np.inf
    if kind == 1 and m > 2:
        flux[1, 1] = 3e4  # PTRS, and a large count
    sigma = rng.uniform(0.5, 2.0, sigma_shape).astype(dtype)
    seed, offset = 2**63 + 12345, 2**40 + 7
    got = _core._noise_blockwise(flux, sigma, seed, offset, kind)
    want = _core.add_noise(flux, sigma, seed, offset, kind, 2)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g.view(np.uint8), w.view(np.uint8))  # the bits


# -- merge_bins: one thread per output pixel ---------------------------------------------


@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(1, 700),
    k=st.integers(1, 300),
    with_ivar=st.booleans(),
    mean=st.booleans(),
    f32=st.booleans(),
)
def test_merge_groupwise_equals_the_cpu_rows(seed, m, k, with_ivar, mean, f32):
    """Bit for bit; k up to 300 reaches the CPU's long-group path (k > 256)."""
    k = min(k, m)
    r = np.random.default_rng(seed)
    dtype = np.float32 if f32 else np.float64
    flux = r.normal(0.0, 10.0, (3, m)).astype(dtype)
    flux[r.random((3, m)) < 0.1] = np.nan
    ivar = None
    if with_ivar:
        ivar = r.uniform(0.0, 4.0, (3, m)).astype(dtype)
        ivar[r.random((3, m)) < 0.1] = 0.0
    got, got_ivar = _core._merge_groupwise(flux, k, ivar, mean)
    want = _core.merge_bins(flux, k, ivar, mean, 2)[:2]
    if ivar is None:
        assert got_ivar is None
        np.testing.assert_array_equal(got.view(np.uint8), want[0].view(np.uint8))
    else:
        np.testing.assert_array_equal(got.view(np.uint8), want[0].view(np.uint8))
        np.testing.assert_array_equal(got_ivar.view(np.uint8), want[1].view(np.uint8))


# -- resample: one thread per output pixel, its input pixels found by a search ----------------


def _resample_cpu(wave, flux, ivar, new_wave, linear, fill=np.nan):
    return _core.resample(wave, flux, ivar, new_wave, linear, fill, 2)


def _resample_twin(wave, flux, ivar, new_wave, linear, fill=np.nan):
    return _core._resample_pixelwise(wave, flux, ivar, new_wave, linear, fill)


def _assert_same_bits(got, want):
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None
        else:
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(g.view(np.uint8), w.view(np.uint8))


@st.composite
def resample_problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    r = np.random.default_rng(seed)
    n = draw(st.integers(1, 5))
    m = draw(st.integers(2, 80))
    p = draw(st.integers(2, 80))
    kind = draw(st.sampled_from(["irregular", "linear", "log-in", "same", "per-spectrum"]))
    if kind == "irregular":
        wave = 1000.0 + np.cumsum(r.uniform(0.1, 5.0, m))
        new = 1000.0 + r.uniform(-20.0, 20.0) + np.cumsum(r.uniform(0.1, 8.0, p))
    elif kind == "linear":
        wave = 1000.0 + r.uniform(0.5, 3.0) * np.arange(m)
        new = wave[0] + r.uniform(-5.0, 5.0) + r.uniform(0.2, 6.0) * np.arange(p)
    elif kind == "log-in":
        wave = np.geomspace(1000.0, r.uniform(1100.0, 4000.0), m)
        new = np.linspace(r.uniform(900.0, 1200.0), r.uniform(1300.0, 4500.0), p)
    elif kind == "same":  # identical grids: lone weights of exactly 1
        wave = 1000.0 + np.cumsum(r.uniform(0.5, 2.0, m))
        new = wave.copy()
    else:
        wave = 1000.0 + np.cumsum(r.uniform(0.1, 5.0, (n, m)), axis=1)
        new = 1000.0 + np.cumsum(r.uniform(0.1, 8.0, p))
        if draw(st.booleans()):
            new = new + r.uniform(-10.0, 10.0, (n, 1))
    flux = r.normal(1.0, 0.5, (n, m))
    flux[r.random((n, m)) < 0.08] = np.nan
    ivar = r.uniform(0.0, 4.0, (n, m))
    ivar[r.random((n, m)) < 0.08] = 0.0
    return np.atleast_2d(wave), flux, ivar, np.atleast_2d(new)


@given(
    problem=resample_problems(), linear=st.booleans(), with_ivar=st.booleans(), f32=st.booleans()
)
def test_resample_pixelwise_equals_the_cpu_kernel(problem, linear, with_ivar, f32):
    wave, flux, ivar, new = problem
    dtype = np.float32 if f32 else np.float64
    flux = flux.astype(dtype)
    ivar = ivar.astype(dtype) if with_ivar else None
    _assert_same_bits(
        _resample_twin(wave, flux, ivar, new, linear, -7.0),
        _resample_cpu(wave, flux, ivar, new, linear, -7.0),
    )


@pytest.mark.parametrize("isa", ["auto", "baseline"])
@pytest.mark.parametrize("linear", [False, True])
def test_resample_pixelwise_on_the_survey_grids(dtype, rng, isa, linear):
    """The benchmark's grids (log-lambda 4000 px -> linear 5001 px), both CPU paths."""
    wave = np.geomspace(3700.0, 9200.0, 4000)[None, :]
    new = np.linspace(4000.0, 9000.0, 5001)[None, :]
    flux = (1.0 + rng.normal(0.0, 0.1, (9, 4000))).astype(dtype)  # 9: lanes of 4 and a rest
    ivar = rng.uniform(10.0, 400.0, (9, 4000)).astype(dtype)
    flux[3, 1000:1010] = np.nan
    ivar[5, 2000] = 0.0
    _core._resample_isa(isa)
    try:
        want = _resample_cpu(wave, flux, ivar, new, linear)
    finally:
        _core._resample_isa("auto")
    _assert_same_bits(_resample_twin(wave, flux, ivar, new, linear), want)
    _assert_same_bits(
        _resample_twin(wave, flux, None, new, linear), _resample_cpu(wave, flux, None, new, linear)
    )


def test_resample_pixelwise_downsampling_and_rounding_edges(dtype, rng):
    """Wide output bins (many inputs each) and grids equal up to rounding (the 1e-9 rule)."""
    wave = np.linspace(5000.0, 6000.0, 3001)[None, :]
    flux = rng.normal(1.0, 0.2, (3, 3001)).astype(dtype)
    ivar = rng.uniform(1.0, 2.0, (3, 3001)).astype(dtype)
    for new in (
        np.linspace(5000.0, 6000.0, 37),
        np.linspace(5000.0, 6000.0, 3001) * (1 + 1e-15),
        np.linspace(4990.0, 6010.0, 11),
    ):
        for linear in (False, True):
            _assert_same_bits(
                _resample_twin(wave, flux, ivar, new[None, :], linear),
                _resample_cpu(wave, flux, ivar, new[None, :], linear),
            )
