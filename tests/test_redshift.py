"""deepz.redshift against its numpy reference, physics checks and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference_redshift import edges_from_centres
from reference_redshift import redshift as redshift_ref

from deepz import _core, grids, redshift
from deepz.kernels import _redshift_dloglam

H_ALPHA = 6564.61  # Angstrom, vacuum
SCALES = ["flambda", "fnu", "none"]


def tol(dtype):
    return {"rtol": 1e-10, "atol": 0.0} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-30}


def log_grid(start, dloglam, n):
    return 10.0 ** (np.log10(start) + dloglam * np.arange(n))


def general_path(templates, rest, index, z, obs, scale="flambda", fill=np.nan, threads=1):
    """The compiled kernel with the log-lambda shortcut turned off."""
    mode = {"none": 0, "flambda": 1, "fnu": 2}[scale]
    tmpl = np.atleast_2d(templates)
    return _core.redshift(
        tmpl,
        rest,
        np.asarray(index, np.int64),
        np.asarray(z, np.float64),
        obs,
        mode,
        fill,
        False,
        threads,
    )


def fast_path(templates, rest, index, z, obs, scale="flambda", fill=np.nan, threads=1):
    mode = {"none": 0, "flambda": 1, "fnu": 2}[scale]
    tmpl = np.atleast_2d(templates)
    return _core.redshift(
        tmpl,
        rest,
        np.asarray(index, np.int64),
        np.asarray(z, np.float64),
        obs,
        mode,
        fill,
        True,
        threads,
    )


# -- hand-made cases -------------------------------------------------------------------


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("threads", [1, 2])
def test_matches_reference(dtype, scale, threads, rng):
    rest = np.cumsum(rng.uniform(0.5, 2.0, 300)) + 1000.0
    obs = np.cumsum(rng.uniform(1.0, 3.0, 200)) + 1200.0
    templates = rng.uniform(0.1, 2.0, (4, rest.size)).astype(dtype)
    index = rng.integers(0, 4, 25)
    z = rng.uniform(0.0, 0.6, 25)
    got = redshift(templates, rest, index, z, obs, scale=scale, threads=threads)
    want = redshift_ref(templates, rest, index, z, obs, scale=scale)
    assert got.dtype == dtype
    assert got.shape == (25, obs.size)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, **tol(dtype))
    assert np.isfinite(got).any()
    assert np.isnan(got).any()  # the grids are chosen so that some bins are uncovered


def test_z0_same_grid_returns_template_exactly(dtype, rng):
    rest = np.cumsum(rng.uniform(0.5, 2.0, 500)) + 3000.0
    templates = rng.uniform(-1.0, 5.0, (3, rest.size)).astype(dtype)
    got = redshift(templates, rest, [0, 1, 2], 0.0, rest, scale="none")
    np.testing.assert_array_equal(got, templates)
    # on a log grid too (the log-lambda sweep)
    rest = log_grid(3600.0, 1e-4, 500)
    np.testing.assert_array_equal(
        redshift(templates, rest, [2, 0], 0, rest, scale="none"), templates[[2, 0]]
    )


@pytest.mark.parametrize("z", [0.0, 0.137, 0.5, 1.0, 2.71])
@pytest.mark.parametrize("scale", ["flambda", "none"])
def test_delta_line_lands_and_conserves_flux(dtype, z, scale):
    rest = np.arange(3000.0, 8000.0, 0.5)
    obs = np.arange(3000.0, 30000.0, 1.3)
    line = 5000.5
    template = np.zeros(rest.size, dtype)
    i = np.argmin(np.abs(rest - line))
    assert rest[i] == line
    template[i] = 1.0
    width_rest = 0.5
    f = redshift(template, rest, 0, z, obs, scale=scale, fill=0.0).astype(np.float64)
    width_obs = np.diff(edges_from_centres(obs))
    integral = np.sum(f * width_obs)
    expected = width_rest * (1.0 + z if scale == "none" else 1.0)
    np.testing.assert_allclose(integral, expected, rtol=1e-6)
    centroid = np.sum(f * width_obs * obs) / integral
    assert abs(centroid - line * (1.0 + z)) < 0.25 * 1.3  # a fraction of an observed pixel
    assert np.count_nonzero(f) <= np.ceil(width_rest * (1 + z) / 1.3) + 2


@pytest.mark.parametrize("scale", SCALES)
def test_flat_template_stays_flat(dtype, scale, rng):
    rest = np.cumsum(rng.uniform(0.2, 3.0, 2000)) + 900.0
    obs = np.cumsum(rng.uniform(0.5, 2.0, 1500)) + 2000.0
    z = rng.uniform(0.0, 1.5, 30)
    flat = np.full(rest.size, 2.5, dtype)
    got = redshift(flat, rest, 0, z, obs, scale=scale)
    factor = {"flambda": 1.0 / (1.0 + z), "fnu": 1.0 + z, "none": np.ones_like(z)}[scale]
    expected = 2.5 * np.broadcast_to(factor[:, None], got.shape).astype(dtype)
    covered = ~np.isnan(got)
    assert covered.sum() > 0.5 * got.size
    if scale == "none":
        np.testing.assert_array_equal(got[covered], dtype(2.5))  # exactly, not nearly
    np.testing.assert_allclose(
        got[covered], expected[covered], rtol=2e-7 if dtype == np.float32 else 1e-15
    )


@pytest.mark.parametrize("fill", [np.nan, 0.0, -7.5])
def test_uncovered_bins_get_fill(dtype, fill):
    rest = np.arange(1000.0, 2000.0, 1.0)  # edges 999.5 .. 1999.5
    obs = np.arange(1500.0, 4500.0, 1.0)  # edges 1499.5 .. 4499.5
    z = 0.5  # rest edges land on 1499.25 .. 2999.25
    got = redshift(np.ones(rest.size, dtype), rest, 0, z, obs, scale="none", fill=fill)
    lo, hi = edges_from_centres(obs)[:-1] / 1.5, edges_from_centres(obs)[1:] / 1.5
    inside = (lo >= 999.5) & (hi <= 1999.5)
    assert inside.any()
    assert (~inside).any()
    np.testing.assert_array_equal(got[inside], dtype(1.0))
    np.testing.assert_array_equal(got[~inside], np.full((~inside).sum(), fill, dtype))


def test_partial_bin_at_the_edge_is_not_covered(dtype):
    rest = np.array([10.0, 11.0, 12.0])  # edges 9.5 .. 12.5
    obs = np.array([10.0, 12.0])  # edges 9 .. 13
    got = redshift(np.ones(3, dtype), rest, 0, 0.0, obs, scale="none")
    assert np.isnan(got).all()
    got = redshift(np.ones(3, dtype), rest, 0, 0.0, np.array([10.25, 11.0, 11.75]), scale="none")
    np.testing.assert_array_equal(got, dtype(1.0))


def test_nan_template_pixels_are_masked_not_spread(dtype, rng):
    rest = np.arange(1000.0, 1100.0, 1.0)
    template = rng.uniform(1.0, 2.0, rest.size).astype(dtype)
    template[40] = np.nan
    template[60:63] = np.nan
    obs = np.arange(1000.0, 1150.0, 0.7)
    for z in (0.0, 0.03, 0.2):
        got = redshift(template, rest, 0, z, obs, fill=-1.0)
        want = redshift_ref(template, rest, 0, z, obs, fill=-1.0)
        assert not np.isnan(got).any()  # masked, never spread
        np.testing.assert_allclose(got, want, **tol(dtype))
    # an observed bin that sees only masked pixels gets fill
    got = redshift(template, rest, 0, 0.0, rest, fill=-1.0, scale="none")
    np.testing.assert_array_equal(got[60:63], dtype(-1.0))
    np.testing.assert_array_equal(
        np.delete(got, [40, 60, 61, 62]), np.delete(template, [40, 60, 61, 62])
    )


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_output_dtype_follows_templates(dt):
    rest = np.linspace(1000.0, 2000.0, 101)
    out = redshift(np.ones((2, 101), dt), rest, [0, 1], [0.1, 0.2], rest[10:60])
    assert out.dtype == dt
    assert out.flags.c_contiguous


def test_threads_do_not_change_the_result(dtype, rng):
    rest = log_grid(1000.0, 1e-4, 3000)
    obs = np.arange(3600.0, 9800.0, 0.8)
    templates = rng.uniform(0.0, 1.0, (5, rest.size)).astype(dtype)
    index = rng.integers(0, 5, 101)
    z = rng.uniform(0.0, 1.5, 101)
    one = redshift(templates, rest, index, z, obs, threads=1)
    two = redshift(templates, rest, index, z, obs, threads=2)
    np.testing.assert_array_equal(one, two)


def test_scalar_index_and_z_broadcast(rng):
    rest = np.linspace(1000.0, 2000.0, 201)
    obs = np.linspace(1200.0, 1800.0, 50)
    templates = rng.uniform(0.0, 1.0, (3, 201))
    z = np.array([0.0, 0.1, 0.2])
    np.testing.assert_array_equal(
        redshift(templates, rest, 1, z, obs), redshift(templates, rest, [1, 1, 1], z, obs)
    )
    np.testing.assert_array_equal(
        redshift(templates, rest, [0, 2], 0.1, obs),
        redshift(templates, rest, [0, 2], [0.1, 0.1], obs),
    )
    single = redshift(templates, rest, 2, 0.1, obs)
    assert single.shape == (50,)
    np.testing.assert_array_equal(single, redshift(templates, rest, [2], [0.1], obs)[0])


def test_decreasing_grids_are_flipped(dtype, rng):
    rest = np.cumsum(rng.uniform(0.5, 2.0, 300)) + 1000.0
    obs = np.cumsum(rng.uniform(1.0, 3.0, 150)) + 1100.0
    templates = rng.uniform(0.0, 1.0, (2, rest.size)).astype(dtype)
    z = [0.05, 0.2]
    want = redshift(templates, rest, [0, 1], z, obs)
    got = redshift(templates[:, ::-1], rest[::-1], [0, 1], z, obs)
    np.testing.assert_array_equal(got, want)
    got = redshift(templates, rest, [0, 1], z, obs[::-1])
    np.testing.assert_array_equal(got, want[:, ::-1])


def test_negative_z_blueshifts(dtype, rng):
    rest = np.arange(4000.0, 6000.0, 1.0)
    obs = np.arange(3000.0, 5000.0, 1.5)
    templates = rng.uniform(0.0, 1.0, (1, rest.size)).astype(dtype)
    got = redshift(templates, rest, 0, [-0.2, -0.05], obs)
    want = redshift_ref(templates, rest, [0, 0], [-0.2, -0.05], obs)
    np.testing.assert_allclose(got, want, **tol(dtype))


# -- the log-lambda shortcut ----------------------------------------------------------


def test_loglam_grids_are_detected():
    assert _redshift_dloglam(log_grid(3600.0, 1e-4, 5000)) == pytest.approx(1e-4, rel=1e-9)
    assert _redshift_dloglam(np.arange(3600.0, 9800.0, 0.8)) is None
    wobbly = log_grid(3600.0, 1e-4, 5000)
    wobbly[2000] *= 1.0 + 1e-8
    assert _redshift_dloglam(wobbly) is None


@pytest.mark.parametrize("scale", SCALES)
def test_fast_path_equals_general_path(dtype, scale, rng):
    rest = log_grid(1000.0, 1e-4, 10000)
    obs = log_grid(3600.0, 1e-4, 4000)  # the same dloglam, another start
    templates = rng.uniform(0.0, 3.0, (6, rest.size)).astype(dtype)
    templates[2, 5000:5010] = np.nan
    index = rng.integers(0, 6, 300)
    z = np.concatenate(
        [
            rng.uniform(-0.2, 2.0, 290),
            [0.0, 1e-12, -1e-12, 0.5, 1.0, 2.0, 3.0, 10.0, -0.7, 10**1e-4 - 1],
        ]
    )
    fast = fast_path(templates, rest, index, z, obs, scale=scale)
    slow = general_path(templates, rest, index, z, obs, scale=scale)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
    np.testing.assert_allclose(fast, slow, rtol=1e-14 if dtype == np.float64 else 1e-6, atol=0)
    public = redshift(templates, rest, index, z, obs, scale=scale)
    np.testing.assert_array_equal(public, fast)


def test_fast_path_matches_reference_on_pixel_shifts(dtype, rng):
    # z chosen so that the shift is an exact whole number of pixels (the delicate case)
    rest = log_grid(3000.0, 2e-4, 800)
    obs = log_grid(3500.0, 2e-4, 600)
    templates = rng.uniform(0.5, 1.5, (2, rest.size)).astype(dtype)
    z = 10.0 ** (2e-4 * np.array([0, 1, 7, 150, 333])) - 1.0
    z = np.concatenate([z, z + 1e-15, z - 1e-15])
    index = np.arange(z.size) % 2
    got = redshift(templates, rest, index, z, obs)
    want = redshift_ref(templates, rest, index, z, obs)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, **tol(dtype))


def test_fast_flag_on_a_linear_grid_falls_back_to_the_general_path(rng):
    rest = np.arange(1000.0, 5000.0, 1.0)
    obs = np.arange(2000.0, 8000.0, 1.0)
    templates = rng.uniform(0.0, 1.0, (1, rest.size))
    z = rng.uniform(0.0, 1.0, 20)
    np.testing.assert_array_equal(
        fast_path(templates, rest, np.zeros(20), z, obs),
        general_path(templates, rest, np.zeros(20), z, obs),
    )


# -- the window sweep (linear rest grids) ------------------------------------------------
# On a linear rest grid each observed bin overlaps rest pixels at a computable
# offset: the kernel adds a fixed window of them, 4 bins at a time (AVX2), and
# checks that the window held; it must give the general sweep's bits.


def window_path(templates, rest, index, z, obs, scale="flambda", fill=np.nan, threads=1, window=1):
    mode = {"none": 0, "flambda": 1, "fnu": 2}[scale]
    tmpl = np.atleast_2d(templates)
    return _core.redshift(
        tmpl,
        rest,
        np.asarray(index, np.int64),
        np.asarray(z, np.float64),
        obs,
        mode,
        fill,
        False,
        threads,
        window,
    )


def _bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def _redshift_isas():
    isas = ["baseline"]
    if _core._redshift_isa("auto") == "avx2":
        isas.append("auto")
    return isas


def _linear_cases(rng, dtype):
    """Linear rest grids (exact, linspace, jittered by 0.1 pixel) with assorted observed grids."""
    for rest_kind in ("arange", "linspace", "jitter"):
        for obs_ratio in (1.0, 0.45, 2.0, 3.5):
            step = float(rng.choice([5.0, 0.8, 1.7]))
            rest = 1200.0 + step * np.arange(400)
            if rest_kind == "linspace":
                rest = np.linspace(1200.0, 1200.0 + 399 * step, 400)
            elif rest_kind == "jitter":
                rest = rest + rng.uniform(-0.1, 0.1, 400) * step
            obs = 1500.0 + obs_ratio * step * np.arange(300)
            t = rng.normal(1.0, 1.0, (4, 400)).astype(dtype)
            t[1, rng.random(400) < 0.05] = np.nan
            t[2, rng.random(400) < 0.2] = -0.0
            t[3] = 2.5
            z = np.concatenate([rng.uniform(-0.3, 2.5, 60), [0.0, 1.0, 1.8, -0.5, 4.0]])
            yield rest, obs, t, rng.integers(0, 4, z.size), z


@pytest.mark.parametrize("isa", _redshift_isas())
@pytest.mark.parametrize("scale", SCALES)
def test_window_sweep_equals_general_path(isa, scale, dtype, rng):
    try:
        assert _core._redshift_isa(isa) in ("avx2", "baseline")
        for rest, obs, t, index, z in _linear_cases(rng, dtype):
            slow = general_path(t, rest, index, z, obs, scale=scale)
            for window in (1, 2):  # 2: a 2-pixel window imposed, redone where it misses
                for threads in (1, 2):
                    got = window_path(
                        t, rest, index, z, obs, scale=scale, threads=threads, window=window
                    )
                    np.testing.assert_array_equal(_bits(got), _bits(slow))
    finally:
        _core._redshift_isa("auto")


def test_window_sweep_on_the_euclid_grids(dtype, rng):
    """Stivaktakis et al.: 3750 rest bins of 5 A onto NISP's 1800, z in [1, 1.8)."""
    rest, obs = grids.preset("euclid_rest"), grids.preset("euclid_nisp")
    t = rng.uniform(0.1, 3.0, (5, rest.size)).astype(dtype)
    t[4, 1000:1003] = np.nan
    index = rng.integers(0, 5, 400)
    z = np.concatenate([rng.uniform(1.0, 1.8, 396), [1.0, 1.8, 0.0, 0.5]])
    slow = general_path(t, rest, index, z, obs)
    try:
        for isa in _redshift_isas():
            _core._redshift_isa(isa)
            np.testing.assert_array_equal(_bits(redshift(t, rest, index, z, obs)), _bits(slow))
    finally:
        _core._redshift_isa("auto")


