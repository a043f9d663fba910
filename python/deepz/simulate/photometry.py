"""Broad- and medium-band photometry: AB fluxes and magnitudes through :mod:`deepz.filters`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .. import filters as flt
from .. import kernels
from . import _common as cm
from ._seeding import STREAM, derive_seed, uniforms
from .batch import SimulatedBatch

__all__ = ["SATURATED", "UNDETECTED", "Photometry", "Population", "photometry"]

#: Magnitude of a saturated measurement (the ALHAMBRA convention).
SATURATED = -99.0
#: Magnitude of an undetected one.
UNDETECTED = 99.0
LYA = 1215.67


@dataclass(frozen=True)
class Population:
    """One class of objects in a photometric sample.

    Parameters
    ----------
    name : str
        Label.
    cls : {"GALAXY", "STAR", "QSO"}
        Library class.
    fraction : float
        Share (> 0; normalised over the populations).
    z_min, z_max : float
        Uniform redshift range [z_min, z_max) (stars: radial velocity, |z| < 0.01).
    subclasses : tuple of str
        Eligible library subclasses (empty: all).

    """

    name: str
    cls: str
    fraction: float
    z_min: float
    z_max: float
    subclasses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from .spectro import Target

        Target(
            self.name,
            self.cls,
            self.fraction,
            self.z_min,
            self.z_max,
            snr=1.0,
            subclasses=self.subclasses,
        )  # the same checks
        object.__setattr__(self, "subclasses", tuple(str(s) for s in self.subclasses))


_DEFAULT_POPULATIONS = (
    Population("GALAXY", "GALAXY", 0.80, 0.01, 2.0),
    Population("STAR", "STAR", 0.15, -0.001, 0.001),
    Population("QSO", "QSO", 0.05, 0.1, 4.0),
)


@dataclass(frozen=True)
class Photometry(cm.ObserverMixin):
    """Synthetic photometry: template -> redshift -> filters -> noisy AB fluxes and magnitudes.

    For sample ``i`` a population, a template, z (and for stars a distance,
    log-uniform in ``star_distance_pc``) are drawn from per-sample
    counter-based uniforms; the template is redshifted onto a log-lambda grid
    of R ~ 870 (step 5e-4 in log10) that covers the bands, scaled to its
    observed flux (d_L from Planck18; stars (10 pc / d)^2), multiplied by the
    mean Lyman-alpha forest transmission, and integrated through the filters
    (photon-counting AB, :func:`deepz.filters.response_matrix`) to a flux in
    micro-Jansky.

    Errors come from the depth: a band with 5-sigma limiting magnitude m_lim
    has flux sigma ``f_lim / 5``, ``f_lim = 10**(-0.4 (m_lim - 23.9))`` uJy
    (sky-dominated: the same for every object), plus an optional floor
    ``error_floor`` in magnitudes added in quadrature. Gaussian noise from
    :func:`deepz.add_noise` on the fluxes (``noise=True``).

    Magnitudes (``extra["mag"]``, ``extra["mag_err"]``) follow the ALHAMBRA
    conventions: detected (S/N >= ``detection_snr``) m = 23.9 - 2.5 log10(f),
    err = 1.0857 sigma / f; **undetected** m = 99 and err = the band's 1-sigma
    limiting magnitude (an upper limit); **saturated** (true magnitude
    brighter than ``saturation``) m = -99, err = 0, and the flux's ivar = 0.

    Parameters
    ----------
    filters : str or tuple of str
        A filter set of :mod:`deepz.filters` (``"sdss"``, ``"alhambra"``) or
        band names.
    depths : tuple of float, optional
        5-sigma limiting AB magnitudes per band; default the set's.
    saturation : float
        Saturation magnitude (AB).
    detection_snr : float
        S/N below which a band is "undetected".
    error_floor : float
        Magnitude error added in quadrature (>= 0).
    noise : bool
        Add the noise (default True).
    select : (str, float), optional
        A magnitude limit ``(band, m_max)``: only objects whose noise-free
        magnitude in ``band`` is <= m_max are kept (a flux-limited sample, as
        photometric-redshift catalogues are). Done by rejection per sample:
        attempt ``r`` of sample ``i`` draws from (seed, i, r) alone, so the
        batch-split invariance holds; after ``max_tries`` attempts the last
        draw is kept and ``extra["selected"]`` says False.
    max_tries : int
        Attempts per sample for ``select``.
    populations : tuple of Population
        Object mix; default 80 % galaxies (z 0.01-2), 15 % stars, 5 % QSOs
        (z 0.1-4).
    n_galaxies, n_stars, n_qsos, template_seed, z_ref
        The built-in library (as for :class:`SpectroSurvey`).
    star_distance_pc : (float, float)
        Log-uniform range of star distances (pc).
    library : TemplateLibrary, optional
        Templates in physical units (erg/s/cm^2/A at a reference distance).

    Examples
    --------
    >>> from deepz.simulate import photometry
    >>> obs = photometry(filters="alhambra", n_galaxies=20, n_stars=5, n_qsos=5)
    >>> b = obs.simulate(3, seed=0)
    >>> b.flux.shape, b.extra["mag"].shape
    ((3, 23), (3, 23))

    """

    kind: ClassVar[str] = "photometry"

    filters: Any = "sdss"
    depths: tuple[float, ...] | None = None
    saturation: float = 14.0
    detection_snr: float = 1.0
    error_floor: float = 0.0
    noise: bool = True
    select: tuple[str, float] | None = None
    max_tries: int = 64
    populations: tuple[Population, ...] = _DEFAULT_POPULATIONS
    n_galaxies: int = 300
    n_stars: int = 100
    n_qsos: int = 100
    template_seed: int = 0
    z_ref: float = 0.0
    star_distance_pc: tuple[float, float] = (100.0, 20_000.0)
    library: Any = field(default=None, compare=False, repr=False)

    dlog10: ClassVar[float] = 5e-4

    def __post_init__(self) -> None:
        from .spectro import _as_tuple

        if isinstance(self.filters, str):
            bands = flt.get_set(self.filters)
            default_depths = flt.depths(self.filters)
        else:
            names = tuple(self.filters)
            if not names:
                raise ValueError("filters must name a filter set or at least one band")
            bands = flt.get(names)
            where = {
                f.name: d
                for s in flt.FILTER_SETS
                for f, d in zip(flt.get_set(s), flt.depths(s), strict=True)
            }
            default_depths = tuple(where[n] for n in names)
            object.__setattr__(self, "filters", names)
        depths = default_depths if self.depths is None else tuple(float(d) for d in self.depths)
        if len(depths) != len(bands):
            raise ValueError(
                f"depths must give one 5-sigma magnitude per band ({len(bands)}), got {len(depths)}"
            )
        if not all(math.isfinite(d) for d in depths):
            raise ValueError(f"depths must be finite magnitudes, got {depths}")
        object.__setattr__(self, "depths", depths)
        object.__setattr__(
            self, "populations", _as_tuple(self.populations, Population, "populations")
        )
        if not self.populations:
            raise ValueError("populations must hold at least one Population")
        if self.select is not None:
            sel = tuple(self.select)
            if len(sel) != 2 or sel[0] not in tuple(f.name for f in bands):
                raise ValueError(
                    f"select must be (band, max_mag) with a band among "
                    f"{[f.name for f in bands]}, got {self.select!r}"
                )
            if not math.isfinite(float(sel[1])):
                raise ValueError(f"select: the magnitude limit must be finite, got {sel[1]!r}")
            object.__setattr__(self, "select", (str(sel[0]), float(sel[1])))
        cm.count("max_tries", self.max_tries)
        if not math.isfinite(float(self.saturation)):
            raise ValueError(f"saturation must be a finite magnitude, got {self.saturation!r}")
        cm.positive("detection_snr", self.detection_snr, allow_zero=True)
        cm.positive("error_floor", self.error_floor, allow_zero=True)
        if not isinstance(self.noise, (bool, np.bool_)):
            raise TypeError(f"noise must be True or False, got {self.noise!r}")
        for name in ("n_galaxies", "n_stars", "n_qsos", "template_seed"):
            cm.count(name, getattr(self, name), 0)
        object.__setattr__(self, "star_distance_pc", tuple(float(d) for d in self.star_distance_pc))
        d = self.star_distance_pc
        if not (len(d) == 2 and 0 < d[0] <= d[1] and math.isfinite(d[1])):
            raise ValueError(f"star_distance_pc must be (min, max) with 0 < min <= max, got {d!r}")
        lo, hi = self.obs_wave[0], self.obs_wave[-1]
        lib_lo, lib_hi = cm.library_range(self._spec(), self.library)
        for i, p in enumerate(self.populations):
            if lo / (1 + p.z_max) < lib_lo:
                raise ValueError(
                    f"populations[{i}].z_max = {p.z_max} is too high: the bluest band "
                    f"starts at {lo:.0f} A = {lo / (1 + p.z_max):.0f} A in the rest "
                    f"frame, below the library's {lib_lo:.0f} A"
                )
            if hi / (1 + p.z_min) > lib_hi:
                raise ValueError(
                    f"populations[{i}].z_min = {p.z_min} is too low: the reddest band "
                    f"ends at {hi:.0f} A, beyond the library's {lib_hi:.0f} A at that z"
                )

    # -- geometry --------------------------------------------------------------------
    @property
    def bands(self) -> tuple[flt.Filter, ...]:
        """The :class:`deepz.filters.Filter` s, in order."""
        if isinstance(self.filters, str):
            return flt.get_set(self.filters)
        return flt.get(tuple(self.filters))

    @property
    def band_names(self) -> tuple[str, ...]:
        """Names of the bands, in order."""
        return tuple(f.name for f in self.bands)

    @property
    def wave(self) -> np.ndarray:
        """Pivot wavelengths of the bands (A)."""
        return np.array([f.pivot for f in self.bands])

    @property
    def n_pixels(self) -> int:
        """Number of bands."""
        return len(self.bands)

    @property
    def obs_wave(self) -> np.ndarray:
        """The internal observed grid the templates are binned onto (log step 5e-4)."""
        lo = min(f.wave[0] for f in self.bands)
        hi = max(f.wave[-1] for f in self.bands)
        return cm.loglam_grid(lo, hi, self.dlog10)

    @property
    def sigma(self) -> np.ndarray:
        """Flux sigma per band (uJy): the 5-sigma limiting flux / 5."""
        return 10.0 ** (-0.4 * (np.array(self.depths) - flt.AB_ZEROPOINT_UJY)) / 5.0

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the ``label`` values."""
        return cm.CLASSES

    # -- library ---------------------------------------------------------------------
    def _spec(self) -> cm.LibrarySpec:
        return cm.LibrarySpec(
            self.n_galaxies,
            self.n_stars,
            self.n_qsos,
            self.template_seed,
            float(self.z_ref),
            wave_min=600.0,
        )

    def template_library(self):
        """Return the :class:`~deepz.templates.TemplateLibrary` drawn from (rows: ``template``)."""
        return cm.library_for(self._spec(), self.library)

    def prepared(self) -> cm.Prepared:
        """Return the library rebinned to a rest grid of the observed grid's log step (cached)."""
        lib = cm.library_for(self._spec(), self.library)
        obs = self.obs_wave
        zmin = min(p.z_min for p in self.populations)
        zmax = max(p.z_max for p in self.populations)
        lib_lo, lib_hi = float(lib.wave[0]) * 1.0001, float(lib.wave[-1]) / 1.0001
        lo = max(obs[0] / (1 + zmax) * 10 ** (-4 * self.dlog10), lib_lo)
        hi = min(obs[-1] / (1 + zmin) * 10 ** (4 * self.dlog10), lib_hi)
        # the observed grid's own log lattice, extended: redshift() then shifts instead of sweeping
        k0 = math.ceil(math.log10(lo / obs[0]) / self.dlog10)
        k1 = math.floor(math.log10(hi / obs[0]) / self.dlog10)
        rest = obs[0] * 10.0 ** (self.dlog10 * np.arange(k0, k1 + 1))
        rest = rest[
            (cm.edges(rest)[:-1] >= float(lib.wave[0]))
            & (cm.edges(rest)[1:] <= float(lib.wave[-1]))
        ]
        lib_key = self._spec() if self.library is None else id(self.library)
        return cm.prepare(lib, rest, None, ("phot", lib_key, rest[0], rest.size))

    def _response(self) -> np.ndarray:
        return flt.response_matrix(self.bands, self.obs_wave)

    # -- simulation ------------------------------------------------------------------
    def _draw(self, prep, elig, starts, counts, seed, offset, n, attempt, threads, rows=None):
        """Draw population, template, z, flux scale and noise-free band fluxes (uJy) of one attempt.

        Attempt ``r`` of sample ``i`` uses the uniforms of (seed, stream 1 + 256 r, i) only, so
        a selection by rejection keeps every sample a function of (seed, i).
        """
        pops = self.populations
        u = uniforms(seed, STREAM["draws"] + 256 * attempt, offset, n, 4)
        if rows is not None:
            u = u[rows]
        m = u.shape[0]
        frac = np.array([p.fraction for p in pops])
        cum = np.cumsum(frac) / frac.sum()
        tgt = np.minimum(np.searchsorted(cum, u[:, 0], side="right"), len(pops) - 1)
        pick = np.minimum((u[:, 1] * counts[tgt]).astype(np.int64), counts[tgt] - 1)
        index = elig[starts[tgt] + pick]
        z0 = np.array([p.z_min for p in pops])[tgt]
        z1 = np.array([p.z_max for p in pops])[tgt]
        z = np.minimum(z0 + u[:, 2] * (z1 - z0), np.nextafter(z1, -np.inf))
        is_star = np.array([p.cls == "STAR" for p in pops])[tgt]
        d0, d1 = self.star_distance_pc
        dist = d0 * (d1 / d0) ** u[:, 3]
        scale = np.empty(m)
        ref = prep.ref_distance_pc
        scale[is_star] = (ref / dist[is_star]) ** 2
        if np.any(~is_star):
            scale[~is_star] = cm.distance_scale(z[~is_star]) * (ref / 10.0) ** 2
        obs = self.obs_wave
        spec = kernels.redshift(prep.flux, prep.rest_wave, index, z, obs, threads=threads)
        spec = spec.astype(np.float64) * (scale / cm.TO_FLUX_UNIT)[:, None]  # erg/s/cm^2/A
        sel = np.flatnonzero((~is_star) & (LYA * (1 + z) > obs[0]))
        if sel.size:
            from ..templates import lya_forest_transmission

            spec[sel] *= lya_forest_transmission(obs, z[sel])
        return tgt, index, z, scale, spec @ self._response()

    def simulate(
        self, n: int, seed: int, offset: int = 0, *, dtype=np.float32, threads: int | None = None
    ) -> SimulatedBatch:
        """Simulate samples ``offset .. offset + n - 1`` of seed ``seed`` (see the class docstring).

        Returns
        -------
        SimulatedBatch
            ``flux`` (n, B) in micro-Jansky, ``ivar`` (1/uJy^2; 0 when
            saturated), ``wave`` the pivot wavelengths; ``extra``: ``mag``,
            ``mag_err``, ``mag_true`` (noise-free), ``target`` (population),
            ``selected`` (False where ``select`` gave up),
            ``flux_scale`` (the factor (10 pc / d)^2 applied to the template).

        """
        n, seed, offset = cm.check_call(n, seed, offset)
        dt = cm.check_dtype(dtype)
        prep = self.prepared()
        pops = self.populations
        elig, starts, counts = cm.eligible(pops, prep, "populations")
        if not prep.physical:
            raise ValueError(
                "library: photometry needs templates in physical f_lambda at a "
                "reference distance (ref_distance_pc set)"
            )
        tgt, index, z, scale, true = self._draw(
            prep, elig, starts, counts, seed, offset, n, 0, threads
        )
        selected = np.ones(n, dtype=bool)
        if self.select is not None:
            band = self.band_names.index(self.select[0])
            limit = 10.0 ** (-0.4 * (float(self.select[1]) - flt.AB_ZEROPOINT_UJY))
            selected = true[:, band] >= limit
            for r in range(1, self.max_tries):
                todo = np.flatnonzero(~selected)
                if todo.size == 0:
                    break
                t2, i2, z2, s2, f2 = self._draw(
                    prep, elig, starts, counts, seed, offset, n, r, threads, todo
                )
                tgt[todo], index[todo], z[todo], scale[todo], true[todo] = t2, i2, z2, s2, f2
                selected[todo] = f2[:, band] >= limit
        sigma = np.broadcast_to(self.sigma, true.shape)
        if self.error_floor > 0:
            sigma = np.sqrt(sigma**2 + (0.4 * math.log(10) * self.error_floor * np.abs(true)) ** 2)
        sigma = np.ascontiguousarray(sigma, dtype=dt)
        if self.noise:
            flux, ivar = kernels.add_noise(
                true.astype(dt),
                sigma,
                derive_seed(seed, STREAM["noise"]),
                offset=offset,
                threads=threads,
            )
        else:
            flux, ivar = true.astype(dt), (1.0 / sigma**2).astype(dt)
        zp = flt.AB_ZEROPOINT_UJY
        with np.errstate(divide="ignore", invalid="ignore"):
            mag_true = np.where(
                true > 0, zp - 2.5 * np.log10(np.where(true > 0, true, 1.0)), np.inf
            )
            f64 = flux.astype(np.float64)
            s64 = sigma.astype(np.float64)
            detected = f64 >= self.detection_snr * s64
            detected &= f64 > 0
            mag = np.where(detected, zp - 2.5 * np.log10(np.where(detected, f64, 1.0)), UNDETECTED)
            err = np.where(
                detected,
                2.5 / math.log(10) * s64 / np.where(detected, f64, 1.0),
                zp - 2.5 * np.log10(s64),
            )
        saturated = mag_true < self.saturation
        mag[saturated] = SATURATED
        err[saturated] = 0.0
        ivar[saturated] = 0
        cls, sub = cm.class_labels(prep, index)
        return SimulatedBatch(
            flux=flux,
            ivar=ivar,
            wave=self.wave,
            z=z,
            template=index,
            label=cls,
            subclass=sub,
            class_names=cm.CLASSES,
            subclass_names=prep.subclass_names,
            z_class=None,
            norm=np.ones(n),
            seed=seed,
            offset=offset,
            observer=self.kind,
            config=self.config(),
            unit="uJy",
            extra={
                "mag": mag.astype(dt),
                "mag_err": err.astype(dt),
                "mag_true": np.where(np.isfinite(mag_true), mag_true, UNDETECTED).astype(dt),
                "target": tgt.astype(np.int64),
                "flux_scale": scale,
                "selected": selected,
            },
            meta={
                "bands": list(self.band_names),
                "depths": list(self.depths),
                "targets": [p.name for p in pops],
            },
        )


def photometry(**kwargs) -> Photometry:
    """Build a :class:`Photometry` observer; keywords are its fields (``filters="alhambra"``)."""
    return Photometry(**kwargs)
