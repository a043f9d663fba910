"""Every CUDA kernel against its CPU twin, on CuPy arrays and torch CUDA tensors.

Skipped (with the reason) where deepz._cuda sees no GPU or neither CuPy nor
torch has CUDA. Tolerances, kernel by kernel (each test says which applies):

- redshift: bit-identical to the CPU's general sweep (same double arithmetic,
  --fmad=false), hence to the CPU on grids that are not log-linear; on
  log-linear grids the CPU takes its log-lambda sweep, which agrees with the
  general one to rtol 1e-14 in float64 (tests/test_redshift.py), and the
  float32 results then to rtol 1e-6 (the last bit of a float32 rounding).
- line_search: bit-identical (the same per-spectrum function runs on a thread).
- add_noise: bit-identical in float32 and float64, Gaussian and Poisson (the
  same Philox counters, deepz's own log/sincos polynomials, no FMA).
- merge_bins: bit-identical (the same per-group function).
- resample: bit-identical (each output pixel's weights and sums are the CPU's
  expressions in the CPU's order; tests/test_gpu_twins.py checks the
  decomposition on the host).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from deepz import (
    _core,
    add_noise,
    devices,
    kernels,
    line_search,
    merge_bins,
    redshift,
    resample,
)

pytestmark = pytest.mark.gpu

BATCHES = [1, 31, 257, 1000]


class Lib:
    """CuPy or torch behind one small interface."""

    def __init__(self, name):
        self.name = name
        self.mod = importlib.import_module(name)

    def asarray(self, a):
        a = np.asarray(a)
        if self.name == "cupy":
            return self.mod.asarray(a)
        return self.mod.from_numpy(a.copy() if a.ndim == 0 else np.ascontiguousarray(a)).to("cuda")

    def to_numpy(self, x):
        assert devices.array_device(x) == "cuda"
        assert type(x).__module__.partition(".")[0] == self.name  # the kind it was given
        return self.mod.asnumpy(x) if self.name == "cupy" else x.cpu().numpy()

    def new_stream(self):
        if self.name == "cupy":
            return self.mod.cuda.Stream(non_blocking=True)
        return self.mod.cuda.Stream()

    def on_stream(self, stream):
        return stream if self.name == "cupy" else self.mod.cuda.stream(stream)


@pytest.fixture(params=["cupy", "torch"])
def lib(request):
    """Each GPU array library that is installed and sees CUDA."""
    try:
        out = Lib(request.param)
    except ImportError:
        pytest.skip(f"{request.param} is not installed")
    if out.name == "torch" and not out.mod.cuda.is_available():
        pytest.skip("torch was built without CUDA or sees no device")
    return out


# -- redshift ---------------------------------------------------------------------------


def _general(templates, rest, index, z, obs, scale="flambda", fill=np.nan):
    """The CPU kernel's general sweep, increasing grids."""
    mode = {"none": 0, "flambda": 1, "fnu": 2}[scale]
    return _core.redshift(
        np.atleast_2d(templates),
        rest,
        np.asarray(index, np.int64),
        np.asarray(z, np.float64),
        obs,
        mode,
        fill,
        False,
        2,
    )


@pytest.mark.parametrize("n", BATCHES)
@pytest.mark.parametrize("scale", ["flambda", "fnu", "none"])
def test_redshift_equals_cpu(lib, dtype, rng, n, scale):
    """Irregular grids, masked (NaN) template pixels: bit-identical to the CPU."""
    rest = np.cumsum(rng.uniform(0.5, 2.0, 3000)) + 1000.0
    obs = np.cumsum(rng.uniform(1.0, 3.0, 1900)) + 1200.0
    templates = rng.uniform(0.1, 2.0, (7, rest.size)).astype(dtype)
    templates[2, 500:520] = np.nan
    index = rng.integers(0, 7, n)
    z = rng.uniform(-0.1, 1.5, n)
    got = redshift(*(lib.asarray(a) for a in (templates, rest, index, z, obs)), scale=scale)
    want = redshift(templates, rest, index, z, obs, scale=scale)
    np.testing.assert_array_equal(lib.to_numpy(got), want)


@pytest.mark.parametrize("n", BATCHES)
def test_redshift_on_euclid_grids(lib, dtype, rng, n):
    """The Euclid set-up (linear 5 A grids, 3750 -> 1800 bins): bit-identical to the CPU."""
    rest = np.arange(1255.0, 20002.5, 5.0)
    obs = np.arange(11002.5, 20000.0, 5.0)
    templates = rng.uniform(0.0, 2.0, (50, rest.size)).astype(dtype)
    index = rng.integers(0, 50, n)
    z = rng.uniform(1.0, 1.8, n)
    got = redshift(*(lib.asarray(a) for a in (templates, rest, index, z, obs)))
    np.testing.assert_array_equal(lib.to_numpy(got), redshift(templates, rest, index, z, obs))