def test_redshift_isa_switch_refuses_unknown_names():
    with pytest.raises(ValueError, match="isa"):
        _core._redshift_isa("sse9")
    assert _core._redshift_isa() in ("avx2", "baseline")


def test_core_refuses_a_bad_window_mode():
    rest = np.arange(1000.0, 1100.0)
    with pytest.raises(ValueError, match="window"):
        window_path(np.ones((1, 100)), rest, [0], [0.0], rest, window=3)


# -- hypothesis -------------------------------------------------------------------------


@st.composite
def problems(draw, loglam=False, linear=False):
    seed = draw(st.integers(0, 2**32 - 1))
    r = np.random.default_rng(seed)
    k = draw(st.integers(1, 5))
    m_rest = draw(st.integers(3, 60))
    n = draw(st.integers(1, 6))
    p = draw(st.integers(2, 40))
    if loglam:
        d = draw(st.floats(1e-4, 2e-2))
        rest = log_grid(r.uniform(500.0, 1500.0), d, m_rest)
        obs = log_grid(r.uniform(500.0, 3000.0), d, p)
    elif linear:
        d = draw(st.floats(0.1, 10.0))
        rest = r.uniform(500.0, 1500.0) + d * np.arange(m_rest)
        obs = r.uniform(500.0, 3000.0) + d * draw(st.floats(0.2, 4.0)) * np.arange(p)
    else:
        rest = r.uniform(500.0, 1500.0) + np.cumsum(r.uniform(0.1, 10.0, m_rest))
        obs = r.uniform(500.0, 3000.0) + np.cumsum(r.uniform(0.1, 10.0, p))
    templates = r.uniform(0.01, 10.0, (k, m_rest))
    index = r.integers(0, k, n)
    z = r.uniform(0.0, 3.0, n)
    return templates, rest, index, z, obs


