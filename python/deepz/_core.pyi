"""
deepz compiled kernels (private: use deepz.kernels)
"""

from __future__ import annotations

import typing

import numpy
import numpy.typing

__all__: list[str] = [
    "add_noise",
    "compiler",
    "hardware_threads",
    "line_search",
    "merge_bins",
    "redshift",
    "resample",
    "sanitizers",
]

@typing.overload
def _merge_groupwise(
    arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    arg1: typing.SupportsInt | typing.SupportsIndex,
    arg2: typing.Any,
    arg3: bool,
) -> tuple: ...
@typing.overload
def _merge_groupwise(
    arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg1: typing.SupportsInt | typing.SupportsIndex,
    arg2: typing.Any,
    arg3: bool,
) -> tuple: ...
def _merge_isa(set: str | None = None) -> str:
    """
    Instruction set of the merge kernel ('avx2' or 'baseline'); set='baseline' turns the AVX2 copy off and 'auto' back on where the CPU has it (for tests: both give the same bits).
    """

@typing.overload
def _noise_blockwise(
    arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    arg1: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    arg2: typing.SupportsInt | typing.SupportsIndex,
    arg3: typing.SupportsInt | typing.SupportsIndex,
    arg4: typing.SupportsInt | typing.SupportsIndex,
) -> tuple: ...
@typing.overload
def _noise_blockwise(
    arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg2: typing.SupportsInt | typing.SupportsIndex,
    arg3: typing.SupportsInt | typing.SupportsIndex,
    arg4: typing.SupportsInt | typing.SupportsIndex,
) -> tuple: ...
def _noise_isa(set: str | None = None) -> str:
    """
    Instruction set of the noise kernel ('avx2' or 'baseline'); set='baseline' turns the AVX2 copy off and 'auto' back on where the CPU has it (for tests: both give the same bits).
    """

def _philox4x32_10(
    counter: typing.Annotated[numpy.typing.ArrayLike, numpy.uint32],
    key: typing.Annotated[numpy.typing.ArrayLike, numpy.uint32],
) -> numpy.typing.NDArray[numpy.uint32]:
    """
    Philox-4x32-10 of each row of counter (n, 4) with key (n, 2), uint32 (test hook).
    """

def _poisson_logpmf(
    k: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    lam: typing.SupportsFloat | typing.SupportsIndex,
) -> numpy.typing.NDArray[numpy.float64]:
    """
    log P(k; lam) as PTRS evaluates it, lam >= 10 (test hook).
    """

def _redshift_isa(set: str | None = None) -> str:
    """
    Instruction set of the redshift kernel ('avx2' or 'baseline'); set='baseline' turns the AVX2 copy (and with it the window sweep) off and 'auto' back on where the CPU has it (for tests: the same bits either way).
    """

@typing.overload
def _redshift_pixelwise(
    arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    arg1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg2: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    arg3: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg4: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg5: typing.SupportsInt | typing.SupportsIndex,
    arg6: typing.SupportsFloat | typing.SupportsIndex,
) -> numpy.typing.NDArray[numpy.float32]: ...
@typing.overload
def _redshift_pixelwise(
    arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg2: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    arg3: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg4: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg5: typing.SupportsInt | typing.SupportsIndex,
    arg6: typing.SupportsFloat | typing.SupportsIndex,
) -> numpy.typing.NDArray[numpy.float64]: ...
def _resample_isa(set: str | None = None) -> str:
    """
    Instruction set of the resample kernel ('avx2' or 'baseline'); set='baseline' turns the AVX2 path off and 'auto' back on where the CPU has it (for tests: both give the same bits).
    """

@typing.overload
def _resample_pixelwise(
    arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg1: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    arg2: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None,
    arg3: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg4: bool,
    arg5: typing.SupportsFloat | typing.SupportsIndex,
) -> tuple: ...
@typing.overload
def _resample_pixelwise(
    arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg2: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None,
    arg3: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    arg4: bool,
    arg5: typing.SupportsFloat | typing.SupportsIndex,
) -> tuple: ...
def _rmath_exp(
    arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
) -> numpy.typing.NDArray[numpy.float64]: ...
@typing.overload
def _rmath_log(x: numpy.typing.NDArray[numpy.float32]) -> numpy.typing.NDArray[numpy.float32]: ...
@typing.overload
def _rmath_log(x: numpy.typing.NDArray[numpy.float64]) -> numpy.typing.NDArray[numpy.float64]: ...
def _rmath_log1p(
    arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
) -> numpy.typing.NDArray[numpy.float64]: ...
@typing.overload
def _rmath_sincos2pi(u: numpy.typing.NDArray[numpy.float32]) -> tuple: ...
@typing.overload
def _rmath_sincos2pi(u: numpy.typing.NDArray[numpy.float64]) -> tuple: ...
@typing.overload
def add_noise(
    flux: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    sigma: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    seed: typing.SupportsInt | typing.SupportsIndex,
    offset: typing.SupportsInt | typing.SupportsIndex,
    kind: typing.SupportsInt | typing.SupportsIndex,
    threads: typing.SupportsInt | typing.SupportsIndex,
) -> tuple:
    """
    add_noise(flux (N, M), sigma (1|N, 1|M), seed, offset, kind 0|1, threads) -> (noisy, ivar). Private: use deepz.add_noise.
    """

@typing.overload
def add_noise(
    flux: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sigma: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    seed: typing.SupportsInt | typing.SupportsIndex,
    offset: typing.SupportsInt | typing.SupportsIndex,
    kind: typing.SupportsInt | typing.SupportsIndex,
    threads: typing.SupportsInt | typing.SupportsIndex,
) -> tuple:
    """
    add_noise(flux (N, M), sigma (1|N, 1|M), seed, offset, kind 0|1, threads) -> (noisy, ivar). Private: use deepz.add_noise.
    """

