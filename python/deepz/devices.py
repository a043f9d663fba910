"""Where an array lives, and how GPU arrays cross into ``deepz._cuda``.

deepz computes on the device that holds the data: numpy arrays (and anything
numpy can convert) go to the C++ kernels of ``deepz._core``; CuPy arrays and
torch CUDA tensors go to the CUDA kernels of ``deepz._cuda``, zero-copy, and the
result comes back as the same kind of array (CuPy in, CuPy out; torch in,
torch out). Neither CuPy nor torch is a dependency: they are imported only
when an input already is one of theirs.

Dispatch rule
-------------
Every public kernel in :mod:`deepz.kernels` calls :func:`array_device` on its
main array argument (the flux, or the templates):

- ``"cpu"`` (a numpy array, a list, a torch CPU tensor, ...) -> ``deepz._core``;
- ``"cuda"`` (an object exposing ``__cuda_array_interface__``, or whose
  ``__dlpack_device__`` is a CUDA device) -> ``deepz._cuda``, after
  :func:`require_cuda`;
- its other array arguments must live on the same side, checked with
  :func:`common_device`: a mix of host and GPU arrays raises ``TypeError``
  naming the argument that differs (deepz never copies between host and device
  behind your back). Scalars and ``None`` take no part in the rule.

GPU arrays must be C-contiguous and exactly float32 or float64 where the CPU
path demands it; the kernel wrappers make them contiguous with
:func:`as_contiguous` (a copy on the device, as numpy would) and launch on the
current stream of the input's library (:func:`current_stream`), so deepz's
kernels are ordered with the caller's own work on that stream.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "CudaArrayInfo",
    "array_device",
    "as_contiguous",
    "common_device",
    "cuda_array_info",
    "cuda_available",
    "current_stream",
    "dlpack_device",
    "empty_like",
    "is_gpu_array",
    "require_cuda",
]

# DLPack device types (dlpack.h, DLDeviceType).
_DL_CPU = 1
_DL_CUDA = 2
_DL_CUDA_MANAGED = 13

_NO_CUDA_BUILD = "deepz was built without CUDA (nvcc not found at build time)"
_NO_DEVICE = "no CUDA device found"


def _library(x: object) -> str:
    """Top-level package of the array's type: 'numpy', 'cupy', 'torch', 'numba', ..."""
    return type(x).__module__.partition(".")[0]


def dlpack_device(x: object) -> tuple[int, int] | None:
    """Return ``x.__dlpack_device__()`` as ``(device_type, device_id)``, or None.

    ``device_type`` follows DLPack: 1 = CPU, 2 = CUDA, 13 = CUDA managed memory.
    Objects without the method (lists, scalars, older libraries) give None.
    """
    method = getattr(x, "__dlpack_device__", None)
    if method is None:
        return None
    device_type, device_id = method()
    return int(device_type), int(device_id)


def _cuda_array_interface(x: Any) -> dict | None:
    try:
        cai = x.__cuda_array_interface__
    except AttributeError:  # torch CPU tensors raise it from a property
        return None
    return cai


def array_device(x: object) -> str:
    """Return ``"cuda"`` if ``x`` is a GPU array, else ``"cpu"``.

    Parameters
    ----------
    x : object
        An array of any library, or anything numpy can convert.

    Returns
    -------
    str
        ``"cuda"`` for objects exposing ``__cuda_array_interface__`` (CuPy,
        torch CUDA tensors, numba device arrays) or whose ``__dlpack_device__``
        is CUDA (or CUDA managed) memory; ``"cpu"`` for everything else
        (numpy arrays, torch CPU tensors, lists, scalars).

    Raises
    ------
    TypeError
        If ``__dlpack_device__`` names a device deepz cannot compute on
        (ROCm, Metal, oneAPI, ...).

    Examples
    --------
    >>> import numpy as np
    >>> array_device(np.zeros(3))
    'cpu'

    """
    if isinstance(x, np.ndarray):
        return "cpu"
    device = dlpack_device(x)
    if device is not None:
        if device[0] == _DL_CPU:
            return "cpu"
        if device[0] in (_DL_CUDA, _DL_CUDA_MANAGED):
            return "cuda"
        raise TypeError(
            f"{type(x).__name__} lives on DLPack device type {device[0]}; "
            "deepz computes on the CPU (numpy) or on NVIDIA GPUs (CuPy, torch CUDA)"
        )
    return "cuda" if _cuda_array_interface(x) is not None else "cpu"


def is_gpu_array(x: object) -> bool:
    """Return True if ``x`` lives on a CUDA device (see :func:`array_device`)."""
    return array_device(x) == "cuda"


def common_device(**arrays: object) -> str:
    """Return the device of one kernel call's arrays, checking that they agree.

    Parameters
    ----------
    **arrays
        The array arguments by name, the main one first (``flux=flux,
        ivar=ivar, wave=wave``). ``None`` values are skipped.

    Returns
    -------
    str
        ``"cpu"`` or ``"cuda"``: the device of the first array given.

    Raises
    ------
    TypeError
        If an array lives on the other side; the message names it and the main
        argument.

    """
    main_name: str | None = None
    main_device = "cpu"
    for name, value in arrays.items():
        if value is None:
            continue
        device = array_device(value)
        if main_name is None:
            main_name, main_device = name, device
        elif device != main_device:
            where = {"cpu": "a host (numpy) array", "cuda": "a GPU array"}
            raise TypeError(
                f"{name}: is {where[device]} but {main_name} is {where[main_device]}; "
                "pass all the arrays of a call on the same device"
            )
    return main_device