def test_redshift_on_log_grids(lib, dtype, rng):
    """Log-linear grids: equal to the CPU's general sweep; to its log-lambda sweep
    (what the public CPU path takes) within rtol 1e-14 (float64) / 1e-6 (float32)."""
    rest = 10.0 ** (3.0 + 1e-4 * np.arange(10000))
    obs = 10.0 ** (3.55 + 1e-4 * np.arange(4000))
    templates = rng.uniform(0.0, 3.0, (6, rest.size)).astype(dtype)
    templates[2, 5000:5010] = np.nan
    index = rng.integers(0, 6, 300)
    z = rng.uniform(-0.2, 2.0, 300)
    got = lib.to_numpy(redshift(*(lib.asarray(a) for a in (templates, rest, index, z, obs))))
    np.testing.assert_array_equal(got, _general(templates, rest, index, z, obs))
    want = redshift(templates, rest, index, z, obs)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-14 if dtype == np.float64 else 1e-6, atol=0)


def test_redshift_decreasing_grids_scalars_and_one_spectrum(lib, dtype, rng):
    """Flipped grids, broadcast scalars, 1-D results: bit-identical to the CPU."""
    rest = np.linspace(1000.0, 3000.0, 800)[::-1]
    obs = np.linspace(1500.0, 4000.0, 300)[::-1]
    templates = rng.uniform(0.1, 2.0, (3, rest.size)).astype(dtype)
    z = rng.uniform(0.0, 0.5, 33)
    a = lib.asarray
    np.testing.assert_array_equal(
        lib.to_numpy(redshift(a(templates), a(rest), 2, a(z), a(obs))),
        redshift(templates, rest, 2, z, obs),
    )
    one = redshift(a(templates[1]), a(rest), 0, 0.3, a(obs), scale="none", fill=-5.0)
    assert tuple(one.shape) == (obs.size,)
    np.testing.assert_array_equal(
        lib.to_numpy(one), redshift(templates[1], rest, 0, 0.3, obs, scale="none", fill=-5.0)
    )


def test_redshift_on_the_callers_stream(lib, rng):
    """Queued on the current stream of the input's library; bit-identical to the CPU."""
    rest = np.linspace(1000.0, 3000.0, 2000)
    obs = np.linspace(1500.0, 4000.0, 1000)
    templates = rng.uniform(0.1, 2.0, (4, rest.size))
    index = rng.integers(0, 4, 500)
    z = rng.uniform(0.0, 0.5, 500)
    stream = lib.new_stream()
    with lib.on_stream(stream):
        got = redshift(*(lib.asarray(a) for a in (templates, rest, index, z, obs)))
        got = got * 2.0  # the caller's next operation, on the same stream
        stream.synchronize()
        host = lib.to_numpy(got)
    np.testing.assert_array_equal(host, redshift(templates, rest, index, z, obs) * 2.0)


def test_redshift_refuses_bad_values_on_the_device(lib):
    rest = np.linspace(1000.0, 3000.0, 50)
    obs = np.linspace(1500.0, 4000.0, 40)
    t = lib.asarray(np.ones((2, 50)))
    with pytest.raises(ValueError, match=r"^index must be in \[0, 2\)"):
        redshift(t, lib.asarray(rest), lib.asarray(np.array([0, 2])), 0.1, lib.asarray(obs))
    with pytest.raises(ValueError, match="^z must be finite and > -1"):
        redshift(t, lib.asarray(rest), 0, lib.asarray(np.array([0.1, -1.5])), lib.asarray(obs))
    with pytest.raises(ValueError, match="^obs_wave must be strictly increasing"):
        redshift(t, lib.asarray(rest), 0, 0.1, lib.asarray(np.r_[obs[:5], obs[3:]]))
    with pytest.raises(TypeError, match="^rest_wave: is a host"):
        redshift(t, rest, 0, 0.1, lib.asarray(obs))


# -- line_search -------------------------------------------------------------------------


def _ls_problem(rng, n, m=2000, dtype=np.float64, per_spectrum=False):
    wave = np.linspace(4000.0, 9000.0, m)
    if per_spectrum:
        wave = wave + rng.uniform(-3.0, 3.0, (n, 1))
    z_true = rng.uniform(0.0, 0.3, n)
    flux = rng.normal(0.0, 0.1, (n, m))
    for line, amp in (
        (6564.61, 3.0),
        (6585.27, 1.0),
        (6549.86, 0.4),
        (5008.24, 2.0),
        (4862.68, 1.0),
        (4960.30, 0.7),
    ):
        flux += amp * np.exp(-0.5 * ((wave - line * (1 + z_true[:, None])) / 3.0) ** 2)
    ivar = np.full((n, m), 100.0)
    ivar[:, 500:520] = 0.0
    flux[:, 700] = np.nan
    z0 = z_true + rng.uniform(-0.004, 0.004, n)
    return wave, flux.astype(dtype), ivar.astype(dtype), z0


