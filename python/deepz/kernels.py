"""The public kernels: resample, redshift, add_noise, merge_bins, line_search.

Each function here validates and converts its arguments (messages name the
argument), picks the compiled implementation, and documents units, shapes and
edge behaviour. None of them computes: the work is done in ``deepz._core``
(C++, threads across spectra, the GIL released) for numpy input, and in
``deepz._cuda`` for CuPy arrays and torch CUDA tensors (see "GPU arrays"
below).

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

GPU arrays
----------
Every kernel dispatches on where its arrays live (:mod:`deepz.devices`): all
numpy (or lists, torch CPU tensors) -> the CPU kernels; all CuPy arrays or
torch CUDA tensors -> the CUDA kernels, zero-copy, on the current stream of
the input's library, the result being the same kind of array (CuPy in, CuPy
out; torch in, torch out). A mix raises ``TypeError`` naming the argument
(deepz never copies between host and device behind your back); scalars
take no part. The GPU path validates like the CPU path and raises the same
errors: shapes and dtypes from the metadata, the checks that need values
(monotonic finite grids, ranges) on the device, their verdicts fetched in
one small transfer per call (which synchronises the stream). ``threads`` is
ignored there.
"""

from __future__ import annotations

import numpy as np

from . import _core, _gpu, devices
from ._validate import check_seed, float_array, flux_batch, ivar_like, scalar, wave_grid
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
    covered bins are not extrapolated, as in SpectRes; an edge may stick out
    by 1e-9 of the bin's width, so that grids which coincide up to rounding
    line up); with ``"linear"`` an
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

    GPU arrays (CuPy, torch CUDA): ``wave``, ``flux``, ``new_wave`` and
    ``ivar`` must all live on the GPU; the results are arrays of the same
    library, bit-identical to the CPU's (one GPU thread per output pixel,
    which finds its input pixels by a search where the CPU sweeps, and sums
    them in the CPU's order).

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
    if devices.common_device(flux=flux, wave=wave, new_wave=new_wave, ivar=ivar) == "cuda":
        return _gpu_resample(wave, flux, new_wave, ivar, method, fill)
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


def _gpu_resample(wave, flux, new_wave, ivar, method, fill):
    """Run :func:`resample` on the GPU: the same checks and errors, ``deepz._cuda.resample``."""
    cuda = devices.require_cuda()
    if not isinstance(method, str) or method not in _RESAMPLE_METHODS:
        raise ValueError(f"method must be 'flux' or 'linear', got {method!r}")
    linear = method == "linear"
    fill_value = _resample_fill(fill)
    f, was_1d = _gpu.flux_batch("flux", flux)
    n, m = (int(e) for e in f.shape)
    batch = _gpu.Batch(f)
    wave_grid_dev = _gpu.Grid("wave", _gpu.native(wave, "wave"), batch, n_spectra=n)
    if int(wave_grid_dev.wave.shape[1]) != m:
        raise ValueError(
            f"flux and wave must have the same number of pixels M: flux has shape "
            f"{tuple(f.shape)}, wave {tuple(wave_grid_dev.wave.shape)}"
        )
    ivar_check = _gpu.Ivar("ivar", ivar, f, batch)
    new_grid = _gpu.Grid(
        "new_wave",
        _gpu.native(new_wave, "new_wave"),
        batch,
        n_spectra=n,
        min_pixels=1 if linear else 2,
    )
    values = batch.fetch()  # the one device -> host transfer of this call
    w, wave_decreasing = wave_grid_dev.finish(values)
    iv = ivar_check.finish(values)
    nw, new_decreasing = new_grid.finish(values)
    if wave_decreasing:
        f = _gpu.flip_last(f)
        if iv is not None:
            iv = _gpu.flip_last(iv)
    dt = _gpu.dtype(f)
    p = int(nw.shape[1])
    out = devices.empty_like(f, shape=(n, p), dtype=dt)
    out_ivar = None if iv is None else devices.empty_like(f, shape=(n, p), dtype=dt)
    plan = devices.empty_like(f, shape=(5 * p,), dtype=np.float64)
    cuda.resample(
        w, f, iv, nw, linear, fill_value, out, out_ivar, plan, stream=devices.current_stream(f)
    )
    if new_decreasing:
        out = _gpu.flip_last(out)
        if out_ivar is not None:
            out_ivar = _gpu.flip_last(out_ivar)
    if was_1d:
        out = out[0]
        out_ivar = None if out_ivar is None else out_ivar[0]
    return out if iv is None else (out, out_ivar)


# =============================================================================
# redshift
# =============================================================================


_REDSHIFT_SCALES = {"none": 0, "flambda": 1, "fnu": 2}
_LOGLAM_RTOL = 1e-9


def _redshift_index(value, n_templates: int) -> np.ndarray:
    """``index`` as a 0-d or 1-D int64 array of template numbers in [0, K)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"index must hold integers, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"index must be a scalar or have shape (N,), got shape {arr.shape}")
    bad = np.flatnonzero((arr.reshape(-1) < 0) | (arr.reshape(-1) >= n_templates))
    if bad.size:
        pos = int(bad[0])
        raise ValueError(
            f"index must be in [0, {n_templates}) (K = {n_templates} templates), "
            f"got {arr.reshape(-1)[pos]} at position {pos}"
        )
    return arr.astype(np.int64, copy=False)


def _redshift_z(value) -> np.ndarray:
    """``z`` as a 0-d or 1-D float64 array of finite redshifts > -1."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"z must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"z must be a scalar or have shape (N,), got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    flat = arr.reshape(-1)
    bad = np.flatnonzero(~(np.isfinite(flat) & (flat > -1.0)))
    if bad.size:
        pos = int(bad[0])
        raise ValueError(f"z must be finite and > -1, got {flat[pos]} at position {pos}")
    return arr


def _redshift_dloglam(wave: np.ndarray) -> float | None:
    """Return the constant log10 step of ``wave`` (to ~1e-9 relative), or None."""
    step = np.diff(np.log10(wave))
    mean = (np.log10(wave[-1]) - np.log10(wave[0])) / (wave.size - 1)
    if np.max(np.abs(step - mean)) <= _LOGLAM_RTOL * mean:
        return float(mean)
    return None


