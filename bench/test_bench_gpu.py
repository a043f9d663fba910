"""GPU throughput of deepz's CUDA kernels beside deepz's CPU kernels and CuPy.

Needs a CUDA GPU, deepz built with CUDA, and CuPy; skipped otherwise. Run:

    pytest bench/test_bench_gpu.py --benchmark-only \
        --benchmark-columns=min,median,ops --benchmark-sort=name

Every timed call ends with a synchronisation of the stream (the kernels are
asynchronous), so a row is the wall time of the whole work as a user sees it
(validation, its one small device-to-host transfer, the launches, the
kernels). The lines printed at the end of the session (also stored in each
benchmark's extra_info) give, per row, spectra/s = N / median and the
fraction of the GPU's peak memory bandwidth, (bytes read + written by the
kernels) / median / peak, the peak being deepz._cuda.devices()[0]
["peak_bandwidth"] (2 x memory clock x bus width).

Groups:

- "gpu-resample": the survey case of bench/test_bench_resample.py (2000
  spectra of 4000 log-lambda pixels -> 5001 linear pixels, float64, with
  ivar): deepz on the GPU; deepz on the CPU (all cores); a vectorised CuPy
  rebin by cumulative integrals (the numpy peer of test_bench_resample.py,
  run by CuPy). Bytes: flux and ivar in, flux and ivar out.
- "gpu-chain-euclid-<N>": the Euclid simulation chain of
  bench/test_bench_chain.py (redshift 3750 -> 1800 bins of 5 A, z in [1, 1.8),
  Gaussian noise, merge by 2 with ivar; float32) for N = 100000 and 1000000:
  deepz on the GPU; a straightforward CuPy chain (cumulative-integral
  rebinning, cupy.random normals, reshape-sum merge; in chunks of 100000
  spectra to bound its temporaries); deepz on the CPU for N = 100000 (and
  1000000 with DEEPZ_BENCH_CPU_FULL=1). Bytes: the spectra each kernel reads
  and writes (redshift 1 x N x 1800, add_noise 3 x, merge_bins 2 x + 2 x N x
  900, in float32) plus index and z.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

import deepz
from deepz import grids

pytestmark = pytest.mark.gpu

cupy = pytest.importorskip("cupy")
try:
    _cuda = importlib.import_module("deepz._cuda")
except ImportError:
    pytest.skip("deepz was built without CUDA", allow_module_level=True)
if _cuda.device_count() == 0:
    pytest.skip(f"no CUDA device ({_cuda.no_device_reason()})", allow_module_level=True)

PEAK = float(_cuda.devices()[0]["peak_bandwidth"]) or float("nan")
_RESULTS: list[tuple[str, int, float, float]] = []


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    """Print spectra/s and the bandwidth fraction of every row at the end."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not _RESULTS:
        return
    dev = _cuda.devices()[0]
    reporter.write_line("")
    reporter.write_line(f"GPU: {dev['name']}, peak bandwidth {PEAK / 1e12:.2f} TB/s")
    for name, n, median, nbytes in _RESULTS:
        frac = f"{nbytes / median / PEAK:6.1%} of peak" if nbytes else ""
        reporter.write_line(
            f"  {name:<44} N={n:>8}  {median * 1e3:9.2f} ms  {n / median:12.4g} spectra/s  {frac}"
        )


def _sync():
    cupy.cuda.get_current_stream().synchronize()


def _bench(benchmark, name, fn, n, nbytes, rounds=7, gpu=True):
    """Time fn (synchronised when on the GPU) and record spectra/s and bandwidth."""

    def run():
        out = fn()
        if gpu:
            _sync()
        return out

    run()  # warm-up: module load, memory pools, first-launch costs
    out = benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        median = stats.stats.median
        benchmark.extra_info.update(
            spectra=n,
            bytes=nbytes,
            spectra_per_s=n / median,
            bandwidth_fraction=nbytes / median / PEAK if nbytes else None,
        )
        _RESULTS.append((name, n, median, nbytes if gpu else 0))
    return out


# -- resample --------------------------------------------------------------------------------

N_RS, M_RS, P_RS = 2000, 4000, 5001


@pytest.fixture(scope="module")
def survey():
    rng = np.random.default_rng(20261125)
    wave = np.geomspace(3700.0, 9200.0, M_RS)
    new_wave = np.linspace(4000.0, 9000.0, P_RS)
    continuum = 1.0 + 0.5 * np.sin(wave / 700.0)
    flux = continuum * rng.uniform(0.5, 2.0, (N_RS, 1)) + rng.normal(0.0, 0.1, (N_RS, M_RS))
    err = rng.uniform(0.05, 0.2, (N_RS, M_RS))
    host = {"wave": wave, "new_wave": new_wave, "flux": flux, "ivar": 1.0 / err**2}
    dev = {k: cupy.asarray(v) for k, v in host.items()}
    return host, dev


