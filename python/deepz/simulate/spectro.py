"""Ground-based fibre surveys: SDSS, DESI, 4MOST and the GaSNet-II input convention.

One configurable observer, :class:`SpectroSurvey`, and four presets
(:func:`sdss`, :func:`desi`, :func:`fourmost`, :func:`gasnet`). A survey is a
set of spectrograph **arms** (a wavelength grid preset and a line-spread
function each) and a mixture of **targets** (an object class, the library
subclasses it draws from, a redshift range and a per-pixel S/N distribution).

The chain for sample ``i`` of seed ``s``:

1. from per-sample counter-based uniforms draw the target (by ``fraction``),
   a template among the target's eligible ones, ``z ~ U[z_min, z_max)``, a
   target S/N (lognormal: median ``snr``, scatter ``snr_dex`` dex) and, for
   stars, a distance (log-uniform in ``star_distance_pc``);
2. for every arm, redshift the template onto the arm's grid
   (:func:`deepz.redshift`, flux-conserving), scale it to the observed flux
   (galaxies and QSOs by (10 pc / d_L(z))^2 with Planck18, stars by
   (10 pc / d)^2; unit 1e-17 erg/s/cm^2/A), multiply by the mean Lyman-alpha
   forest transmission (:func:`deepz.templates.lya_forest_transmission`)
   where it applies, and convolve with the arm's LSF (below);
3. noise: the spectrum's signal level S is its mean |flux| over all arms;
   the per-pixel sigma is ``S / snr * shape(lambda)``, where ``shape`` is 1
   at the median pixel and grows towards the arms' ends (throughput falling
   to ``edge_throughput``) and, with ``sky_lines``, around the strongest
   night-sky lines (sky-subtraction residual regions: variance x (1 + A) in a
   Gaussian of the LSF width around each line). So the drawn ``snr`` is the
   ratio of the mean flux to the median sigma -- "S/N per pixel" as surveys
   quote it for the continuum. Gaussian noise from :func:`deepz.add_noise`
   (one seed per arm), ivar = 1 / sigma^2;
4. bad pixels: a Poisson number (mean ``mask_fraction`` x pixels) of single
   pixels per arm, at per-sample random positions, get flux 0 and ivar 0;
5. the arms are returned side by side (``meta["arms"]`` gives each arm's
   pixel range; ``wave`` is then not monotonic where arms overlap), or with
   ``combine=True`` coadded on their common pixel lattice (inverse-variance
   weighted mean where arms overlap; the DESI arms share a 0.8 A lattice,
   which is how DESI coadds its cameras, so no resampling is needed);
6. normalise (``norm``: ``"none"``, ``"l2"`` = GaSNet-II's flux / ||flux||_2,
   ``"max"``, or ``"xmax"`` with a pilot X_max as for Euclid).

Line-spread functions: an arm with ``resolution`` R (constant resolving
power: SDSS, 4MOST) is handled once, in the rest frame, by convolving the
library with a Gaussian of FWHM c / R in velocity (R is redshift-invariant);
an arm with ``fwhm`` (constant FWHM in Angstrom: DESI, 1.8 A) is convolved on
its observed pixels after redshifting, per spectrum.

The numbers of the presets (approximations, not fits)
-----------------------------------------------------
They are round values chosen by us to resemble the surveys; they are NOT
measured distributions -- replace them (``dataclasses.replace``, or your own
:class:`Target` tuples) where it matters.

SDSS (:func:`sdss`; DR7-like legacy spectra; grid ``sdss``, 3800-9200 A, log
step 1e-4): R = 2000 (the spectrograph's 1500-2500, Smee et al. 2013,
AJ 146, 32); galaxies z 0.01-0.5 with median S/N 8 per pixel (0.2 dex) --
the main galaxy sample was observed to S/N > 4.5 per pixel at g = 20.2 and
its spectra typically reach 5-15 (Strauss et al. 2002, AJ 124, 1810;
Abazajian et al. 2009, ApJS 182, 543); QSOs z 0.1-4 at 6 (0.25 dex); stars
at 15 (0.3 dex). Shares 60/20/20 %.

DESI (:func:`desi`; arms b/r/z 3600-5800 / 5760-7620 / 7520-9824 A at 0.8 A,
FWHM 1.8 A, i.e. R = 2000-5500, DESI Collaboration 2022, AJ 164, 207): BGS
galaxies z 0.01-0.6, S/N 3 per pixel; LRG (passive, post-starburst) z
0.4-1.1, S/N 1; ELG (star-forming, starburst) z 0.6-1.6, continuum S/N 0.5
(their redshifts come from [OII]); QSO z 0.5-4, S/N 1.5; MWS stars S/N 8;
scatter 0.2-0.3 dex; shares 28/17/33/7/15 % after the target densities of
the main survey. The per-pixel S/N values are order-of-magnitude readings of
the survey-validation papers (DESI Collaboration 2024, AJ 168, 58; Hahn et
al. 2023 (BGS); Zhou et al. 2023 (LRG); Raichoor et al. 2023 (ELG);
Chaussidon et al. 2023 (QSO); Cooper et al. 2023 (MWS)) for their nominal
effective exposure times (180 s bright, 1000 s dark).

4MOST (:func:`fourmost`; LRS arms joined, 3700-9500 A at 0.35 A, R = 6500;
de Jong et al. 2019, The Messenger 175, 3): a CRS-like mix (Richard et al.
2019, The Messenger 175, 50): BG z 0.01-0.4 S/N 2, LRG 0.4-0.8 S/N 1, ELG
0.6-1.1 S/N 0.4, QSO 0.9-3.5 S/N 1.2, plus halo/disc stars S/N 8.

GaSNet-II (:func:`gasnet`; Zhong et al. 2024, MNRAS 532, 643): SDSS-like
spectra (R = 2000, SDSS targets and S/N) on the network's input grid,
4000-9000 A in 5001 pixels, each divided by its L2 norm.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .. import grids, kernels
from . import _common as cm
from ._seeding import STREAM, derive_seed, uniforms
from .batch import SimulatedBatch

__all__ = ["SKY_LINES", "Arm", "SpectroSurvey", "Target", "desi", "fourmost", "gasnet", "sdss"]

log = logging.getLogger("deepz.simulate")

LYA = 1215.67
# Strongest night-sky lines (VACUUM A) and their relative variance excess A.
# [OI] 5577, NaD, [OI] 6300/6364 and the brightest OH Meinel lines (air
# positions from Osterbrock et al. 1996, PASP 108, 277, converted to vacuum);
# the amplitudes are illustrative.
_SKY_AIR = (
    (5577.34, 30.0),
    (5889.95, 8.0),
    (5895.92, 8.0),
    (6300.30, 15.0),
    (6363.78, 6.0),
    (6863.96, 6.0),
    (6923.19, 5.0),
    (7316.28, 8.0),
    (7340.89, 8.0),
    (7369.25, 6.0),
    (7401.69, 5.0),
    (7750.64, 8.0),
    (7794.11, 8.0),
    (7821.50, 8.0),
    (7853.24, 6.0),
    (7913.71, 10.0),
    (7964.65, 10.0),
    (7993.33, 12.0),
    (8344.60, 15.0),
    (8399.17, 15.0),
    (8430.17, 15.0),
    (8465.36, 10.0),
    (8493.39, 10.0),
    (8505.06, 10.0),
    (8827.10, 20.0),
    (8885.85, 20.0),
    (8919.64, 15.0),
    (8958.09, 20.0),
    (9375.98, 20.0),
    (9439.67, 20.0),
    (9458.53, 15.0),
    (9476.91, 15.0),
    (9519.18, 12.0),
    (9567.09, 12.0),
    (9607.39, 12.0),
)


def _sky_lines() -> tuple[tuple[float, float], ...]:
    from ..lines import air_to_vacuum

    return tuple((float(air_to_vacuum(w)), a) for w, a in _SKY_AIR)


#: (vacuum wavelength in A, variance excess) of the sky lines used with ``sky_lines=True``.
SKY_LINES = _sky_lines()


@dataclass(frozen=True)
class Arm:
    """One spectrograph arm: its grid and line-spread function.

    Parameters
    ----------
    name : str
        Label (``"b"``, ``"r"``, ``"z"``, ``"sdss"`` ...).
    grid : str
        A :func:`deepz.grids.preset` name.
    resolution : float, optional
        Constant resolving power R = lambda / FWHM (LSF applied to the
        library, in the rest frame).
    fwhm : float, optional
        Constant LSF FWHM in Angstrom (applied on the observed pixels).
        Give at most one of ``resolution`` and ``fwhm``; neither: no LSF
        beyond the templates' own widths and the pixels.
    edge_throughput : float
        Throughput at the arm's ends relative to its middle (0 < x <= 1); the
        noise sigma grows as 1 / throughput (a parabola across the arm).

    """

    name: str
    grid: str
    resolution: float | None = None
    fwhm: float | None = None
    edge_throughput: float = 0.5

    def __post_init__(self) -> None:
        grids.preset(self.grid)  # raises ValueError naming the unknown preset
        if self.resolution is not None and self.fwhm is not None:
            raise ValueError(f"arm {self.name!r}: give resolution or fwhm, not both")
        if self.resolution is not None:
            cm.positive(f"arm {self.name!r} resolution", self.resolution)
        if self.fwhm is not None:
            cm.positive(f"arm {self.name!r} fwhm", self.fwhm)
        e = float(self.edge_throughput)
        if not (0 < e <= 1):
            raise ValueError(f"arm {self.name!r} edge_throughput must be in (0, 1], got {e!r}")

    @property
    def wave(self) -> np.ndarray:
        """The arm's pixel centres (A)."""
        return grids.preset(self.grid)


