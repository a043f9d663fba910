"""Device-side helpers of the GPU paths of :mod:`deepz.kernels` (private).

The GPU path of a kernel validates its arguments like the CPU path, but
without copying data to the host: shapes and dtypes come from the arrays'
metadata, and the checks that need values (a grid strictly monotonic and
finite, an index in range, a redshift > -1) run on the device with the
input's own library (CuPy or torch), their verdicts fetched in ONE small
device-to-host transfer per call (:meth:`Checks.run`, which synchronises the
stream). Only when a check fails is the offending argument copied to the host,
to raise the very error, with the same message, as the CPU path.

Arrays of other libraries exposing ``__cuda_array_interface__`` (numba device
arrays, ...) or only DLPack (JAX, ...) are viewed as CuPy arrays (zero-copy;
needs CuPy), and the result is then a CuPy array.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

from . import devices

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _library(x: object) -> str:
    return type(x).__module__.partition(".")[0]


def native(x: Any, name: str) -> Any:
    """Return x as a CuPy array or torch CUDA tensor (zero-copy), detached from autograd."""
    if _library(x) == "torch":
        return x.detach()
    if _library(x) == "cupy":
        return x
    try:
        cupy = importlib.import_module("cupy")
    except ImportError:
        raise TypeError(
            f"{name}: deepz computes on CuPy arrays and torch CUDA tensors; a "
            f"{type(x).__module__}.{type(x).__name__} needs CuPy to be viewed as one"
        ) from None
    if getattr(x, "__cuda_array_interface__", None) is None and hasattr(x, "__dlpack__"):
        return cupy.from_dlpack(x)  # DLPack-only GPU arrays (JAX, ...), zero-copy
    return cupy.asarray(x)


def xp(x: Any) -> ModuleType:
    """Return the array module of x: cupy or torch."""
    return importlib.import_module("torch" if _library(x) == "torch" else "cupy")


def dtype(x: Any) -> np.dtype:
    """Return the numpy dtype of a CuPy array or torch tensor (from its metadata).

    A torch dtype numpy lacks (bfloat16, ...) gives ``np.dtype("V2")``-like
    void dtypes, refused by every check (messages use :func:`dtype_name`).
    """
    if _library(x) == "torch":
        try:
            return np.dtype(str(x.dtype).removeprefix("torch."))
        except TypeError:
            return np.dtype(("V", x.element_size()))
    return np.dtype(x.dtype)


def dtype_name(x: Any) -> str:
    """Return the dtype of x as its library names it, without the ``torch.`` prefix."""
    return str(x.dtype).removeprefix("torch.")


def host_scalar(x: Any) -> bool:
    """Return True for a Python or numpy scalar, or a 0-d numpy array of numbers.

    Such a number lives on no device: it takes no part in the device rule,
    and the GPU paths check it on the host with the CPU path's validator.
    """
    if isinstance(x, np.ndarray):
        return x.ndim == 0 and x.dtype.kind in "iuf"
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(
        x, (bool, np.bool_)
    )


def arrays_only(x: Any) -> Any:
    """Return x, or None when it is no array (scalars take no part in the device rule).

    None for host scalars and for None, strings and booleans (which the
    kernels then refuse with the CPU path's message).
    """
    if host_scalar(x) or x is None or isinstance(x, (str, bytes, bool, np.bool_)):
        return None
    return x


def astype(x: Any, dt: Any) -> Any:
    """Return x converted to the numpy dtype dt on its device (x itself if it already is)."""
    dt = np.dtype(dt)
    if dtype(x) == dt:
        return x
    if _library(x) == "torch":
        return x.to(devices._torch_dtype(xp(x), dt))
    return x.astype(dt)


def contiguous(x: Any) -> Any:
    """Return x itself if C-contiguous, else a C-contiguous copy on its device."""
    return devices.as_contiguous(x)


def flip_last(x: Any) -> Any:
    """Return a C-contiguous copy of x reversed along its last axis."""
    if _library(x) == "torch":
        return xp(x).flip(x, dims=(-1,)).contiguous()
    return xp(x).ascontiguousarray(x[..., ::-1])


def to_numpy(x: Any) -> np.ndarray:
    """Copy a device array to the host (error paths and tests only)."""
    if _library(x) == "torch":
        return x.detach().cpu().numpy()
    return xp(x).asnumpy(x)


def from_numpy(host: np.ndarray, like: Any) -> Any:
    """Copy a (small) host array to the device and library of ``like``."""
    host = np.ascontiguousarray(host)
    if _library(like) == "torch":
        return xp(like).from_numpy(host).to(like.device)
    cupy = xp(like)
    with like.device:
        return cupy.asarray(host)


def full(like: Any, shape: tuple[int, ...], value: Any, dt: Any) -> Any:
    """Return an array of ``shape`` filled with ``value``, on the device and library of ``like``."""
    out = devices.empty_like(like, shape=shape, dtype=dt)
    out[...] = value
    return out


def vector(value: Any, like: Any, n: int, dt: Any) -> Any:
    """Return an (n,) C-contiguous device array of dtype dt.

    From an (n,) device array, or a 0-d device array or a host scalar
    (broadcast), on the device of ``like``.
    """
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.item()
    if host_scalar(value) or value.ndim == 0:
        return full(like, (n,), value, dt)
    return contiguous(astype(value, dt))


def require_float(name: str, x: Any) -> np.dtype:
    """TypeError naming x unless it is float32/float64, as _validate.float_array says it."""
    dt = dtype(x)
    if dt not in _FLOATS:
        raise TypeError(f"{name} must be float32 or float64, got dtype {dtype_name(x)}")
    return dt


class Batch:
    """Scalars computed on the device, fetched to the host in one transfer.

    ``add(value)`` queues a 0-d device array (a flag or a number) and returns
    its position; ``fetch()`` copies them all at once (one synchronisation of
    the current stream) as a float64 numpy array.
    """

    def __init__(self, like: Any):
        self._like = like
        self._values: list[Any] = []

    def add(self, value: Any) -> int:
        self._values.append(astype(value.reshape(()), np.float64))
        return len(self._values) - 1

    def fetch(self) -> np.ndarray:
        if not self._values:
            return np.empty(0)
        return to_numpy(xp(self._like).stack(self._values)).astype(np.float64)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


class Grid:
    """A wavelength grid checked on the device, as ``_validate.wave_grid`` checks it.

    The constructor checks the metadata (shape, dtype; messages as the CPU
    path's), makes the grid a 2-D (1, M) or (N, M) C-contiguous float64 device
    array, and queues its value checks (finite; strictly increasing, or
    strictly decreasing in every row) on ``batch``; ``finish(values)``, given
    ``batch.fetch()``, raises the CPU path's error if they failed, else returns
    ``(wave, decreasing)``, wave flipped to increasing order when it was
    decreasing.
    """

    def __init__(
        self, name: str, value: Any, batch: Batch, n_spectra: int | None = None, min_pixels: int = 2
    ):
        self.name, self._value, self._n_spectra, self._min = name, value, n_spectra, min_pixels
        if dtype(value).kind not in "iuf":
            raise TypeError(
                f"{name} must be an array of real numbers, got dtype {dtype_name(value)}"
            )
        shape = tuple(value.shape)
        if len(shape) not in (1, 2):
            raise ValueError(f"{name} must have shape (M,) or (N, M), got {_shape(shape)}")
        arr = contiguous(astype(value, np.float64))
        arr = arr.reshape(1, shape[0]) if len(shape) == 1 else arr
        if arr.shape[1] < min_pixels:
            raise ValueError(f"{name} needs at least {min_pixels} pixels, got {arr.shape[1]}")
        if arr.shape[0] == 0:
            raise ValueError(f"{name} is empty: shape {_shape(tuple(arr.shape))}")
        if n_spectra is not None and arr.shape[0] not in (1, n_spectra):
            raise ValueError(
                f"{name} must have shape (M,) or ({n_spectra}, M) to match the batch, "
                f"got {_shape(tuple(arr.shape))}"
            )
        self.wave = arr
        mod = xp(arr)
        step = arr[:, 1:] - arr[:, :-1]
        self._finite = batch.add(mod.isfinite(arr).all())
        self._inc = batch.add((step > 0).all())
        self._dec = batch.add((step < 0).all())

    def finish(self, values: np.ndarray) -> tuple[Any, bool]:
        ok = values[self._finite] and (values[self._inc] or values[self._dec])
        if not ok:
            from ._validate import wave_grid

            wave_grid(self.name, to_numpy(self._value), self._n_spectra, self._min)
            raise AssertionError(f"{self.name}: the device and host grid checks disagree")
        if values[self._inc]:
            return self.wave, False
        return flip_last(self.wave), True


# Row chunks of the device-side value checks: temporaries stay below
# _CHUNK_ELEMENTS elements (128M: a few hundred MB of booleans) however large
# the batch, in a handful of launches.
_CHUNK_ELEMENTS = 1 << 27


def reduce_rows(x: Any, fn, how: str) -> Any:
    """Return ``fn`` applied to chunks of rows of x, combined on the device.

    ``fn(chunk)`` returns a 0-d device array; ``how`` is "all" (flags, AND)
    or "max". Nothing is fetched: the result is a 0-d device array.
    """
    rows = int(x.shape[0]) if x.ndim > 0 else 1
    per_row = max(1, int(np.prod(tuple(x.shape[1:]), dtype=np.int64))) if x.ndim > 0 else 1
    step = max(1, _CHUNK_ELEMENTS // per_row)
    if x.ndim == 0 or rows <= step:
        parts = [fn(x)]
    else:
        parts = [fn(x[i : i + step]) for i in range(0, rows, step)]
    if len(parts) == 1:
        return parts[0]
    stacked = xp(x).stack([p.reshape(()) for p in parts])
    return stacked.all() if how == "all" else stacked.max()


def flux_batch(name: str, value: Any) -> tuple[Any, bool]:
    """Return ``(flux, was_1d)`` as ``_validate.flux_batch``: a non-empty (N, M) device array.

    Checked from the metadata (dtype float32/float64, 1-D or 2-D, not empty),
    with the CPU path's messages; C-contiguous.
    """
    arr = native(value, name)
    require_float(name, arr)
    shape = tuple(int(e) for e in arr.shape)
    if len(shape) not in (1, 2):
        raise ValueError(f"{name} must have shape (M,) or (N, M), got {_shape(shape)}")
    was_1d = len(shape) == 1
    if was_1d:
        arr = arr.reshape(1, shape[0])
        shape = (1, shape[0])
    if shape[0] == 0:
        raise ValueError(f"{name} is an empty batch: shape {_shape(shape)}")
    if shape[1] == 0:
        raise ValueError(f"{name} has no pixels: shape {_shape(shape)}")
    return contiguous(arr), was_1d


class Ivar:
    """An inverse variance checked on the device, as ``_validate.ivar_like`` checks it.

    ``Ivar(name, value, flux, batch).ivar`` is None for None, else the (N, M)
    C-contiguous device array in the dtype of flux; ``finish(values)`` raises
    the CPU path's error if it holds a negative value.
    """

    def __init__(self, name: str, value: Any, flux: Any, batch: Batch):
        self.name = name
        self.ivar = None
        self._slot = None
        if value is None:
            return
        arr = native(value, name)
        require_float(name, arr)
        if arr.ndim == 1 and flux.shape[0] == 1:
            arr = arr.reshape(1, -1)
        if tuple(arr.shape) != tuple(flux.shape):
            raise ValueError(
                f"{name} must have the shape of flux {_shape(tuple(flux.shape))}, "
                f"got {_shape(tuple(arr.shape))}"
            )
        self.ivar = contiguous(astype(arr, dtype(flux)))
        self._slot = batch.add(reduce_rows(self.ivar, lambda c: ~(c < 0).any(), "all"))

    def finish(self, values: np.ndarray) -> Any:
        if self._slot is not None and not values[self._slot]:
            raise ValueError(
                f"{self.name} must be >= 0 (0 marks a masked pixel); it has negative values"
            )
        return self.ivar