def _edges(xp, c):
    return xp.concatenate(
        [c[:1] - (c[1] - c[0]) / 2, (c[1:] + c[:-1]) / 2, c[-1:] + (c[-1] - c[-2]) / 2]
    )


def cupy_cumsum_rebin(wave, flux, new_wave, ivar):
    """The numpy peer of test_bench_resample.py, run by CuPy (flux and sigma out)."""
    e_in, e_out = _edges(cupy, wave), _edges(cupy, new_wave)
    width_in, width_out = cupy.diff(e_in), cupy.diff(e_out)
    pos = cupy.interp(e_out, e_in, cupy.arange(e_in.size, dtype=cupy.float64))
    i = cupy.minimum(pos.astype(cupy.int64), e_in.size - 2)
    t = pos - i

    def at_edges(density):
        cum = cupy.zeros((density.shape[0], e_in.size))
        cum[:, 1:] = cupy.cumsum(density * width_in, axis=1)
        return cum[:, i] * (1.0 - t) + cum[:, i + 1] * t

    new_flux = cupy.diff(at_edges(flux), axis=1) / width_out
    var = 1.0 / ivar
    new_err = cupy.sqrt(cupy.diff(at_edges(var * width_in), axis=1)) / width_out
    return new_flux, new_err


RS_BYTES = 8 * 2 * N_RS * (M_RS + P_RS)  # flux and ivar in, flux and ivar out (float64)


@pytest.mark.benchmark(group="gpu-resample")
def test_resample_deepz_gpu(benchmark, survey):
    _, d = survey
    out, _ = _bench(
        benchmark,
        "resample deepz GPU",
        lambda: deepz.resample(d["wave"], d["flux"], d["new_wave"], ivar=d["ivar"]),
        N_RS,
        RS_BYTES,
    )
    assert out.shape == (N_RS, P_RS)


@pytest.mark.benchmark(group="gpu-resample")
def test_resample_deepz_cpu(benchmark, survey):
    h, _ = survey
    out, _ = _bench(
        benchmark,
        "resample deepz CPU (all cores)",
        lambda: deepz.resample(h["wave"], h["flux"], h["new_wave"], ivar=h["ivar"]),
        N_RS,
        RS_BYTES,
        rounds=3,
        gpu=False,
    )
    assert out.shape == (N_RS, P_RS)


@pytest.mark.benchmark(group="gpu-resample")
def test_resample_cupy_cumsum(benchmark, survey):
    _, d = survey
    out, _ = _bench(
        benchmark,
        "resample CuPy cumsum",
        lambda: cupy_cumsum_rebin(d["wave"], d["flux"], d["new_wave"], d["ivar"]),
        N_RS,
        RS_BYTES,
    )
    assert out.shape == (N_RS, P_RS)


def test_resample_gpu_equals_cpu_and_the_peer_agrees(survey):
    h, d = survey
    got = deepz.resample(d["wave"], d["flux"][:50], d["new_wave"], ivar=d["ivar"][:50])
    want = deepz.resample(h["wave"], h["flux"][:50], h["new_wave"], ivar=h["ivar"][:50])
    np.testing.assert_array_equal(cupy.asnumpy(got[0]), want[0])
    peer, _ = cupy_cumsum_rebin(d["wave"], d["flux"][:50], d["new_wave"], d["ivar"][:50])
    np.testing.assert_allclose(cupy.asnumpy(peer), want[0], rtol=1e-6)


# -- the Euclid chain -------------------------------------------------------------------------

K = 64
SIGMA = 0.05
CHUNK = 100_000
NS = [100_000, 1_000_000]


def _templates(rng, rest):
    """K smooth positive SEDs with emission lines (as bench/test_bench_chain.py)."""
    x = (rest - rest.min()) / np.ptp(rest)
    t = np.empty((K, rest.size))
    for k in range(K):
        t[k] = np.exp(rng.uniform(-2, 1) * x) * (1 + 0.3 * np.tanh((rest - 4000) / 50))
        for line in (3727.1, 4862.7, 5008.2, 6564.6):
            t[k] += rng.uniform(0, 5) * np.exp(-0.5 * ((rest - line) / 5) ** 2)
    return t.astype(np.float32)


@pytest.fixture(scope="module")
def euclid():
    rng = np.random.default_rng(1)
    rest, obs = grids.preset("euclid_rest"), grids.preset("euclid_nisp")
    templates = _templates(rng, rest)
    index = rng.integers(0, K, max(NS))
    z = rng.uniform(1.0, 1.8, max(NS))
    host = {"rest": rest, "obs": obs, "templates": templates, "index": index, "z": z}
    dev = {k: cupy.asarray(v) for k, v in host.items()}
    return host, dev


