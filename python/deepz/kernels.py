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

_RESAMPLE_METHODS = ("flux", "linear")


def _resample_fill(value) -> float:
    """Return ``fill`` as a float; NaN and +-inf are allowed, non-numbers are not."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"fill must be a real number (NaN allowed), got {value!r}")
    return float(value)


def resample(wave, flux, new_wave, ivar=None, method="flux", fill=np.nan, threads=None):
    """Resample spectra onto a new wavelength grid.

    Flux-conserving rebinning with the semantics of SpectRes (Carnall 2017),
    or linear interpolation, of one spectrum or a batch, optionally with
    inverse variances, in O(M + P) per spectrum (a two-pointer sweep over the
    two grids; with shared grids the weights are built once for the batch).

    Parameters
    ----------
    wave : array_like, shape (M,) or (N, M)
        Pixel centres of the input spectra, in Angstrom: one grid shared by
        all spectra, or one per spectrum. Strictly increasing or strictly
        decreasing (all rows the same way), finite, M >= 2. Computed in
        float64 whatever its dtype.
    flux : ndarray, shape (M,) or (N, M), float32 or float64
        Flux densities (f_lambda) at ``wave``. NaN or infinite values are
        treated as masked.
    new_wave : array_like, shape (P,) or (N, P)
        Pixel centres of the output grid, in Angstrom, shared or per
        spectrum; strictly increasing or decreasing. P >= 2 for
        ``method="flux"`` (bins need a width), P >= 1 for ``"linear"``.
    ivar : ndarray, shape like ``flux``, optional
        Inverse variances, >= 0; 0 (and NaN or inf) marks a masked pixel.
        Cast to the dtype of ``flux``.
    method : {"flux", "linear"}, optional
        ``"flux"`` (default): bin edges lie half-way between neighbouring
        centres, the outer edges mirror the first and last half-widths;
        output bin j is the overlap-weighted mean of the input bins,
        ``f_j = sum_i w_ij f_i / sum_i w_ij`` with ``w_ij`` the overlap of
        the two bins in Angstrom, and
        ``sigma_j = sqrt(sum_i (w_ij sigma_i)^2) / sum_i w_ij``
        (SpectRes), returned as ``ivar_j = 1 / sigma_j^2``. The mean of a
        flux density conserves the integrated flux ``sum f * width`` over
        fully covered ranges. ``"linear"``: linear interpolation of the
        flux at the new centres, ``f = (1 - t) f_a + t f_b`` and
        ``var = (1 - t)^2 var_a + t^2 var_b``.
    fill : float, optional
        Flux value of output pixels that cannot be computed (see Notes);
        their ivar is 0. Default NaN. Cast to the dtype of ``flux``.
    threads : int, optional
        Threads across spectra; ``None`` uses
        :func:`deepz.threads.get_num_threads`. The result does not depend on
        it.

    Returns
    -------
    flux_out : ndarray, shape (P,) or (N, P)
        Resampled flux, dtype of ``flux``, C-contiguous, in the order of
        ``new_wave`` as given (also when it is decreasing). 1-D when
        ``flux`` was 1-D. Returned alone when ``ivar`` is None.
    ivar_out : ndarray, shape like ``flux_out``
        Inverse variance of ``flux_out`` (0 where it is ``fill``); returned
        as ``(flux_out, ivar_out)`` only when ``ivar`` was given.

    Raises
    ------
    TypeError
        ``flux`` or ``ivar`` not float32/float64 (integers are not
        converted in silence), ``fill`` not a real number, ``threads`` not
        an int.
    ValueError
        Wrong shapes (flux not (M,) or (N, M), ``wave`` / ``new_wave`` /
        ``ivar`` not matching it), an empty batch, a grid with NaN or inf or
        not strictly monotonic, a negative ``ivar``, an unknown ``method``,
        ``threads < 1``. Messages name the argument.

    Notes
    -----
    Edges: with ``"flux"`` an output bin gets ``fill`` (ivar 0) unless both
    of its edges lie within the outer bin edges of the input grid (partly
    covered bins are not extrapolated, as in SpectRes); with ``"linear"`` an
    output point outside ``[wave[0], wave[-1]]`` gets ``fill``.

    Masks: a masked input pixel (ivar 0, or NaN/inf flux or ivar) gets weight
    0 and never spreads. With ``"flux"`` the remaining pixels of an output bin
    are averaged with their overlap weights (a partly masked bin is the mean
    of its valid part, with the matching larger error); a bin whose
    overlapping input pixels are all masked gets ``fill`` and ivar 0. With
    ``"linear"`` an output point gets ``fill`` and ivar 0 as soon as one of
    its two bracketing pixels with a nonzero weight is masked (a point lying
    exactly on a valid pixel uses that pixel alone). Without ``ivar`` only
    non-finite flux is masked.

    Decreasing grids are handled, not refused: the input is flipped to
    increasing order, and the output is returned in the order of
    ``new_wave``.

    Sums are accumulated in float64 for both dtypes. A lone input pixel has
    weight exactly 1, so resampling onto the input grid returns the input
    unchanged, and a flat spectrum of 1 (or any power of two) rebins to
    exactly that value (other constants to a few ulp).

    Speed: the work is O(M + P) per spectrum (a two-pointer sweep, no search
    per output pixel). With shared grids the weights are built once for the
    batch, and on x86-64 CPUs with AVX2 four spectra are resampled at a time;
    per-spectrum grids rebuild the weights for every spectrum (a few times
    slower). The results never depend on ``threads`` or on the instruction
    set: every path performs the same float operations in the same order.

    Examples
    --------
    >>> import numpy as np
    >>> from deepz.kernels import resample
    >>> wave = np.linspace(4000.0, 5000.0, 1001)
    >>> flux = np.ones_like(wave)
    >>> new_wave = np.linspace(4100.0, 4900.0, 161)
    >>> out, ivar = resample(wave, flux, new_wave, ivar=np.full_like(wave, 4.0))
    >>> bool(np.all(out == 1.0)), round(float(ivar[0]), 9)  # 5 pixels of sigma 0.5 per bin
    (True, 20.0)
    >>> float(resample(wave, flux, [3990.0, 4000.0, 4010.0])[0])  # bin 3985-3995 A not covered
    nan

    """
    if not isinstance(method, str) or method not in _RESAMPLE_METHODS:
        raise ValueError(f"method must be 'flux' or 'linear', got {method!r}")
    linear = method == "linear"
    fill_value = _resample_fill(fill)
    nthreads = resolve_threads(threads)

    flux_arr, was_1d = flux_batch("flux", flux)
    n, m = flux_arr.shape
    wave_arr, wave_decreasing = wave_grid("wave", wave, n_spectra=n)
    if wave_arr.shape[1] != m:
        raise ValueError(
            f"flux and wave must have the same number of pixels M: flux has shape "
            f"{flux_arr.shape}, wave {wave_arr.shape}"
        )
    ivar_arr = ivar_like("ivar", ivar, flux_arr)
    new_arr, new_decreasing = wave_grid(
        "new_wave", new_wave, n_spectra=n, min_pixels=1 if linear else 2
    )
    if wave_decreasing:
        flux_arr = np.ascontiguousarray(flux_arr[:, ::-1])
        if ivar_arr is not None:
            ivar_arr = np.ascontiguousarray(ivar_arr[:, ::-1])

    out, out_ivar = _core.resample(
        wave_arr, flux_arr, ivar_arr, new_arr, linear, fill_value, nthreads
    )
    if new_decreasing:
        out = np.ascontiguousarray(out[:, ::-1])
        if out_ivar is not None:
            out_ivar = np.ascontiguousarray(out_ivar[:, ::-1])
    if was_1d:
        out = out[0]
        out_ivar = None if out_ivar is None else out_ivar[0]
    return out if ivar_arr is None else (out, out_ivar)


# =============================================================================
# redshift
# =============================================================================


def redshift(templates, rest_wave, index, z, obs_wave, scale="flambda", fill=np.nan, threads=None):
    """Place rest-frame templates at redshifts z on an observed grid."""
    raise NotImplementedError("redshift: work in progress")


# =============================================================================
# add_noise
# =============================================================================


def add_noise(flux, sigma, seed, kind="gaussian", offset=0, threads=None):
    """Add reproducible Gaussian or Poisson noise."""
    raise NotImplementedError("add_noise: work in progress")


# =============================================================================
# merge_bins
# =============================================================================


def merge_bins(flux, factor, ivar=None, how="sum", threads=None):
    """Merge k adjacent bins into one."""
    raise NotImplementedError("merge_bins: work in progress")


# =============================================================================
# line_search
# =============================================================================


def line_search(wave, flux, z0, lines=None, window=0.01, ivar=None, weights=(1.0, 1.0, 1.0),
                snr_min=3.0, threads=None):
    """Refine redshifts by a greedy search for emission lines."""
    raise NotImplementedError("line_search: work in progress")
