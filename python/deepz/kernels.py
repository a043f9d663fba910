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