def _chain_bytes(n, p=1800):
    return 4 * n * p * (1 + 3 + 2) + 4 * n * (p // 2) * 2 + 16 * n


def deepz_chain(a, n):
    flux = deepz.redshift(a["templates"], a["rest"], a["index"][:n], a["z"][:n], a["obs"])
    noisy, ivar = deepz.add_noise(flux, SIGMA, seed=7)
    return deepz.merge_bins(noisy, 2, ivar=ivar)


def cupy_chain(d, n, seed=7, sigma=SIGMA):
    """A straightforward CuPy chain: cumulative-integral rebinning, normals, reshape-sum."""
    re, oe = _edges(cupy, d["rest"]), _edges(cupy, d["obs"])
    tmpl = d["templates"].astype(cupy.float64)
    cum = cupy.zeros((tmpl.shape[0], re.size))
    cum[:, 1:] = cupy.cumsum(tmpl * cupy.diff(re), axis=1)
    rng = cupy.random.default_rng(seed)
    outs, ivars = [], []
    for s in range(0, n, CHUNK):
        idx, zz = d["index"][s : min(n, s + CHUNK)], d["z"][s : min(n, s + CHUNK)]
        pos = oe[None, :] / (1.0 + zz[:, None])  # rest-frame observed edges
        i = cupy.clip(cupy.searchsorted(re, pos) - 1, 0, re.size - 2)
        frac = (pos - re[i]) / (re[i + 1] - re[i])
        ci, cj = cum[idx[:, None], i], cum[idx[:, None], i + 1]
        c = ci + frac * (cj - ci)
        flux = cupy.diff(c, axis=1) / cupy.diff(pos, axis=1) / (1.0 + zz[:, None])
        flux = flux.astype(cupy.float32)
        noisy = flux + cupy.float32(sigma) * rng.standard_normal(flux.shape, dtype=cupy.float32)
        var = cupy.full_like(noisy, sigma**2)
        outs.append(noisy.reshape(noisy.shape[0], -1, 2).sum(axis=2))
        ivars.append(1.0 / var.reshape(var.shape[0], -1, 2).sum(axis=2))
    return cupy.concatenate(outs), cupy.concatenate(ivars)


@pytest.mark.parametrize("n", NS)
def test_chain_deepz_gpu(benchmark, euclid, n):
    benchmark.group = f"gpu-chain-euclid-{n}"
    _, d = euclid
    out, _ = _bench(
        benchmark,
        f"chain deepz GPU (N={n})",
        lambda: deepz_chain(d, n),
        n,
        _chain_bytes(n),
        rounds=5,
    )
    assert out.shape == (n, 900)


@pytest.mark.parametrize("n", NS)
def test_chain_cupy(benchmark, euclid, n):
    benchmark.group = f"gpu-chain-euclid-{n}"
    _, d = euclid
    out, _ = _bench(
        benchmark, f"chain CuPy (N={n})", lambda: cupy_chain(d, n), n, _chain_bytes(n), rounds=3
    )
    assert out.shape == (n, 900)


@pytest.mark.parametrize("n", NS)
def test_chain_deepz_cpu(benchmark, euclid, n):
    if n > 100_000 and not os.environ.get("DEEPZ_BENCH_CPU_FULL"):
        pytest.skip("the CPU chain at N=1e6: set DEEPZ_BENCH_CPU_FULL=1")
    benchmark.group = f"gpu-chain-euclid-{n}"
    h, _ = euclid
    out, _ = _bench(
        benchmark,
        f"chain deepz CPU, all cores (N={n})",
        lambda: deepz_chain(h, n),
        n,
        _chain_bytes(n),
        rounds=1,
        gpu=False,
    )
    assert out.shape == (n, 900)


def test_chain_gpu_equals_cpu_and_the_peer_agrees(euclid):
    """deepz's GPU chain is the CPU's bit for bit; the CuPy peer computes the same spectra."""
    h, d = euclid
    got = deepz_chain(d, 2000)
    want = deepz_chain(h, 2000)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(cupy.asnumpy(g), w)
    clean = deepz.merge_bins(
        deepz.redshift(h["templates"], h["rest"], h["index"][:2000], h["z"][:2000], h["obs"]), 2
    )
    peer, _ = cupy_chain(d, 2000, sigma=0.0)
    ref = cupy.asnumpy(peer)
    np.testing.assert_allclose(ref, clean, rtol=1e-4, atol=1e-5 * np.abs(clean).max())