def redshift(templates, rest_wave, index, z, obs_wave, scale="flambda", fill=np.nan, threads=None):
    """Place rest-frame templates at redshifts z and bin them onto an observed grid.

    Sample ``n`` is template ``index[n]`` moved to redshift ``z[n]``: a photon
    emitted at ``lambda_rest`` is observed at ``lambda_obs = lambda_rest (1 + z)``.
    Each observed bin ``[a, b]`` (edges half-way between the centres of
    ``obs_wave``) therefore sees the rest-frame interval ``[a/(1+z), b/(1+z)]``;
    its value is the overlap-weighted mean of the template's rest bins over that
    interval (flux-conserving rebinning, the SpectRes convention), times a scale
    factor set by ``scale``. No redshifted grid is stored: the scaled edges are
    computed during one sweep per spectrum, O(P + covered M_rest).

    Parameters
    ----------
    templates : ndarray, shape (K, M_rest) or (M_rest,)
        Rest-frame templates, float32 or float64, all on ``rest_wave``. A 1-D
        array is one template (K = 1). NaN pixels are masked (see Notes).
    rest_wave : array_like, shape (M_rest,)
        Rest-frame pixel centres in Angstrom (vacuum), > 0, strictly increasing;
        a strictly decreasing grid is accepted and ``templates`` are read in
        the same order.
    index : int or array_like of int, shape (N,)
        Template of each sample, in ``[0, K)``. A scalar is used for every
        ``z``.
    z : float or array_like, shape (N,)
        Redshift of each sample, finite and > -1 (negative z blueshifts). A
        scalar is used for every ``index``. Computed in float64.
    obs_wave : array_like, shape (P,)
        Observed pixel centres in Angstrom, > 0, strictly increasing (a
        decreasing grid is accepted; the result follows its order).
    scale : {"flambda", "fnu", "none"}, optional
        What the template values are, which sets the factor applied to the
        rebinned mean:

        - ``"flambda"`` (default): the template is the rest-frame flux density
          per unit wavelength, f_lambda. Stretching the spectrum by (1 + z)
          spreads each photon interval over (1 + z) times more wavelength, so
          the observed f_lambda is the rest value divided by (1 + z). The
          integrated flux, sum(f * bin width), is conserved.
        - ``"fnu"``: the template is f_nu sampled on the rest wavelength grid;
          frequencies shrink by (1 + z), so f_nu is multiplied by (1 + z).
          (The bin mean is still taken over wavelength, as for the other
          modes.)
        - ``"none"``: the template is only stretched (factor 1); the
          integrated flux then grows by (1 + z).

        Cosmological dimming (1 / 4 pi d_L^2) is not applied in any mode: it is
        a normalisation the caller chooses.
    fill : float, optional
        Value of the observed bins not fully covered by the redshifted
        template (default NaN).
    threads : int, optional
        Threads across samples; ``None`` uses :func:`deepz.get_num_threads`.
        The result does not depend on it.

    Returns
    -------
    ndarray, shape (N, P)
        The observed spectra, with the dtype of ``templates``. When both
        ``index`` and ``z`` are scalars the result is one spectrum, shape (P,).

    Raises
    ------
    TypeError
        ``templates`` not float32/float64; ``index`` not integer; ``z`` not
        real; ``threads`` not an int.
    ValueError
        Wrong shapes (``templates`` vs ``rest_wave``, ``index`` vs ``z``); an
        ``index`` outside [0, K); a ``z`` that is not finite or <= -1; an
        empty batch; a grid that is not strictly monotonic, not finite, not
        positive or shorter than 2 pixels; an unknown ``scale``; a ``fill``
        that is not a number. Each message names the argument.

    Notes
    -----
    Bin edges come from the centres: half-way between neighbours, the outer
    edges mirror the first and last half-widths. An observed bin is "covered"
    when its rest-frame interval lies inside the template's outer edges; any
    other observed bin gets ``fill`` (no partial bins at the ends, as in
    SpectRes).

    A NaN template pixel is masked: it carries no weight, and the bin's mean is
    taken over the unmasked overlap only (it is never spread to neighbours).
    A bin that overlaps only masked pixels gets ``fill``. An observed bin fed
    by a single rest pixel takes that pixel's value exactly, so ``z = 0`` with
    ``obs_wave == rest_wave`` and ``scale="none"`` returns the template bit for
    bit, and a constant template stays exactly constant.

    When ``rest_wave`` and ``obs_wave`` are both log-linear with the same step
    (constant log10 spacing to 1e-9 relative, e.g. SDSS/DESI-style grids) a
    redshift is a shift by log10(1 + z) / dloglam pixels: every observed bin
    then overlaps three known rest bins at most, and a branch-free sweep
    computes those overlaps with the same formula as the general sweep. It
    gives the same numbers, and checks that the grids really behave so,
    redoing a spectrum with the general sweep where they do not.

    When ``rest_wave`` is linear (constant step, e.g. the 5 A Euclid rest
    grid; ``obs_wave`` may be anything) the rest pixels an observed bin
    overlaps start at a computable offset: on CPUs with AVX2 a branch-free
    sweep adds a fixed window of them, four observed bins at a time, with the
    general sweep's formula, and each bin checks that its window held (a
    spectrum where one did not is redone by the general sweep). The results
    are the general sweep's, bit for bit.

    GPU arrays (CuPy, torch CUDA): ``templates``, ``rest_wave``, ``obs_wave``
    and the array ones of ``index`` and ``z`` must all live on the GPU; the
    result is an array of the same library. One thread per observed bin runs
    the general sweep's arithmetic (the log-lambda shortcut is not needed
    there: each thread finds its first rest pixel in O(1) on linear and
    log-linear grids alike), so the result equals the CPU's general sweep bit
    for bit and its log-lambda sweep to 1e-14 relative (float64; float32
    values can then differ in the last bit).

    Examples
    --------
    >>> import numpy as np
    >>> from deepz import redshift
    >>> rest = np.arange(1000.0, 3000.0, 1.0)
    >>> flat = np.ones_like(rest)
    >>> obs = np.arange(2100.0, 2900.0, 2.0)
    >>> out = redshift(flat, rest, 0, [0.5, 1.0], obs)
    >>> out.shape
    (2, 400)
    >>> float(out[0, 0]), float(out[1, 0])
    (0.6666666666666666, 0.5)

    """
    device = devices.common_device(
        templates=templates,
        rest_wave=rest_wave,
        index=_gpu.arrays_only(index),
        z=_gpu.arrays_only(z),
        obs_wave=obs_wave,
    )
    if device == "cuda":
        return _gpu_redshift(templates, rest_wave, index, z, obs_wave, scale, fill)
    tmpl = float_array("templates", templates)
    if tmpl.ndim == 1:
        tmpl = tmpl[None, :]
    if tmpl.ndim != 2:
        raise ValueError(f"templates must have shape (M_rest,) or (K, M_rest), got {tmpl.shape}")
    if tmpl.shape[0] == 0:
        raise ValueError(f"templates holds no template: shape {tmpl.shape}")
    if np.ndim(rest_wave) != 1:
        raise ValueError(f"rest_wave must have shape (M_rest,), got shape {np.shape(rest_wave)}")
    if np.ndim(obs_wave) != 1:
        raise ValueError(f"obs_wave must have shape (P,), got shape {np.shape(obs_wave)}")
    rest, rest_flipped = wave_grid("rest_wave", rest_wave)
    obs, obs_flipped = wave_grid("obs_wave", obs_wave)
    rest, obs = rest[0], obs[0]
    for name, grid in (("rest_wave", rest), ("obs_wave", obs)):
        if grid[0] <= 0:
            raise ValueError(f"{name} must be > 0 (Angstrom), got {grid[0]}")
    if tmpl.shape[1] != rest.size:
        raise ValueError(
            f"templates must have one value per rest_wave pixel ({rest.size}), "
            f"got shape {tmpl.shape}"
        )
    if rest_flipped:
        tmpl = np.ascontiguousarray(tmpl[:, ::-1])
    idx = _redshift_index(index, tmpl.shape[0])
    zz = _redshift_z(z)
    one = idx.ndim == 0 and zz.ndim == 0
    if idx.ndim == 1 and zz.ndim == 1 and idx.size != zz.size:
        raise ValueError(
            f"index and z must have the same length, got index ({idx.size},) and z ({zz.size},)"
        )
    idx, zz = np.broadcast_arrays(np.atleast_1d(idx), np.atleast_1d(zz))
    if idx.size == 0:
        raise ValueError("index and z are an empty batch: nothing to redshift")
    if not isinstance(scale, str) or scale not in _REDSHIFT_SCALES:
        raise ValueError(f"scale must be one of {sorted(_REDSHIFT_SCALES)}, got {scale!r}")
    try:
        fill_value = float(fill)
    except (TypeError, ValueError):
        raise TypeError(f"fill must be a real number, got {fill!r}") from None
    nthreads = resolve_threads(threads)
    d_rest = _redshift_dloglam(rest)
    d_obs = _redshift_dloglam(obs) if d_rest is not None else None
    loglam = d_obs is not None and abs(d_obs - d_rest) <= _LOGLAM_RTOL * d_rest
    out = _core.redshift(
        tmpl,
        rest,
        np.ascontiguousarray(idx, dtype=np.int64),
        np.ascontiguousarray(zz, dtype=np.float64),
        obs,
        _REDSHIFT_SCALES[scale],
        fill_value,
        bool(loglam),
        nthreads,
        window=1,
    )
    if obs_flipped:
        out = np.ascontiguousarray(out[:, ::-1])
    return out[0] if one else out


