"""Tests of deepz.add_noise: Philox, the reproducible math, bit equality with
the numpy reference, reproducibility, statistics, sigma shapes, bad inputs."""

from __future__ import annotations

import doctest

import mpmath
import numpy as np
import pytest
import reference_add_noise as ref
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import deepz
from deepz import _core
from deepz import kernels as kernels_module

# ------------------------------------------------------------------ Philox
# Random123's known-answer vectors for philox4x32_10 (kat_vectors).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
@pytest.mark.parametrize("impl", ["core", "reference"])
def test_philox_known_answers(impl, counter, key, expected):
    c = np.array([counter], dtype=np.uint32)
    k = np.array([key], dtype=np.uint32)
    out = _core._philox4x32_10(c, k) if impl == "core" else ref.philox4x32_10(c, k)
    assert [int(v) for v in out[0]] == list(expected)


def test_philox_core_matches_reference(rng):
    c = rng.integers(0, 2**32, size=(20000, 4), dtype=np.uint32)
    k = rng.integers(0, 2**32, size=(20000, 2), dtype=np.uint32)
    np.testing.assert_array_equal(_core._philox4x32_10(c, k), ref.philox4x32_10(c, k))


def test_uniforms_are_exact_and_inside_the_open_interval():
    x = np.array([0, 511, 512, 2**31, 2**32 - 1], dtype=np.uint32)
    u = ref.uniform_f32(x)
    assert u.dtype == np.float32
    np.testing.assert_array_equal(u.astype(np.float64), ((x >> 9) + 0.5) * 2.0**-23)
    assert u.min() == 2.0**-24
    assert u.max() == 1 - 2.0**-24
    d = ref.uniform_f64(np.array([0, 2**32 - 1]), np.array([0, 2**32 - 1]))
    assert d[0] == 2.0**-53
    assert d[1] == 1 - 2.0**-53


# ------------------------------------------------------------------ float math
def _ulp32(exact):
    return np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)


def _ulps(got, fn, x):
    """Largest error of float64 `got` against fn(x) in 40-digit mpmath, in ulps."""
    with mpmath.workdps(40):
        worst = 0.0
        for g, v in zip(got, x, strict=True):
            e = fn(mpmath.mpf(float(v)))
            worst = max(worst, float(abs(mpmath.mpf(float(g)) - e)) / np.spacing(abs(float(e))))
    return worst


UNIFORM_GRID = (np.arange(2**23, dtype=np.float32) + np.float32(0.5)) * np.float32(2.0**-23)


def test_log_f32_accuracy_over_the_uniform_grid_and_all_of_0_1(rng):
    # every uniform Box-Muller can draw, then random float32 in (0, 1) incl. subnormals
    for x in (UNIFORM_GRID, rng.integers(1, 0x3F800000, 2**20, dtype=np.uint32).view(np.float32)):
        exact = np.log(x.astype(np.float64))
        err = np.abs(_core._rmath_log(x).astype(np.float64) - exact) / _ulp32(exact)
        assert err.max() < 1.0


def test_sincos2pi_f32_accuracy_over_the_uniform_grid():
    s, c = _core._rmath_sincos2pi(UNIFORM_GRID)
    turn = 2 * np.pi * UNIFORM_GRID.astype(np.float64)
    for got, exact in ((s, np.sin(turn)), (c, np.cos(turn))):
        assert (np.abs(got - exact) / _ulp32(exact)).max() < 2.0


def test_log_f64_accuracy(rng):
    x = np.concatenate(
        [rng.random(1500), np.exp(rng.uniform(-700, 700, 1500)), rng.random(100) * 1e-310]
    )
    assert _ulps(_core._rmath_log(x), mpmath.log, x) < 1.0


def test_sincos2pi_f64_accuracy(rng):
    u = rng.random(2000)
    s, c = _core._rmath_sincos2pi(u)
    assert _ulps(s, lambda v: mpmath.sin(2 * mpmath.pi * v), u) < 2.0
    assert _ulps(c, lambda v: mpmath.cos(2 * mpmath.pi * v), u) < 2.0


