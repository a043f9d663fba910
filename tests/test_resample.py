"""Tests of deepz.kernels.resample against the numpy reference and SpectRes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference_resample import resample as ref_resample

from deepz import _core
from deepz.kernels import resample

TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}


def tol(dtype, scale=1.0):
    t = TOL[np.dtype(dtype).type]
    return {"rtol": t["rtol"], "atol": t["atol"] * scale}


def log_grid(lo, hi, m):
    return np.geomspace(lo, hi, m)


def both_isas():
    """The instruction sets this build can run (results must not depend on it)."""
    isas = ["baseline"]
    if _core._resample_isa() == "avx2":
        isas.append("auto")
    return isas


@pytest.fixture
def isa(request):
    yield request.param
    _core._resample_isa("auto")


# ----------------------------------------------------------------------------- hand-made


@pytest.mark.parametrize("method", ["flux", "linear"])
def test_identity_grid_returns_input(method, dtype, rng):
    wave = log_grid(4000.0, 9000.0, 300)
    flux = rng.normal(size=(5, 300)).astype(dtype)
    ivar = rng.uniform(0.5, 2.0, size=(5, 300)).astype(dtype)
    out, out_ivar = resample(wave, flux, wave, ivar=ivar, method=method)
    np.testing.assert_array_equal(out, flux)
    np.testing.assert_allclose(out_ivar, ivar, rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("method", ["flux", "linear"])
@pytest.mark.parametrize("value", [1.0, 4.0, 0.25])
def test_flat_spectrum_of_a_power_of_two_is_exact(method, value, dtype):
    wave = log_grid(3700.0, 9200.0, 400)
    new_wave = np.linspace(4000.0, 9000.0, 333)  # no edge of it on an input edge
    flux = np.full((6, 400), value, dtype=dtype)
    out, out_ivar = resample(wave, flux, new_wave, ivar=np.ones_like(flux), method=method)
    np.testing.assert_array_equal(out, value)
    assert np.all(out_ivar > 0)


def test_flat_spectrum_of_any_constant(dtype):
    wave = log_grid(3700.0, 9200.0, 400)
    new_wave = np.linspace(4000.0, 9000.0, 333)
    out = resample(wave, np.full(400, 3.7, dtype=dtype), new_wave)
    if dtype == np.float32:  # a few double ulps round to the float32 constant
        np.testing.assert_array_equal(out, np.float32(3.7))
    else:
        np.testing.assert_allclose(out, 3.7, rtol=4 * np.finfo(np.float64).eps, atol=0)


def test_flux_is_conserved_on_a_covered_range(dtype, rng):
    # Input: 1 A pixels, edges 3999.5 ... 5000.5; output: 2.5 A bins whose
    # edges run from 3999.5 to 4999.5, so both integrate the same range.
    wave = np.arange(4000.0, 5001.0)
    new_wave = 4000.75 + 2.5 * np.arange(400)
    flux = rng.uniform(0.5, 3.0, size=(3, wave.size)).astype(dtype)
    out = resample(wave, flux, new_wave)
    assert np.all(np.isfinite(out))
    before = flux[:, :1000].astype(float).sum(axis=1) * 1.0
    after = out.astype(float).sum(axis=1) * 2.5
    np.testing.assert_allclose(after, before, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_flux_is_conserved_on_a_log_grid(rng):
    # Log input grid, linear output grid inside it: the integral over the
    # output range equals the input integral with partial end pixels.
    wave = log_grid(3700.0, 9200.0, 4000)
    new_wave = np.linspace(4000.0, 9000.0, 5001)
    flux = rng.uniform(0.5, 3.0, size=wave.size)
    out = resample(wave, flux, new_wave)
    ein = np.concatenate(
        [
            [wave[0] - (wave[1] - wave[0]) / 2],
            (wave[1:] + wave[:-1]) / 2,
            [wave[-1] + (wave[-1] - wave[-2]) / 2],
        ]
    )
    lo, hi = 3999.5, 9000.5
    overlap = np.clip(np.minimum(ein[1:], hi) - np.maximum(ein[:-1], lo), 0, None)
    np.testing.assert_allclose(out.sum() * 1.0, np.sum(flux * overlap), rtol=1e-10)


def test_uncovered_bins_get_fill_and_zero_ivar(dtype):
    wave = np.arange(4000.0, 4101.0)  # edges 3999.5 ... 4100.5
    new_wave = np.arange(3990.0, 4111.0, 2.0)  # edges 3989 ... 4111
    flux = np.ones((5, wave.size), dtype=dtype)
    for fill in [np.nan, 0.0, -1.5]:
        out, out_ivar = resample(wave, flux, new_wave, ivar=flux, fill=fill)
        edges = np.arange(3989.0, 4112.0, 2.0)
        covered = (edges[:-1] >= 3999.5) & (edges[1:] <= 4100.5)
        assert 40 < covered.sum() < covered.size
        np.testing.assert_array_equal(out[:, covered], 1.0)
        np.testing.assert_array_equal(out[:, ~covered], np.asarray(fill, dtype=dtype))
        assert np.all(out_ivar[:, ~covered] == 0)
        assert np.all(out_ivar[:, covered] > 0)


def test_linear_edges():
    wave = np.arange(10.0, 20.0)
    flux = wave * 2.0
    new_wave = np.array([9.5, 10.0, 12.25, 19.0, 19.5])
    out = resample(wave, flux, new_wave, method="linear", fill=-1.0)
    np.testing.assert_array_equal(out, [-1.0, 20.0, 24.5, 38.0, -1.0])
    out1 = resample(wave, flux, [15.5], method="linear")  # one point is enough
    np.testing.assert_array_equal(out1, [31.0])


def test_linear_variance_propagation():
    wave = np.array([1.0, 2.0, 3.0])
    flux = np.array([0.0, 1.0, 2.0])
    ivar = np.array([1.0, 4.0, 0.25])
    out, out_ivar = resample(wave, flux, [1.25, 2.5], ivar=ivar, method="linear")
    np.testing.assert_allclose(out, [0.25, 1.5])
    np.testing.assert_allclose(out_ivar, [1 / (0.75**2 + 0.25**2 / 4), 1 / (0.25 / 4 + 0.25 * 4)])


@pytest.mark.parametrize("nspec", [1, 4, 7])
def test_masked_pixels_do_not_contribute(nspec, dtype, rng):
    wave = np.arange(1000.0, 1100.0)
    new_wave = np.arange(1010.5, 1090.0, 3.0)
    flux = rng.normal(size=(nspec, 100)).astype(dtype)
    ivar = rng.uniform(1.0, 2.0, size=(nspec, 100)).astype(dtype)
    s = nspec - 1  # the last spectrum carries the masks
    ivar[s, 30] = 0.0  # masked by ivar
    flux[s, 50] = 1e30  # masked by ivar, with an absurd value that must not leak
    ivar[s, 50] = 0.0
    flux[s, 60] = np.nan  # NaN flux: masked
    flux[s, 70] = np.inf  # inf flux: masked
    ivar[s, 80] = np.inf  # inf ivar: masked
    ivar[s, 85] = np.nan  # NaN ivar: masked
    ivar[s, 40:46] = 0.0  # a fully masked stretch: output bins there get fill
    out, out_ivar = resample(wave, flux, new_wave, ivar=ivar, fill=-7.0)
    ref, ref_ivar = ref_resample(wave, flux, new_wave, ivar=ivar, fill=-7.0)
    np.testing.assert_allclose(out, ref, **tol(dtype))
    np.testing.assert_allclose(out_ivar, ref_ivar, **tol(dtype, 2.0))
    new_edges = new_wave - 1.5
    flagged = (new_edges >= 1039.5) & (new_edges + 3 <= 1045.5)
    assert flagged.any()
    np.testing.assert_array_equal(out[s, flagged], -7.0)
    np.testing.assert_array_equal(out_ivar[s, flagged], 0.0)
    assert np.all(np.abs(out[s]) < 10)  # nothing spread
    assert np.all(out_ivar[s, ~flagged] > 0)
    # Unmasked spectra in the same batch are untouched by the masks of another.
    if nspec > 1:
        alone = resample(wave, flux[0], new_wave, ivar=ivar[0])
        np.testing.assert_array_equal(out[0], alone[0])


def test_a_partly_masked_bin_is_the_mean_of_its_valid_part():
    wave = np.arange(100.0, 110.0)
    flux = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    ivar = np.ones(10)
    ivar[4] = 0.0
    out, out_ivar = resample(wave, flux, [102.0, 105.0, 108.0], ivar=ivar)  # 3-pixel bins
    np.testing.assert_allclose(out, [3.0, 6.5, 9.0])
    np.testing.assert_allclose(out_ivar, [3.0, 2.0, 3.0])


def test_nan_flux_without_ivar_is_masked_not_spread():
    wave = np.arange(100.0, 110.0)  # edges 99.5 ... 109.5
    flux = np.arange(1.0, 11.0)
    flux[4] = np.nan  # pixel 103.5-104.5
    out = resample(wave, flux, [101.5, 103.5, 105.5, 107.5])  # 2 A bins from 100.5
    np.testing.assert_array_equal(out, [2.5, 4.0, 6.5, 8.5])
    out = resample(wave, flux, [103.0, 104.0, 105.0], fill=-1.0)  # the middle bin is the NaN
    np.testing.assert_array_equal(out, [4.0, -1.0, 6.0])


def test_linear_masked_neighbour_rule():
    wave = np.arange(10.0, 16.0)
    flux = np.arange(6.0)
    ivar = np.ones(6)
    ivar[2] = 0.0
    out, out_ivar = resample(
        wave, flux, [11.0, 11.5, 12.0, 13.0, 13.5, 14.5], ivar=ivar, method="linear", fill=-1.0
    )
    # 11.0 sits on a valid pixel (weight 0 for the masked one): valid.
    np.testing.assert_array_equal(out, [1.0, -1.0, -1.0, 3.0, 3.5, 4.5])
    np.testing.assert_array_equal(out_ivar == 0, [False, True, True, False, False, False])


@pytest.mark.parametrize("method", ["flux", "linear"])
@pytest.mark.parametrize(("flip_in", "flip_out"), [(True, False), (False, True), (True, True)])
def test_decreasing_grids_match_increasing(method, flip_in, flip_out, rng):
    wave = log_grid(4000.0, 5000.0, 200)
    new_wave = np.linspace(4050.0, 4950.0, 150)
    flux = rng.normal(size=(6, 200))
    ivar = rng.uniform(0.5, 2.0, size=(6, 200))
    ivar[2, 17] = 0.0
    expect, expect_ivar = resample(wave, flux, new_wave, ivar=ivar, method=method)
    w, f, iv = (wave[::-1], flux[:, ::-1], ivar[:, ::-1]) if flip_in else (wave, flux, ivar)
    nw = new_wave[::-1] if flip_out else new_wave
    out, out_ivar = resample(w, f, nw, ivar=iv, method=method)
    if flip_out:
        out, out_ivar = out[:, ::-1], out_ivar[:, ::-1]
    np.testing.assert_array_equal(out, expect)
    np.testing.assert_array_equal(out_ivar, expect_ivar)
    assert np.isfinite(out).sum() >= out.size - 2  # never all-NaN in silence (SpectRes #6)


@pytest.mark.parametrize("method", ["flux", "linear"])
@pytest.mark.parametrize("which", ["wave", "new_wave", "both"])
def test_per_spectrum_grids(method, which, dtype, rng):
    n, m, p = 6, 120, 80
    base = log_grid(4000.0, 6000.0, m)
    z = rng.uniform(0.0, 0.05, size=(n, 1))
    wave = base * (1 + z) if which in ("wave", "both") else base
    new_base = np.linspace(4300.0, 5900.0, p)
    new_wave = new_base + rng.uniform(-50, 50, size=(n, 1)) if which != "wave" else new_base
    flux = rng.normal(size=(n, m)).astype(dtype)
    ivar = rng.uniform(0.5, 2.0, size=(n, m)).astype(dtype)
    ivar[1, 40:44] = 0.0
    out, out_ivar = resample(wave, flux, new_wave, ivar=ivar, method=method)
    ref, ref_ivar = ref_resample(wave, flux, new_wave, ivar=ivar, method=method)
    np.testing.assert_allclose(out, ref, **tol(dtype))
    np.testing.assert_allclose(out_ivar, ref_ivar, **tol(dtype, 10.0))
    for s in range(n):  # one at a time gives the same bits
        w = wave[s] if np.ndim(wave) == 2 else wave
        nw = new_wave[s] if np.ndim(new_wave) == 2 else new_wave
        one, one_ivar = resample(w, flux[s], nw, ivar=ivar[s], method=method)
        np.testing.assert_array_equal(one, out[s])
        np.testing.assert_array_equal(one_ivar, out_ivar[s])


def test_dtype_shape_and_return_convention(dtype, rng):
    wave = np.linspace(1000.0, 2000.0, 50)
    new_wave = np.linspace(1100.0, 1900.0, 30)
    flux = rng.normal(size=50).astype(dtype)
    out = resample(wave, flux, new_wave)
    assert out.dtype == dtype
    assert out.shape == (30,)
    out2, ivar2 = resample(wave, flux[None], new_wave, ivar=np.ones(50, dtype=dtype)[None])
    assert out2.dtype == ivar2.dtype == dtype
    assert out2.shape == ivar2.shape == (1, 30)
    assert out2.flags.c_contiguous
    assert ivar2.flags.c_contiguous
    np.testing.assert_array_equal(out2[0], out)
    # ivar of another float dtype is cast to the flux dtype
    _, ivar3 = resample(wave, flux, new_wave, ivar=np.ones(50, dtype=np.float64))
    assert ivar3.dtype == dtype
    # lists and float32 grids are fine: grids are float64 inside
    np.testing.assert_array_equal(
        resample(wave.astype(np.float32).tolist(), flux, new_wave.astype(np.float32)),
        resample(wave.astype(np.float32).astype(float), flux, new_wave.astype(np.float32)),
    )


@pytest.mark.parametrize("method", ["flux", "linear"])
def test_threads_and_instruction_sets_give_identical_bits(method, rng):
    wave = log_grid(3700.0, 9200.0, 700)
    new_wave = np.linspace(4000.0, 9000.0, 900)
    flux = rng.normal(size=(11, 700))
    ivar = rng.uniform(0.5, 2.0, size=(11, 700))
    ivar[3, 100:104] = 0.0
    flux[8, 300] = np.nan
    runs = []
    try:
        for isa in both_isas():
            _core._resample_isa(isa)
            for threads in (1, 2, 3):
                runs.append(
                    resample(wave, flux, new_wave, ivar=ivar, method=method, threads=threads)
                )
                runs.append((resample(wave, flux, new_wave, method=method, threads=threads),))
    finally:
        _core._resample_isa("auto")
    for run in runs[2::2]:
        np.testing.assert_array_equal(run[0], runs[0][0])
        np.testing.assert_array_equal(run[1], runs[0][1])
    for run in runs[3::2]:
        np.testing.assert_array_equal(run[0], runs[1][0])


def test_isa_switch_refuses_unknown_names():
    with pytest.raises(ValueError, match="isa"):
        _core._resample_isa("sse9")
    assert _core._resample_isa() in ("avx2", "baseline")


# ----------------------------------------------------------------------------- hypothesis


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 9))
    m = draw(st.integers(2, 60))
    p = draw(st.integers(2, 60))
    log_in = draw(st.booleans())
    per_spectrum = draw(st.booleans())
    lo = rng.uniform(3000.0, 5000.0)
    span = rng.uniform(50.0, 2000.0)

    def grid(k, start, width, log, jitter):
        base = (
            np.geomspace(start, start + width, k) if log else np.linspace(start, start + width, k)
        )
        if k > 2:
            step = np.diff(base).min()
            base = base + rng.uniform(-jitter, jitter, size=k) * step
        return np.sort(base)

    jitter = draw(st.sampled_from([0.0, 0.2, 0.45]))
    wave = grid(m, lo, span, log_in, jitter)
    if per_spectrum:
        wave = np.stack(
            [grid(m, lo + rng.uniform(-20, 20), span, log_in, jitter) for _ in range(n)]
        )
    new_lo = lo + rng.uniform(-0.2, 0.5) * span
    new_wave = grid(p, new_lo, rng.uniform(0.1, 1.2) * span, draw(st.booleans()), jitter)
    flux = rng.normal(size=(n, m)) * rng.uniform(0.1, 100.0)
    ivar = rng.uniform(0.1, 10.0, size=(n, m))
    mask_frac = draw(st.sampled_from([0.0, 0.1, 0.5]))
    ivar[rng.uniform(size=(n, m)) < mask_frac] = 0.0
    flux[rng.uniform(size=(n, m)) < mask_frac / 5] = np.nan
    return wave, flux, new_wave, ivar


def _distinct(grid):
    return np.all(np.diff(np.atleast_2d(grid), axis=1) > 0)


@pytest.mark.parametrize("method", ["flux", "linear"])
@given(
    prob=problems(), use_ivar=st.booleans(), as_f32=st.booleans(), threads=st.sampled_from([1, 2])
)
def test_matches_reference(method, prob, use_ivar, as_f32, threads):
    wave, flux, new_wave, ivar = prob
    if not (_distinct(wave) and _distinct(new_wave)):
        return  # jitter made two centres meet: not a grid
    dtype = np.float32 if as_f32 else np.float64
    flux = flux.astype(dtype)
    ivar = ivar.astype(dtype) if use_ivar else None
    got = resample(wave, flux, new_wave, ivar=ivar, method=method, fill=-99.0, threads=threads)
    want = ref_resample(wave, flux, new_wave, ivar=ivar, method=method, fill=-99.0)
    if ivar is None:
        got, want = (got,), (want,)
    scale = float(np.nanmax(np.abs(flux))) if np.isfinite(flux).any() else 1.0
    np.testing.assert_allclose(got[0], want[0], **tol(dtype, scale))
    np.testing.assert_array_equal(got[0] == -99.0, want[0] == -99.0)
    if ivar is not None:
        np.testing.assert_allclose(got[1], want[1], rtol=tol(dtype)["rtol"] * 10, atol=0)


# ----------------------------------------------------------------------------- peers


def test_values_and_errors_equal_spectres(rng):
    spectres = pytest.importorskip("spectres")
    wave = log_grid(3700.0, 9200.0, 1500)
    new_wave = np.linspace(4000.0, 9000.0, 1701)
    flux = rng.normal(size=(5, 1500))
    err = rng.uniform(0.2, 3.0, size=(5, 1500))
    out, out_ivar = resample(wave, flux, new_wave, ivar=1 / err**2)
    ref, ref_err = spectres.spectres(
        new_wave, wave, flux, spec_errs=err, fill=np.nan, verbose=False
    )
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(1 / np.sqrt(out_ivar), ref_err, rtol=1e-12)
    # Partly covered: the same bins are filled.
    wide = np.linspace(3600.0, 9300.0, 1201)
    out_w = resample(wave, flux, wide)
    ref_w = spectres.spectres(wide, wave, flux, fill=np.nan, verbose=False)
    np.testing.assert_array_equal(np.isnan(out_w), np.isnan(ref_w))
    np.testing.assert_allclose(out_w, ref_w, rtol=1e-12, atol=1e-12)


def test_values_and_errors_equal_spectresc(rng):
    spectresc = pytest.importorskip("spectresc")
    wave = log_grid(3700.0, 9200.0, 1000)
    new_wave = np.linspace(4000.0, 9000.0, 777)
    flux = rng.normal(size=(3, 1000))
    err = rng.uniform(0.2, 3.0, size=(3, 1000))
    out, out_ivar = resample(wave, flux, new_wave, ivar=1 / err**2)
    ref, ref_err = spectresc.spectres(new_wave, wave, flux, spec_errs=err, verbose=False)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(1 / np.sqrt(out_ivar), ref_err, rtol=1e-12)


# ----------------------------------------------------------------------------- bad inputs


WAVE = np.linspace(4000.0, 5000.0, 20)
NEW = np.linspace(4100.0, 4900.0, 10)
FLUX = np.ones((3, 20))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"flux": np.ones((3, 19))}, ValueError, "flux"),
        ({"flux": np.ones((2, 3, 20))}, ValueError, "flux"),
        ({"flux": np.ones((0, 20))}, ValueError, "flux"),
        ({"flux": np.ones((3, 20), dtype=np.int64)}, TypeError, "flux"),
        ({"flux": np.ones((3, 20), dtype=np.float16)}, TypeError, "flux"),
        ({"wave": np.where(np.arange(20) == 5, np.nan, WAVE)}, ValueError, "wave"),
        ({"wave": np.r_[WAVE[:10], WAVE[9], WAVE[11:]]}, ValueError, "wave"),
        ({"wave": np.r_[WAVE[:10], WAVE[12], WAVE[11], WAVE[13:]]}, ValueError, "wave"),
        ({"wave": np.tile(WAVE, (2, 1))}, ValueError, "wave"),
        ({"wave": WAVE[:1], "flux": np.ones((3, 1))}, ValueError, "wave"),
        ({"new_wave": np.tile(NEW, (2, 1))}, ValueError, "new_wave"),
        ({"new_wave": NEW[::-1].copy()[[0, 2, 1, 3, 4, 5, 6, 7, 8, 9]]}, ValueError, "new_wave"),
        ({"new_wave": np.where(np.arange(10) == 0, np.inf, NEW)}, ValueError, "new_wave"),
        ({"new_wave": NEW[:1]}, ValueError, "new_wave"),
        ({"ivar": np.ones((3, 19))}, ValueError, "ivar"),
        ({"ivar": -np.ones((3, 20))}, ValueError, "ivar"),
        ({"ivar": np.ones((3, 20), dtype=np.int32)}, TypeError, "ivar"),
        ({"method": "cubic"}, ValueError, "method"),
        ({"method": None}, ValueError, "method"),
        ({"fill": "nan"}, TypeError, "fill"),
        ({"fill": None}, TypeError, "fill"),
        ({"fill": True}, TypeError, "fill"),
        ({"threads": 0}, ValueError, "threads"),
        ({"threads": 1.5}, TypeError, "threads"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, error, match):
    args = {"wave": WAVE, "flux": FLUX, "new_wave": NEW} | kwargs
    with pytest.raises(error, match=match):
        resample(**args)


def test_fill_accepts_numpy_and_infinite_values():
    out = resample(WAVE, FLUX, np.linspace(3900.0, 4900.0, 10), fill=np.float32(-np.inf))
    assert out[0, 0] == -np.inf
    out = resample(WAVE, FLUX, np.linspace(3900.0, 4900.0, 10), fill=7)
    assert out[0, 0] == 7.0


def test_edges_that_coincide_up_to_rounding_count_as_covered():
    """A lattice rebuilt in other arithmetic (start + step * i) still lines up."""
    wave = 3600.0 + 0.8 * np.arange(100)
    new = np.array([3600.0 + 0.8 * i for i in range(100)]) * (1 + 1e-15)
    flux = np.linspace(1.0, 2.0, 100)
    out, ivar = resample(wave, flux, new, ivar=np.ones(100))
    assert np.all(np.isfinite(out))
    assert np.all(ivar > 0)
    np.testing.assert_allclose(out, flux, rtol=1e-12)
    # beyond rounding, a bin that sticks out is still refused
    out = resample(wave, flux, wave + 1e-3)
    assert np.isnan(out[-1])
    assert np.all(np.isfinite(out[:-1]))