@given(
    problem=problems(),
    scale=st.sampled_from(SCALES),
    threads=st.sampled_from([1, 2]),
    single=st.booleans(),
)
def test_hypothesis_vs_reference(problem, scale, threads, single):
    templates, rest, index, z, obs = problem
    for dtype in (np.float32, np.float64):
        t = templates.astype(dtype)
        got = redshift(t, rest, index, z, obs, scale=scale, threads=threads)
        want = redshift_ref(t, rest, index, z, obs, scale=scale)
        assert got.dtype == dtype
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, **tol(dtype))


@given(
    problem=problems(linear=True), scale=st.sampled_from(SCALES), threads=st.sampled_from([1, 2])
)
def test_hypothesis_linear_vs_reference_and_general_path(problem, scale, threads):
    templates, rest, index, z, obs = problem
    z = z - 0.5  # blueshifts too: wider windows
    for dtype in (np.float32, np.float64):
        t = templates.astype(dtype)
        got = redshift(t, rest, index, z, obs, scale=scale, threads=threads)
        want = redshift_ref(t, rest, index, z, obs, scale=scale)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, **tol(dtype))
        np.testing.assert_array_equal(
            _bits(got), _bits(general_path(t, rest, index, z, obs, scale=scale))
        )


@given(problem=problems(loglam=True), scale=st.sampled_from(SCALES))
def test_hypothesis_loglam_vs_reference(problem, scale):
    templates, rest, index, z, obs = problem
    got = redshift(templates, rest, index, z, obs, scale=scale)
    want = redshift_ref(templates, rest, index, z, obs, scale=scale)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_array_equal(got, general_path(templates, rest, index, z, obs, scale=scale))