def test_exp_and_log1p_f64_accuracy(rng):
    x = np.concatenate([rng.uniform(-700, 700, 1000), rng.uniform(-10, 0, 1000)])
    assert _ulps(_core._rmath_exp(x), mpmath.exp, x) < 1.0
    y = np.concatenate([rng.uniform(-0.999, 10, 1500), rng.uniform(-1e-9, 1e-9, 500)])
    assert _ulps(_core._rmath_log1p(y), mpmath.log1p, y) < 2.0


@pytest.mark.parametrize("lam", [10.0, 30.0, 1000.0, 1e6, 1e12])
def test_poisson_logpmf_matches_mpmath_near_the_mode(lam):
    k = np.unique(np.floor(lam + np.sqrt(lam) * np.linspace(-8, 8, 33)).clip(0))
    got = _core._poisson_logpmf(k, lam)
    with mpmath.workdps(50):
        exact = [float(kk * mpmath.log(lam) - lam - mpmath.loggamma(kk + 1)) for kk in k]
    # float64 rounding of k - lam ~ 8 sqrt(lam) bounds the error (PTRS only needs ~1e-6)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-10 + 2e-14 * np.sqrt(lam))


def test_math_special_values():
    log32 = _core._rmath_log(np.array([0.0, -1.0, np.inf, np.nan, 1.0], dtype=np.float32))
    log64 = _core._rmath_log(np.array([0.0, -1.0, np.inf, np.nan, 1.0]))
    for out in (log32, log64):
        assert out[0] == -np.inf
        assert np.isnan(out[1])
        assert out[2] == np.inf
        assert np.isnan(out[3])
        assert out[4] == 0.0
    e = _core._rmath_exp(np.array([0.0, -800.0, 800.0, np.nan, -740.0]))
    assert e[0] == 1.0
    assert e[1] == 0.0
    assert e[2] == np.inf
    assert np.isnan(e[3])
    assert e[4] == pytest.approx(np.exp(-740.0), rel=1e-12)


def test_math_hooks_match_reference_bits(rng):
    x32 = rng.integers(1, 0x7F800000, 2**16, dtype=np.uint32).view(np.float32)
    x64 = np.exp(rng.uniform(-700, 700, 2**16))
    for x in (x32, x64):
        np.testing.assert_array_equal(_core._rmath_log(x), ref.log(x))
    for u in (rng.random(2**16).astype(np.float32), rng.random(2**16)):
        for got, want in zip(_core._rmath_sincos2pi(u), ref.sincos2pi(u), strict=True):
            np.testing.assert_array_equal(got, want)
    y = rng.uniform(-700, 700, 2**16)
    np.testing.assert_array_equal(_core._rmath_exp(y), ref.exp(y))
    z = rng.uniform(-0.999, 5, 2**16)
    np.testing.assert_array_equal(_core._rmath_log1p(z), ref.log1p(z))
    k = np.arange(0.0, 2000.0)
    np.testing.assert_array_equal(
        _core._poisson_logpmf(k, 1000.0), ref.poisson_logpmf(k, 1000.0, ref.log(1000.0))
    )


# ------------------------------------------------------------------ kernel vs reference
def _assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        assert x.shape == y.shape
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kind", ["gaussian", "poisson"])
def test_matches_reference_hand_made(dtype, kind, threads, rng):
    flux = np.abs(rng.normal(size=(6, 45))) * [[0.1], [2.0], [9.9], [10.0], [400.0], [1e5]]
    flux = flux.astype(dtype)
    flux[1, 3] = np.nan
    flux[4, 0] = np.inf
    flux[0, 7] = 0.0
    sigma = np.linspace(0.5, 2.0, 45).astype(dtype)
    got = deepz.add_noise(flux, sigma, 2**40 + 17, kind=kind, offset=5, threads=threads)
    _assert_same(got, ref.add_noise(flux, sigma, 2**40 + 17, kind=kind, offset=5))