@dataclass(frozen=True)
class CudaArrayInfo:
    """What ``__cuda_array_interface__`` says about a GPU array.

    Attributes
    ----------
    ptr : int
        Device pointer to the first element (0 is allowed for empty arrays).
    shape : tuple of int
        Extent of each axis.
    dtype : numpy.dtype
        Element type, from ``typestr``.
    strides : tuple of int or None
        Bytes between neighbours along each axis; None means C-contiguous.
    stream : int or None
        The producer's stream (protocol v3): 1 = legacy default stream,
        2 = per-thread default stream, else a ``cudaStream_t``; None when not
        given (the consumer need not synchronise).
    readonly : bool
        Whether the producer forbids writes.
    version : int
        Protocol version (0-3).

    """

    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype
    strides: tuple[int, ...] | None
    stream: int | None
    readonly: bool
    version: int

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes spanned by the elements when contiguous."""
        return self.size * self.dtype.itemsize

    def c_strides(self) -> tuple[int, ...]:
        """Return the strides (bytes) of a C-contiguous array of this shape and dtype."""
        strides = []
        step = self.dtype.itemsize
        for extent in reversed(self.shape):
            strides.append(step)
            step *= extent
        return tuple(reversed(strides))

    @property
    def c_contiguous(self) -> bool:
        """True when the elements are laid out in C order without gaps."""
        if self.strides is None or self.size == 0:
            return True
        return all(
            extent == 1 or got == want
            for extent, got, want in zip(self.shape, self.strides, self.c_strides(), strict=True)
        )


def cuda_array_info(x: object, name: str = "x", *, contiguous: bool = True) -> CudaArrayInfo:
    """Read and check ``x.__cuda_array_interface__``.

    Parameters
    ----------
    x : object
        A GPU array exposing ``__cuda_array_interface__`` (versions 0 to 3).
    name : str
        The argument's name, for error messages.
    contiguous : bool
        Require C-contiguous data (what every deepz kernel reads).

    Returns
    -------
    CudaArrayInfo
        Pointer, shape, dtype, strides, stream, read-only flag, version.

    Raises
    ------
    TypeError
        If ``x`` has no ``__cuda_array_interface__`` or a malformed one.
    ValueError
        If the array is masked, its stream is 0 (forbidden by the protocol),
        its strides do not match its shape, or ``contiguous`` is set and it is
        not C-contiguous.

    """
    cai = _cuda_array_interface(x)
    if cai is None:
        raise TypeError(
            f"{name}: expected a CUDA array exposing __cuda_array_interface__ "
            f"(a CuPy array, a torch CUDA tensor, ...), got {type(x).__name__}"
        )
    if not isinstance(cai, dict) or not {"data", "shape", "typestr"} <= cai.keys():
        raise TypeError(f"{name}: malformed __cuda_array_interface__: {cai!r}")
    ptr, readonly = cai["data"]
    shape = tuple(int(n) for n in cai["shape"])
    if any(n < 0 for n in shape):
        raise ValueError(f"{name}: negative extent in shape {shape}")
    try:
        dtype = np.dtype(cai["typestr"])
    except TypeError as err:
        raise TypeError(f"{name}: unreadable typestr {cai['typestr']!r}") from err
    strides = cai.get("strides")
    if strides is not None:
        strides = tuple(int(s) for s in strides)
        if len(strides) != len(shape):
            raise ValueError(f"{name}: strides {strides} do not match shape {shape}")
    if cai.get("mask") is not None:
        raise ValueError(f"{name}: masked CUDA arrays are not supported (use ivar = 0 to mask)")
    stream = cai.get("stream")
    if stream is not None:
        stream = int(stream)
        if stream == 0:
            raise ValueError(
                f"{name}: __cuda_array_interface__['stream'] is 0, which the protocol forbids "
                "(1 = legacy default stream, 2 = per-thread default stream)"
            )
    info = CudaArrayInfo(
        ptr=int(ptr or 0),
        shape=shape,
        dtype=dtype,
        strides=strides,
        stream=stream,
        readonly=bool(readonly),
        version=int(cai.get("version", 0)),
    )
    if contiguous and not info.c_contiguous:
        raise ValueError(
            f"{name}: the GPU array must be C-contiguous, got strides {info.strides} bytes for "
            f"shape {info.shape} of {info.dtype} (expected {info.c_strides()}); pass "
            "x.contiguous() (torch) or cupy.ascontiguousarray(x)"
        )
    return info


def _import(library: str) -> ModuleType:
    # Only ever called for a library whose array we already hold, so it is installed.
    return importlib.import_module(library)


def current_stream(x: Any) -> int:
    """Return the handle of the stream the input's library currently works on.

    Pass it to a ``deepz._cuda`` kernel so that the kernel is ordered after the
    work that produced ``x`` and before the caller's next operation.

    Parameters
    ----------
    x : object
        A GPU array.

    Returns
    -------
    int
        CuPy: ``cupy.cuda.get_current_stream().ptr`` on x's device; torch:
        ``torch.cuda.current_stream(x.device).cuda_stream``; other libraries:
        the stream of ``__cuda_array_interface__``, else 0 (the NULL stream).
        0 = NULL stream, 1 = legacy default stream, 2 = per-thread default.

    Raises
    ------
    TypeError
        If ``x`` is not a GPU array.

    """
    library = _library(x)
    if library == "cupy":
        cupy = _import("cupy")
        with x.device:
            return int(cupy.cuda.get_current_stream().ptr)
    if library == "torch":
        torch = _import("torch")
        if not x.is_cuda:
            raise TypeError(f"expected a torch CUDA tensor, got one on {x.device}")
        return int(torch.cuda.current_stream(x.device).cuda_stream)
    info = cuda_array_info(x, contiguous=False)
    return info.stream or 0


def empty_like(x: Any, shape: tuple[int, ...] | None = None, dtype: Any = None) -> Any:
    """Allocate an uninitialised array of the same kind and device as ``x``.

    Parameters
    ----------
    x : object
        A numpy array, a CuPy array, a torch tensor or a numba device array.
    shape : tuple of int, optional
        Shape of the result (default: x's shape).
    dtype : numpy dtype-like, optional
        Element type (default: x's dtype). Given as a numpy dtype whatever the
        library (``np.float32``), and translated for torch.

    Returns
    -------
    array
        ``numpy.empty`` / ``cupy.empty`` (on x's device, from CuPy's memory
        pool, on its current stream) / ``torch.empty`` (``device=x.device``) /
        ``numba.cuda.device_array``. C-contiguous.

    Raises
    ------
    TypeError
        For a GPU array of a library deepz cannot allocate for.

    """
    shape = tuple(x.shape) if shape is None else tuple(shape)
    library = _library(x)
    if isinstance(x, np.ndarray):
        return np.empty(shape, dtype=x.dtype if dtype is None else dtype)
    if library == "cupy":
        cupy = _import("cupy")
        with x.device:
            return cupy.empty(shape, dtype=x.dtype if dtype is None else dtype)
    if library == "torch":
        torch = _import("torch")
        torch_dtype = x.dtype if dtype is None else _torch_dtype(torch, dtype)
        return torch.empty(shape, dtype=torch_dtype, device=x.device)
    if library == "numba":
        cuda = _import("numba.cuda")
        return cuda.device_array(shape, dtype=x.dtype if dtype is None else dtype)
    raise TypeError(
        f"cannot allocate a result like a {type(x).__module__}.{type(x).__name__}: "
        "deepz returns numpy arrays, CuPy arrays, torch tensors or numba device arrays"
    )


def _torch_dtype(torch: ModuleType, dtype: Any) -> Any:
    # torch.from_numpy knows the numpy <-> torch correspondence of every dtype both have.
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


def as_contiguous(x: Any) -> Any:
    """Return ``x`` itself if C-contiguous, else a C-contiguous copy on its device.

    Works for numpy, CuPy and torch arrays; other GPU arrays must already be
    C-contiguous (ValueError otherwise, from :func:`cuda_array_info`). torch
    tensors are also detached from autograd (the kernels are not
    differentiable, and torch refuses ``__cuda_array_interface__`` to a tensor
    that requires grad).
    """
    library = _library(x)
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x)
    if library == "cupy":
        return _import("cupy").ascontiguousarray(x)
    if library == "torch":
        return x.detach().contiguous()
    cuda_array_info(x)  # raises if not contiguous
    return x


def cuda_available() -> bool:
    """Return True if ``deepz._cuda`` was built and sees at least one CUDA device."""
    try:
        require_cuda()
    except RuntimeError:
        return False
    return True


def require_cuda() -> ModuleType:
    """Return ``deepz._cuda``, or explain why the GPU kernels cannot run.

    Returns
    -------
    module
        ``deepz._cuda``, which sees at least one CUDA device.

    Raises
    ------
    RuntimeError
        ``"deepz was built without CUDA (nvcc not found at build time)"`` when
        the module is absent; ``"no CUDA device found (<reason>)"`` when it
        sees no device (no driver, no GPU, a driver too old for its runtime).

    """
    try:
        _cuda = importlib.import_module(f"{__package__}._cuda")
    except ModuleNotFoundError as err:
        if err.name not in ("deepz._cuda", None):
            raise RuntimeError(f"deepz._cuda failed to import: {err}") from err
        raise RuntimeError(_NO_CUDA_BUILD) from err
    except ImportError as err:  # built, but cannot load (a missing shared library, ...)
        raise RuntimeError(f"deepz._cuda failed to import: {err}") from err
    if _cuda.device_count() == 0:
        raise RuntimeError(f"{_NO_DEVICE} ({_cuda.no_device_reason()})")
    return _cuda