# -- physics: the Euclid set-up ---------------------------------------------------------


def test_euclid_halpha_lands_in_its_pixel(dtype, rng):
    rest = np.arange(1255.0, 20000.0 + 1.0, 5.0)  # 3750 bins, edges 1252.5 .. 20002.5
    obs = np.arange(11002.5, 20000.0, 5.0)  # 1800 bins of 5 A over 11000 .. 20000
    assert rest.size == 3750
    assert obs.size == 1800
    assert edges_from_centres(rest)[[0, -1]].tolist() == [1252.5, 20002.5]
    # An unresolved line of unit flux, deposited on the two nearest rest pixels so that
    # its centroid is exactly 6564.61 A (cloud in cell).
    i = np.searchsorted(rest, H_ALPHA)
    right = (H_ALPHA - rest[i - 1]) / 5.0
    template = np.zeros(rest.size)
    template[i - 1], template[i] = (1.0 - right) / 5.0, right / 5.0
    z = np.sort(rng.uniform(1.0, 1.8, 400))
    f = redshift(template.astype(dtype), rest, 0, z, obs).astype(np.float64)
    assert np.isfinite(f).all()  # rest covers 11000/2.8 .. 20000/2
    np.testing.assert_allclose(f.sum(axis=1) * 5.0, 1.0, rtol=1e-6)  # flux conserved
    centroid = (f * obs).sum(axis=1) / f.sum(axis=1)
    observed = H_ALPHA * (1.0 + z)
    assert np.all(np.abs(centroid - observed) < 0.1 * 5.0)
    pixel = np.floor((observed - 11000.0) / 5.0).astype(int)  # the pixel holding the line
    assert np.all(f[np.arange(z.size), pixel] > 0.0)
    away_from_edges = np.abs((observed - 11000.0) / 5.0 - np.round((observed - 11000.0) / 5.0))
    clear = away_from_edges > 0.1
    assert clear.sum() > 300
    centroid_pixel = np.floor((centroid - 11000.0) / 5.0).astype(int)
    np.testing.assert_array_equal(centroid_pixel[clear], pixel[clear])