@given(
    n=st.integers(1, 4),
    m=st.integers(1, 23),
    seed=st.integers(0, 2**64 - 1),
    offset=st.integers(0, 2**40),
    kind=st.sampled_from(["gaussian", "poisson"]),
    double=st.booleans(),
    threads=st.sampled_from([1, 2]),
    scale=st.sampled_from([0.01, 1.0, 50.0]),
)
def test_matches_reference_hypothesis(n, m, seed, offset, kind, double, threads, scale):
    dtype = np.float64 if double else np.float32
    flux = (np.abs(np.sin(np.arange(n * m) + seed % 7)) * 100).reshape(n, m).astype(dtype)
    got = deepz.add_noise(flux, scale, seed, kind=kind, offset=offset, threads=threads)
    _assert_same(got, ref.add_noise(flux, scale, seed, kind=kind, offset=offset))


# ------------------------------------------------------------------ instruction sets
# The kernel runs Philox on 4 (SSE2) or 8 (AVX2) counter blocks at once and,
# with AVX2, the float32 Box-Muller math on 8 lanes; every copy must give the
# reference's bits (row lengths around the vector and chunk sizes, the high
# word of the spectrum index, every sigma layout).
def _noise_isas():
    isas = ["baseline"]
    if _core._noise_isa("auto") == "avx2":
        isas.append("auto")
    return isas


def _assert_bits(a, b):
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        assert x.shape == y.shape
        np.testing.assert_array_equal(x.view(np.uint8), y.view(np.uint8))


@pytest.mark.parametrize("isa", _noise_isas())
@pytest.mark.parametrize("m", [1, 3, 4, 5, 31, 33, 127, 128, 129, 255, 256, 257, 1000])
def test_every_instruction_set_matches_reference(isa, m, dtype, rng):
    n = 3
    flux = (rng.random((n, m)) * 10).astype(dtype)
    flux[rng.random(flux.shape) < 0.05] = np.nan
    sigmas = [
        0.25,
        rng.uniform(0.1, 2, n).astype(dtype)[:, None],
        rng.uniform(0.1, 2, m).astype(dtype)[None, :],
        rng.uniform(0.1, 2, (n, m)).astype(dtype),
    ]
    seed, offset = int(rng.integers(0, 2**64, dtype=np.uint64)), 2**32 - 2  # index hi word flips
    try:
        assert _core._noise_isa(isa) in ("avx2", "baseline")
        for sigma in sigmas:
            for threads in (1, 2):
                got = deepz.add_noise(flux, sigma, seed, offset=offset, threads=threads)
                _assert_bits(got, ref.add_noise(flux, sigma, seed, offset=offset))
        got = deepz.add_noise(flux, 3.0, seed, kind="poisson", offset=offset)
        _assert_bits(got, ref.add_noise(flux, 3.0, seed, kind="poisson", offset=offset))
    finally:
        _core._noise_isa("auto")


@pytest.mark.parametrize("isa", _noise_isas())
def test_every_instruction_set_on_many_draws(isa, dtype):
    """131k pixels (half a million Philox words) per seed: the vector math sees most cases."""
    flux = np.zeros((64, 2048), dtype=dtype)
    try:
        _core._noise_isa(isa)
        for seed in (0, 2**63 + 12345):
            _assert_bits(
                deepz.add_noise(flux, 1.0, seed, threads=2), ref.add_noise(flux, 1.0, seed)
            )
    finally:
        _core._noise_isa("auto")


def test_noise_isa_switch_refuses_unknown_names():
    with pytest.raises(ValueError, match="isa"):
        _core._noise_isa("sse9")
    assert _core._noise_isa() in ("avx2", "baseline")


# ------------------------------------------------------------------ reproducibility
@pytest.mark.parametrize("kind", ["gaussian", "poisson"])
def test_batch_equals_pieces_with_offsets_and_any_thread_count(dtype, kind, rng):
    flux = (rng.random((40, 101)) * 30).astype(dtype)
    whole, whole_iv = deepz.add_noise(flux, 0.7, 99, kind=kind, offset=1000, threads=1)
    for threads in (2, 3):
        _assert_same(
            (whole, whole_iv),
            deepz.add_noise(flux, 0.7, 99, kind=kind, offset=1000, threads=threads),
        )
    cuts = [0, 1, 7, 23, 40]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        part = deepz.add_noise(flux[a:b], 0.7, 99, kind=kind, offset=1000 + a, threads=2)
        _assert_same(part, (whole[a:b], whole_iv[a:b]))
    one = deepz.add_noise(flux[5], 0.7, 99, kind=kind, offset=1005)
    _assert_same(one, (whole[5], whole_iv[5]))