def _gpu_redshift_vector(name, value, kinds, check):
    """``(value, on_device)``: index or z on the GPU path, a device array or a host scalar.

    Host scalars are checked on the host by ``check`` (the CPU validator);
    device arrays get their dtype and shape checked from the metadata here,
    their values on the device by the caller.
    """
    if _gpu.host_scalar(value):
        return check(value), False
    arr = _gpu.native(value, name)
    if _gpu.dtype(arr).kind not in kinds:
        what = "hold integers" if kinds == "iu" else "hold real numbers"
        raise TypeError(f"{name} must {what}, got dtype {_gpu.dtype_name(arr)}")
    if arr.ndim > 1:
        raise ValueError(
            f"{name} must be a scalar or have shape (N,), got shape {tuple(arr.shape)}"
        )
    return arr, True


def _gpu_redshift(templates, rest_wave, index, z, obs_wave, scale, fill):
    """Run :func:`redshift` on the GPU: the same checks and errors, ``deepz._cuda.redshift``."""
    cuda = devices.require_cuda()
    tmpl = _gpu.native(templates, "templates")
    _gpu.require_float("templates", tmpl)
    if tmpl.ndim == 1:
        tmpl = tmpl.reshape(1, -1)
    if tmpl.ndim != 2:
        raise ValueError(
            f"templates must have shape (M_rest,) or (K, M_rest), got {tuple(tmpl.shape)}"
        )
    if tmpl.shape[0] == 0:
        raise ValueError(f"templates holds no template: shape {tuple(tmpl.shape)}")
    if np.ndim(rest_wave) != 1:
        raise ValueError(
            f"rest_wave must have shape (M_rest,), got shape {tuple(np.shape(rest_wave))}"
        )
    if np.ndim(obs_wave) != 1:
        raise ValueError(f"obs_wave must have shape (P,), got shape {tuple(np.shape(obs_wave))}")
    k = int(tmpl.shape[0])
    batch = _gpu.Batch(tmpl)
    rest_grid = _gpu.Grid("rest_wave", _gpu.native(rest_wave, "rest_wave"), batch)
    obs_grid = _gpu.Grid("obs_wave", _gpu.native(obs_wave, "obs_wave"), batch)
    rest_min = batch.add(rest_grid.wave.min())
    obs_min = batch.add(obs_grid.wave.min())
    r, p = int(rest_grid.wave.shape[1]), int(obs_grid.wave.shape[1])
    if tmpl.shape[1] != r:
        raise ValueError(
            f"templates must have one value per rest_wave pixel ({r}), "
            f"got shape {tuple(tmpl.shape)}"
        )
    mod = _gpu.xp(tmpl)
    idx, idx_on_device = _gpu_redshift_vector("index", index, "iu", lambda v: _redshift_index(v, k))
    zz, z_on_device = _gpu_redshift_vector("z", z, "iuf", _redshift_z)
    idx_ok = z_ok = None
    if idx_on_device:
        idx_ok = batch.add(((idx >= 0) & (idx < k)).all())
    if z_on_device:
        zz = _gpu.astype(zz, np.float64)
        z_ok = batch.add((mod.isfinite(zz) & (zz > -1.0)).all())
    sizes = [int(np.prod(tuple(a.shape), dtype=np.int64)) for a in (idx, zz) if np.ndim(a) == 1]
    one = len(sizes) == 0
    if len(sizes) == 2 and sizes[0] != sizes[1]:
        raise ValueError(
            f"index and z must have the same length, got index ({sizes[0]},) and z ({sizes[1]},)"
        )
    n = sizes[0] if sizes else 1
    if n == 0:
        raise ValueError("index and z are an empty batch: nothing to redshift")
    if not isinstance(scale, str) or scale not in _REDSHIFT_SCALES:
        raise ValueError(f"scale must be one of {sorted(_REDSHIFT_SCALES)}, got {scale!r}")
    try:
        fill_value = float(fill)
    except (TypeError, ValueError):
        raise TypeError(f"fill must be a real number, got {fill!r}") from None

    values = batch.fetch()  # the one device -> host transfer of this call
    rest, rest_flipped = rest_grid.finish(values)
    obs, obs_flipped = obs_grid.finish(values)
    for name, slot in (("rest_wave", rest_min), ("obs_wave", obs_min)):
        if not values[slot] > 0:
            raise ValueError(f"{name} must be > 0 (Angstrom), got {values[slot]}")
    if idx_ok is not None and not values[idx_ok]:
        _redshift_index(_gpu.to_numpy(idx), k)
    if z_ok is not None and not values[z_ok]:
        _redshift_z(_gpu.to_numpy(zz))

    if rest_flipped:
        tmpl = _gpu.flip_last(tmpl)
    tmpl = _gpu.contiguous(tmpl)
    idx = _gpu.vector(idx, tmpl, n, np.int64)
    zz = _gpu.vector(zz, tmpl, n, np.float64)
    out = devices.empty_like(tmpl, shape=(n, p), dtype=_gpu.dtype(tmpl))
    edges = devices.empty_like(tmpl, shape=(r + p + 2,), dtype=np.float64)
    cuda.redshift(
        tmpl,
        rest[0],
        idx,
        zz,
        obs[0],
        _REDSHIFT_SCALES[scale],
        fill_value,
        out,
        edges,
        stream=devices.current_stream(tmpl),
    )
    if obs_flipped:
        out = _gpu.flip_last(out)
    return out[0] if one else out


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


