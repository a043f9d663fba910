"""deepz: redshifts and classes of astronomical spectra with deep networks.

The compiled kernels (:mod:`deepz.kernels`) prepare spectra: resample them
onto common grids, redshift rest-frame templates, add reproducible noise,
merge bins, and refine redshifts by a line search.
"""

from __future__ import annotations

from . import _core
from .info import info
from .kernels import add_noise, line_search, merge_bins, redshift, resample
from .threads import get_num_threads, set_num_threads

__version__: str = _core.__version__

__all__ = [
    "__version__",
    "add_noise",
    "get_num_threads",
    "info",
    "line_search",
    "merge_bins",
    "redshift",
    "resample",
    "set_num_threads",
]