def test_noise_of_a_pixel_ignores_nan_elsewhere(dtype, rng):
    flux = rng.random((3, 50)).astype(dtype)
    holes = flux.copy()
    holes[:, ::3] = np.nan
    clean, _ = deepz.add_noise(flux, 1.0, 5)
    noisy, ivar = deepz.add_noise(holes, 1.0, 5)
    assert np.all(np.isnan(noisy[:, ::3]))
    assert np.all(ivar[:, ::3] == 0)
    keep = ~np.isnan(holes)
    np.testing.assert_array_equal(noisy[keep], clean[keep])
    assert np.all(ivar[keep] == 1)


def test_seed_words_and_global_index_words_all_matter():
    flux = np.zeros((2, 64), dtype=np.float32)
    base = deepz.add_noise(flux, 1.0, 1)[0]
    for other in (
        deepz.add_noise(flux, 1.0, 1 + 2**32)[0],  # high word of the seed
        deepz.add_noise(flux, 1.0, 2)[0],
        deepz.add_noise(flux, 1.0, 1, offset=2**32)[0],
    ):  # high word of the index
        assert not np.any(other == base)
    assert not np.any(base[0] == base[1])
    top = deepz.add_noise(flux, 1.0, 2**64 - 1, offset=2**64 - 2)[0]
    assert np.all(np.isfinite(top))


def test_float64_normals_are_the_float32_ones_more_exactly():
    flux = np.zeros((50, 1000), dtype=np.float32)
    z32 = deepz.add_noise(flux, 1.0, 3)[0].astype(np.float64)
    z64 = deepz.add_noise(flux.astype(np.float64), 1.0, 3)[0]
    np.testing.assert_allclose(z32, z64, rtol=4e-7, atol=1e-7)


def test_gaussian_and_poisson_streams_are_independent():
    flux = np.full((4, 400), 50.0)
    g = deepz.add_noise(flux, 1.0, 11)[0] - 50.0
    p = deepz.add_noise(flux, 1.0, 11, kind="poisson")[0] - 50.0
    assert abs(np.corrcoef(g.ravel(), p.ravel())[0, 1]) < 5 / np.sqrt(g.size)


# ------------------------------------------------------------------ statistics
@pytest.fixture(scope="module")
def normals():
    """One million standard normals: 500 spectra of 2000 pixels."""
    return deepz.add_noise(np.zeros((500, 2000), dtype=np.float32), 1.0, 20261125)[0]