@typing.overload
def line_search(
    wave: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    flux: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    ivar: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None,
    z0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    line_rest: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    line_strength: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    line_sign: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    window: typing.SupportsFloat | typing.SupportsIndex,
    w_dist: typing.SupportsFloat | typing.SupportsIndex,
    w_height: typing.SupportsFloat | typing.SupportsIndex,
    w_spacing: typing.SupportsFloat | typing.SupportsIndex,
    snr_min: typing.SupportsFloat | typing.SupportsIndex,
    threads: typing.SupportsInt | typing.SupportsIndex,
) -> tuple:
    """
    Greedy emission-line refinement of redshifts (private: use deepz.line_search).
    """

@typing.overload
def line_search(
    wave: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    flux: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    ivar: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None,
    z0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    line_rest: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    line_strength: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    line_sign: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    window: typing.SupportsFloat | typing.SupportsIndex,
    w_dist: typing.SupportsFloat | typing.SupportsIndex,
    w_height: typing.SupportsFloat | typing.SupportsIndex,
    w_spacing: typing.SupportsFloat | typing.SupportsIndex,
    snr_min: typing.SupportsFloat | typing.SupportsIndex,
    threads: typing.SupportsInt | typing.SupportsIndex,
) -> tuple:
    """
    Greedy emission-line refinement of redshifts (private: use deepz.line_search).
    """

@typing.overload
def merge_bins(
    flux: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    factor: typing.SupportsInt | typing.SupportsIndex,
    ivar: typing.Any,
    mean: bool,
    threads: typing.SupportsInt | typing.SupportsIndex,
) -> typing.Any:
    """
    merge_bins(flux (N, M), factor, ivar (N, M) or None, mean, threads) -> (flux_out, ivar_out or None, bad): bad = first flat index with ivar < 0, or -1. Private: use deepz.merge_bins.
    """

@typing.overload
def merge_bins(
    flux: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    factor: typing.SupportsInt | typing.SupportsIndex,
    ivar: typing.Any,
    mean: bool,
    threads: typing.SupportsInt | typing.SupportsIndex,
) -> typing.Any:
    """
    merge_bins(flux (N, M), factor, ivar (N, M) or None, mean, threads) -> (flux_out, ivar_out or None, bad): bad = first flat index with ivar < 0, or -1. Private: use deepz.merge_bins.
    """

@typing.overload
def redshift(
    templates: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    rest_wave: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    index: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    z: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    obs_wave: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    mode: typing.SupportsInt | typing.SupportsIndex,
    fill: typing.SupportsFloat | typing.SupportsIndex,
    loglam: bool,
    threads: typing.SupportsInt | typing.SupportsIndex,
    window: typing.SupportsInt | typing.SupportsIndex = 0,
) -> numpy.typing.NDArray[numpy.float32]:
    """
    redshift(templates, rest_wave, index, z, obs_wave, mode, fill, loglam, threads)

    Private: use deepz.redshift. templates (K, R) float32/float64, rest_wave (R,),
    index (N,) int64, z (N,), obs_wave (P,) -> (N, P). mode: 0 none, 1 flambda, 2 fnu.
    loglam: both grids are log-linear with the same step (checked by the caller).
    window: 0 off, 1 the window sweep where the rest grid is linear (AVX2 only), 2 a
    2-pixel window imposed (test hook: windows that miss are redone by the general sweep).
    """

@typing.overload
def redshift(
    templates: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    rest_wave: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    index: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    z: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    obs_wave: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    mode: typing.SupportsInt | typing.SupportsIndex,
    fill: typing.SupportsFloat | typing.SupportsIndex,
    loglam: bool,
    threads: typing.SupportsInt | typing.SupportsIndex,
    window: typing.SupportsInt | typing.SupportsIndex = 0,
) -> numpy.typing.NDArray[numpy.float64]:
    """
    redshift(templates, rest_wave, index, z, obs_wave, mode, fill, loglam, threads)

    Private: use deepz.redshift. templates (K, R) float32/float64, rest_wave (R,),
    index (N,) int64, z (N,), obs_wave (P,) -> (N, P). mode: 0 none, 1 flambda, 2 fnu.
    loglam: both grids are log-linear with the same step (checked by the caller).
    window: 0 off, 1 the window sweep where the rest grid is linear (AVX2 only), 2 a
    2-pixel window imposed (test hook: windows that miss are redone by the general sweep).
    """

@typing.overload
def resample(
    wave: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    flux: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    ivar: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None,
    new_wave: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    linear: bool,
    fill: typing.SupportsFloat | typing.SupportsIndex,
    threads: typing.SupportsInt | typing.SupportsIndex,
) -> tuple:
    """
    resample(wave, flux, ivar, new_wave, linear, fill, threads) -> (flux_out, ivar_out | None)

    Private kernel of deepz.kernels.resample: grids are float64 (1 or N rows), strictly
    increasing; flux/ivar are (N, M) of one float dtype.
    """

@typing.overload
def resample(
    wave: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    flux: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    ivar: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None,
    new_wave: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    linear: bool,
    fill: typing.SupportsFloat | typing.SupportsIndex,
    threads: typing.SupportsInt | typing.SupportsIndex,
) -> tuple:
    """
    resample(wave, flux, ivar, new_wave, linear, fill, threads) -> (flux_out, ivar_out | None)

    Private kernel of deepz.kernels.resample: grids are float64 (1 or N rows), strictly
    increasing; flux/ivar are (N, M) of one float dtype.
    """

__version__: str = "0.1.0"
compiler: str = "12.2.0"
hardware_threads: int = 2
sanitizers: str = ""