def _noise_sigma_shape(shape: tuple, n: int, m: int) -> tuple[int, int]:
    """Return the (1 or n, 1 or m) shape a sigma array of ``shape`` takes (ValueError if none)."""
    text = "(" + ", ".join(str(d) for d in shape) + ")"
    if len(shape) == 0:
        return (1, 1)
    if len(shape) == 1:
        size = shape[0]
        if size == 1:
            return (1, 1)
        if size == m and size == n:
            raise ValueError(
                f"sigma of shape {text} is ambiguous: flux has N = M = {n} (spectra = "
                f"pixels); pass sigma with shape ({n}, 1) for one sigma per spectrum or "
                f"(1, {m}) for one per pixel"
            )
        if size == m:
            return (1, m)
        if size == n:
            return (n, 1)
        raise ValueError(
            f"sigma must be a scalar or have shape ({n},) (per spectrum), ({m},) (per "
            f"pixel), ({n}, 1), (1, {m}) or ({n}, {m}) to match flux, got {text}"
        )
    if len(shape) == 2:
        if shape[0] not in (1, n) or shape[1] not in (1, m):
            raise ValueError(
                f"sigma must have shape (1 or {n}, 1 or {m}) to broadcast against flux "
                f"({n}, {m}), got {text}"
            )
        return (int(shape[0]), int(shape[1]))
    raise ValueError(f"sigma must be a scalar, 1-D or 2-D, got shape {text}")


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
        arr = arr.reshape(_noise_sigma_shape(arr.shape, n, m))
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


def _noise_poisson_check(flux: np.ndarray, sig: np.ndarray) -> None:
    """ValueError unless flux >= 0 where finite and flux / sigma <= 2**52 (kind="poisson")."""
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

    GPU arrays (CuPy, torch CUDA): ``flux`` and an array ``sigma`` must both
    live on the GPU (a scalar sigma is fine); ``noisy`` and ``ivar`` are
    arrays of the same library, bit-identical to the CPU's in float32 and
    float64 (the same Philox counters and polynomials; one GPU thread per
    block of 4 pixels, or per pixel for Poisson).

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
    if devices.common_device(flux=flux, sigma=_gpu.arrays_only(sigma)) == "cuda":
        return _gpu_add_noise(flux, sigma, seed, kind, offset)
    flux, was_1d = flux_batch("flux", flux)
    n, m = flux.shape
    if not isinstance(kind, str) or kind not in _NOISE_KINDS:
        raise ValueError(f"kind must be 'gaussian' or 'poisson', got {kind!r}")
    seed = check_seed(seed)
    offset = _noise_uint64("offset", offset)
    if offset + n > 2**64:
        raise ValueError(f"offset + N must be <= 2**64, got offset {offset} with N = {n}")
    sig = _noise_sigma(sigma, n, m, flux.dtype)
    if kind == "poisson":
        _noise_poisson_check(flux, sig)
    noisy, ivar = _core.add_noise(
        flux, sig, seed, offset, _NOISE_KINDS[kind], resolve_threads(threads)
    )
    if was_1d:
        return noisy[0], ivar[0]
    return noisy, ivar