def test_normal_moments_and_ks(normals):
    z = normals.astype(np.float64).ravel()
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * np.sqrt(24 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert np.abs(z).max() < 5.77  # the uniforms stop at 2^-24: |z| <= sqrt(48 ln 2)


def test_normal_float64_ks():
    z = deepz.add_noise(np.zeros((100, 2000)), 1.0, 8)[0].ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_normals_independent_between_neighbours(normals):
    z = normals.astype(np.float64)
    limit = 5 / np.sqrt(z.size / 2)
    pairs = {
        "pixel p, p+1 (one Box-Muller pair at even p)": (z[:, 0::2], z[:, 1::2]),
        "pixel p+1, p+2 (across pairs)": (z[:, 1:-1:2], z[:, 2::2]),
        "pixel p, p+4 (across Philox blocks)": (z[:, :-4], z[:, 4:]),
        "spectrum n, n+1": (z[:-1], z[1:]),
    }
    for name, (a, b) in pairs.items():
        for f in (lambda v: v, np.square, np.abs):
            r = np.corrcoef(f(a).ravel(), f(b).ravel())[0, 1]
            assert abs(r) < limit, (name, r)


@pytest.mark.parametrize("lam", [0.5, 3.0, 9.99, 10.0, 30.0, 1000.0])
def test_poisson_pmf_chi_square(lam):
    s = 0.25
    flux = np.full((100, 2000), lam * s)
    noisy, ivar = deepz.add_noise(flux, s, 7, kind="poisson")
    k = (noisy / s).ravel()
    np.testing.assert_array_equal(k, np.round(k))
    np.testing.assert_allclose(ivar, 1 / (s * max(lam * s, s)))
    n = k.size
    assert abs(k.mean() - lam) < 5 * np.sqrt(lam / n)
    assert abs(k.var() - lam) < 5 * lam * np.sqrt((2 + 1 / lam) / n)
    # chi-square over the values with >= 20 expected counts, the rest pooled
    dist = stats.poisson(lam)
    lo, hi = int(dist.ppf(1e-6)), int(dist.isf(1e-6))
    values = np.arange(lo, hi + 1)
    observed = np.bincount(np.clip(k, lo, hi).astype(np.int64) - lo, minlength=values.size)
    expected = n * dist.pmf(values)
    expected[0], expected[-1] = n * dist.cdf(lo), n * dist.sf(hi - 1)
    keep = expected >= 20
    obs, exp = observed[keep].astype(float), expected[keep]
    rest_obs, rest_exp = n - obs.sum(), n - exp.sum()
    if rest_exp >= 5:
        obs, exp = np.append(obs, rest_obs), np.append(exp, rest_exp)
    else:
        obs[-1] += rest_obs
        exp[-1] += rest_exp
    assert stats.chisquare(obs, exp).pvalue > 1e-3


def test_poisson_huge_counts_mean_and_variance():
    lam = 1e9
    k = deepz.add_noise(np.full((20, 1000), lam), 1.0, 3, kind="poisson")[0]
    z = (k - lam) / np.sqrt(lam)
    assert abs(z.mean()) < 5 / np.sqrt(z.size)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / z.size)


def test_poisson_zero_flux_and_scale():
    flux = np.array([[0.0, 0.0, 3.0, 8.0]], dtype=np.float32)
    noisy, ivar = deepz.add_noise(flux, 2.0, 1, kind="poisson")
    assert noisy[0, 0] == 0
    assert noisy[0, 1] == 0
    assert np.all(noisy % 2 == 0)
    np.testing.assert_allclose(ivar[0], [1 / 4, 1 / 4, 1 / 6, 1 / 16])


# ------------------------------------------------------------------ sigma shapes
def test_sigma_shapes_broadcast(dtype, rng):
    n, m = 3, 5
    flux = rng.random((n, m)).astype(dtype)
    per_spec = np.array([0.5, 1.0, 2.0], dtype=dtype)
    per_pix = np.linspace(1, 2, m).astype(dtype)
    full_spec = np.broadcast_to(per_spec[:, None], (n, m))
    full_pix = np.broadcast_to(per_pix, (n, m))
    for sigma, full in (
        (per_spec, full_spec),
        (per_spec[:, None], full_spec),
        (per_pix, full_pix),
        (per_pix[None, :], full_pix),
        (1.5, np.full((n, m), 1.5, dtype)),
        (np.array([1.5]), np.full((n, m), 1.5, dtype)),
        (np.float32(1.5), np.full((n, m), 1.5, dtype)),
    ):
        got = deepz.add_noise(flux, sigma, 4)
        _assert_same(got, deepz.add_noise(flux, np.ascontiguousarray(full), 4))
        np.testing.assert_allclose(got[1], 1 / full.astype(np.float64) ** 2, rtol=1e-6)
    # the noise scales with sigma exactly: z is the same draw
    z = deepz.add_noise(np.zeros((n, m), dtype), 1.0, 4)[0]
    np.testing.assert_array_equal(
        deepz.add_noise(np.zeros((n, m), dtype), per_pix, 4)[0], per_pix * z
    )


def test_one_dimensional_flux(dtype):
    flux = np.arange(10, dtype=dtype)
    noisy, ivar = deepz.add_noise(flux, np.linspace(1, 2, 10), 1)
    assert noisy.shape == ivar.shape == (10,)
    assert noisy.dtype == ivar.dtype == dtype
    batch = deepz.add_noise(flux[None], np.linspace(1, 2, 10), 1)
    _assert_same((noisy, ivar), (batch[0][0], batch[1][0]))


