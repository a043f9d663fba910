"""Photometric filter curves and AB synthetic photometry.

No filter curve files ship with deepz: every curve here is an ANALYTIC
APPROXIMATION, a smooth top-hat (two error-function edges) placed at a
published central wavelength with a published width. Magnitudes through them
behave like the real systems' for smooth SEDs, but they are not the real
transmission curves (no red leaks, no atmosphere, no detector QE ripples):
load real curves with :class:`Filter` (``wave``, ``throughput`` arrays) when
photometric precision matters.

``sdss``
    u g r i z centred on the SDSS effective wavelengths 3551, 4686, 6166,
    7480, 8932 A with FWHM 560, 1260, 1150, 1240, 1000 A (Fukugita et al.
    1996, AJ 111, 1748; Doi et al. 2010, AJ 139, 1628).
``alhambra``
    20 medium bands A366M ... A948M of FWHM 310 A centred on the number in
    the name x 10 A (3660-9480 A; Aparicio Villegas et al. 2010, AJ 139,
    1242), then J, H, Ks as 2MASS: 1.235, 1.662, 2.159 micron, widths
    0.162, 0.251, 0.262 micron (Skrutskie et al. 2006, AJ 131, 1163).

The medium bands are nearly square interference filters: edges of 12 A (1
sigma); the broad bands get softer edges (about 5 % of their width).

Default depths (5-sigma limiting AB magnitudes, point sources) are
approximations too: SDSS u 22.0, g 22.2, r 22.2, i 21.3, z 20.5 (the 95 %
completeness limits quoted for the SDSS imaging, Abazajian et al. 2009,
ApJS 182, 543); ALHAMBRA medium bands falling linearly from 24.5 (A366M) to
23.0 (A948M), J 22.5, H 22.0, Ks 21.5 (round values in the range of
Molino et al. 2014, MNRAS 441, 2891; not a fit).

AB magnitudes use the photon-counting convention::

    f_nu = integral f_lambda T lambda dlambda / integral T (c / lambda) dlambda
    m_AB = -2.5 log10(f_nu / 3631 Jy)

(the mean f_nu weighted by T / nu, i.e. the same number of photons per unit
frequency). Fluxes are returned in micro-Jansky: ``m_AB = 23.90007 - 2.5 log10(f)``
(the zero point of 3631 Jy).

Examples
--------
>>> import numpy as np
>>> from deepz import filters
>>> r = filters.get("r")
>>> round(r.pivot)
6157
>>> wave = np.linspace(3000.0, 11000.0, 8001)
>>> flat = 3631e-23 * 2.99792458e18 / wave**2   # f_nu = 3631 Jy, as f_lambda
>>> [abs(round(float(m), 3)) for m in filters.ab_mag(wave, flat, filters.get_set("sdss"))]
[0.0, 0.0, 0.0, 0.0, 0.0]

"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

__all__ = [
    "AB_ZEROPOINT_UJY",
    "C_AA",
    "FILTER_SETS",
    "Filter",
    "ab_flux",
    "ab_mag",
    "available",
    "depths",
    "get",
    "get_set",
    "response_matrix",
    "smooth_tophat",
]

#: Speed of light in Angstrom / s.
C_AA = 2.99792458e18
#: AB magnitude of 1 micro-Jansky, ``2.5 log10(3631e6) = 23.90007``:
#: ``m = ZP - 2.5 log10(f / uJy)``.
AB_ZEROPOINT_UJY = 2.5 * math.log10(3631e6)
# 1 uJy = 1e-29 erg / s / cm^2 / Hz
_UJY_CGS = 1e-29


@dataclass(frozen=True, eq=False)
class Filter:
    """A filter curve: throughput (photon response, 0..1) on a wavelength grid in Angstrom.

    Parameters
    ----------
    name : str
        Band name (``"r"``, ``"A366M"``, ``"Ks"`` ...).
    wave : array_like, shape (M,)
        Wavelengths in Angstrom, strictly increasing, M >= 2.
    throughput : array_like, shape (M,)
        Photon response, >= 0, not all 0; zero outside ``wave``.
    description : str, optional
        Where the curve comes from.

    Raises
    ------
    ValueError
        A grid that is not strictly increasing, a throughput of another shape,
        negative or all zero (the message names the argument).

    """

    name: str
    wave: np.ndarray
    throughput: np.ndarray
    description: str = ""

    def __post_init__(self) -> None:
        w = np.array(self.wave, dtype=np.float64)
        t = np.array(self.throughput, dtype=np.float64)
        if w.ndim != 1 or w.size < 2 or not np.all(np.isfinite(w)) or not np.all(np.diff(w) > 0):
            raise ValueError(
                f"wave of filter {self.name!r} must be a strictly increasing 1-D grid "
                f"of >= 2 finite wavelengths, got shape {w.shape}"
            )
        if w[0] <= 0:
            raise ValueError(f"wave of filter {self.name!r} must be > 0 Angstrom, got {w[0]}")
        if t.shape != w.shape or not np.all(np.isfinite(t)) or np.any(t < 0) or not np.any(t > 0):
            raise ValueError(
                f"throughput of filter {self.name!r} must match wave {w.shape}, be "
                f"finite, >= 0 and not all 0, got shape {t.shape}"
            )
        w.flags.writeable = False
        t.flags.writeable = False
        object.__setattr__(self, "wave", w)
        object.__setattr__(self, "throughput", t)

    def __repr__(self) -> str:
        return (
            f"Filter({self.name!r}, {self.wave[0]:.0f}-{self.wave[-1]:.0f} A, "
            f"pivot {self.pivot:.0f} A, FWHM {self.fwhm:.0f} A)"
        )

    @property
    def pivot(self) -> float:
        """Pivot wavelength ``sqrt(int T lambda dl / int T / lambda dl)`` (A)."""
        w, t = self.wave, self.throughput
        return float(np.sqrt(np.trapezoid(t * w, w) / np.trapezoid(t / w, w)))

    @property
    def mean_wavelength(self) -> float:
        """Photon-weighted mean wavelength ``int T lambda^2 dl / int T lambda dl`` (A)."""
        w, t = self.wave, self.throughput
        return float(np.trapezoid(t * w * w, w) / np.trapezoid(t * w, w))

    @property
    def fwhm(self) -> float:
        """Width at half the peak throughput (A), from the outermost half-peak crossings."""
        w, t = self.wave, self.throughput
        half = 0.5 * t.max()
        above = np.flatnonzero(t >= half)
        i0, i1 = above[0], above[-1]
        lo = w[i0] if i0 == 0 else np.interp(half, [t[i0 - 1], t[i0]], [w[i0 - 1], w[i0]])
        hi = w[i1] if i1 == w.size - 1 else np.interp(half, [t[i1 + 1], t[i1]], [w[i1 + 1], w[i1]])
        return float(hi - lo)

    def on(self, wave) -> np.ndarray:
        """Return the throughput linearly interpolated onto ``wave`` (0 outside the curve)."""
        return np.interp(
            np.asarray(wave, dtype=np.float64), self.wave, self.throughput, left=0.0, right=0.0
        )


def smooth_tophat(
    name: str,
    centre: float,
    fwhm: float,
    edge: float,
    peak: float = 1.0,
    description: str = "",
    step: float | None = None,
) -> Filter:
    """Make an analytic band: a top-hat of width ``fwhm`` with Gaussian-blurred edges.

    ``T(l) = peak/2 [erf((l - lo) / (sqrt2 edge)) - erf((l - hi) / (sqrt2 edge))]`` with
    ``lo, hi = centre -+ fwhm/2``: half the peak at ``lo`` and ``hi`` (for
    ``fwhm >> edge``), sampled out to 5 ``edge`` beyond them.

    Parameters
    ----------
    name : str
        Band name.
    centre, fwhm, edge : float
        Centre, full width at half maximum and edge sigma, in Angstrom (> 0).
    peak : float
        Peak throughput (does not change AB magnitudes).
    description : str
        Provenance note.
    step : float, optional
        Sampling step (A); default ``min(edge / 4, fwhm / 200)``.

    Returns
    -------
    Filter

    Raises
    ------
    ValueError
        A non-positive ``centre``, ``fwhm`` or ``edge``, or a band reaching
        below 0 A.

    """
    for key, value in (("centre", centre), ("fwhm", fwhm), ("edge", edge), ("peak", peak)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{key} must be > 0, got {value!r}")
    lo, hi = centre - 0.5 * fwhm, centre + 0.5 * fwhm
    if lo - 5 * edge <= 0:
        raise ValueError(
            f"the band {name!r} reaches below 0 A: centre {centre}, fwhm {fwhm}, edge {edge}"
        )
    step = min(edge / 4.0, fwhm / 200.0) if step is None else float(step)
    w = np.arange(lo - 5 * edge, hi + 5 * edge + 0.5 * step, step)
    s = math.sqrt(2.0) * edge
    t = 0.5 * peak * (erf((w - lo) / s) - erf((w - hi) / s))
    return Filter(name, w, np.clip(t, 0.0, None), description)


# -- the built-in sets ---------------------------------------------------------------

_SDSS = (  # name, centre (effective wavelength), FWHM, 5-sigma depth
    ("u", 3551.0, 560.0, 22.0),
    ("g", 4686.0, 1260.0, 22.2),
    ("r", 6166.0, 1150.0, 22.2),
    ("i", 7480.0, 1240.0, 21.3),
    ("z", 8932.0, 1000.0, 20.5),
)
_ALHAMBRA_MB = (
    366,
    394,
    425,
    457,
    491,
    522,
    551,
    581,
    613,
    646,
    678,
    708,
    739,
    770,
    802,
    829,
    861,
    892,
    921,
    948,
)
_NIR = (  # 2MASS-like J, H, Ks: centre, width (A), depth
    ("J", 12350.0, 1620.0, 22.5),
    ("H", 16620.0, 2510.0, 22.0),
    ("Ks", 21590.0, 2620.0, 21.5),
)


def _build_sdss() -> tuple[tuple[Filter, float], ...]:
    out = []
    for name, c, fwhm, depth in _SDSS:
        out.append(
            (
                smooth_tophat(
                    name, c, fwhm, 0.05 * fwhm, description="analytic approximation of SDSS " + name
                ),
                depth,
            )
        )
    return tuple(out)


def _build_alhambra() -> tuple[tuple[Filter, float], ...]:
    out = []
    n = len(_ALHAMBRA_MB)
    for k, c in enumerate(_ALHAMBRA_MB):
        depth = 24.5 - 1.5 * k / (n - 1)
        out.append(
            (
                smooth_tophat(
                    f"A{c}M",
                    10.0 * c,
                    310.0,
                    12.0,
                    description="analytic approximation of an ALHAMBRA medium band",
                ),
                depth,
            )
        )
    for name, c, width, depth in _NIR:
        out.append(
            (
                smooth_tophat(
                    name,
                    c,
                    width,
                    0.05 * width,
                    description=f"analytic approximation of 2MASS-like {name}",
                ),
                depth,
            )
        )
    return tuple(out)


_BUILDERS = {"sdss": _build_sdss, "alhambra": _build_alhambra}
#: Names of the built-in filter sets.
FILTER_SETS: tuple[str, ...] = tuple(_BUILDERS)
_CACHE: dict[str, tuple[tuple[Filter, float], ...]] = {}


def _set(name: str) -> tuple[tuple[Filter, float], ...]:
    if not isinstance(name, str) or name not in _BUILDERS:
        raise ValueError(f"unknown filter set {name!r}; known: {', '.join(FILTER_SETS)}")
    if name not in _CACHE:
        _CACHE[name] = _BUILDERS[name]()
    return _CACHE[name]


def available() -> dict[str, tuple[str, ...]]:
    """Return the built-in sets and the band names in each."""
    return {s: tuple(f.name for f, _ in _set(s)) for s in FILTER_SETS}


def get_set(name: str) -> tuple[Filter, ...]:
    """Return the filters of a built-in set (``"sdss"``, ``"alhambra"``), blue to red."""
    return tuple(f for f, _ in _set(name))


def depths(name: str) -> tuple[float, ...]:
    """Return the default 5-sigma limiting AB magnitudes of a built-in set, one per band."""
    return tuple(d for _, d in _set(name))


def get(names: str | Iterable[str]) -> Filter | tuple[Filter, ...]:
    """Look up built-in bands by name (``"r"``, ``"A613M"``, ``"Ks"``): one name, one Filter."""
    single = isinstance(names, str)
    wanted = [names] if single else list(names)
    index = {f.name: f for s in FILTER_SETS for f in get_set(s)}
    out = []
    for n in wanted:
        if n not in index:
            raise ValueError(f"unknown filter {n!r}; known: {', '.join(index)}")
        out.append(index[n])
    return out[0] if single else tuple(out)


def _edges(wave: np.ndarray) -> np.ndarray:
    mid = 0.5 * (wave[1:] + wave[:-1])
    return np.concatenate(([2 * wave[0] - mid[0]], mid, [2 * wave[-1] - mid[-1]]))


def response_matrix(filters: Sequence[Filter], wave) -> np.ndarray:
    """Weights ``W`` (M, B) such that ``flambda @ W`` is the AB flux in micro-Jansky per band.

    ``W[p, b] = T_b(l_p) l_p dl_p / (c int T_b / l dl) * 1e29``, with ``dl_p``
    the pixel widths (bin edges half-way between centres) and f_lambda in
    erg/s/cm^2/A. The denominator is integrated on the filter's own grid.

    Parameters
    ----------
    filters : sequence of Filter
        The bands.
    wave : array_like, shape (M,)
        Pixel centres (A), strictly increasing; should cover every band
        (the part of a band outside ``wave`` counts as zero flux).

    Returns
    -------
    numpy.ndarray, shape (M, B), float64

    Raises
    ------
    ValueError
        A bad grid or a band that does not overlap ``wave`` at all.

    """
    w = np.asarray(wave, dtype=np.float64)
    if w.ndim != 1 or w.size < 2 or not np.all(np.diff(w) > 0):
        raise ValueError(f"wave must be a strictly increasing 1-D grid, got shape {w.shape}")
    dl = np.diff(_edges(w))
    out = np.empty((w.size, len(filters)))
    for b, f in enumerate(filters):
        t = f.on(w)
        if not np.any(t > 0):
            raise ValueError(
                f"filter {f.name!r} ({f.wave[0]:.0f}-{f.wave[-1]:.0f} A) does not "
                f"overlap wave ({w[0]:.0f}-{w[-1]:.0f} A)"
            )
        norm = C_AA * np.trapezoid(f.throughput / f.wave, f.wave)
        out[:, b] = t * w * dl / norm / _UJY_CGS
    return out


def ab_flux(wave, flambda, filters: Filter | Sequence[Filter]) -> np.ndarray:
    """AB fluxes (micro-Jansky) of spectra through filters (photon-counting convention).

    Parameters
    ----------
    wave : array_like, shape (M,)
        Observed wavelengths (A).
    flambda : array_like, shape (M,) or (N, M)
        f_lambda in erg/s/cm^2/A.
    filters : Filter or sequence of Filter
        The bands.

    Returns
    -------
    numpy.ndarray
        Shape (B,) or (N, B); a single Filter drops the band axis.

    """
    single = isinstance(filters, Filter)
    fs = (filters,) if single else tuple(filters)
    out = np.asarray(flambda, dtype=np.float64) @ response_matrix(fs, wave)
    return out[..., 0] if single else out


def ab_mag(wave, flambda, filters: Filter | Sequence[Filter]) -> np.ndarray:
    """AB magnitudes of spectra through filters (NaN where the flux is not > 0)."""
    f = ab_flux(wave, flambda, filters)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, AB_ZEROPOINT_UJY - 2.5 * np.log10(np.where(f > 0, f, 1.0)), np.nan)