# -- bad inputs -------------------------------------------------------------------------


@pytest.fixture
def good():
    rest = np.linspace(1000.0, 2000.0, 101)
    return {
        "templates": np.ones((3, 101)),
        "rest_wave": rest,
        "index": [0, 2],
        "z": [0.1, 0.2],
        "obs_wave": np.linspace(1200.0, 1800.0, 40),
    }


def call(good, **change):
    return redshift(**{**good, **change})


def test_good_call_works(good):
    assert call(good).shape == (2, 40)


@pytest.mark.parametrize("bad", [3, -1, 99])
def test_index_out_of_range(good, bad):
    with pytest.raises(ValueError, match=rf"index must be in \[0, 3\).*got {bad}"):
        call(good, index=[0, bad])


def test_index_not_integer(good):
    with pytest.raises(TypeError, match="index"):
        call(good, index=[0.0, 1.0])


def test_index_2d(good):
    with pytest.raises(ValueError, match="index"):
        call(good, index=[[0, 1]])


@pytest.mark.parametrize("bad", [-1.0, -2.0, np.nan, np.inf])
def test_z_out_of_range(good, bad):
    with pytest.raises(ValueError, match="z must be finite and > -1"):
        call(good, z=[0.1, bad])


def test_z_not_real(good):
    with pytest.raises(TypeError, match="z"):
        call(good, z=np.array([0.1 + 1j, 0.2]))


