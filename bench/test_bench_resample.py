"""Benchmark group "resample": deepz beside SpectRes, SpectResC and numpy.

The survey case: 2000 spectra of 4000 log-lambda pixels (3700-9200 A) onto
5001 linear pixels (4000-9000 A, the GaSNet-II grid), with errors, float64.

    pytest bench/test_bench_resample.py --benchmark-only \
        --benchmark-columns=min,median,ops

ops x 2000 = spectra per second. "memcpy" is a plain numpy copy of as many
bytes as deepz reads and writes (flux and ivar in, flux and ivar out, into a
fresh array): the bandwidth reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from deepz.kernels import resample
from deepz.threads import get_num_threads

N, M, P = 2000, 4000, 5001
GROUP = "resample"


@pytest.fixture(scope="module")
def survey():
    """Spectra, errors and grids of the benchmark (seeded)."""
    rng = np.random.default_rng(20261125)
    wave = np.geomspace(3700.0, 9200.0, M)
    new_wave = np.linspace(4000.0, 9000.0, P)
    continuum = 1.0 + 0.5 * np.sin(wave / 700.0)
    flux = continuum * rng.uniform(0.5, 2.0, size=(N, 1)) + rng.normal(0.0, 0.1, size=(N, M))
    err = rng.uniform(0.05, 0.2, size=(N, M))
    return {"wave": wave, "new_wave": new_wave, "flux": flux, "err": err, "ivar": 1.0 / err**2}


def _edges(centres):
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate(
        [
            [centres[0] - (centres[1] - centres[0]) / 2],
            mid,
            [centres[-1] + (centres[-1] - centres[-2]) / 2],
        ]
    )


def numpy_cumsum_rebin(wave, flux, new_wave, err):
    """Vectorised flux-conserving rebin by cumulative integrals.

    The cumulative integral of the flux at the input edges is interpolated
    (np.interp of the fractional edge index) at the output edges; the
    difference divided by the output width is the mean flux. Exact for
    piecewise-constant spectra. Errors by the same trick on (width sigma)^2:
    approximate, as a partial pixel then enters linearly, not squared.
    Assumes the output lies inside the input (true here).
    """
    e_in, e_out = _edges(wave), _edges(new_wave)
    width_in, width_out = np.diff(e_in), np.diff(e_out)
    pos = np.interp(e_out, e_in, np.arange(e_in.size, dtype=float))
    i = np.minimum(pos.astype(np.int64), e_in.size - 2)
    t = pos - i

    def at_edges(density):
        cum = np.zeros((density.shape[0], e_in.size))
        np.cumsum(density * width_in, axis=1, out=cum[:, 1:])
        return cum[:, i] * (1.0 - t) + cum[:, i + 1] * t

    new_flux = np.diff(at_edges(flux), axis=1) / width_out
    new_err = np.sqrt(np.diff(at_edges(err**2 * width_in), axis=1)) / width_out
    return new_flux, new_err


def test_resample_deepz_1thread(benchmark, survey):
    benchmark.group = GROUP
    benchmark.extra_info["spectra"] = N
    s = survey
    benchmark(resample, s["wave"], s["flux"], s["new_wave"], ivar=s["ivar"], threads=1)


def test_resample_deepz_all_cores(benchmark, survey):
    benchmark.group = GROUP
    benchmark.extra_info["spectra"] = N
    benchmark.extra_info["threads"] = get_num_threads()
    s = survey
    benchmark(resample, s["wave"], s["flux"], s["new_wave"], ivar=s["ivar"])


def test_resample_deepz_float32_all_cores(benchmark, survey):
    benchmark.group = GROUP
    benchmark.extra_info["spectra"] = N
    s = survey
    flux, ivar = s["flux"].astype(np.float32), s["ivar"].astype(np.float32)
    benchmark(resample, s["wave"], flux, s["new_wave"], ivar=ivar)


def test_resample_spectres(benchmark, survey):
    spectres = pytest.importorskip("spectres")
    benchmark.group = GROUP
    benchmark.extra_info["spectra"] = N
    s = survey
    benchmark.pedantic(
        spectres.spectres,
        args=(s["new_wave"], s["wave"], s["flux"]),
        kwargs={"spec_errs": s["err"], "verbose": False},
        rounds=3,
        iterations=1,
    )


def test_resample_spectresc(benchmark, survey):
    spectresc = pytest.importorskip("spectresc")
    benchmark.group = GROUP
    benchmark.extra_info["spectra"] = N
    s = survey
    benchmark(
        spectresc.spectres, s["new_wave"], s["wave"], s["flux"], spec_errs=s["err"], verbose=False
    )


def test_resample_numpy_cumsum(benchmark, survey):
    benchmark.group = GROUP
    benchmark.extra_info["spectra"] = N
    s = survey
    new_flux, _ = numpy_cumsum_rebin(s["wave"], s["flux"], s["new_wave"], s["err"])
    ours = resample(s["wave"], s["flux"], s["new_wave"])
    np.testing.assert_allclose(new_flux, ours, rtol=1e-9, atol=1e-9)  # the same job
    benchmark(numpy_cumsum_rebin, s["wave"], s["flux"], s["new_wave"], s["err"])


def test_resample_memcpy_reference(benchmark):
    benchmark.group = GROUP
    benchmark.extra_info["spectra"] = N
    # deepz reads flux + ivar (2 N M doubles) and writes flux + ivar (2 N P):
    # the same traffic as copying N (M + P) doubles into a fresh array.
    src = np.ones((N, M + P))
    benchmark(np.copy, src)
