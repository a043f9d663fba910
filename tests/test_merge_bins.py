"""Tests of deepz.merge_bins against the reshape-based numpy reference."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference_merge_bins import merge_bins as ref_merge

import deepz
from deepz import _core
from deepz import kernels as kernels_module


def _close(got, want, dtype):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=0, equal_nan=True)


# ------------------------------------------------------------------ hand-made
def test_sum_and_mean_by_hand(dtype):
    flux = np.array([1, 2, 3, 4, 5], dtype=dtype)
    ivar = np.array([1, 1, 0.5, 0.25, 1], dtype=dtype)
    out = deepz.merge_bins(flux, 2)
    np.testing.assert_array_equal(out, [3, 7])  # the fifth pixel is dropped
    assert out.dtype == dtype
    assert out.shape == (2,)
    f, iv = deepz.merge_bins(flux, 2, ivar=ivar)
    np.testing.assert_array_equal(f, [3, 7])
    np.testing.assert_allclose(iv, [1 / 2, 1 / 6])
    f, iv = deepz.merge_bins(flux, 2, ivar=ivar, how="mean")
    np.testing.assert_array_equal(f, [1.5, 3.5])
    np.testing.assert_allclose(iv, [2, 4 / 6])
    np.testing.assert_array_equal(deepz.merge_bins(flux, 5), [15])


def test_masked_pixels_scale_the_valid_ones(dtype):
    flux = np.array([[1, np.nan, 3, 4, np.nan, np.nan, 7, 8, 9]], dtype=dtype)
    ivar = np.array([[1, 1, 1, 0, 1, 1, 4, np.nan, 4]], dtype=dtype)
    f, iv = deepz.merge_bins(flux, 3, ivar=ivar)
    # group 0: valid 1, 3 -> 3 * 2 = 6, var = 9 * (1 + 1) / 4; group 1: none
    # group 2: valid 7, 9 (ivar NaN masks 8) -> 3 * 8 = 24, var = 9 * (1/4 + 1/4) / 4
    np.testing.assert_allclose(f[0], [6, np.nan, 24])
    np.testing.assert_allclose(iv[0], [4 / 18, 0, 16 / 18])
    f, iv = deepz.merge_bins(flux, 3, ivar=ivar, how="mean")
    np.testing.assert_allclose(f[0], [2, np.nan, 8])
    np.testing.assert_allclose(iv[0], [2, 0, 8])
    # without ivar only the non-finite flux is masked (inf too): the 4 counts again
    flux[0, 8] = np.inf
    np.testing.assert_allclose(deepz.merge_bins(flux, 3)[0], [6, 12, 22.5])


def test_factor_one_is_the_identity(dtype, rng):
    flux = rng.normal(size=(3, 17)).astype(dtype)
    ivar = rng.random((3, 17)).astype(dtype) + dtype(0.1)
    flux[1, 4] = np.nan
    ivar[2, 5] = 0
    for how in ("sum", "mean"):
        f, iv = deepz.merge_bins(flux, 1, ivar=ivar, how=how)
        good = np.isfinite(flux) & (ivar > 0)
        np.testing.assert_array_equal(f[good], flux[good])
        np.testing.assert_array_equal(iv[good], ivar[good])
        assert np.all(np.isnan(f[~good]))
        assert np.all(iv[~good] == 0)


def test_flux_and_variance_are_conserved_exactly():
    rng = np.random.default_rng(3)
    flux = rng.integers(-1000, 1000, size=(20, 901)).astype(np.float64)
    ivar = 2.0 ** rng.integers(-8, 8, size=(20, 901))  # variances add exactly
    for k in (2, 3, 4, 8, 9, 450):
        f, iv = deepz.merge_bins(flux, k, ivar=ivar)
        kept = (901 // k) * k
        np.testing.assert_array_equal(f.sum(axis=1), flux[:, :kept].sum(axis=1))
        var = (1 / ivar[:, :kept]).reshape(20, -1, k).sum(axis=2)  # dyadic: exact in any order
        np.testing.assert_array_equal(iv, 1 / var)


def test_merged_variance_matches_the_scatter_of_noise():
    """ivar_out predicts the scatter of merged noisy pixels (add_noise -> merge_bins)."""
    sigma = np.linspace(0.5, 2.0, 12)
    noisy, ivar = deepz.add_noise(np.zeros((20000, 12)), sigma, 2)
    for how in ("sum", "mean"):
        f, iv = deepz.merge_bins(noisy, 3, ivar=ivar, how=how)
        ratio = f.var(axis=0) * iv[0]
        np.testing.assert_allclose(ratio, 1, atol=5 * np.sqrt(2 / 20000))


# ------------------------------------------------------------------ vs reference
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("how", ["sum", "mean"])
def test_matches_reference(dtype, how, threads, rng):
    flux = rng.normal(size=(9, 1800)).astype(dtype)
    ivar = rng.random((9, 1800)).astype(dtype)
    flux[rng.random(flux.shape) < 0.05] = np.nan
    ivar[rng.random(ivar.shape) < 0.05] = 0
    for k in (1, 2, 4, 7, 16, 1800):
        _close(
            deepz.merge_bins(flux, k, ivar=ivar, how=how, threads=threads),
            ref_merge(flux, k, ivar=ivar, how=how),
            dtype,
        )
        _close(
            deepz.merge_bins(flux, k, how=how, threads=threads), ref_merge(flux, k, how=how), dtype
        )


@st.composite
def _cases(draw):
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 60))
    factor = draw(st.integers(1, m))
    seed = draw(st.integers(0, 2**32 - 1))
    return n, m, factor, seed


@given(
    case=_cases(),
    how=st.sampled_from(["sum", "mean"]),
    double=st.booleans(),
    with_ivar=st.booleans(),
    one_d=st.booleans(),
    threads=st.sampled_from([1, 2]),
)
def test_matches_reference_hypothesis(case, how, double, with_ivar, one_d, threads):
    n, m, factor, seed = case
    dtype = np.float64 if double else np.float32
    rng = np.random.default_rng(seed)
    shape = (m,) if one_d else (n, m)
    flux = (rng.normal(size=shape) * 10).astype(dtype)
    flux[rng.random(shape) < 0.2] = np.nan
    ivar = None
    if with_ivar:
        ivar = rng.random(shape).astype(dtype)
        ivar[rng.random(shape) < 0.2] = 0
    got = deepz.merge_bins(flux, factor, ivar=ivar, how=how, threads=threads)
    _close(got, ref_merge(flux, factor, ivar=ivar, how=how), dtype)
    first = got[0] if with_ivar else got
    assert first.shape == shape[:-1] + (m // factor,)


def test_threads_do_not_change_the_result(rng):
    flux = rng.normal(size=(37, 300))
    ivar = rng.random((37, 300))
    one = deepz.merge_bins(flux, 3, ivar=ivar, threads=1)
    for threads in (2, 5):
        for a, b in zip(one, deepz.merge_bins(flux, 3, ivar=ivar, threads=threads), strict=True):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ fast paths
# The kernel takes blocks of groups with every pixel valid through a short
# vectorised path (and a block with one ivar value through a shorter one);
# blocks with masked pixels take the general sweep. Which path a group takes
# must not change its bits: a group gives the same output whatever its
# neighbours hold.
def _bits_equal(a, b):
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("how", ["sum", "mean"])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8, 16])
def test_a_group_does_not_depend_on_its_neighbours(dtype, how, k, rng):
    n, m = 6, 3000
    flux = rng.normal(size=(n, m)).astype(dtype)
    flux[rng.random(flux.shape) < 0.02] = 0.0
    flux[rng.random(flux.shape) < 0.02] = -0.0
    even = np.full((n, m), 400, dtype)
    uneven = rng.uniform(0.5, 2.0, size=(n, m)).astype(dtype)
    hit = rng.random((n, m)) < 0.002  # sparse: some blocks clean, others not
    bad_flux = np.where(hit, np.nan, flux).astype(dtype)
    for ivar in (even, uneven):
        clean = deepz.merge_bins(flux, k, ivar=ivar, how=how)
        other = np.where(hit, dtype(3.0), ivar).astype(dtype)
        touched = hit[:, : (m // k) * k].reshape(n, -1, k).any(axis=2)
        for f, w in ((bad_flux, ivar), (flux, other)):
            got = deepz.merge_bins(f, k, ivar=w, how=how)
            for g, c in zip(got, clean, strict=True):
                _bits_equal(g[~touched], c[~touched])
        got = deepz.merge_bins(bad_flux, k, how=how)
        _bits_equal(got[~touched], deepz.merge_bins(flux, k, how=how)[~touched])


def _merge_isas():
    isas = ["baseline"]
    if _core._merge_isa("auto") == "avx2":
        isas.append("auto")
    return isas


def test_instruction_sets_give_the_same_bits(dtype, rng):
    flux = rng.normal(size=(7, 1801)).astype(dtype)
    flux[rng.random(flux.shape) < 0.01] = np.nan
    ivars = [np.full(flux.shape, 25, dtype), rng.uniform(0.5, 2, flux.shape).astype(dtype)]
    ivars[1][rng.random(flux.shape) < 0.01] = 0
    runs = {}
    try:
        for isa in _merge_isas():
            assert _core._merge_isa(isa) in ("avx2", "baseline")
            runs[isa] = [
                deepz.merge_bins(flux, k, ivar=ivar, how=how, threads=threads)
                for k in (1, 2, 3, 4, 7, 8)
                for how in ("sum", "mean")
                for ivar in (None, *ivars)
                for threads in (1, 2)
            ]
    finally:
        _core._merge_isa("auto")
    for isa, outs in runs.items():
        for got, want in zip(outs, runs["baseline"], strict=True):
            for g, w in zip(
                got if isinstance(got, tuple) else (got,),
                want if isinstance(want, tuple) else (want,),
                strict=True,
            ):
                _bits_equal(g, w)
        assert isa in ("baseline", "auto")


def test_isa_switch_refuses_unknown_names():
    with pytest.raises(ValueError, match="isa"):
        _core._merge_isa("sse9")
    assert _core._merge_isa() in ("avx2", "baseline")


def test_negative_ivar_is_reported_where_it_is(rng):
    flux = rng.normal(size=(5, 21))
    ivar = np.ones((5, 21))
    ivar[3, 2] = -0.5
    ivar[4, 20] = -1.0  # in the dropped remainder: refused too
    for threads in (1, 2):
        with pytest.raises(ValueError, match=r"ivar must be >= 0.*-0.5 at index \(3, 2\)"):
            deepz.merge_bins(flux, 4, ivar=ivar, threads=threads)
    ivar[3, 2] = 1.0
    with pytest.raises(ValueError, match=r"ivar.*-1.0 at index \(4, 20\)"):
        deepz.merge_bins(flux, 4, ivar=ivar)
    with pytest.raises(ValueError, match=r"ivar.*-1.0 at index \(20,\)"):
        deepz.merge_bins(flux[4], 4, ivar=ivar[4])


def test_numpy_integer_factor_and_lists():
    np.testing.assert_array_equal(deepz.merge_bins([1.0, 2.0, 3.0, 4.0], np.int64(2)), [3, 7])


# ------------------------------------------------------------------ bad inputs
GOOD = np.ones((2, 6))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"factor": 0}, ValueError, "factor"),
        ({"factor": -2}, ValueError, "factor"),
        ({"factor": True}, ValueError, "factor"),
        ({"factor": 2.0}, ValueError, "factor"),
        ({"factor": "2"}, ValueError, "factor"),
        ({"factor": None}, ValueError, "factor"),
        ({"factor": 7}, ValueError, "factor"),
        ({"how": "median"}, ValueError, "how"),
        ({"how": None}, ValueError, "how"),
        ({"ivar": np.ones((2, 5))}, ValueError, "ivar"),
        ({"ivar": -GOOD}, ValueError, "ivar"),
        ({"ivar": np.ones((2, 6), dtype=np.int32)}, TypeError, "ivar"),
        ({"flux": np.ones((2, 6), dtype=np.int32)}, TypeError, "flux"),
        ({"flux": np.ones((2, 6, 1))}, ValueError, "flux"),
        ({"flux": np.ones((0, 6))}, ValueError, "flux"),
        ({"flux": np.ones((2, 0))}, ValueError, "flux"),
        ({"threads": 0}, ValueError, "threads"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = {"flux": GOOD, "factor": 2} | kwargs
    with pytest.raises(error, match=match):
        deepz.merge_bins(**args)


def test_docstring_examples():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(kernels_module.merge_bins, "merge_bins", globs={}):
        runner.run(test)
    assert runner.failures == 0
    assert runner.tries > 0
