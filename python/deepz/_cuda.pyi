"""
deepz CUDA kernels and device queries (private: use deepz.kernels, deepz.devices)
"""

from __future__ import annotations

import typing

__all__: list[str] = [
    "add_noise",
    "compiled_architectures",
    "cuda_runtime_version",
    "device_count",
    "devices",
    "driver_version",
    "line_search",
    "merge_bins",
    "no_device_reason",
    "redshift",
    "resample",
    "scale",
]

def _array_info(obj: typing.Any, name: str = "x") -> dict:
    """
    What the C++ side reads from obj.__cuda_array_interface__ (tests, debugging).
    """

def add_noise(
    flux: typing.Any,
    sigma: typing.Any,
    seed: typing.SupportsInt | typing.SupportsIndex,
    offset: typing.SupportsInt | typing.SupportsIndex,
    kind: typing.SupportsInt | typing.SupportsIndex,
    noisy: typing.Any,
    ivar: typing.Any,
    stream: typing.SupportsInt | typing.SupportsIndex | None = None,
) -> None:
    """
    Private: use deepz.add_noise. The arguments of _core.add_noise on the device, with
    the outputs noisy and ivar (N, M) given; asynchronous on `stream`.
    """

def device_count() -> int:
    """
    Number of CUDA devices visible to this process (0, never an error, without a driver or GPU).
    """

def devices() -> list:
    """
    One dict per device: index, name, compute_capability (major, minor), total_memory (bytes), multiprocessors, peak_bandwidth (bytes/s, 0 if unknown).
    """

def driver_version() -> typing.Any:
    """
    The CUDA version the installed driver supports ('13.0'), or None without a driver.
    """

def line_search(
    wave: typing.Any,
    flux: typing.Any,
    ivar: typing.Any,
    z0: typing.Any,
    line_rest: typing.Any,
    line_strength: typing.Any,
    line_sign: typing.Any,
    line_order: typing.Any,
    window: typing.SupportsFloat | typing.SupportsIndex,
    w_dist: typing.SupportsFloat | typing.SupportsIndex,
    w_height: typing.SupportsFloat | typing.SupportsIndex,
    w_spacing: typing.SupportsFloat | typing.SupportsIndex,
    snr_min: typing.SupportsFloat | typing.SupportsIndex,
    z: typing.Any,
    line_wave: typing.Any,
    line_snr: typing.Any,
    n_found: typing.Any,
    quality: typing.Any,
    scratch: typing.Any,
    stream: typing.SupportsInt | typing.SupportsIndex | None = None,
) -> None:
    """
    Private: use deepz.line_search. The arguments of _core.line_search on the device,
    with the search order, the outputs and the scratch given; asynchronous.
    """

def merge_bins(
    flux: typing.Any,
    factor: typing.SupportsInt | typing.SupportsIndex,
    ivar: typing.Any,
    mean: bool,
    flux_out: typing.Any,
    ivar_out: typing.Any,
    stream: typing.SupportsInt | typing.SupportsIndex | None = None,
) -> None:
    """
    Private: use deepz.merge_bins. The arguments of _core.merge_bins on the device, with
    the outputs given (ivar_out None exactly when ivar is); asynchronous on `stream`.
    """

def no_device_reason() -> str:
    """
    Why device_count() is 0 (the CUDA error or 'no device'); '' when there is a device.
    """

def redshift(
    templates: typing.Any,
    rest_wave: typing.Any,
    index: typing.Any,
    z: typing.Any,
    obs_wave: typing.Any,
    mode: typing.SupportsInt | typing.SupportsIndex,
    fill: typing.SupportsFloat | typing.SupportsIndex,
    out: typing.Any,
    edges: typing.Any,
    stream: typing.SupportsInt | typing.SupportsIndex | None = None,
) -> None:
    """
    Private: use deepz.redshift. The arguments of _core.redshift on the device, with
    out (N, P) and edges (R + P + 2,) float64 scratch given; asynchronous on `stream`.
    """

def resample(
    wave: typing.Any,
    flux: typing.Any,
    ivar: typing.Any,
    new_wave: typing.Any,
    linear: bool,
    fill: typing.SupportsFloat | typing.SupportsIndex,
    out: typing.Any,
    out_ivar: typing.Any,
    plan: typing.Any,
    stream: typing.SupportsInt | typing.SupportsIndex | None = None,
) -> None:
    """
    Private: use deepz.resample. The arguments of _core.resample on the device, with the
    outputs and the plan scratch (5 P float64) given; asynchronous on `stream`.
    """

def scale(
    x: typing.Any,
    factor: typing.SupportsFloat | typing.SupportsIndex,
    stream: typing.SupportsInt | typing.SupportsIndex | None = None,
) -> None:
    """
    Multiply a float32/float64 CUDA array by ``factor`` in place (a demo kernel).

    x: any C-contiguous, writable object exposing ``__cuda_array_interface__``.
    factor: cast to the dtype of x first (float32 arithmetic for float32 x).
    stream: integer stream handle to run on (0 NULL, 1 legacy default, 2 per-thread
    default, else a cudaStream_t such as ``cupy.cuda.get_current_stream().ptr``);
    None: the stream of x's interface, else the NULL stream. Asynchronous.
    """

compiled_architectures: list = [80, 90]
cuda_runtime_version: str = "13.0"
