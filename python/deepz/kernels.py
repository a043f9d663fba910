"""The public kernels: resample, redshift, add_noise, merge_bins, line_search.

Each function here validates and converts its arguments (messages name the
argument), picks the compiled implementation, and documents units, shapes and
edge behaviour. None of them computes: the work is done in ``deepz._core``
(C++, threads across spectra, the GIL released).

Conventions shared by all kernels
---------------------------------
- Wavelengths are in Angstrom; a grid is given by its pixel centres, and bin
  edges lie half-way between neighbouring centres (the SpectRes convention).
- A batch of spectra is an (N, M) array; a 1-D (M,) array is one spectrum and
  gives a 1-D result.
- Fluxes are float32 or float64 and the result has the dtype of the flux;
  wavelengths and redshifts are computed in float64 whatever their dtype.
- ``ivar`` is the inverse variance; 0 marks a masked pixel. A NaN flux is
  data that is missing: it is treated as masked, never spread.
- ``threads=None`` uses :func:`deepz.threads.get_num_threads`.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._validate import float_array, flux_batch, ivar_like, scalar, wave_grid
from .threads import resolve_threads

__all__ = ["add_noise", "line_search", "merge_bins", "redshift", "resample"]


# =============================================================================
# resample
# =============================================================================


def resample(wave, flux, new_wave, ivar=None, method="flux", fill=np.nan, threads=None):
    """Resample spectra onto a new wavelength grid."""
    raise NotImplementedError("resample: work in progress")


# =============================================================================
# redshift
# =============================================================================


def redshift(templates, rest_wave, index, z, obs_wave, scale="flambda", fill=np.nan, threads=None):
    """Place rest-frame templates at redshifts z on an observed grid."""
    raise NotImplementedError("redshift: work in progress")


# =============================================================================
# add_noise
# =============================================================================


_NOISE_KINDS = {"gaussian": 0, "poisson": 1}
_POISSON_MAX_COUNTS = 2.0**52


def _noise_uint64(name, value, upper=2**64):
    """Return ``value`` as a Python int in [0, upper); TypeError for non-integers."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    out = int(value)
    if not 0 <= out < upper:
        raise ValueError(f"{name} must be in [0, {upper}), got {out}")
    return out


def _noise_sigma(sigma, n: int, m: int, dtype) -> np.ndarray:
    """Return sigma as a C-contiguous (1 or n, 1 or m) array of ``dtype``."""
    if isinstance(sigma, (bool, np.bool_)):
        raise TypeError(f"sigma must be a real number or a float array, got {sigma!r}")
    if isinstance(sigma, (int, float, np.integer, np.floating)):
        arr = np.full((1, 1), scalar("sigma", sigma), dtype=dtype)
    elif isinstance(sigma, (str, bytes)) or (
        np.ndim(sigma) == 0 and not isinstance(sigma, np.ndarray)
    ):  # strings, None and other non-numbers
        raise TypeError(f"sigma must be a real number or a float array, got {sigma!r}")
    else:
        arr = float_array("sigma", sigma)
        shape = "(" + ", ".join(str(d) for d in arr.shape) + ")"
        if arr.ndim == 0:
            arr = arr.reshape(1, 1)
        elif arr.ndim == 1:
            size = arr.shape[0]
            if size == 1:
                arr = arr.reshape(1, 1)
            elif size == m and size == n:
                raise ValueError(
                    f"sigma of shape {shape} is ambiguous: flux has N = M = {n} (spectra = "
                    f"pixels); pass sigma with shape ({n}, 1) for one sigma per spectrum or "
                    f"(1, {m}) for one per pixel"
                )
            elif size == m:
                arr = arr.reshape(1, m)
            elif size == n:
                arr = arr.reshape(n, 1)
            else:
                raise ValueError(
                    f"sigma must be a scalar or have shape ({n},) (per spectrum), ({m},) (per "
                    f"pixel), ({n}, 1), (1, {m}) or ({n}, {m}) to match flux, got {shape}"
                )
        elif arr.ndim == 2:
            if arr.shape[0] not in (1, n) or arr.shape[1] not in (1, m):
                raise ValueError(
                    f"sigma must have shape (1 or {n}, 1 or {m}) to broadcast against flux "
                    f"({n}, {m}), got {shape}"
                )
        else:
            raise ValueError(f"sigma must be a scalar, 1-D or 2-D, got shape {shape}")
        arr = np.ascontiguousarray(arr.astype(dtype, copy=False))
    good = np.isfinite(arr) & (arr > 0)
    if not np.all(good):
        bad = tuple(int(i) for i in np.argwhere(~good)[0])
        raise ValueError(
            f"sigma must be finite and > 0 (in {np.dtype(dtype).name}), got {arr[bad]} at "
            f"index {bad}"
        )
    smallest = np.float64(arr.min())
    with np.errstate(over="ignore", divide="ignore"):
        ivar_max = (1.0 / (smallest * smallest)).astype(dtype)  # as the kernel computes it
    if not np.isfinite(ivar_max):
        raise ValueError(
            f"sigma must be large enough for 1/sigma**2 to fit in {np.dtype(dtype).name}, "
            f"got {smallest}"
        )
    return arr