@dataclass(frozen=True)
class Target:
    """One target class of a survey.

    Parameters
    ----------
    name : str
        Label (``"BGS"``, ``"LRG"``, ``"QSO"`` ...).
    cls : {"GALAXY", "STAR", "QSO"}
        Library class it draws from.
    fraction : float
        Share of the samples (> 0; shares are normalised).
    z_min, z_max : float
        Uniform redshift range [z_min, z_max). Galaxies and QSOs: 0 < z_min;
        stars: radial velocities, |z| < 0.01.
    snr : float
        Median S/N per pixel (mean flux / median sigma), > 0.
    snr_dex : float
        Lognormal scatter of the S/N in dex (>= 0).
    subclasses : tuple of str
        Library subclasses eligible (e.g. ``("PASSIVE", "POSTSTARBURST")``);
        empty: all of the class.

    """

    name: str
    cls: str
    fraction: float
    z_min: float
    z_max: float
    snr: float
    snr_dex: float = 0.2
    subclasses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.cls not in cm.CLASSES:
            raise ValueError(
                f"target {self.name!r}: cls must be one of {cm.CLASSES}, got {self.cls!r}"
            )
        cm.positive(f"target {self.name!r} fraction", self.fraction)
        cm.positive(f"target {self.name!r} snr", self.snr)
        cm.positive(f"target {self.name!r} snr_dex", self.snr_dex, allow_zero=True)
        z0, z1 = float(self.z_min), float(self.z_max)
        if not (math.isfinite(z0) and math.isfinite(z1) and z1 > z0):
            raise ValueError(
                f"target {self.name!r}: z_max must be > z_min, got z_min={self.z_min!r}, "
                f"z_max={self.z_max!r}"
            )
        if self.cls == "STAR":
            if max(abs(z0), abs(z1)) >= 0.01:
                raise ValueError(
                    f"target {self.name!r}: star redshifts are radial velocities, "
                    f"|z| < 0.01; got z_min={z0}, z_max={z1}"
                )
        elif z0 <= 0:
            raise ValueError(
                f"target {self.name!r}: z_min must be > 0 for {self.cls} "
                f"(distances need z > 0), got {z0}"
            )
        if z1 > 12:
            raise ValueError(f"target {self.name!r}: z_max must be <= 12, got {z1}")
        object.__setattr__(self, "subclasses", tuple(str(s) for s in self.subclasses))