def test_index_and_z_lengths_differ(good):
    with pytest.raises(ValueError, match=r"index and z must have the same length"):
        call(good, z=[0.1, 0.2, 0.3])


def test_empty_batch(good):
    with pytest.raises(ValueError, match="empty batch"):
        call(good, index=np.array([], dtype=int), z=np.array([]))


@pytest.mark.parametrize("bad", ["flam", "FLAMBDA", None, 1])
def test_bad_scale(good, bad):
    with pytest.raises(ValueError, match="scale must be one of"):
        call(good, scale=bad)


def test_templates_int_dtype(good):
    with pytest.raises(TypeError, match="templates"):
        call(good, templates=np.ones((3, 101), dtype=np.int64))


def test_templates_3d(good):
    with pytest.raises(ValueError, match="templates"):
        call(good, templates=np.ones((1, 3, 101)))


def test_templates_empty(good):
    with pytest.raises(ValueError, match="templates"):
        call(good, templates=np.ones((0, 101)))


def test_templates_do_not_match_rest_wave(good):
    with pytest.raises(ValueError, match="templates must have one value per rest_wave pixel"):
        call(good, templates=np.ones((3, 100)))


def test_rest_wave_not_monotonic(good):
    rest = good["rest_wave"].copy()
    rest[50] = rest[48]
    with pytest.raises(ValueError, match="rest_wave must be strictly increasing"):
        call(good, rest_wave=rest)