def add_noise(flux, sigma, seed, kind="gaussian", offset=0, threads=None):
    r"""Add reproducible Gaussian or Poisson noise to spectra.

    The noise of pixel ``p`` of spectrum ``n`` is a pure function of
    ``(seed, offset + n, p)``: it comes from the counter-based generator
    Philox-4x32-10 keyed by ``seed`` with the global spectrum index
    ``offset + n`` and the pixel in the counter. A batch drawn at once and the
    same spectra drawn in pieces (with the matching ``offset``) are identical
    bit for bit, whatever the thread count, and so will the GPU twin be.

    Parameters
    ----------
    flux : array_like, shape (M,) or (N, M), float32 or float64
        Noise-free spectra (any flux unit). For ``kind="poisson"`` the
        expected signal, which must be >= 0 where finite.
    sigma : float or array_like
        ``kind="gaussian"``: the standard deviation of the noise, in flux
        units. ``kind="poisson"``: the flux of one count, ``s``.
        A scalar, ``(N,)`` (one per spectrum), ``(M,)`` (one per pixel),
        ``(N, 1)``, ``(1, M)`` or ``(N, M)``; broadcast, never copied to
        (N, M). When N == M a 1-D sigma is ambiguous and refused: give it as
        (N, 1) or (1, M). Must be finite and > 0 after conversion to the
        dtype of ``flux``.
    seed : int
        Key of the generator, in [0, 2**64).
    kind : {"gaussian", "poisson"}
        The noise model (see Notes).
    offset : int, optional
        Global index of the first spectrum of the batch, >= 0 (with
        ``offset + N <= 2**64``). Spectrum ``n`` draws the noise of spectrum
        ``offset + n``.
    threads : int, optional
        Threads across spectra; ``None`` uses :func:`deepz.get_num_threads`.
        The result does not depend on it.

    Returns
    -------
    noisy : ndarray, shape and dtype of ``flux``
        The noisy spectra.
    ivar : ndarray, shape and dtype of ``flux``
        Their inverse variance: ``1 / sigma**2`` (Gaussian) or
        ``1 / (s * max(flux, s))`` (Poisson), 0 where flux is masked.

    Raises
    ------
    TypeError
        ``flux`` or ``sigma`` of a non-float dtype; ``seed`` or ``offset`` not
        an int.
    ValueError
        A bad shape of ``flux`` or ``sigma``, ``sigma`` <= 0 or not finite,
        ``seed`` outside [0, 2**64), ``offset`` < 0, an unknown ``kind``,
        negative ``flux`` or ``flux / sigma`` > 2**52 with ``kind="poisson"``.

    Notes
    -----
    Gaussian: ``noisy = flux + sigma * z`` with ``z`` standard normal, by the
    Box-Muller transform of two uniforms ``u = ((x >> 9) + 1/2) 2**-23``
    (``x`` a 32-bit Philox word; exact in float32, ``u`` in
    [2**-24, 1 - 2**-24], so ``|z| < 5.77``). ``log``, ``sin`` and ``cos``
    are deepz's own polynomials (within 2 ulp) evaluated in a fixed order, not
    the platform's libm, so every machine and the GPU give the same bits.
    float32 flux: ``z`` and ``flux + sigma * z`` are computed in float32.
    float64 flux: the same uniforms, ``z`` computed in float64 (so it equals
    the float32 ``z`` to float32 precision).

    Poisson: ``noisy = s * K`` with ``K ~ Poisson(flux / s)`` computed in
    float64 (exact inversion for ``flux / s < 10``, Hormann's PTRS rejection
    method above, each pixel on its own Philox stream). ``ivar`` is the
    inverse of the expected variance ``s * flux`` with a floor of one count
    (``s**2``), so pixels with no signal keep a finite weight.

    A non-finite flux (NaN, +-inf) is masked: it is returned unchanged with
    ivar 0, and the noise of the other pixels does not change.

    Examples
    --------
    >>> import numpy as np
    >>> import deepz
    >>> flux = np.ones((2, 5), dtype=np.float32)
    >>> noisy, ivar = deepz.add_noise(flux, 0.1, seed=42)
    >>> noisy.shape, float(ivar[0, 0])
    ((2, 5), 100.0)
    >>> later, _ = deepz.add_noise(flux[1:], 0.1, seed=42, offset=1)
    >>> bool(np.array_equal(later, noisy[1:]))
    True

    """
    flux, was_1d = flux_batch("flux", flux)
    n, m = flux.shape
    if not isinstance(kind, str) or kind not in _NOISE_KINDS:
        raise ValueError(f"kind must be 'gaussian' or 'poisson', got {kind!r}")
    seed = _noise_uint64("seed", seed)
    offset = _noise_uint64("offset", offset)
    if offset + n > 2**64:
        raise ValueError(f"offset + N must be <= 2**64, got offset {offset} with N = {n}")
    sig = _noise_sigma(sigma, n, m, flux.dtype)
    if kind == "poisson":
        finite = np.isfinite(flux)
        negative = (flux < 0) & finite
        if np.any(negative):
            bad = tuple(int(i) for i in np.argwhere(negative)[0])
            raise ValueError(
                f"flux must be >= 0 where finite with kind='poisson' (it is the expected "
                f"signal), got {flux[bad]} at index {bad}"
            )
        counts = np.where(finite, flux, 0).astype(np.float64) / sig.astype(np.float64)
        most = float(counts.max())
        if most > _POISSON_MAX_COUNTS:
            raise ValueError(
                f"flux / sigma (the expected number of counts; sigma is the flux of one count "
                f"with kind='poisson') must be <= 2**52, got {most:.6g}"
            )
    noisy, ivar = _core.add_noise(
        flux, sig, seed, offset, _NOISE_KINDS[kind], resolve_threads(threads)
    )
    if was_1d:
        return noisy[0], ivar[0]
    return noisy, ivar


