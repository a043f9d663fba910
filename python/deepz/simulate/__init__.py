"""Survey simulators: rest-frame templates in, labelled observed spectra and photometry out.

Every observer is a small frozen dataclass (its configuration) with one
method, ``simulate(n, seed, offset=0)``, that returns a :class:`SimulatedBatch`
(flux, ivar, wave, z, template index, class labels, redshift slot where the
observer has them, the normalisation factor, seed, offset and the observer's
config). The chain runs on deepz's kernels: :func:`deepz.redshift` (flux-
conserving, no redshifted grids materialised) -> scaling to observed flux ->
:func:`deepz.add_noise` (counter-based Philox noise) -> masks -> normalisation.

==================  ========================================================================
observer            what it makes
==================  ========================================================================
``euclid_nisp``     Stivaktakis et al. (2019) exactly: 1800 x 5 A over 11000-20000 A,
                    z ~ U[1, 1.8), H-alpha noise criterion, merge 2/4/8, X / (2 X_max),
                    800 (1600) redshift slots (:class:`EuclidNISP`)
``sdss``            SDSS legacy spectra, 3800-9200 A log grid, R 2000, galaxies/QSOs/stars
``desi``            DESI b/r/z arms at 0.8 A, 1.8 A LSF, BGS/LRG/ELG/QSO/MWS; ``combine=True``
                    coadds the arms
``fourmost``        4MOST LRS, 3700-9500 A at 0.35 A, R 6500, CRS-like mix
``gasnet``          GaSNet-II inputs: 4000-9000 A in 5001 pixels, flux / L2 norm
``mixture``         several of the above on one ``grid``, interleaved (:class:`Mixture`)
``photometry``      AB fluxes and magnitudes through :mod:`deepz.filters` (SDSS ugriz or
                    ALHAMBRA 20 medium bands + JHKs), depths, -99 / 99 conventions
==================  ========================================================================

Conventions
-----------
Units
    Spectra in 1e-17 erg/s/cm^2/A (before the observer's ``norm``; the
    physical flux is ``batch.flux * batch.norm[:, None]``), wavelengths in
    vacuum Angstrom, photometry in micro-Jansky. Templates are deepz's
    physical libraries (:mod:`deepz.templates`, f_lambda at 10 pc): a galaxy
    or QSO at z is scaled by (10 pc / d_L(z))^2 with astropy's Planck18
    (``batch.extra["flux_scale"]``), :func:`deepz.redshift` applies the
    1 / (1 + z) of f_lambda; stars get a distance instead and |z| <= 0.001.
    Euclid's default instead scales each galaxy to a drawn H-alpha flux
    above the survey limit (see :class:`EuclidNISP`).
Reproducibility
    Sample ``i`` of seed ``s`` depends only on (observer config, s, i):
    ``simulate(10, s)`` + ``simulate(10, s, offset=10)`` == ``simulate(20, s)``
    bit for bit, for any batch split, thread count or number of workers (see
    :mod:`deepz.simulate._seeding`).
Libraries
    Built on first use from the observer's ``n_*``/``template_seed`` fields
    and cached per process (a few seconds); a ``library=`` field takes any
    :class:`deepz.templates.TemplateLibrary` instead.

On-the-fly training data: :class:`SimulatedStream` (a torch
``IterableDataset`` that also implements the Trainer's ``batches(epoch,
start, seed)`` resume protocol) and :func:`iterate_batches` (plain
generator). Fixed sets: :func:`write_hdf5` / :func:`read_hdf5`; the command
line ``deepz simulate``. Figures: :func:`plot_gallery`.

Examples
--------
>>> from deepz import simulate
>>> obs = simulate.euclid_nisp(noise=True, n_templates=20)
>>> b = obs.simulate(8, seed=42)
>>> b.flux.shape, int(b.z_class.max()) < 800
((8, 1800), True)

"""

from __future__ import annotations

from .batch import SimulatedBatch
from .euclid import EuclidNISP, euclid_nisp
from .gallery import plot_gallery, plot_observer
from .hdf5 import observer_from_config, read_hdf5, write_hdf5
from .mixture import Mixture, mixture
from .photometry import SATURATED, UNDETECTED, Photometry, Population, photometry
from .spectro import SKY_LINES, Arm, SpectroSurvey, Target, desi, fourmost, gasnet, sdss
from .stream import iterate_batches

__all__ = [
    "OBSERVERS",
    "SATURATED",
    "SKY_LINES",
    "UNDETECTED",
    "Arm",
    "EuclidNISP",
    "Mixture",
    "Photometry",
    "Population",
    "SimulatedBatch",
    "SimulatedStream",
    "SpectroSurvey",
    "Target",
    "desi",
    "euclid_nisp",
    "fourmost",
    "gasnet",
    "iterate_batches",
    "mixture",
    "observer",
    "observer_from_config",
    "photometry",
    "plot_gallery",
    "plot_observer",
    "read_hdf5",
    "sdss",
    "write_hdf5",
]


def _photometry_sdss(**kwargs):
    """SDSS ugriz photometry of a sample limited at r <= 22.2 (the r-band depth)."""
    return photometry(**{"filters": "sdss", "select": ("r", 22.2), **kwargs})


def _photometry_alhambra(**kwargs):
    """ALHAMBRA-like photometry of a sample limited at A802M <= 24 (about its I selection)."""
    return photometry(**{"filters": "alhambra", "select": ("A802M", 24.0), **kwargs})


#: Preset observers by name (what ``deepz simulate --survey`` accepts).
OBSERVERS = {
    "euclid": euclid_nisp,
    "sdss": sdss,
    "desi": desi,
    "fourmost": fourmost,
    "gasnet": gasnet,
    "mixture": mixture,
    "photometry-sdss": _photometry_sdss,
    "photometry-alhambra": _photometry_alhambra,
}


def observer(name: str, **kwargs):
    """Return the preset observer ``name`` (:data:`OBSERVERS`), fields overridden by ``kwargs``."""
    if name not in OBSERVERS:
        raise ValueError(f"unknown survey {name!r}; known: {', '.join(OBSERVERS)}")
    return OBSERVERS[name](**kwargs)


def __getattr__(name: str):
    if name == "SimulatedStream":  # needs torch: imported on first use only
        from .stream import SimulatedStream

        return SimulatedStream
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