def test_obs_wave_nan(good):
    obs = good["obs_wave"].copy()
    obs[3] = np.nan
    with pytest.raises(ValueError, match="obs_wave must be finite"):
        call(good, obs_wave=obs)


def test_obs_wave_2d(good):
    with pytest.raises(ValueError, match="obs_wave must have shape"):
        call(good, obs_wave=np.tile(good["obs_wave"], (2, 1)))


def test_obs_wave_one_pixel(good):
    with pytest.raises(ValueError, match="obs_wave needs at least 2 pixels"):
        call(good, obs_wave=[1500.0])


def test_wave_not_positive(good):
    with pytest.raises(ValueError, match="rest_wave must be > 0"):
        call(good, rest_wave=np.linspace(-10.0, 2000.0, 101))


def test_fill_not_a_number(good):
    with pytest.raises(TypeError, match="fill"):
        call(good, fill="zero")


def test_threads_zero(good):
    with pytest.raises(ValueError, match="threads"):
        call(good, threads=0)


def test_core_rechecks_shapes():
    rest = np.linspace(1000.0, 2000.0, 11)
    with pytest.raises(ValueError, match="index"):
        _core.redshift(
            np.ones((1, 11)), rest, np.array([1]), np.array([0.0]), rest, 1, np.nan, False, 1
        )
    with pytest.raises(ValueError, match="rest_wave"):
        _core.redshift(
            np.ones((1, 10)), rest, np.array([0]), np.array([0.0]), rest, 1, np.nan, False, 1
        )
