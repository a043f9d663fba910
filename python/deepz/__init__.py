"""deepz: redshifts and classes of astronomical spectra with deep networks.

The compiled kernels (:mod:`deepz.kernels`) prepare spectra: resample them
onto common grids, redshift rest-frame templates, add reproducible noise,
merge bins, and refine redshifts by a line search.

:func:`save` / :func:`load` write and read self-describing models (a network
plus its grid, normalisation and redshift bins); ``load`` returns a ready
:class:`deepz.inference.Predictor`. They import torch on first use.
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
    "load",
    "load_default",
    "merge_bins",
    "redshift",
    "resample",
    "save",
    "set_num_threads",
]


def __getattr__(name: str):
    if name in ("save", "load"):  # need torch: imported on first use only
        from . import modelfile

        return getattr(modelfile, name)
    if name == "load_default":  # the shipped model (needs torch)
        from .default import load_default

        return load_default
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