def _gpu_noise_counts_max(f, sig):
    """Return, on the device, max(flux / sigma) over finite flux, as the CPU computes it.

    In float64, ``where(isfinite(f), f, 0) / sigma``, by chunks of rows.
    """
    mod = _gpu.xp(f)
    n = int(f.shape[0])
    step = max(1, _gpu._CHUNK_ELEMENTS // int(f.shape[1]))
    parts = []
    for i in range(0, n, step):
        rows = f[i : i + step]
        s = sig[i : i + step] if int(sig.shape[0]) == n and n > 1 else sig
        counts = _gpu.astype(mod.where(mod.isfinite(rows), rows, 0), np.float64)
        parts.append((counts / _gpu.astype(s, np.float64)).max())
    return parts[0] if len(parts) == 1 else mod.stack(parts).max()


def _gpu_add_noise(flux, sigma, seed, kind, offset):
    """Run :func:`add_noise` on the GPU: the same checks and errors, ``deepz._cuda.add_noise``."""
    cuda = devices.require_cuda()
    f, was_1d = _gpu.flux_batch("flux", flux)
    n, m = (int(e) for e in f.shape)
    dt = _gpu.dtype(f)
    if not isinstance(kind, str) or kind not in _NOISE_KINDS:
        raise ValueError(f"kind must be 'gaussian' or 'poisson', got {kind!r}")
    seed = check_seed(seed)
    offset = _noise_uint64("offset", offset)
    if offset + n > 2**64:
        raise ValueError(f"offset + N must be <= 2**64, got offset {offset} with N = {n}")
    batch = _gpu.Batch(f)
    mod = _gpu.xp(f)
    if _gpu.host_scalar(sigma) or sigma is None or isinstance(sigma, (str, bytes, bool)):
        sig = _gpu.from_numpy(_noise_sigma(sigma, n, m, dt), f)  # checked on the host
        sig_ok = None
    else:
        sig = _gpu.native(sigma, "sigma")
        _gpu.require_float("sigma", sig)
        sig = _gpu.contiguous(
            _gpu.astype(sig.reshape(_noise_sigma_shape(tuple(sig.shape), n, m)), dt)
        )
        sig_ok = batch.add(
            _gpu.reduce_rows(sig, lambda c: (mod.isfinite(c) & (c > 0)).all(), "all")
        )
        sig_min = batch.add(sig.min())
    if kind == "poisson":
        neg_ok = batch.add(_gpu.reduce_rows(f, lambda c: ~((c < 0) & mod.isfinite(c)).any(), "all"))
        most = batch.add(_gpu_noise_counts_max(f, sig))
    values = batch.fetch()  # the one device -> host transfer of this call
    if sig_ok is not None:
        if not values[sig_ok]:
            _noise_sigma(_gpu.to_numpy(sig), n, m, dt)  # raises the CPU path's error
        smallest = np.float64(values[sig_min])
        with np.errstate(over="ignore", divide="ignore"):
            ivar_max = (1.0 / (smallest * smallest)).astype(dt)  # as the kernel computes it
        if not np.isfinite(ivar_max):
            raise ValueError(
                f"sigma must be large enough for 1/sigma**2 to fit in {np.dtype(dt).name}, "
                f"got {smallest}"
            )
    if kind == "poisson" and not (values[neg_ok] and values[most] <= _POISSON_MAX_COUNTS):
        _noise_poisson_check(_gpu.to_numpy(f), _gpu.to_numpy(sig))
    noisy = devices.empty_like(f, shape=(n, m), dtype=dt)
    ivar = devices.empty_like(f, shape=(n, m), dtype=dt)
    cuda.add_noise(
        f, sig, seed, offset, _NOISE_KINDS[kind], noisy, ivar, stream=devices.current_stream(f)
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

    GPU arrays (CuPy, torch CUDA): ``flux`` and ``ivar`` must both live on
    the GPU; the results are arrays of the same library, bit-identical to the
    CPU's (one GPU thread per merged pixel, the same sums in the same order).

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
    if devices.common_device(flux=flux, ivar=ivar) == "cuda":
        return _gpu_merge_bins(flux, factor, ivar, how)
    flux, was_1d = flux_batch("flux", flux)
    factor, mean = _merge_args(factor, how, flux.shape[1])
    iv = ivar_like("ivar", ivar, flux, check_sign=False)  # the kernel checks the sign
    out, out_ivar, bad = _core.merge_bins(flux, factor, iv, mean, resolve_threads(threads))
    if bad >= 0:  # the kernel checked ivar >= 0 on its way (one pass over the data, not two)
        pos = tuple(int(i) for i in np.unravel_index(bad, iv.shape))
        raise ValueError(
            f"ivar must be >= 0 (0 marks a masked pixel); it has negative values "
            f"(first: {iv[pos]} at index {pos[1:] if was_1d else pos})"
        )
    if iv is None:
        return out[0] if was_1d else out
    if was_1d:
        return out[0], out_ivar[0]
    return out, out_ivar


def _merge_args(factor, how, m: int) -> tuple[int, bool]:
    """Return ``(factor, mean)``, checked against the M pixels of flux."""
    if isinstance(factor, (bool, np.bool_)) or not isinstance(factor, (int, np.integer)):
        raise ValueError(f"factor must be an int >= 1, got {type(factor).__name__} {factor!r}")
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"factor must be an int >= 1, got {factor}")
    if factor > m:
        raise ValueError(f"factor must be <= the number of pixels M = {m}, got {factor}")
    if not isinstance(how, str) or how not in _MERGE_HOW:
        raise ValueError(f"how must be 'sum' or 'mean', got {how!r}")
    return factor, _MERGE_HOW[how]


def _gpu_merge_bins(flux, factor, ivar, how):
    """Run :func:`merge_bins` on the GPU: the same checks and errors, ``deepz._cuda``."""
    cuda = devices.require_cuda()
    f, was_1d = _gpu.flux_batch("flux", flux)
    n, m = (int(e) for e in f.shape)
    factor, mean = _merge_args(factor, how, m)
    batch = _gpu.Batch(f)
    ivar_check = _gpu.Ivar("ivar", ivar, f, batch)
    iv = ivar_check.finish(batch.fetch())  # the one device -> host transfer (none without ivar)
    dt = _gpu.dtype(f)
    out = devices.empty_like(f, shape=(n, m // factor), dtype=dt)
    ivar_out = None if iv is None else devices.empty_like(f, shape=(n, m // factor), dtype=dt)
    cuda.merge_bins(f, factor, iv, mean, out, ivar_out, stream=devices.current_stream(f))
    if ivar_out is None:
        return out[0] if was_1d else out
    if was_1d:
        return out[0], ivar_out[0]
    return out, ivar_out


# =============================================================================
# line_search
# =============================================================================


from typing import NamedTuple  # noqa: E402  (kept in this section: clean merges)

from .lines import YURCHUK_SKYRUTA, Line  # noqa: E402
from .lines import get as _get_lines  # noqa: E402


class LineSearchResult(NamedTuple):
    """What :func:`line_search` returns (a named tuple: it also unpacks).

    For N spectra and L lines; with a 1-D ``flux`` the leading axis is
    dropped (``z``, ``n_found``, ``quality`` are numpy scalars, ``line_wave``
    and ``line_snr`` are (L,)).

    Attributes
    ----------
    z : ndarray (N,), dtype of flux
        Refined redshift: the S/N^2-weighted mean of the found lines' z, or
        ``z0`` where no line is found.
    line_wave : ndarray (N, L), dtype of flux
        Observed (vacuum, Angstrom) sub-pixel position of each found line;
        NaN where the line is not found.
    line_snr : ndarray (N, L), dtype of flux
        S/N of the candidate each line took (found or not: a value below
        ``snr_min`` says how close it came); NaN where the line had no
        candidate (its window off the grid, all masked, or no local maximum).
    n_found : ndarray (N,), int64
        Number of lines found (S/N >= ``snr_min``).
    quality : ndarray (N,), dtype of flux
        Score in [0, 1]; see the Notes of :func:`line_search`.
    lines : tuple of Line
        The lines searched, in the order of the columns of ``line_wave``.

    """

    z: np.ndarray
    line_wave: np.ndarray
    line_snr: np.ndarray
    n_found: np.ndarray
    quality: np.ndarray
    lines: tuple


def _ls_lines(lines) -> tuple[Line, ...]:
    """Resolve the ``lines`` argument of line_search to a tuple of Line."""
    if lines is None:
        return YURCHUK_SKYRUTA
    if isinstance(lines, (str, Line)):
        lines = (lines,)
    try:
        items = list(lines)
    except TypeError:
        raise TypeError(
            f"lines must be None, line names, Line objects or rest wavelengths, got {lines!r}"
        ) from None
    if not items:
        raise ValueError("lines must hold at least one line, got an empty sequence")
    out = []
    for item in items:
        if isinstance(item, (str, Line)):
            try:
                out.extend(_get_lines(item))
            except ValueError as err:
                raise ValueError(f"lines: {err}") from None
        elif isinstance(item, (int, float, np.integer, np.floating)) and not isinstance(
            item, (bool, np.bool_)
        ):
            rest = float(item)
            if not (np.isfinite(rest) and rest > 0):
                raise ValueError(
                    f"lines must hold rest wavelengths that are finite and > 0 Angstrom, got {rest}"
                )
            out.append(Line(f"{rest:.2f}", rest, "emission", 1.0, False))
        else:
            raise TypeError(
                f"lines must hold line names, Line objects or rest wavelengths, got {item!r}"
            )
    return tuple(out)


def _ls_z0(z0, n: int) -> np.ndarray:
    """Return z0 as a finite (N,) float64 array with every z0 > -1."""
    arr = np.asarray(z0)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"z0 must be a real number or an array of them, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    elif arr.shape != (n,):
        raise ValueError(f"z0 must be a scalar or have shape ({n},), got {arr.shape}")
    bad = np.flatnonzero(~(np.isfinite(arr) & (arr > -1.0)))
    if bad.size:
        raise ValueError(f"z0 must be finite and > -1, got z0[{bad[0]}] = {arr[bad[0]]}")
    return np.ascontiguousarray(arr)


def _ls_weights(weights) -> tuple[float, float, float]:
    """Return the three cost weights, checked."""
    try:
        out = tuple(float(w) for w in weights)
    except (TypeError, ValueError):
        raise TypeError(
            f"weights must be three non-negative numbers (distance, height, spacing), "
            f"got {weights!r}"
        ) from None
    if len(out) != 3:
        raise ValueError(f"weights must have 3 entries (distance, height, spacing), got {len(out)}")
    if not all(np.isfinite(w) and w >= 0 for w in out):
        raise ValueError(f"weights must be finite and >= 0, got {out}")
    if not any(w > 0 for w in out):
        raise ValueError("weights must not all be 0")
    return out


def line_search(
    wave,
    flux,
    z0,
    lines=None,
    window=0.01,
    ivar=None,
    weights=(1.0, 1.0, 1.0),
    snr_min=3.0,
    threads=None,
):
    """Refine redshifts by a greedy search for emission (and absorption) lines.

    The correction of Yurchuk & Skyruta: given a predicted redshift ``z0``
    (e.g. from a network), each line is looked for near its predicted
    position ``rest * (1 + z0)``, strongest line first, and moved to the
    best nearby flux peak; the refined redshift is the mean of the lines
    found.

    Parameters
    ----------
    wave : array_like, (M,) or (N, M)
        Pixel centres in Angstrom (vacuum, like the catalogue), one grid for
        all spectra or one per spectrum; strictly increasing or strictly
        decreasing, finite, M >= 3.
    flux : ndarray, (M,) or (N, M), float32 or float64
        CONTINUUM-SUBTRACTED flux: the kernel looks for local maxima
        (minima for absorption lines) measured from zero and does not fit a
        continuum. Subtract one first (e.g. a spline or running median).
    z0 : float or array_like (N,)
        Predicted redshifts, finite and > -1.
    lines : None, str, sequence of str or Line, or array_like of float
        The lines to search: None is the eight lines of Yurchuk & Skyruta
        (:data:`deepz.lines.YURCHUK_SKYRUTA`); names from
        :mod:`deepz.lines`; :class:`deepz.lines.Line` objects; or vacuum rest
        wavelengths in Angstrom (emission lines of equal strength, searched
        in the given order).
    window : float
        Half-width of the search window in redshift: a line is searched at
        observed wavelengths ``rest * (1 + z0 +- window)`` (inclusive).
        0 < window < 1.
    ivar : ndarray like flux, optional
        Inverse variance; 0 (or NaN) masks a pixel. Given, a line's S/N is in
        sigma units of its peak pixel; without it the noise is estimated per
        window (see Notes).
    weights : sequence of 3 floats
        Weights (w_dist, w_height, w_spacing) of the three cost terms;
        finite, >= 0, not all 0.
    snr_min : float
        A line is found when the S/N of its chosen peak is >= snr_min (and
        > 0). >= 0.
    threads : int, optional
        Threads across spectra (default :func:`deepz.get_num_threads`).
        Results do not depend on it.

    Returns
    -------
    LineSearchResult
        Named tuple ``(z, line_wave, line_snr, n_found, quality, lines)``,
        see :class:`LineSearchResult`. Float fields have the dtype of
        ``flux`` (all arithmetic is float64 inside); a 1-D ``flux`` drops the
        leading axis.

    Raises
    ------
    TypeError
        If flux or ivar is not float32/float64, z0 or weights are not
        numbers, or a line is of an unknown type.
    ValueError
        If shapes disagree, the grid is not strictly monotonic or not finite,
        the batch is empty, z0 is not finite or <= -1, window is not in
        (0, 1), a weight is negative (or all are 0), snr_min < 0, a line name
        is unknown, ``lines`` is empty, a rest wavelength is not > 0, or
        ivar < 0. Each message names the argument.

    Notes
    -----
    Pixels: a pixel is usable when its flux is finite and (with ``ivar``)
    its ivar is finite and > 0. Masked pixels are skipped, never
    interpolated: a candidate is a usable pixel ``i`` inside the window
    whose (sign-corrected: absorption lines use ``-flux``) flux is > that of
    the nearest usable pixel on its left and >= that of the nearest usable
    pixel on its right (these neighbours may lie outside the window; a pixel
    without a usable neighbour on both sides is no candidate). Its position
    ``x`` is refined to the vertex of the parabola through the three points,
    which lies within half a pixel step of ``i``; its redshift is
    ``z_c = x / rest - 1``.

    S/N of a candidate: its flux times ``sqrt(ivar)`` with ``ivar``;
    without it, its flux over ``sigma = 1.4826 * MAD`` of the usable pixels
    of the window (robust while the window is much wider than the lines; if
    the MAD is 0, the window's RMS about 0).

    Cost of a candidate, each term 0 for an ideal candidate and about 1 for
    one unit of badness, so the weights are comparable::

        cost = w_dist * (|z_c - z0| / window)**2           (1 at the window edge)
             + w_height * (1 - max(snr, 0) / snr_max)      (0 for the tallest candidate
                                                            of the window, 1 for none)
             + w_spacing * |z_c - zbar| / dz_pix           (1 per pixel of disagreement)

    The distance term is quadratic (a Gaussian prior on ``z0``, the
    network's error): within the inner half of the window it costs at most
    1/4, so the tallest peak wins there unless another is nearly as tall.
    ``zbar`` is the S/N^2-weighted mean z of the lines found so far
    (the term is 0 while none is) and ``dz_pix = (wave[i+1] -
    wave[i-1]) / (2 rest)`` the pixel size in redshift. Greedy: lines are
    searched in order of decreasing ``Line.strength`` (ties: given order);
    each takes its lowest-cost candidate (ties: the bluer one), and is
    found if that candidate's S/N >= ``snr_min``; found lines anchor the
    following ones through ``zbar``. Windows holding no pixel of the grid
    are not searched (line_wave and line_snr NaN).

    Refined redshift: ``z = sum(snr_l^2 z_l) / sum(snr_l^2)`` over the found
    lines (inverse-variance-like weights, as a line's position error scales
    as 1/S/N); ``z = z0`` and ``n_found = 0`` where none is found.

    Quality: ``(sum of strengths of found lines / sum of strengths of the
    searched lines) * max(0, 1 - scatter / window)``, with ``scatter`` the
    S/N^2-weighted RMS of the found lines' z about ``z``; 0 where none is
    found. It is 1 when every line in the grid is found at one z.

    Limits of a greedy search: the first line found anchors the others, so
    if a neighbour of the strongest line sits near its predicted position
    and is nearly as tall (e.g. [NII]6583 beside Halpha in an AGN-like
    spectrum, with z0 off by ~0.003), every line follows it. Without
    ``ivar`` the window must be much wider than the lines for the MAD to
    measure the noise (the default window of 0.01 is ~130 pixels at Halpha
    on a 1 A grid). Position errors are those of a 3-point parabola: on
    simulated SDSS starbursts (S/N >= 10 on Halpha, Hbeta, [OIII]5007) 99 %
    of the refined z are within 1e-4.

    Work per spectrum is O(L * window pixels * log) (the MAD sorts each
    window); the spectra run in parallel, the GIL released.

    GPU arrays (CuPy, torch CUDA): ``wave``, ``flux``, ``ivar`` and an array
    ``z0`` must all live on the GPU; the fields of the result are arrays of
    the same library (0-d arrays for a 1-D ``flux``), bit-identical to the
    CPU's: each GPU thread runs the same per-spectrum code.

    Examples
    --------
    >>> import numpy as np
    >>> import deepz
    >>> wave = np.arange(4000.0, 9000.0, 1.0)
    >>> flux = np.exp(-0.5 * ((wave - 6564.61 * 1.1) / 2.0) ** 2)
    >>> res = deepz.line_search(wave, flux, 0.104, lines=["Halpha"], ivar=np.full_like(wave, 1e4))
    >>> round(float(res.z), 4), int(res.n_found)
    (0.1, 1)

    """
    if devices.common_device(flux=flux, wave=wave, ivar=ivar, z0=_gpu.arrays_only(z0)) == "cuda":
        return _gpu_line_search(wave, flux, z0, lines, window, ivar, weights, snr_min)
    flux, was_1d = flux_batch("flux", flux)
    n, m = flux.shape
    wave, decreasing = wave_grid("wave", wave, n_spectra=n, min_pixels=3)
    if wave.shape[1] != m:
        raise ValueError(f"wave must have as many pixels as flux ({m}), got shape {wave.shape}")
    ivar = ivar_like("ivar", ivar, flux)
    if decreasing:
        flux = np.ascontiguousarray(flux[:, ::-1])
        if ivar is not None:
            ivar = np.ascontiguousarray(ivar[:, ::-1])
    z0 = _ls_z0(z0, n)
    line_tuple = _ls_lines(lines)
    window = scalar("window", window, lo=0.0, lo_open=True)
    if window >= 1.0:
        raise ValueError(f"window must be < 1 (a half-width in redshift), got {window}")
    w_dist, w_height, w_spacing = _ls_weights(weights)
    snr_min = scalar("snr_min", snr_min, lo=0.0)
    nthreads = resolve_threads(threads)

    rest = np.array([line.wave for line in line_tuple], dtype=np.float64)
    strength = np.array([line.strength for line in line_tuple], dtype=np.float64)
    sign = np.array([line.sign for line in line_tuple], dtype=np.float64)
    z, line_wave, line_snr, n_found, quality = _core.line_search(
        wave,
        flux,
        ivar,
        z0,
        rest,
        strength,
        sign,
        window,
        w_dist,
        w_height,
        w_spacing,
        snr_min,
        nthreads,
    )
    if was_1d:
        z, line_wave, line_snr, n_found, quality = (
            z[0],
            line_wave[0],
            line_snr[0],
            n_found[0],
            quality[0],
        )
    return LineSearchResult(z, line_wave, line_snr, n_found, quality, line_tuple)


# Scratch of the GPU line search: each worker thread needs M + 2 L doubles;
# the pool is as large as the batch, at most _LS_MAX_WORKERS threads (enough
# to fill an H100) and _LS_SCRATCH_BYTES in all.
_LS_MAX_WORKERS = 1 << 15
_LS_SCRATCH_BYTES = 256 << 20


def _ls_workers(n: int, m: int, n_lines: int) -> int:
    """Return the number of GPU worker threads (each with its own scratch slice)."""
    per_worker = 8 * (m + 2 * n_lines)
    return max(1, min(n, _LS_MAX_WORKERS, _LS_SCRATCH_BYTES // per_worker))


def _gpu_line_search(wave, flux, z0, lines, window, ivar, weights, snr_min):
    """Run :func:`line_search` on the GPU: the same checks and errors, ``deepz._cuda``."""
    cuda = devices.require_cuda()
    f, was_1d = _gpu.flux_batch("flux", flux)
    n, m = (int(e) for e in f.shape)
    dt = _gpu.dtype(f)
    batch = _gpu.Batch(f)
    grid = _gpu.Grid("wave", _gpu.native(wave, "wave"), batch, n_spectra=n, min_pixels=3)
    if grid.wave.shape[1] != m:
        raise ValueError(
            f"wave must have as many pixels as flux ({m}), got shape {tuple(grid.wave.shape)}"
        )
    ivar_check = _gpu.Ivar("ivar", ivar, f, batch)
    z0_ok = None
    if _gpu.host_scalar(z0):
        zz = _ls_z0(z0, 1)[0]  # checked on the host
    else:
        zz = _gpu.native(z0, "z0")
        if _gpu.dtype(zz).kind not in "iuf":
            raise TypeError(
                f"z0 must be a real number or an array of them, got dtype {_gpu.dtype_name(zz)}"
            )
        zz = _gpu.astype(zz, np.float64)
        if zz.ndim != 0 and tuple(zz.shape) != (n,):
            raise ValueError(f"z0 must be a scalar or have shape ({n},), got {tuple(zz.shape)}")
        z0_ok = batch.add((_gpu.xp(zz).isfinite(zz) & (zz > -1.0)).all())
    line_tuple = _ls_lines(lines)
    window = scalar("window", window, lo=0.0, lo_open=True)
    if window >= 1.0:
        raise ValueError(f"window must be < 1 (a half-width in redshift), got {window}")
    w_dist, w_height, w_spacing = _ls_weights(weights)
    snr_min = scalar("snr_min", snr_min, lo=0.0)

    values = batch.fetch()  # the one device -> host transfer of this call
    wave_dev, decreasing = grid.finish(values)
    iv = ivar_check.finish(values)
    if z0_ok is not None and not values[z0_ok]:
        _ls_z0(_gpu.to_numpy(zz), n)
    if decreasing:
        f = _gpu.flip_last(f)
        if iv is not None:
            iv = _gpu.flip_last(iv)
    zz = _gpu.vector(zz, f, n, np.float64)

    # The line table on the device, with the search order of the CPU binding
    # (strongest first, ties in the given order: a stable sort).
    strength = np.array([line.strength for line in line_tuple], dtype=np.float64)
    table = _gpu.from_numpy(
        np.stack(
            [[line.wave for line in line_tuple], strength, [line.sign for line in line_tuple]]
        ).astype(np.float64),
        f,
    )
    order = _gpu.from_numpy(np.argsort(-strength, kind="stable").astype(np.int64), f)
    n_lines = len(line_tuple)
    z = devices.empty_like(f, shape=(n,), dtype=dt)
    line_wave = devices.empty_like(f, shape=(n, n_lines), dtype=dt)
    line_snr = devices.empty_like(f, shape=(n, n_lines), dtype=dt)
    n_found = devices.empty_like(f, shape=(n,), dtype=np.int64)
    quality = devices.empty_like(f, shape=(n,), dtype=dt)
    workers = _ls_workers(n, m, n_lines)
    scratch = devices.empty_like(f, shape=(workers * (m + 2 * n_lines),), dtype=np.float64)
    cuda.line_search(
        wave_dev,
        f,
        iv,
        zz,
        table[0],
        table[1],
        table[2],
        order,
        window,
        w_dist,
        w_height,
        w_spacing,
        snr_min,
        z,
        line_wave,
        line_snr,
        n_found,
        quality,
        scratch,
        stream=devices.current_stream(f),
    )
    if was_1d:
        z, line_wave, line_snr, n_found, quality = (
            z[0],
            line_wave[0],
            line_snr[0],
            n_found[0],
            quality[0],
        )
    return LineSearchResult(z, line_wave, line_snr, n_found, quality, line_tuple)