def test_ambiguous_sigma_when_n_equals_m():
    flux = np.zeros((4, 4))
    with pytest.raises(ValueError, match=r"sigma .*ambiguous.*\(4, 1\).*\(1, 4\)"):
        deepz.add_noise(flux, np.ones(4), 1)
    deepz.add_noise(flux, np.ones((4, 1)), 1)
    deepz.add_noise(flux, np.ones((1, 4)), 1)


# ------------------------------------------------------------------ bad inputs
GOOD = np.ones((2, 3))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"flux": np.ones((2, 3), dtype=np.int64)}, TypeError, "flux"),
        ({"flux": np.ones((2, 3), dtype=np.float16)}, TypeError, "flux"),
        ({"flux": np.ones((2, 3, 1))}, ValueError, "flux"),
        ({"flux": np.ones((0, 3))}, ValueError, "flux"),
        ({"flux": np.ones((2, 0))}, ValueError, "flux"),
        ({"sigma": 0.0}, ValueError, "sigma"),
        ({"sigma": -1.0}, ValueError, "sigma"),
        ({"sigma": np.nan}, ValueError, "sigma"),
        ({"sigma": np.inf}, ValueError, "sigma"),
        ({"sigma": np.array([1.0, -1.0, 1.0])}, ValueError, "sigma"),
        ({"sigma": np.array([1.0, np.nan, 1.0])}, ValueError, "sigma"),
        ({"sigma": np.ones(4)}, ValueError, "sigma"),
        ({"sigma": np.ones((3, 3))}, ValueError, "sigma"),
        ({"sigma": np.ones((2, 3, 1))}, ValueError, "sigma"),
        ({"sigma": np.ones(3, dtype=np.int64)}, TypeError, "sigma"),
        ({"sigma": True}, TypeError, "sigma"),
        ({"sigma": "1"}, TypeError, "sigma"),
        ({"sigma": 1e-200}, ValueError, "sigma"),
        ({"sigma": 1e-300, "flux": np.ones((2, 3), dtype=np.float32)}, ValueError, "sigma"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 2**64}, ValueError, "seed"),
        ({"seed": 1.0}, TypeError, "seed"),
        ({"seed": True}, TypeError, "seed"),
        ({"seed": "7"}, TypeError, "seed"),
        ({"seed": None}, TypeError, "seed"),
        ({"offset": -1}, ValueError, "offset"),
        ({"offset": 2**64 - 1}, ValueError, "offset"),
        ({"offset": 0.5}, TypeError, "offset"),
        ({"kind": "uniform"}, ValueError, "kind"),
        ({"kind": "Gaussian"}, ValueError, "kind"),
        ({"kind": None}, ValueError, "kind"),
        ({"kind": "poisson", "flux": -GOOD}, ValueError, "flux"),
        ({"kind": "poisson", "flux": GOOD * 1e17}, ValueError, "flux / sigma"),
        ({"threads": 0}, ValueError, "threads"),
        ({"threads": 1.5}, TypeError, "threads"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = {"flux": GOOD, "sigma": 1.0, "seed": 1} | kwargs
    with pytest.raises(error, match=match):
        deepz.add_noise(**args)


def test_poisson_accepts_non_finite_flux_as_masked():
    flux = np.array([1.0, np.nan, -np.inf, np.inf, 2.0])
    noisy, ivar = deepz.add_noise(flux, 1.0, 1, kind="poisson")
    np.testing.assert_array_equal(noisy[1:4], flux[1:4])
    np.testing.assert_array_equal(ivar[1:4], 0)


def test_core_rechecks_shapes():
    with pytest.raises(ValueError, match="sigma"):
        _core.add_noise(GOOD, np.ones((3, 3)), 1, 0, 0, 1)
    with pytest.raises(ValueError, match="offset"):
        _core.add_noise(GOOD, np.ones((1, 1)), 1, 2**64 - 1, 0, 1)


def test_docstring_examples():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(kernels_module.add_noise, "add_noise", globs={}):
        runner.run(test)
    assert runner.failures == 0
    assert runner.tries > 0
