"""The CPU/GPU dispatch of deepz.kernels, tested without a GPU.

- a mix of host and GPU arrays is refused with a TypeError naming the argument;
- a GPU array where deepz._cuda sees no device gives require_cuda's message;
- the whole GPU path of each kernel in Python (validation on the device,
  outputs allocated like the input, flips, broadcasting, the call of
  deepz._cuda) runs on torch CPU tensors standing in for CUDA tensors, with
  tests/gpu_standin.py in place of deepz._cuda: its results must be the CPU
  kernels' bit for bit and its errors the CPU path's.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_standin import HostCuda

from deepz import add_noise, devices, line_search, merge_bins, redshift, resample

PTR = 0x7F00_0000_0000


class FakeCudaArray:
    """A GPU array as far as the protocol goes: a dict and nothing behind it."""

    def __init__(self, shape, typestr="<f4"):
        self.shape = tuple(shape)
        self.ndim = len(self.shape)
        self.__cuda_array_interface__ = {
            "shape": self.shape,
            "typestr": typestr,
            "data": (PTR, False),
            "strides": None,
            "version": 3,
        }


def _no_device_reason():
    try:
        devices.require_cuda()
    except RuntimeError as err:
        return str(err)
    return None


# -- refusing a host/GPU mix, and no device -----------------------------------------------

REST = np.linspace(1000.0, 2000.0, 50)
OBS = np.linspace(1500.0, 3000.0, 40)
WAVE = np.linspace(4000.0, 5000.0, 64)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda g: redshift(g((3, 50)), REST, 0, 0.5, OBS), "rest_wave"),
        (lambda g: redshift(np.ones((3, 50)), g((50,), "<f8"), 0, 0.5, OBS), "rest_wave"),
        (
            lambda g: redshift(g((3, 50)), g((50,), "<f8"), np.zeros(2, int), 0.5, g((40,), "<f8")),
            "index",
        ),
        (lambda g: redshift(g((3, 50)), g((50,), "<f8"), 0, [0.1, 0.2], g((40,), "<f8")), "z"),
        (lambda g: line_search(WAVE, g((2, 64)), 0.1), "wave"),
        (lambda g: line_search(g((64,), "<f8"), np.ones((2, 64)), 0.1), "wave"),
        (lambda g: line_search(g((64,), "<f8"), g((2, 64)), 0.1, ivar=np.ones((2, 64))), "ivar"),
        (lambda g: line_search(g((64,), "<f8"), g((2, 64)), np.zeros(2)), "z0"),
        (lambda g: add_noise(g((2, 64)), np.ones(64), seed=1), "sigma"),
        (lambda g: add_noise(np.ones((2, 64)), g((64,)), seed=1), "sigma"),
        (lambda g: merge_bins(g((2, 64)), 2, ivar=np.ones((2, 64))), "ivar"),
        (lambda g: merge_bins(np.ones((2, 64)), 2, ivar=g((2, 64))), "ivar"),
        (lambda g: resample(WAVE, g((2, 64)), g((10,), "<f8")), "wave"),
        (lambda g: resample(g((64,), "<f8"), g((2, 64)), np.linspace(4000, 5000, 10)), "new_wave"),
        (
            lambda g: resample(g((64,), "<f8"), g((2, 64)), g((10,), "<f8"), ivar=np.ones((2, 64))),
            "ivar",
        ),
    ],
    ids=[
        "redshift-rest",
        "redshift-templates",
        "redshift-index",
        "redshift-z",
        "line_search-wave",
        "line_search-flux",
        "line_search-ivar",
        "line_search-z0",
        "add_noise-sigma",
        "add_noise-flux",
        "merge_bins-ivar",
        "merge_bins-flux",
        "resample-wave",
        "resample-new_wave",
        "resample-ivar",
    ],
)
def test_a_host_gpu_mix_is_refused(call, name):
    with pytest.raises(TypeError, match=f"^{name}: is a (host|GPU)"):
        call(FakeCudaArray)


@pytest.mark.skipif(_no_device_reason() is None, reason="a CUDA device is present")
@pytest.mark.parametrize(
    "call",
    [
        lambda g: redshift(g((3, 50)), g((50,), "<f8"), 0, 0.5, g((40,), "<f8")),
        lambda g: line_search(g((64,), "<f8"), g((2, 64)), 0.1),
        lambda g: add_noise(g((2, 64)), 0.1, seed=3),
        lambda g: merge_bins(g((2, 64)), 4),
        lambda g: resample(g((64,), "<f8"), g((2, 64)), g((10,), "<f8")),
    ],
    ids=["redshift", "line_search", "add_noise", "merge_bins", "resample"],
)
def test_gpu_input_without_a_device_says_why(call):
    with pytest.raises(RuntimeError, match="no CUDA device found|built without CUDA") as info:
        call(FakeCudaArray)
    assert str(info.value) == _no_device_reason()


# -- the GPU path in Python, on torch CPU tensors -------------------------------------------


@pytest.fixture
def standin(monkeypatch):
    """Treat torch CPU tensors as GPU arrays; deepz._cuda replaced by the host stand-in."""
    torch = pytest.importorskip("torch")
    fake = HostCuda()
    real = devices.array_device
    monkeypatch.setattr(
        devices, "array_device", lambda x: "cuda" if isinstance(x, torch.Tensor) else real(x)
    )
    monkeypatch.setattr(devices, "require_cuda", lambda: fake)
    monkeypatch.setattr(devices, "current_stream", lambda x: 12345)
    fake.torch = torch
    return fake


def _t(standin, a):
    a = np.asarray(a)
    return standin.torch.from_numpy(a.copy() if a.ndim == 0 else np.ascontiguousarray(a))


def _np(x):
    assert type(x).__module__.startswith("torch")
    return x.numpy()


def _general(templates, rest, index, z, obs, scale="flambda"):
    """The CPU kernel, general sweep (what the GPU computes), increasing grids."""
    from deepz import _core

    mode = {"none": 0, "flambda": 1, "fnu": 2}[scale]
    return _core.redshift(
        np.atleast_2d(templates),
        rest,
        np.atleast_1d(index).astype(np.int64),
        np.atleast_1d(z).astype(np.float64),
        obs,
        mode,
        np.nan,
        False,
        1,
    )


@pytest.mark.parametrize("scale", ["flambda", "fnu", "none"])
@pytest.mark.parametrize("n", [1, 31, 257])
def test_redshift_gpu_path_matches_cpu(standin, dtype, rng, scale, n):
    rest = np.cumsum(rng.uniform(0.5, 2.0, 300)) + 1000.0
    obs = np.cumsum(rng.uniform(1.0, 3.0, 200)) + 1200.0
    templates = rng.uniform(0.1, 2.0, (4, rest.size)).astype(dtype)
    templates[1, 100:104] = np.nan  # masked pixels
    index = rng.integers(0, 4, n)
    z = rng.uniform(0.0, 0.6, n)
    got = redshift(
        _t(standin, templates),
        _t(standin, rest),
        _t(standin, index),
        _t(standin, z),
        _t(standin, obs),
        scale=scale,
    )
    want = redshift(templates, rest, index, z, obs, scale=scale)
    assert got.dtype == standin.torch.from_numpy(want).dtype
    np.testing.assert_array_equal(_np(got), want)
    assert standin.calls == [("redshift", 12345)]


def test_redshift_gpu_path_flips_decreasing_grids_and_broadcasts(standin, dtype, rng):
    rest = np.linspace(1000.0, 3000.0, 400)
    obs = np.linspace(1500.0, 4000.0, 150)
    templates = rng.uniform(0.1, 2.0, (3, rest.size)).astype(dtype)
    z = rng.uniform(0.0, 0.5, 7)
    t = lambda a: _t(standin, a)  # noqa: E731
    want = redshift(templates[:, ::-1], rest[::-1], 2, z, obs[::-1])
    got = redshift(t(templates[:, ::-1]), t(rest[::-1]), 2, t(z), t(obs[::-1]))
    np.testing.assert_array_equal(_np(got), want)
    # scalar z with an index array (int32 on the device), a 0-d index tensor, one spectrum
    idx32 = np.array([0, 2, 1], np.int32)
    np.testing.assert_array_equal(
        _np(redshift(t(templates), t(rest), t(idx32), 0.25, t(obs))),
        redshift(templates, rest, idx32, 0.25, obs),
    )
    one = redshift(t(templates), t(rest), t(np.array(1)), 0.3, t(obs))
    assert one.shape == (obs.size,)
    np.testing.assert_array_equal(_np(one), redshift(templates, rest, 1, 0.3, obs))
    one = redshift(t(templates[0]), t(rest), 0, t(np.float32(0.3)), t(obs))
    np.testing.assert_array_equal(_np(one), redshift(templates[0], rest, 0, np.float32(0.3), obs))


def test_redshift_gpu_path_on_log_grids(standin, rng):
    rest = 10.0 ** (3.0 + 1e-4 * np.arange(3000))
    obs = 10.0 ** (3.5 + 1e-4 * np.arange(2000))
    templates = rng.uniform(0.0, 3.0, (2, rest.size))
    z = rng.uniform(0.0, 1.5, 40)
    index = rng.integers(0, 2, 40)
    got = _np(redshift(*(_t(standin, a) for a in (templates, rest, index, z, obs))))
    np.testing.assert_array_equal(got, _general(templates, rest, index, z, obs))
    # the CPU's public path takes its log-lambda sweep here: equal to 1e-14
    np.testing.assert_allclose(got, redshift(templates, rest, index, z, obs), rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (
            dict(templates=np.ones((2, 50), np.int32)),
            TypeError,
            "^templates must be float32 or float64, got dtype int32$",
        ),
        (dict(templates=np.ones((2, 3, 50))), ValueError, r"^templates must have shape"),
        (dict(templates=np.ones((2, 49))), ValueError, r"one value per rest_wave pixel \(50\)"),
        (
            dict(rest_wave=np.r_[REST[:11], REST[10], REST[12:]]),
            ValueError,
            r"^rest_wave must be strictly increasing .*rest_wave\[0, 11\]",
        ),
        (
            dict(obs_wave=np.r_[OBS[:5], np.nan, OBS[6:]]),
            ValueError,
            r"^obs_wave must be finite: it holds nan at index \(.*0.*5.*\)",
        ),
        (
            dict(obs_wave=np.linspace(-10.0, 100.0, 40)),
            ValueError,
            r"^obs_wave must be > 0 \(Angstrom\), got -10.0$",
        ),
        (dict(rest_wave=np.ones((2, 50))), ValueError, r"^rest_wave must have shape \(M_rest,\)"),
        (dict(index=np.array([0, 3])), ValueError, r"^index must be in \[0, 2\) .*got 3 at "),
        (dict(index=np.array([0.0, 1.0])), TypeError, "^index must hold integers, got dtype"),
        (dict(index=5), ValueError, r"^index must be in \[0, 2\)"),
        (dict(z=np.array([0.1, -1.0])), ValueError, r"^z must be finite and > -1, got -1.0 at "),
        (dict(z=np.array([0.1, np.inf])), ValueError, r"^z must be finite and > -1, got inf at "),
        (dict(z=np.array([[0.1]])), ValueError, r"^z must be a scalar or have shape \(N,\)"),
        (
            dict(index=np.array([0, 1]), z=np.array([0.1, 0.2, 0.3])),
            ValueError,
            r"^index and z must have the same length",
        ),
        (dict(index=np.zeros(0, np.int64), z=np.zeros(0)), ValueError, "empty batch"),
        (dict(scale="photons"), ValueError, "^scale must be one of"),
        (dict(fill="x"), TypeError, "^fill must be a real number"),
    ],
)
def test_redshift_gpu_path_raises_the_cpu_errors(standin, change, error, match):
    args = dict(
        templates=np.ones((2, 50)),
        rest_wave=REST,
        index=np.array([0, 1]),
        z=np.array([0.1, 0.2]),
        obs_wave=OBS,
    )
    args.update(change)
    scale, fill = args.pop("scale", "flambda"), args.pop("fill", np.nan)
    with pytest.raises(error, match=match):  # the CPU path says it so
        redshift(**args, scale=scale, fill=fill)
    gpu = {
        k: (_t(standin, np.asarray(v)) if isinstance(v, np.ndarray) else v) for k, v in args.items()
    }
    with pytest.raises(error, match=match):
        redshift(**gpu, scale=scale, fill=fill)
    assert standin.calls == []


def _ls_problem(rng, n, m=400, dtype=np.float64, per_spectrum=False):
    wave = np.linspace(6000.0, 7600.0, m)
    if per_spectrum:
        wave = wave + rng.uniform(-3.0, 3.0, (n, 1))
    z_true = rng.uniform(0.0, 0.1, n)
    flux = rng.normal(0.0, 0.1, (n, m))
    for line, amp in ((6564.61, 3.0), (6585.27, 1.0), (6549.86, 0.4)):
        flux += amp * np.exp(-0.5 * ((wave - line * (1 + z_true[:, None])) / 1.5) ** 2)
    ivar = np.full((n, m), 100.0)
    ivar[:, 50:60] = 0.0  # masked pixels
    flux[:, 70] = np.nan
    z0 = z_true + rng.uniform(-0.003, 0.003, n)
    return wave, flux.astype(dtype), ivar.astype(dtype), z0


def _ls_equal(got, want):
    for g, w in zip(got[:5], want[:5], strict=True):
        np.testing.assert_array_equal(_np(g), w)
    assert got.lines == want.lines


@pytest.mark.parametrize("n", [1, 31, 257])
@pytest.mark.parametrize("with_ivar", [True, False])
def test_line_search_gpu_path_matches_cpu(standin, dtype, rng, n, with_ivar):
    wave, flux, ivar, z0 = _ls_problem(rng, n, dtype=dtype, per_spectrum=n > 1)
    lines = ["Halpha", "[NII]6583", "[NII]6548", 6718.29]
    iv = ivar if with_ivar else None
    want = line_search(wave, flux, z0, lines=lines, ivar=iv, window=0.005)
    t = lambda a: None if a is None else _t(standin, a)  # noqa: E731
    got = line_search(t(wave), t(flux), t(z0), lines=lines, ivar=t(iv), window=0.005)
    _ls_equal(got, want)
    assert got.n_found.dtype == standin.torch.int64
    assert standin.calls == [("line_search", 12345)]


def test_line_search_gpu_path_one_spectrum_decreasing_scalar_z0(standin, rng):
    wave, flux, ivar, z0 = _ls_problem(rng, 1)
    wave, flux, ivar = wave[::-1], flux[0, ::-1], ivar[0, ::-1]
    want = line_search(wave, flux, float(z0[0]), ivar=ivar)
    got = line_search(_t(standin, wave), _t(standin, flux), float(z0[0]), ivar=_t(standin, ivar))
    assert got.z.shape == ()
    assert got.line_wave.shape == (8,)
    _ls_equal(got, want)
    # equal strengths: the search order keeps the given order
    lines = [6564.61, 6585.27, 6549.86]
    want = line_search(wave, flux, z0, lines=lines)
    got = line_search(_t(standin, wave), _t(standin, flux), _t(standin, z0), lines=lines)
    _ls_equal(got, want)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(flux=np.ones((2, 64), np.float16)), TypeError, "^flux must be float32 or float64"),
        (dict(flux=np.ones((2, 2, 64))), ValueError, r"^flux must have shape \(M,\) or \(N, M\)"),
        (dict(flux=np.ones((0, 64))), ValueError, "^flux is an empty batch"),
        (dict(wave=WAVE[:-1]), ValueError, r"^wave must have as many pixels as flux \(64\)"),
        (dict(wave=np.ones((3, 64)) * WAVE), ValueError, r"^wave must have shape \(M,\) or \(2, M"),
        (dict(wave=WAVE[:2], flux=np.ones((2, 2))), ValueError, "^wave needs at least 3 pixels"),
        (
            dict(wave=np.r_[WAVE[:3], WAVE[2], WAVE[4:]]),
            ValueError,
            "^wave must be strictly increasing",
        ),
        (dict(ivar=np.ones((2, 63))), ValueError, "^ivar must have the shape of flux"),
        (dict(ivar=-np.ones((2, 64))), ValueError, "^ivar must be >= 0"),
        (dict(ivar=np.ones((2, 64), np.int64)), TypeError, "^ivar must be float32 or float64"),
        (dict(z0=np.array([0.1, -2.0])), ValueError, r"^z0 must be finite and > -1, got z0\[1\]"),
        (dict(z0=np.zeros(3)), ValueError, r"^z0 must be a scalar or have shape \(2,\)"),
        (dict(z0=np.array(["a", "b"])), TypeError, "^z0 must be a real number"),
        (dict(z0=np.nan), ValueError, r"^z0 must be finite and > -1"),
        (dict(window=1.5), ValueError, "^window must be < 1"),
        (dict(lines=[]), ValueError, "^lines must hold at least one line"),
        (dict(weights=(1.0, -1.0, 0.0)), ValueError, "^weights must be finite and >= 0"),
        (dict(snr_min=-1.0), ValueError, "^snr_min must be >= 0"),
    ],
)
def test_line_search_gpu_path_raises_the_cpu_errors(standin, change, error, match):
    args = dict(wave=WAVE, flux=np.ones((2, 64)), z0=np.array([0.1, 0.2]), ivar=None)
    args.update(change)
    with pytest.raises(error, match=match):
        line_search(**args)
    if isinstance(args["z0"], np.ndarray) and args["z0"].dtype.kind == "U":
        return  # torch has no string tensors
    gpu = {k: (_t(standin, v) if isinstance(v, np.ndarray) else v) for k, v in args.items()}
    with pytest.raises(error, match=match):
        line_search(**gpu)
    assert standin.calls == []


def test_the_gpu_path_detaches_and_keeps_the_library(standin, rng):
    torch = standin.torch
    rest, obs = REST, OBS
    templates = torch.from_numpy(rng.uniform(0.5, 1.5, (2, 50))).requires_grad_(True)
    got = redshift(templates, _t(standin, rest), 1, 0.2, _t(standin, obs))
    assert isinstance(got, torch.Tensor)
    assert not got.requires_grad
    np.testing.assert_array_equal(
        got.numpy(), redshift(templates.detach().numpy(), rest, 1, 0.2, obs)
    )


# -- add_noise ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gaussian", "poisson"])
@pytest.mark.parametrize(
    ("n", "sigma"),
    [
        (1, 0.3),
        (31, "per-pixel"),
        (257, "per-spectrum"),
        (40, "full"),
        (3, "scalar-array"),
    ],
)
def test_add_noise_gpu_path_matches_cpu_bit_for_bit(standin, dtype, rng, kind, n, sigma):
    m = 203  # not a multiple of 4: a partial last block
    flux = rng.uniform(0.0, 20.0, (n, m)).astype(dtype)
    flux[0, 5] = np.nan  # masked
    sig = {
        "per-pixel": rng.uniform(0.5, 2.0, m),
        "per-spectrum": rng.uniform(0.5, 2.0, n),
        "full": rng.uniform(0.5, 2.0, (n, m)),
        "scalar-array": np.array(0.7),
    }.get(sigma, sigma)
    want = add_noise(flux, sig, seed=99, kind=kind, offset=17)
    gsig = _t(standin, sig) if isinstance(sig, np.ndarray) and sig.ndim > 0 else sig
    got = add_noise(_t(standin, flux), gsig, seed=99, kind=kind, offset=17)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(_np(g).view(np.uint8), w.view(np.uint8))
    assert standin.calls == [("add_noise", 12345)]


def test_add_noise_gpu_path_one_spectrum_and_float64_sigma(standin, rng):
    flux = rng.uniform(0.0, 20.0, 50).astype(np.float32)
    sig = rng.uniform(0.5, 2.0, 50)  # float64 sigma, cast to float32 as on the CPU
    got = add_noise(_t(standin, flux), _t(standin, sig), seed=5)
    want = add_noise(flux, sig, seed=5)
    assert tuple(got[0].shape) == (50,)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(_np(g), w)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(flux=np.ones((2, 8), np.int32)), TypeError, "^flux must be float32 or float64"),
        (dict(flux=np.ones((0, 8))), ValueError, "^flux is an empty batch"),
        (dict(sigma=np.ones(3)), ValueError, r"^sigma must be a scalar or have shape \(2,\)"),
        (dict(sigma=np.ones((3, 8))), ValueError, r"^sigma must have shape \(1 or 2, 1 or 8\)"),
        (dict(flux=np.ones((8, 8)), sigma=np.ones(8)), ValueError, "is ambiguous"),
        (dict(sigma=np.r_[1.0, 0.0]), ValueError, r"^sigma must be finite and > 0 .*\(1, 0\)"),
        (dict(sigma=np.r_[1.0, np.nan]), ValueError, "^sigma must be finite and > 0"),
        (dict(sigma=np.ones(2, np.int64)), TypeError, "^sigma must be float32 or float64"),
        (
            dict(sigma=1e-30, flux=np.ones((2, 8), np.float32)),
            ValueError,
            "^sigma must be large enough",
        ),
        (
            dict(sigma=np.full(2, 1e-30, np.float32), flux=np.ones((2, 8), np.float32)),
            ValueError,
            "^sigma must be large enough",
        ),
        (dict(sigma=-1.0), ValueError, "^sigma must be > 0|^sigma must be finite and > 0"),
        (dict(sigma="a"), TypeError, "^sigma must be a real number"),
        (dict(seed=-1), ValueError, r"^seed must be in \[0, "),
        (dict(seed=1.5), TypeError, "^seed must be an int"),
        (dict(offset=2**64 - 1), ValueError, "^offset \\+ N must be <= 2\\*\\*64"),
        (dict(kind="uniform"), ValueError, "^kind must be 'gaussian' or 'poisson'"),
        (
            dict(kind="poisson", flux=-np.ones((2, 8))),
            ValueError,
            "^flux must be >= 0 where finite with kind='poisson'",
        ),
        (
            dict(kind="poisson", flux=np.full((2, 8), 1e17)),
            ValueError,
            r"^flux / sigma .* must be <= 2\*\*52",
        ),
    ],
)
def test_add_noise_gpu_path_raises_the_cpu_errors(standin, change, error, match):
    args = dict(flux=np.ones((2, 8)), sigma=0.1, seed=1, kind="gaussian", offset=0)
    args.update(change)
    with pytest.raises(error, match=match):
        add_noise(**args)
    gpu = {k: (_t(standin, v) if isinstance(v, np.ndarray) else v) for k, v in args.items()}
    with pytest.raises(error, match=match):
        add_noise(**gpu)
    assert standin.calls == []


def test_add_noise_gpu_path_checks_big_batches_by_chunks(standin, rng, monkeypatch):
    from deepz import _gpu

    monkeypatch.setattr(_gpu, "_CHUNK_ELEMENTS", 64)  # many chunks of rows
    flux = rng.uniform(0.0, 20.0, (50, 30))
    sig = rng.uniform(0.5, 2.0, (50, 1))
    got = add_noise(_t(standin, flux), _t(standin, sig), seed=2, kind="poisson")
    for g, w in zip(got, add_noise(flux, sig, seed=2, kind="poisson"), strict=True):
        np.testing.assert_array_equal(_np(g), w)
    flux[37, 3] = -1.0
    with pytest.raises(ValueError, match=r"got -1.0 at index \(37, 3\)"):
        add_noise(_t(standin, flux), _t(standin, sig), seed=2, kind="poisson")
    sig[45, 0] = 0.0
    with pytest.raises(ValueError, match=r"^sigma must be finite and > 0 .*\(45, 0\)"):
        add_noise(_t(standin, flux), _t(standin, sig), seed=2)


# -- merge_bins ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 31, 257])
@pytest.mark.parametrize("factor", [1, 2, 3, 8, 300])
@pytest.mark.parametrize("how", ["sum", "mean"])
@pytest.mark.parametrize("with_ivar", [True, False])
def test_merge_bins_gpu_path_matches_cpu_bit_for_bit(
    standin, dtype, rng, n, factor, how, with_ivar
):
    m = 1801  # a remainder that is dropped
    flux = rng.normal(0.0, 5.0, (n, m)).astype(dtype)
    flux[rng.random((n, m)) < 0.05] = np.nan
    ivar = None
    if with_ivar:
        ivar = rng.uniform(0.0, 3.0, (n, m)).astype(dtype)
        ivar[rng.random((n, m)) < 0.05] = 0.0
    want = merge_bins(flux, factor, ivar=ivar, how=how)
    got = merge_bins(
        _t(standin, flux), factor, ivar=None if ivar is None else _t(standin, ivar), how=how
    )
    if ivar is None:
        np.testing.assert_array_equal(_np(got).view(np.uint8), want.view(np.uint8))
    else:
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(_np(g).view(np.uint8), w.view(np.uint8))
    assert standin.calls == [("merge_bins", 12345)]


def test_merge_bins_gpu_path_one_spectrum(standin, rng):
    flux, ivar = rng.normal(0, 1, 11), rng.uniform(0.1, 1.0, 11)
    got = merge_bins(_t(standin, flux), 3, ivar=_t(standin, ivar.astype(np.float32)))
    want = merge_bins(flux, 3, ivar=ivar.astype(np.float32))
    assert tuple(got[0].shape) == (3,)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(_np(g), w)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(flux=np.ones((2, 8), np.int64)), TypeError, "^flux must be float32 or float64"),
        (dict(flux=np.ones((2, 0))), ValueError, "^flux has no pixels"),
        (dict(factor=0), ValueError, "^factor must be an int >= 1"),
        (dict(factor=9), ValueError, "^factor must be <= the number of pixels M = 8"),
        (dict(factor=2.0), ValueError, "^factor must be an int >= 1"),
        (dict(how="median"), ValueError, "^how must be 'sum' or 'mean'"),
        (dict(ivar=np.ones((2, 7))), ValueError, r"^ivar must have the shape of flux \(2, 8\)"),
        (dict(ivar=-np.ones((2, 8))), ValueError, "^ivar must be >= 0"),
        (dict(ivar=np.ones((2, 8), np.int32)), TypeError, "^ivar must be float32 or float64"),
    ],
)
def test_merge_bins_gpu_path_raises_the_cpu_errors(standin, change, error, match):
    args = dict(flux=np.ones((2, 8)), factor=2, ivar=None, how="sum")
    args.update(change)
    with pytest.raises(error, match=match):
        merge_bins(**args)
    gpu = {k: (_t(standin, v) if isinstance(v, np.ndarray) else v) for k, v in args.items()}
    with pytest.raises(error, match=match):
        merge_bins(**gpu)
    assert standin.calls == []


# -- resample ------------------------------------------------------------------------------


def _rs_equal(got, want):
    if isinstance(want, tuple):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(_np(g).view(np.uint8), w.view(np.uint8))
    else:
        np.testing.assert_array_equal(_np(got).view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("n", [1, 31, 257])
@pytest.mark.parametrize("method", ["flux", "linear"])
@pytest.mark.parametrize("grids", ["shared", "per-spectrum-in", "per-spectrum-both"])
def test_resample_gpu_path_matches_cpu_bit_for_bit(standin, dtype, rng, n, method, grids):
    m, p = 300, 217
    wave = np.geomspace(3700.0, 9200.0, m)
    new = np.linspace(4000.0, 9000.0, p)
    if grids != "shared":
        wave = wave * rng.uniform(0.99, 1.01, (n, 1))
    if grids == "per-spectrum-both":
        new = new + rng.uniform(-20.0, 20.0, (n, 1))
    flux = rng.normal(1.0, 0.3, (n, m)).astype(dtype)
    flux[rng.random((n, m)) < 0.03] = np.nan
    ivar = rng.uniform(0.0, 5.0, (n, m)).astype(dtype)
    ivar[rng.random((n, m)) < 0.03] = 0.0
    want = resample(wave, flux, new, ivar=ivar, method=method, fill=-1.0)
    t = lambda a: _t(standin, a)  # noqa: E731
    got = resample(t(wave), t(flux), t(new), ivar=t(ivar), method=method, fill=-1.0)
    _rs_equal(got, want)
    got = resample(t(wave), t(flux), t(new), method=method)
    _rs_equal(got, resample(wave, flux, new, method=method))
    assert standin.calls == [("resample", 12345)] * 2


def test_resample_gpu_path_decreasing_grids_and_one_spectrum(standin, rng):
    wave = np.linspace(5000.0, 6000.0, 500)[::-1]
    new = np.linspace(5100.0, 5900.0, 120)[::-1]
    flux = rng.normal(1.0, 0.3, 500).astype(np.float32)
    ivar = rng.uniform(1.0, 5.0, 500)  # float64 ivar, cast to float32 as on the CPU
    want = resample(wave, flux, new, ivar=ivar)
    got = resample(_t(standin, wave), _t(standin, flux), _t(standin, new), ivar=_t(standin, ivar))
    assert tuple(got[0].shape) == (120,)
    _rs_equal(got, want)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(method="cubic"), ValueError, "^method must be 'flux' or 'linear'"),
        (dict(fill="x"), TypeError, "^fill must be a real number"),
        (dict(flux=np.ones((2, 64), np.int16)), TypeError, "^flux must be float32 or float64"),
        (dict(wave=WAVE[:-1]), ValueError, "^flux and wave must have the same number of pixels"),
        (dict(wave=np.ones((3, 1)) * WAVE), ValueError, r"^wave must have shape \(M,\) or \(2,"),
        (dict(wave=np.r_[WAVE[:9], np.inf, WAVE[10:]]), ValueError, "^wave must be finite"),
        (
            dict(new_wave=np.r_[5000.0, 4000.0, 4500.0]),
            ValueError,
            "^new_wave must be strictly increasing",
        ),
        (dict(new_wave=np.array([4500.0])), ValueError, "^new_wave needs at least 2 pixels"),
        (dict(ivar=np.ones((2, 63))), ValueError, "^ivar must have the shape of flux"),
        (dict(ivar=-np.ones((2, 64))), ValueError, "^ivar must be >= 0"),
    ],
)
def test_resample_gpu_path_raises_the_cpu_errors(standin, change, error, match):
    args = dict(
        wave=WAVE,
        flux=np.ones((2, 64)),
        new_wave=np.linspace(4100.0, 4900.0, 10),
        ivar=None,
        method="flux",
        fill=np.nan,
    )
    args.update(change)
    with pytest.raises(error, match=match):
        resample(**args)
    gpu = {k: (_t(standin, v) if isinstance(v, np.ndarray) else v) for k, v in args.items()}
    with pytest.raises(error, match=match):
        resample(**gpu)
    assert standin.calls == []
