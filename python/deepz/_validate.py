"""Argument checks shared by the kernel wrappers.

Each function converts one argument, checks it, and raises ``TypeError`` or
``ValueError`` with a message that names the argument, what was expected and
what was given. Nothing here computes.
"""

from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _shape(a: np.ndarray) -> str:
    return "(" + ", ".join(str(s) for s in a.shape) + ")"


def float_array(name: str, value, dtype=None) -> np.ndarray:
    """Return ``value`` as a C-contiguous float32/float64 array.

    Integer, complex, float16 and object inputs raise ``TypeError`` rather
    than being converted in silence; Python lists of floats become float64.
    When ``dtype`` is given, float arrays are cast to it (one cast at the
    boundary).
    """
    arr = np.asarray(value)
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got dtype {arr.dtype}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return np.ascontiguousarray(arr)


def flux_batch(name: str, value) -> tuple[np.ndarray, bool]:
    """Return ``(flux, was_1d)``: a non-empty (N, M) float array.

    A 1-D array is one spectrum and becomes (1, M); ``was_1d`` says so, so the
    wrapper can give back a 1-D result.
    """
    arr = float_array(name, value)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (M,) or (N, M), got {_shape(arr)}")
    was_1d = arr.ndim == 1
    if was_1d:
        arr = arr[None, :]
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch: shape {_shape(arr)}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no pixels: shape {_shape(arr)}")
    return arr, was_1d


def wave_grid(name: str, value, n_spectra: int | None = None, min_pixels: int = 2):
    """Return ``(wave, decreasing)``: a finite, strictly monotonic float64 grid.

    ``value`` is one grid (M,) or one per spectrum (N, M); the result is
    always 2-D, (1, M) or (N, M). Grids must be strictly increasing, or
    strictly decreasing (then ``decreasing`` is True and the caller flips
    them); all rows of a per-spectrum grid run the same way.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of real numbers: {err}") from None
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (M,) or (N, M), got {_shape(arr)}")
    arr = np.ascontiguousarray(arr.reshape(-1, arr.shape[-1]) if arr.ndim == 1 else arr)
    if arr.shape[1] < min_pixels:
        raise ValueError(f"{name} needs at least {min_pixels} pixels, got {arr.shape[1]}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: shape {_shape(arr)}")
    if n_spectra is not None and arr.shape[0] not in (1, n_spectra):
        raise ValueError(
            f"{name} must have shape (M,) or ({n_spectra}, M) to match the batch, got {_shape(arr)}"
        )
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} must be finite: it holds {arr[tuple(bad)]} at index {tuple(bad)}")
    step = np.diff(arr, axis=1)
    if np.all(step > 0):
        return arr, False
    if np.all(step < 0):
        return np.ascontiguousarray(arr[:, ::-1]), True
    row, col = np.argwhere(~(step > 0))[0]
    raise ValueError(
        f"{name} must be strictly increasing (or strictly decreasing, the same way in every "
        f"row): {name}[{row}, {col + 1}] = {arr[row, col + 1]} follows {arr[row, col]}"
    )


def ivar_like(name: str, value, flux: np.ndarray, check_sign: bool = True) -> np.ndarray | None:
    """Return ``value`` as an inverse variance shaped and typed like ``flux``.

    ``None`` stays ``None``. Negative values raise (unless ``check_sign`` is
    False: a kernel that checks the sign during its own sweep saves a pass).
    NaN is left as it is: each kernel treats a NaN ivar as masked (weight 0),
    like ivar == 0.
    """
    if value is None:
        return None
    arr = float_array(name, value)
    if arr.ndim == 1 and flux.shape[0] == 1:
        arr = arr[None, :]
    if arr.shape != flux.shape:
        raise ValueError(f"{name} must have the shape of flux {_shape(flux)}, got {_shape(arr)}")
    arr = arr.astype(flux.dtype, copy=False)
    if check_sign and np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 (0 marks a masked pixel); it has negative values")
    return np.ascontiguousarray(arr)


def scalar(name: str, value, *, lo=None, hi=None, lo_open=False) -> float:
    """Return ``value`` as a finite float inside the given bounds (no strings, no bools)."""
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not np.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}")
    if lo is not None and (out <= lo if lo_open else out < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {out}")
    if hi is not None and out > hi:
        raise ValueError(f"{name} must be <= {hi}, got {out}")
    return out


def check_seed(seed, name: str = "seed") -> int:
    """Return ``seed`` as an int in [0, 2**64), the one seed range of deepz (or raise, naming it).

    Raises
    ------
    TypeError
        Not an integer (bools included).
    ValueError
        Outside [0, 2**64).

    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int in [0, 2**64), got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"{name} must be in [0, 2**64), got {seed}")
    return seed