def _ls_equal(lib, got, want):
    for g, w in zip(got[:5], want[:5], strict=True):
        np.testing.assert_array_equal(lib.to_numpy(g), w)
    assert got.lines == want.lines


@pytest.mark.parametrize("n", BATCHES)
@pytest.mark.parametrize("with_ivar", [True, False])
def test_line_search_equals_cpu(lib, dtype, rng, n, with_ivar):
    """Per-spectrum grids, masked pixels, with and without ivar: bit-identical to the CPU."""
    wave, flux, ivar, z0 = _ls_problem(rng, n, dtype=dtype, per_spectrum=True)
    iv = ivar if with_ivar else None
    want = line_search(wave, flux, z0, ivar=iv)
    got = line_search(
        lib.asarray(wave),
        lib.asarray(flux),
        lib.asarray(z0),
        ivar=None if iv is None else lib.asarray(iv),
    )
    _ls_equal(lib, got, want)


def test_line_search_with_fewer_workers_than_spectra(lib, rng, monkeypatch):
    """Each worker thread walks several spectra (stride = workers): still bit-identical."""
    monkeypatch.setattr(kernels, "_LS_MAX_WORKERS", 7)
    wave, flux, ivar, z0 = _ls_problem(rng, 100)
    want = line_search(wave, flux, z0, ivar=ivar, lines=["Halpha", 5008.24, "Hbeta"])
    got = line_search(
        lib.asarray(wave),
        lib.asarray(flux),
        lib.asarray(z0),
        ivar=lib.asarray(ivar),
        lines=["Halpha", 5008.24, "Hbeta"],
    )
    _ls_equal(lib, got, want)


def test_line_search_one_decreasing_spectrum(lib, rng):
    wave, flux, ivar, z0 = _ls_problem(rng, 1)
    wave, flux, ivar = wave[::-1], flux[0, ::-1], ivar[0, ::-1]
    want = line_search(wave, flux, float(z0[0]), ivar=ivar)
    got = line_search(lib.asarray(wave), lib.asarray(flux), float(z0[0]), ivar=lib.asarray(ivar))
    assert tuple(got.z.shape) == ()
    _ls_equal(lib, got, want)


# -- add_noise -----------------------------------------------------------------------------


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint8)


@pytest.mark.parametrize("n", BATCHES)
@pytest.mark.parametrize("kind", ["gaussian", "poisson"])
def test_add_noise_bit_identical(lib, dtype, rng, n, kind):
    """Bit for bit, float32 and float64: the same noise for the same seed and index."""
    m = 1801  # not a multiple of 4
    flux = rng.uniform(0.0, 40.0, (n, m)).astype(dtype)
    flux[0, 7] = np.nan
    flux[-1, -1] = -np.inf
    if kind == "poisson":
        flux[:, 100] = 5e5  # PTRS, large counts
        flux[:, 101] = 0.0
    sigma = rng.uniform(0.5, 2.0, m).astype(dtype)
    want = add_noise(flux, sigma, seed=2**64 - 1, kind=kind, offset=3)
    got = add_noise(lib.asarray(flux), lib.asarray(sigma), seed=2**64 - 1, kind=kind, offset=3)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(_bits(lib.to_numpy(g)), _bits(w))


@pytest.mark.parametrize("sigma", ["scalar", "per-spectrum", "full"])
def test_add_noise_sigma_shapes_and_offsets(lib, rng, sigma):
    """Broadcast sigma; spectra drawn in pieces with offsets: bit-identical to the CPU."""
    n, m = 300, 512
    flux = rng.uniform(0.0, 10.0, (n, m)).astype(np.float32)
    sig = {
        "scalar": 0.25,
        "per-spectrum": rng.uniform(0.1, 1.0, n).astype(np.float32),
        "full": rng.uniform(0.1, 1.0, (n, m)).astype(np.float32),
    }[sigma]
    want = add_noise(flux, sig, seed=11)
    gsig = sig if np.ndim(sig) == 0 else lib.asarray(sig)
    got = add_noise(lib.asarray(flux), gsig, seed=11)
    np.testing.assert_array_equal(_bits(lib.to_numpy(got[0])), _bits(want[0]))
    # the second half alone, with offset = 150, draws the same noise
    half_sig = sig if np.ndim(sig) == 0 else lib.asarray(sig[150:])  # sigma's rows follow
    half = add_noise(lib.asarray(flux[150:]), half_sig, seed=11, offset=150)
    np.testing.assert_array_equal(_bits(lib.to_numpy(half[0])), _bits(want[0][150:]))


