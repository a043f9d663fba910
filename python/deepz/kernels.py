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
    )
    if obs_flipped:
        out = np.ascontiguousarray(out[:, ::-1])
    return out[0] if one else out


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