# =============================================================================
# merge_bins
# =============================================================================


_MERGE_HOW = {"sum": False, "mean": True}


def merge_bins(flux, factor, ivar=None, how="sum", threads=None):
    r"""Merge each ``factor`` adjacent pixels into one.

    Output pixel ``o`` covers input pixels ``factor*o .. factor*o + factor-1``
    (on a regular grid its centre is the mean of theirs). The
    ``M % factor`` trailing pixels that do not fill a group are dropped.

    Parameters
    ----------
    flux : array_like, shape (M,) or (N, M), float32 or float64
        Spectra (any flux unit).
    factor : int
        Pixels per merged pixel, 1 <= factor <= M.
    ivar : array_like, optional
        Inverse variance of ``flux``, same shape; 0 (or NaN) marks a masked
        pixel. When given, the merged inverse variance is returned too.
    how : {"sum", "mean"}
        ``"sum"``: flux ``sum f_i``, variance ``sum var_i`` (counts, or flux
        integrated over the pixel). ``"mean"``: flux ``sum f_i / k``,
        variance ``sum var_i / k**2`` (flux densities).
    threads : int, optional
        Threads across spectra; ``None`` uses :func:`deepz.get_num_threads`.
        The result does not depend on it.

    Returns
    -------
    flux_out : ndarray, shape (N, M // factor) or (M // factor,)
        Merged flux, dtype of ``flux``.
    ivar_out : ndarray, same shape
        Merged inverse variance; only when ``ivar`` is given.

    Raises
    ------
    TypeError
        ``flux`` or ``ivar`` of a non-float dtype.
    ValueError
        A bad shape of ``flux`` or ``ivar``, negative ``ivar``, ``factor``
        not an int or outside [1, M], an unknown ``how``.

    Notes
    -----
    A pixel is masked when its flux is not finite (NaN, +-inf) or its ivar
    is 0 or NaN. A group with ``n_v < k`` valid pixels is estimated from them
    scaled to ``k`` pixels: ``"sum"`` gives ``k * mean(valid f_i)`` with
    variance ``k**2 * sum(valid var_i) / n_v**2``, ``"mean"`` gives
    ``mean(valid f_i)`` with variance ``sum(valid var_i) / n_v**2``. A group
    with no valid pixel gets NaN and ivar 0. Sums are accumulated in float64;
    unmasked ``"sum"`` conserves the total flux of the kept pixels.

    Examples
    --------
    >>> import numpy as np
    >>> import deepz
    >>> deepz.merge_bins(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 2)
    array([3., 7.])
    >>> f, iv = deepz.merge_bins(np.array([1.0, np.nan, 3.0, 4.0]), 2,
    ...                          ivar=np.ones(4), how="mean")
    >>> f, iv
    (array([1. , 3.5]), array([1., 2.]))

    """
    flux, was_1d = flux_batch("flux", flux)
    m = flux.shape[1]
    if isinstance(factor, (bool, np.bool_)) or not isinstance(factor, (int, np.integer)):
        raise ValueError(f"factor must be an int >= 1, got {type(factor).__name__} {factor!r}")
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"factor must be an int >= 1, got {factor}")
    if factor > m:
        raise ValueError(f"factor must be <= the number of pixels M = {m}, got {factor}")
    if not isinstance(how, str) or how not in _MERGE_HOW:
        raise ValueError(f"how must be 'sum' or 'mean', got {how!r}")
    iv = ivar_like("ivar", ivar, flux)
    out = _core.merge_bins(flux, factor, iv, _MERGE_HOW[how], resolve_threads(threads))
    if iv is None:
        return out[0] if was_1d else out
    if was_1d:
        return out[0][0], out[1][0]
    return out


# =============================================================================
# line_search
# =============================================================================


def line_search(wave, flux, z0, lines=None, window=0.01, ivar=None, weights=(1.0, 1.0, 1.0),
                snr_min=3.0, threads=None):
    """Refine redshifts by a greedy search for emission lines."""
    raise NotImplementedError("line_search: work in progress")