def _as_tuple(items, kind, name):
    out = []
    for i, it in enumerate(items):
        if isinstance(it, dict):
            it = kind(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in it.items()})
        if not isinstance(it, kind):
            raise TypeError(f"{name}[{i}] must be a {kind.__name__}, got {type(it).__name__}")
        out.append(it)
    return tuple(out)


@dataclass(frozen=True)
class SpectroSurvey(cm.ObserverMixin):
    """A fibre spectroscopic survey: arms, targets, noise, masks (see the module docstring).

    Parameters
    ----------
    name : str
        Survey label (``"sdss"``, ``"desi"`` ...).
    arms : tuple of Arm
        At least one.
    targets : tuple of Target
        At least one.
    noise : bool
        Add the noise (default True); clean spectra still carry the ivar of
        the noise model.
    combine : bool
        Coadd the arms onto their common pixel lattice (needs arms on one
        linear lattice, like DESI's).
    grid : str, optional
        A :func:`deepz.grids.preset` to deliver the spectra on: every arm is
        resampled onto it with :func:`deepz.resample` (flux-conserving,
        SpectRes errors, masks honoured) after noise and masks, as a survey
        pipeline would, and the arms are coadded there (inverse-variance
        weighted); pixels no arm covers get flux 0 and ivar 0. E.g.
        ``sdss(grid="gasnet")``: SDSS spectra on GaSNet-II's input grid.
    mask_fraction : float
        Mean fraction of single bad pixels per arm (0 <= f < 0.5).
    sky_lines : bool
        Inflate the noise around the strongest night-sky lines.
    lya_forest : bool
        Apply the mean Lyman-alpha forest transmission to galaxies and QSOs.
    norm : {"none", "l2", "max", "xmax"}
        Normalisation of each spectrum (``"xmax"``: one X_max, see EuclidNISP).
    xmax : float, optional
        X_max for ``norm="xmax"``; None: from a pilot sample.
    pilot_n, pilot_seed : int
        The pilot sample of ``norm="xmax"``.
    n_galaxies, n_stars, n_qsos, template_seed : int
        The built-in library (:func:`deepz.templates.galaxies`, ``stars``,
        ``qsos`` with seeds ``template_seed``, ``+1``, ``+2``) on a rest grid
        from 600 A.
    z_ref : float
        Population redshift of the galaxy library.
    star_distance_pc : (float, float)
        Log-uniform range of star distances (pc).
    min_pixels : int
        The fewest pixels an arm may have.
    library : TemplateLibrary, optional
        Use it instead of the built-in library.

    Raises
    ------
    ValueError
        A configuration that cannot work, naming the field (a target whose
        redshift range the library does not cover on some arm, an arm with
        too few pixels, an empty target list ...).

    """

    kind: ClassVar[str] = "spectro"

    name: str = "custom"
    arms: tuple[Arm, ...] = ()
    targets: tuple[Target, ...] = ()
    noise: bool = True
    combine: bool = False
    grid: str | None = None
    mask_fraction: float = 0.001
    sky_lines: bool = True
    lya_forest: bool = True
    norm: str = "none"
    xmax: float | None = None
    pilot_n: int = 10_000
    pilot_seed: int = 0
    n_galaxies: int = 300
    n_stars: int = 100
    n_qsos: int = 100
    template_seed: int = 0
    z_ref: float = 0.0
    star_distance_pc: tuple[float, float] = (100.0, 20_000.0)
    min_pixels: int = 16
    library: Any = field(default=None, compare=False, repr=False)

    rest_start: ClassVar[float] = 600.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "arms", _as_tuple(self.arms, Arm, "arms"))
        object.__setattr__(self, "targets", _as_tuple(self.targets, Target, "targets"))
        object.__setattr__(self, "star_distance_pc", tuple(float(d) for d in self.star_distance_pc))
        if not self.arms:
            raise ValueError("arms must hold at least one Arm")
        if not self.targets:
            raise ValueError("targets must hold at least one Target")
        if len({a.name for a in self.arms}) != len(self.arms):
            raise ValueError(f"arms must have distinct names, got {[a.name for a in self.arms]}")
        for flag in ("noise", "combine", "sky_lines", "lya_forest"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise TypeError(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        min_pixels = cm.count("min_pixels", self.min_pixels, 2)
        for a in self.arms:
            if a.wave.size < min_pixels:
                raise ValueError(
                    f"arms: arm {a.name!r} has {a.wave.size} pixels, fewer than "
                    f"min_pixels = {min_pixels}"
                )
        mf = cm.positive("mask_fraction", self.mask_fraction, allow_zero=True)
        if mf >= 0.5:
            raise ValueError(f"mask_fraction must be < 0.5, got {mf}")
        cm.check_norm(self.norm)
        if self.xmax is not None:
            cm.positive("xmax", self.xmax)
        cm.count("pilot_n", self.pilot_n)
        cm.count("pilot_seed", self.pilot_seed, 0)
        for name in ("n_galaxies", "n_stars", "n_qsos"):
            cm.count(name, getattr(self, name), 0)
        cm.count("template_seed", self.template_seed, 0)
        d0, d1 = self.star_distance_pc if len(self.star_distance_pc) == 2 else (0, 0)
        if not (len(self.star_distance_pc) == 2 and 0 < d0 <= d1 and math.isfinite(d1)):
            raise ValueError(
                f"star_distance_pc must be (min, max) with 0 < min <= max, "
                f"got {self.star_distance_pc!r}"
            )
        if self.library is None:
            have = {"GALAXY": self.n_galaxies, "STAR": self.n_stars, "QSO": self.n_qsos}
            for i, t in enumerate(self.targets):
                if not have[t.cls]:
                    raise ValueError(
                        f"targets[{i}] ({t.name!r}) draws {t.cls} templates but "
                        f"n_{t.cls.lower()}{'s' if t.cls != 'GALAXY' else ''} = 0"
                    )
        lib_lo, lib_hi = cm.library_range(self._spec(), self.library)
        for i, t in enumerate(self.targets):
            for a in self.arms:
                e = cm.edges(a.wave)
                need_lo, need_hi = e[0] / (1 + t.z_max), e[-1] / (1 + t.z_min)
                if need_lo < lib_lo:
                    raise ValueError(
                        f"targets[{i}].z_max = {t.z_max} is too high for arm {a.name!r}: its grid "
                        f"starts at {e[0]:.0f} A = {need_lo:.0f} A in the rest frame, below the "
                        f"library's {lib_lo:.0f} A"
                    )
                if need_hi > lib_hi:
                    raise ValueError(
                        f"targets[{i}].z_min = {t.z_min} is too low for arm {a.name!r}: its grid "
                        f"ends at {e[-1]:.0f} A = {need_hi:.0f} A in the rest frame, beyond the "
                        f"library's {lib_hi:.0f} A"
                    )
        if self.grid is not None:
            if self.combine:
                raise ValueError("give grid or combine, not both (grid already coadds the arms)")
            g = grids.preset(self.grid)
            if g.size < min_pixels:
                raise ValueError(
                    f"grid {self.grid!r} has {g.size} pixels, fewer than min_pixels = {min_pixels}"
                )
            if not any(g[0] < a.wave[-1] and a.wave[0] < g[-1] for a in self.arms):
                raise ValueError(f"grid {self.grid!r} ({g[0]:.0f}-{g[-1]:.0f} A) overlaps no arm")
        if self.combine:
            self._lattice()  # raises if the arms do not share one

    # -- geometry --------------------------------------------------------------------
    def _rest_range(self) -> tuple[float, float]:
        zmin = min(t.z_min for t in self.targets)
        zmax = max(t.z_max for t in self.targets)
        lo = min(cm.edges(a.wave)[0] for a in self.arms) / (1 + zmax)
        hi = max(cm.edges(a.wave)[-1] for a in self.arms) / (1 + zmin)
        return lo, hi

    def _lattice(self) -> tuple[np.ndarray, list[int]]:
        """Return the common linear grid of the arms and each arm's first pixel on it."""
        waves = [a.wave for a in self.arms]
        steps = [np.diff(w) for w in waves]
        step = float(steps[0].mean())
        for a, s in zip(self.arms, steps, strict=True):
            if not np.allclose(s, step, rtol=1e-6, atol=0):
                raise ValueError(
                    f"combine: arm {a.name!r} is not on a linear grid of step {step:g} A; "
                    "combine=True needs arms on one linear pixel lattice"
                )
        w0 = min(w[0] for w in waves)
        starts = []
        for a, w in zip(self.arms, waves, strict=True):
            j = (w[0] - w0) / step
            if abs(j - round(j)) > 1e-3:
                raise ValueError(
                    f"combine: arm {a.name!r} is offset by {j - round(j):.3f} pixel from "
                    "the other arms' lattice"
                )
            starts.append(int(round(j)))
        p = max(s + w.size for s, w in zip(starts, waves, strict=True))
        return w0 + step * np.arange(p), starts

    @property
    def wave(self) -> np.ndarray:
        """Observed pixel centres: the arms side by side, the combined grid, or ``grid``."""
        if self.grid is not None:
            return grids.preset(self.grid)
        if self.combine:
            return self._lattice()[0]
        return np.concatenate([a.wave for a in self.arms])

    @property
    def n_pixels(self) -> int:
        """Number of observed pixels (all arms)."""
        return self.wave.size

    @property
    def arm_slices(self) -> dict[str, tuple[int, int]]:
        """Pixel range [start, stop) of each arm in the side-by-side layout (or on the lattice)."""
        out = {}
        if self.grid is not None:
            return out
        if self.combine:
            _, starts = self._lattice()
            for a, s in zip(self.arms, starts, strict=True):
                out[a.name] = (s, s + a.wave.size)
            return out
        at = 0
        for a in self.arms:
            out[a.name] = (at, at + a.wave.size)
            at += a.wave.size
        return out

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the ``label`` values."""
        return cm.CLASSES

    def _rest_grid(self) -> np.ndarray:
        lo, hi = self._rest_range()
        finest = min(float(np.diff(np.log10(a.wave)).min()) for a in self.arms)
        step = max(cm.FINE_DLOG10, finest / 2.0)
        lib_lo, lib_hi = cm.library_range(self._spec(), self.library)
        lo = max(lo * 10 ** (-4 * step), lib_lo * 1.0001)
        hi = min(hi * 10 ** (4 * step), lib_hi / 1.0001)
        return cm.loglam_grid(lo, hi, step)

    # -- libraries -------------------------------------------------------------------
    def _spec(self) -> cm.LibrarySpec:
        return cm.LibrarySpec(
            self.n_galaxies,
            self.n_stars,
            self.n_qsos,
            self.template_seed,
            float(self.z_ref),
            wave_min=self.rest_start,
        )

    def _library(self):
        return cm.library_for(self._spec(), self.library)

    def template_library(self):
        """Return the :class:`~deepz.templates.TemplateLibrary` drawn from (rows: ``template``)."""
        return self._library()

    def prepared(self, arm: Arm) -> cm.Prepared:
        """Return the library as ``arm`` needs it (LSF of constant R applied) on the rest grid."""
        rest = self._rest_grid()
        lib_key = self._spec() if self.library is None else id(self.library)
        key = ("spectro", lib_key, arm.resolution, rest[0], rest[-1], rest.size)
        return cm.prepare(self._library(), rest, arm.resolution, key)

    # -- noise shape -----------------------------------------------------------------
    def _sigma_shapes(self) -> list[np.ndarray]:
        cached = self.__dict__.get("_shapes_cache")
        if cached is not None:
            return cached
        shapes = []
        for a in self.arms:
            w = a.wave
            x = 2.0 * (w - 0.5 * (w[0] + w[-1])) / (w[-1] - w[0])
            thr = 1.0 - (1.0 - a.edge_throughput) * x * x
            var = 1.0 / thr**2
            if self.sky_lines:
                if a.fwhm is not None:
                    sig = np.full_like(w, a.fwhm / cm.FWHM_SIGMA)
                elif a.resolution is not None:
                    sig = w / a.resolution / cm.FWHM_SIGMA
                else:
                    sig = np.gradient(w)
                sig = np.maximum(sig, np.gradient(w))
                excess = np.zeros_like(w)
                for lam, amp in SKY_LINES:
                    if w[0] - 10 < lam < w[-1] + 10:
                        excess += amp * np.exp(-0.5 * ((w - lam) / sig) ** 2)
                var = var * (1.0 + excess)
            shapes.append(np.sqrt(var))
        med = float(np.median(np.concatenate(shapes)))
        out = [s / med for s in shapes]
        object.__setattr__(self, "_shapes_cache", out)  # a cache, not a field: frozen is fine
        return out

    # -- X_max -----------------------------------------------------------------------
    def resolved_xmax(self) -> float | None:
        """X_max of ``norm="xmax"`` (from the pilot sample when ``xmax`` is None)."""
        if self.norm != "xmax":
            return None
        if self.xmax is not None:
            return float(self.xmax)
        from .euclid import _XMAX

        raw = dataclasses.replace(self, norm="none", xmax=None)
        key = raw.to_json() + (f"|lib{id(self.library)}" if self.library is not None else "")
        if key not in _XMAX:
            b = raw.simulate(self.pilot_n, self.pilot_seed)
            _XMAX[key] = float(np.abs(np.where(b.ivar > 0, b.flux, 0)).max())
        return _XMAX[key]

    def fit_xmax(self, flux=None) -> SpectroSurvey:
        """Return a copy with ``xmax`` set from ``flux`` (physical units) or the pilot sample."""
        if flux is None:
            value = dataclasses.replace(self, norm="xmax", xmax=None).resolved_xmax()
        else:
            value = float(np.nanmax(np.abs(np.asarray(flux))))
        return dataclasses.replace(self, xmax=value)

    # -- simulation ------------------------------------------------------------------
    def simulate(
        self, n: int, seed: int, offset: int = 0, *, dtype=np.float32, threads: int | None = None
    ) -> SimulatedBatch:
        """Simulate samples ``offset .. offset + n - 1`` of the stream of ``seed``.

        Parameters
        ----------
        n : int
            Number of spectra, >= 1.
        seed : int
            Seed of the run, in [0, 2**64).
        offset : int
            Global index of the first sample (batch-split invariant).
        dtype : {float32, float64}
            Dtype of flux and ivar.
        threads : int, optional
            Threads of the kernels.

        Returns
        -------
        SimulatedBatch
            ``flux``/``ivar`` (n, P) with P the arms' pixels side by side (or
            the combined grid), in 1e-17 erg/s/cm^2/A before ``norm``;
            ``extra``: ``target`` (index into ``meta["targets"]``), ``snr``
            (the drawn S/N), ``sigma_level`` (median sigma per spectrum,
            physical units), ``flux_scale`` (the factor (10 pc / d)^2 applied
            to the template); ``meta["arms"]``: pixel ranges.

        """
        n, seed, offset = cm.check_call(n, seed, offset)
        dt = cm.check_dtype(dtype)
        from scipy.special import ndtri

        preps = [self.prepared(a) for a in self.arms]
        elig, starts, counts = cm.eligible(self.targets, preps[0])
        u = uniforms(seed, STREAM["draws"], offset, n, 5)
        frac = np.array([t.fraction for t in self.targets], dtype=np.float64)
        cum = np.cumsum(frac) / frac.sum()
        tgt = np.minimum(np.searchsorted(cum, u[:, 0], side="right"), len(self.targets) - 1)
        pick = np.minimum((u[:, 1] * counts[tgt]).astype(np.int64), counts[tgt] - 1)
        index = elig[starts[tgt] + pick]
        z0 = np.array([t.z_min for t in self.targets])[tgt]
        z1 = np.array([t.z_max for t in self.targets])[tgt]
        z = np.minimum(z0 + u[:, 2] * (z1 - z0), np.nextafter(z1, -np.inf))
        med = np.array([t.snr for t in self.targets])[tgt]
        dex = np.array([t.snr_dex for t in self.targets])[tgt]
        snr = med * 10.0 ** (dex * ndtri(np.clip(u[:, 3], 1e-12, 1 - 1e-12)))
        is_star = np.array([t.cls == "STAR" for t in self.targets])[tgt]
        scale = np.ones(n)
        if preps[0].physical:
            d0, d1 = self.star_distance_pc
            dist = d0 * (d1 / d0) ** u[:, 4]
            scale = np.empty(n)
            scale[is_star] = (preps[0].ref_distance_pc / dist[is_star]) ** 2
            if np.any(~is_star):
                scale[~is_star] = (
                    cm.distance_scale(z[~is_star]) * (preps[0].ref_distance_pc / 10.0) ** 2
                )
        fluxes = []
        for a, prep in zip(self.arms, preps, strict=True):
            w = a.wave
            tmpl = prep.flux if dt == np.float32 else prep.flux.astype(dt)
            f = kernels.redshift(tmpl, prep.rest_wave, index, z, w, threads=threads)
            f *= scale[:, None].astype(dt)
            if self.lya_forest:
                sel = np.flatnonzero((~is_star) & (LYA * (1 + z) > w[0]))
                if sel.size:
                    from ..templates import lya_forest_transmission

                    f[sel] *= lya_forest_transmission(w, z[sel]).astype(dt)
            if a.fwhm is not None:
                step = float(np.median(np.diff(w)))
                f = cm.convolve_rows(f, cm.lsf_kernel(a.fwhm / cm.FWHM_SIGMA / step))
            fluxes.append(f)
        total = sum(float(f.shape[1]) for f in fluxes)
        level = sum(np.abs(f).sum(axis=1).astype(np.float64) for f in fluxes) / total
        level = np.where(level > 0, level, 1.0)
        sigma_n = level / snr
        shapes = self._sigma_shapes()
        ivars = []
        for k, (f, shape) in enumerate(zip(fluxes, shapes, strict=True)):
            sigma = np.multiply(sigma_n.astype(dt)[:, None], shape.astype(dt)[None, :])
            if self.noise:
                f, iv = kernels.add_noise(
                    f,
                    sigma,
                    derive_seed(seed, STREAM["noise"] + 16 * k),
                    offset=offset,
                    threads=threads,
                )
                fluxes[k] = f
            else:
                iv = np.reciprocal(sigma * sigma, out=sigma)
            if self.mask_fraction > 0:
                self._mask(f, iv, seed, offset, k)
            ivars.append(iv)
        if self.grid is not None:
            flux, ivar = self._resample(fluxes, ivars, dt, threads)
        elif self.combine:
            flux, ivar = self._coadd(fluxes, ivars, dt)
        elif len(fluxes) == 1:
            flux, ivar = fluxes[0], ivars[0]
        else:
            flux, ivar = np.concatenate(fluxes, axis=1), np.concatenate(ivars, axis=1)
        xmax = self.resolved_xmax()
        norm = cm.normalise(flux, ivar, self.norm, xmax)
        cls, sub = cm.class_labels(preps[0], index)
        return SimulatedBatch(
            flux=flux,
            ivar=ivar,
            wave=self.wave,
            z=z,
            template=index,
            label=cls,
            subclass=sub,
            class_names=cm.CLASSES,
            subclass_names=preps[0].subclass_names,
            z_class=None,
            norm=norm,
            seed=seed,
            offset=offset,
            observer=self.name,
            config=self.config(),
            unit=cm.FLUX_UNIT if preps[0].physical else "arbitrary",
            extra={
                "target": tgt.astype(np.int64),
                "snr": snr,
                "sigma_level": sigma_n,
                "flux_scale": scale,
            },
            meta={"arms": self.arm_slices, "targets": [t.name for t in self.targets], "xmax": xmax},
        )

    def _mask(self, f: np.ndarray, iv: np.ndarray, seed: int, offset: int, arm: int) -> None:
        """Zero flux and ivar at a Poisson number of per-sample random single pixels."""
        from scipy.stats import poisson

        n, p = f.shape
        lam = self.mask_fraction * p
        kmax = int(poisson.ppf(1 - 1e-9, lam)) + 1
        u = uniforms(seed, STREAM["mask"] + 16 * arm, offset, n, kmax + 1)
        counts = np.minimum(poisson.ppf(u[:, 0], lam).astype(np.int64), kmax)
        pos = np.minimum((u[:, 1:] * p).astype(np.int64), p - 1)
        rows = np.repeat(np.arange(n), kmax).reshape(n, kmax)
        use = np.arange(kmax)[None, :] < counts[:, None]
        f[rows[use], pos[use]] = 0
        iv[rows[use], pos[use]] = 0

    def _resample(self, fluxes, ivars, dt, threads):
        """Resample every arm onto ``grid`` (flux-conserving) and coadd them there."""
        new = grids.preset(self.grid)
        n = fluxes[0].shape[0]
        num = np.zeros((n, new.size))
        den = np.zeros((n, new.size))
        for a, f, iv in zip(self.arms, fluxes, ivars, strict=True):
            rf, riv = kernels.resample(a.wave, f, new, ivar=iv, fill=0.0, threads=threads)
            num += rf.astype(np.float64) * riv
            den += riv
        flux = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        return flux.astype(dt), den.astype(dt)

    def _coadd(self, fluxes, ivars, dt):
        grid, starts = self._lattice()
        n = fluxes[0].shape[0]
        num = np.zeros((n, grid.size), dtype=np.float64)
        den = np.zeros((n, grid.size), dtype=np.float64)
        for f, iv, s in zip(fluxes, ivars, starts, strict=True):
            sl = slice(s, s + f.shape[1])
            num[:, sl] += f.astype(np.float64) * iv
            den[:, sl] += iv
        flux = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        return flux.astype(dt), den.astype(dt)


# -- presets ------------------------------------------------------------------------------

_SDSS_TARGETS = (
    Target("GALAXY", "GALAXY", 0.60, 0.01, 0.5, snr=8.0, snr_dex=0.2),
    Target("QSO", "QSO", 0.20, 0.1, 4.0, snr=6.0, snr_dex=0.25),
    Target("STAR", "STAR", 0.20, -0.001, 0.001, snr=15.0, snr_dex=0.3),
)


def sdss(**kwargs) -> SpectroSurvey:
    """SDSS legacy-like spectra (3800-9200 A, log step 1e-4, R = 2000); keywords override fields."""
    kw = {
        "name": "sdss",
        "arms": (Arm("sdss", "sdss", resolution=2000.0, edge_throughput=0.4),),
        "targets": _SDSS_TARGETS,
    }
    kw.update(kwargs)
    return SpectroSurvey(**kw)


def desi(**kwargs) -> SpectroSurvey:
    """DESI-like spectra: arms b, r, z at 0.8 A with a 1.8 A FWHM LSF, main-survey targets."""
    kw = {
        "name": "desi",
        "arms": (
            Arm("b", "desi_b", fwhm=1.8, edge_throughput=0.4),
            Arm("r", "desi_r", fwhm=1.8, edge_throughput=0.6),
            Arm("z", "desi_z", fwhm=1.8, edge_throughput=0.5),
        ),
        "targets": (
            Target("BGS", "GALAXY", 0.28, 0.01, 0.6, snr=3.0, snr_dex=0.25),
            Target(
                "LRG",
                "GALAXY",
                0.17,
                0.4,
                1.1,
                snr=1.0,
                snr_dex=0.2,
                subclasses=("PASSIVE", "POSTSTARBURST"),
            ),
            Target(
                "ELG",
                "GALAXY",
                0.33,
                0.6,
                1.6,
                snr=0.5,
                snr_dex=0.25,
                subclasses=("STARFORMING", "STARBURST"),
            ),
            Target("QSO", "QSO", 0.07, 0.5, 4.0, snr=1.5, snr_dex=0.25),
            Target("MWS", "STAR", 0.15, -0.001, 0.001, snr=8.0, snr_dex=0.3),
        ),
    }
    kw.update(kwargs)
    return SpectroSurvey(**kw)


def fourmost(**kwargs) -> SpectroSurvey:
    """4MOST LRS-like spectra (3700-9500 A at 0.35 A, R = 6500) with a CRS-like target mix."""
    kw = {
        "name": "fourmost",
        "arms": (Arm("lrs", "fourmost_lrs", resolution=6500.0, edge_throughput=0.4),),
        "targets": (
            Target("BG", "GALAXY", 0.25, 0.01, 0.4, snr=2.0, snr_dex=0.25),
            Target(
                "LRG",
                "GALAXY",
                0.20,
                0.4,
                0.8,
                snr=1.0,
                snr_dex=0.2,
                subclasses=("PASSIVE", "POSTSTARBURST"),
            ),
            Target(
                "ELG",
                "GALAXY",
                0.20,
                0.6,
                1.1,
                snr=0.4,
                snr_dex=0.25,
                subclasses=("STARFORMING", "STARBURST"),
            ),
            Target("QSO", "QSO", 0.10, 0.9, 3.5, snr=1.2, snr_dex=0.25),
            Target("STAR", "STAR", 0.25, -0.001, 0.001, snr=8.0, snr_dex=0.3),
        ),
    }
    kw.update(kwargs)
    return SpectroSurvey(**kw)


def gasnet(**kwargs) -> SpectroSurvey:
    """GaSNet-II inputs: SDSS-like spectra, 4000-9000 A in 5001 pixels, divided by their L2 norm."""
    kw = {
        "name": "gasnet",
        "arms": (Arm("sdss", "gasnet", resolution=2000.0, edge_throughput=0.5),),
        "targets": _SDSS_TARGETS,
        "norm": "l2",
    }
    kw.update(kwargs)
    return SpectroSurvey(**kw)