def test_add_noise_one_spectrum_on_the_callers_stream(lib, rng):
    flux = rng.uniform(0.0, 10.0, 4001)
    stream = lib.new_stream()
    with lib.on_stream(stream):
        noisy, ivar = add_noise(lib.asarray(flux), 0.5, seed=123, offset=10**12)
        stream.synchronize()
        got = lib.to_numpy(noisy), lib.to_numpy(ivar)
    want = add_noise(flux, 0.5, seed=123, offset=10**12)
    assert got[0].shape == (4001,)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(_bits(g), _bits(w))


# -- merge_bins --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", BATCHES)
@pytest.mark.parametrize("factor", [1, 2, 3, 4, 8, 300])
@pytest.mark.parametrize("how", ["sum", "mean"])
def test_merge_bins_bit_identical(lib, dtype, rng, n, factor, how):
    """Masked pixels (NaN flux, ivar 0), a dropped remainder: bit-identical to the CPU."""
    m = 1801
    flux = rng.normal(0.0, 5.0, (n, m)).astype(dtype)
    flux[rng.random((n, m)) < 0.05] = np.nan
    ivar = rng.uniform(0.0, 3.0, (n, m)).astype(dtype)
    ivar[rng.random((n, m)) < 0.05] = 0.0
    want = merge_bins(flux, factor, ivar=ivar, how=how)
    got = merge_bins(lib.asarray(flux), factor, ivar=lib.asarray(ivar), how=how)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(_bits(lib.to_numpy(g)), _bits(w))
    plain = merge_bins(lib.asarray(flux), factor, how=how)
    np.testing.assert_array_equal(
        _bits(lib.to_numpy(plain)), _bits(merge_bins(flux, factor, how=how))
    )


# -- the Euclid chain, end to end on the device ---------------------------------------------


def test_euclid_chain_on_the_device(lib, rng):
    """redshift -> add_noise -> merge_bins without leaving the GPU: the CPU's bits (float32)."""
    from deepz import grids

    rest, obs = grids.preset("euclid_rest"), grids.preset("euclid_nisp")
    templates = rng.uniform(0.1, 2.0, (20, rest.size)).astype(np.float32)
    index, z = rng.integers(0, 20, 1000), rng.uniform(1.0, 1.8, 1000)

    def chain(a, t, r, i, zz, o):
        flux = redshift(a(t), a(r), a(i), a(zz), a(o))
        noisy, ivar = add_noise(flux, 0.05, seed=7, offset=1000)
        return merge_bins(noisy, 2, ivar=ivar)

    want = chain(lambda x: x, templates, rest, index, z, obs)
    got = chain(lib.asarray, templates, rest, index, z, obs)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(_bits(lib.to_numpy(g)), _bits(w))


# -- resample ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", BATCHES)
@pytest.mark.parametrize("method", ["flux", "linear"])
@pytest.mark.parametrize("grids", ["shared", "per-spectrum"])
def test_resample_bit_identical(lib, dtype, rng, n, method, grids):
    """Survey-like grids (log-lambda -> linear), masked pixels, with and without ivar."""
    m, p = 4000, 5001
    wave = np.geomspace(3700.0, 9200.0, m)
    new = np.linspace(4000.0, 9000.0, p)
    if grids == "per-spectrum":
        wave = wave * rng.uniform(0.995, 1.005, (n, 1))
        new = new + rng.uniform(-10.0, 10.0, (n, 1))
    flux = rng.normal(1.0, 0.3, (n, m)).astype(dtype)
    flux[rng.random((n, m)) < 0.01] = np.nan
    ivar = rng.uniform(0.0, 5.0, (n, m)).astype(dtype)
    ivar[rng.random((n, m)) < 0.01] = 0.0
    a = lib.asarray
    got = resample(a(wave), a(flux), a(new), ivar=a(ivar), method=method)
    want = resample(wave, flux, new, ivar=ivar, method=method)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(_bits(lib.to_numpy(g)), _bits(w))
    plain = resample(a(wave), a(flux), a(new), method=method, fill=0.0)
    np.testing.assert_array_equal(
        _bits(lib.to_numpy(plain)), _bits(resample(wave, flux, new, method=method, fill=0.0))
    )


def test_resample_downsampling_decreasing_and_one_spectrum(lib, dtype, rng):
    wave = np.linspace(6000.0, 5000.0, 3001)  # decreasing
    new = np.linspace(4990.0, 6010.0, 37)  # wide bins, the outer ones not covered
    flux = rng.normal(1.0, 0.2, 3001).astype(dtype)
    ivar = rng.uniform(1.0, 2.0, 3001).astype(dtype)
    got = resample(lib.asarray(wave), lib.asarray(flux), lib.asarray(new), ivar=lib.asarray(ivar))
    want = resample(wave, flux, new, ivar=ivar)
    assert tuple(got[0].shape) == (37,)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(_bits(lib.to_numpy(g)), _bits(w))
