"""Rest-frame template libraries: what deepz's survey simulators redshift and observe.

A :class:`TemplateLibrary` holds K rest-frame spectra on one wavelength grid,
``flux`` (K, M) f_lambda over ``wave`` (M,), with per-template metadata
``meta`` (an astropy Table with at least ``class`` = GALAXY / STAR / QSO and
``subclass``). Templates are always in the REST frame: redshifting is done
by :func:`deepz.kernels.redshift`.

Conventions
-----------
Wavelengths
    Rest-frame VACUUM Angstrom, pixel centres (bin edges half-way between).
    The built-in models default to a log-lambda grid from 900 A to 25,000 A
    with dlog10(lambda) = 3e-5 (20.7 km/s per pixel, 48,125 pixels;
    :func:`default_wave`), fine enough to resolve narrow lines
    (sigma >= 40 km/s over >= 2 pixels); each builder takes ``wave=`` for any
    other grid within 500-50,000 A. Resample a library to the survey's needs
    ONCE (:meth:`TemplateLibrary.resample`) before redshifting it many times.
Units and normalisation
    The physical libraries (:func:`galaxies`, :func:`stars`, :func:`qsos`,
    :func:`kcorrect_templates`) give f_lambda in erg/s/cm^2/A as observed
    from 10 pc (``unit`` = :data:`FLAM`, ``ref_distance_pc`` = 10), i.e.
    L_lambda / (4 pi (10 pc)^2) -- the kcorrect convention, and the one in
    which AB magnitudes of a template are absolute magnitudes. A source at
    redshift z is observed with ``f_obs(lambda (1 + z)) = flux(lambda) *
    (10 pc / d_L)^2 / (1 + z)``: :func:`distance_scale` gives the first
    factor, :func:`deepz.kernels.redshift` the rest. Stars are scaled by
    ``(10 pc / d)^2`` and not redshifted. Loaded user files
    (:func:`from_redrock_fits`, :func:`from_ascii`, :func:`from_arrays`) keep
    an arbitrary normalisation (dimensionless) unless told otherwise.
Randomness
    Every builder takes a ``seed``; the same arguments give identical arrays.
IGM
    Lyman-alpha forest absorption depends on the source redshift, so it is
    not in any template: apply :func:`lya_forest_transmission` to observed
    spectra (QSOs and galaxies alike).

Contents
--------
- :class:`TemplateLibrary`, :func:`concatenate`, :func:`d4000`, :func:`distance_scale`
- models: :func:`galaxies` (the default; see :mod:`deepz.templates.galaxies`
  for the recipe and its sources), :func:`stars`, :func:`qsos`,
  :func:`ssp_spectra`, :func:`calzetti_k`, :func:`lya_forest_transmission`
- loaders: :func:`from_redrock_fits`, :func:`from_ascii`, :func:`from_arrays`,
  :func:`kcorrect_templates`
- registry: :func:`load`, :func:`available`, :func:`register`, :func:`default_library`
"""

from __future__ import annotations

from ._common import DEFAULT_DLOG10, default_wave
from .dust import calzetti_attenuation, calzetti_k
from .galaxies import GALAXY_LINES, GALAXY_SUBCLASSES, galaxies
from .library import FLAM, TemplateLibrary, concatenate, d4000, distance_scale
from .loaders import from_arrays, from_ascii, from_redrock_fits, kcorrect_templates
from .qsos import lya_forest_transmission, qsos, tau_eff_lya
from .registry import available, default_library, load, register
from .ssp import ssp_spectra
from .stellar import STAR_TYPES, stars, stellar_spectra

__all__ = [
    "DEFAULT_DLOG10",
    "FLAM",
    "GALAXY_LINES",
    "GALAXY_SUBCLASSES",
    "STAR_TYPES",
    "TemplateLibrary",
    "available",
    "calzetti_attenuation",
    "calzetti_k",
    "concatenate",
    "d4000",
    "default_library",
    "default_wave",
    "distance_scale",
    "from_arrays",
    "from_ascii",
    "from_redrock_fits",
    "galaxies",
    "kcorrect_templates",
    "load",
    "lya_forest_transmission",
    "qsos",
    "register",
    "ssp_spectra",
    "stars",
    "stellar_spectra",
    "tau_eff_lya",
]
