"""Stellar spectra from blackbodies and parametric absorption, and the star library.

The recipe (used for :func:`stars` and, through :mod:`deepz.templates.ssp`,
for the stellar populations of the galaxies) is deliberately simple and
analytic, so that it needs no data files:

1. the continuum is a blackbody ``pi B_lambda(Teff)``;
2. cool stars lose flux blueward of 4000 A (the crowd of metal lines that makes
   the 4000 A break): a smooth step of depth ``a(Teff, [Z/H])`` centred on
   4000 A (20 A wide), and a further UV depression ``exp(-u (3800 - lambda)/1000 A)``;
3. hot stars lose flux blueward of the Balmer limit (3647 A, the Balmer jump),
   most for Teff ~ 10,000 K; between the limit and H13 (3735 A) a ramp
   ``((3735 - lambda) / 88 A)**1.5`` of the same depth stands for the high
   series members that merge into the jump;
4. absorption lines are added as optical depths ``tau = sum_i EW_i phi_i``
   (``phi_i`` a unit-area Gaussian or pseudo-Voigt) and the flux multiplied
   by ``exp(-tau)``, so weak lines have about their nominal equivalent width
   and strong ones saturate: the Balmer series (n = 3..14; strongest at
   Teff ~ 9,500 K, i.e. A stars), CaII H and K, the CN 3883 band, CaI 4227,
   the G band (CH, 4300 A), Fe 4383/5270/5335, Mg b, NaD, the CaII triplet,
   and MgII 2800 / MgI 2852 in the UV; M stars get TiO bands (saw-tooth
   absorption starting at the band heads, 4761-8859 A);
5. below the Lyman limit (912 A) the flux is multiplied by 0.2.

Line strengths grow with metallicity as ``10**(0.4 [Z/H])``, the 4000 A and UV
blanketing as ``10**(0.25 [Z/H])``. Wavelengths
are vacuum: catalogue lines from :mod:`deepz.lines`, the Balmer series from
the Rydberg formula, the other features converted from their air values with
:func:`deepz.lines.air_to_vacuum`.

Limits (honestly): no gravity dependence (giants and dwarfs of one Teff look
alike), no molecular bands other than TiO (no VO, CaH, H2O, CO), a Balmer jump
and line blanketing that are smooth recipes rather than model atmospheres,
and equivalent widths good to a factor ~1.5 against real stars. The
continuum shapes and the Teff ordering of the features are right; line
ratios for stellar-population work are not.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import lines as _lines
from .._validate import check_seed
from . import _common as cm

__all__ = ["STAR_TYPES", "stars", "stellar_spectra"]

#: Teff ranges (K) of the star types produced by :func:`stars` (the grouping of
#: the DESI/redrock stellar templates).
STAR_TYPES = {
    "A": (7500.0, 10000.0),
    "F": (6000.0, 7500.0),
    "G": (5200.0, 6000.0),
    "K": (3700.0, 5200.0),
    "M": (2400.0, 3700.0),
}


def _vac(air: float) -> float:
    return float(_lines.air_to_vacuum(air))


_CAT = {line.name: line.wave for line in _lines.CATALOGUE}

# (vacuum centre A, gaussian sigma A, lorentz HWHM per A of EW, base EW A, strength key)
# keys: "m" metal lines (G/K/M), "g" G band, "M" M-star-enhanced, "na" NaD
_METAL_FEATURES = (
    (_CAT["MgII2799"], 3.0, 0.10, 12.0, "m"),
    (_vac(2852.13), 2.0, 0.10, 4.0, "m"),  # MgI 2852
    (_vac(3883.0), 12.0, 0.0, 3.0, "m"),  # CN band head
    (_CAT["CaII_K"], 4.0, 0.15, 14.0, "m"),
    (_CAT["CaII_H"], 4.0, 0.15, 11.0, "m"),
    (_vac(4226.73), 1.5, 0.10, 1.2, "M"),  # CaI
    (_vac(4300.0), 8.0, 0.0, 6.0, "g"),  # G band (CH)
    (_vac(4383.55), 2.0, 0.0, 1.5, "m"),  # FeI
    (_vac(5167.32), 1.2, 0.10, 0.9, "mg"),  # Mg b4
    (_vac(5172.68), 1.2, 0.10, 1.3, "mg"),  # Mg b2
    (_vac(5183.60), 1.2, 0.10, 1.6, "mg"),  # Mg b1
    (_vac(5269.54), 2.5, 0.0, 1.3, "m"),  # Fe 5270
    (_vac(5332.0), 2.5, 0.0, 1.3, "m"),  # Fe 5335 blend
    (_vac(5889.95), 1.0, 0.15, 1.6, "na"),  # NaD2
    (_vac(5895.92), 1.0, 0.15, 1.2, "na"),  # NaD1
    (_vac(8498.02), 1.5, 0.10, 1.2, "m"),  # CaII triplet
    (_vac(8542.09), 1.5, 0.10, 3.0, "m"),
    (_vac(8662.14), 1.5, 0.10, 2.5, "m"),
)

# TiO band heads (air A, relative strength); absorption degrades to the red.
_TIO_BANDS = tuple(
    (_vac(head), weight)
    for head, weight in (
        (4761.0, 0.3),
        (4954.0, 0.5),
        (5167.0, 0.5),
        (5448.0, 0.5),
        (5847.0, 0.6),
        (6159.0, 0.8),
        (6651.0, 0.6),
        (7054.0, 1.0),
        (7589.0, 0.8),
        (8432.0, 0.5),
        (8859.0, 0.5),
    )
)
_TIO_SCALE = 180.0  # e-folding length of a band (A)

# Balmer lines: catalogue wavelengths for Ha..Hd, Rydberg beyond.
_BALMER = tuple(
    [(_CAT["Halpha"], 3), (_CAT["Hbeta"], 4), (_CAT["Hgamma"], 5), (_CAT["Hdelta"], 6)]
    + [(cm.balmer_wave(n), n) for n in range(7, 15)]
)
_RAMP_END = cm.balmer_wave(13)  # 3735 A: where the Balmer-jump ramp begins


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _step_down(flux: np.ndarray, wave: np.ndarray, edge: float, width: float, depth: float) -> None:
    """Multiply ``flux`` in place by ``1 - depth * sigmoid((edge - wave) / width)``."""
    if depth <= 0:
        return
    lo = int(np.searchsorted(wave, edge - 30.0 * width))
    hi = int(np.searchsorted(wave, edge + 30.0 * width))
    flux[:lo] *= 1.0 - depth
    flux[lo:hi] *= 1.0 - depth * _sigmoid((edge - wave[lo:hi]) / width)


def _strengths(teff: float, zh: float) -> dict[str, float]:
    """Feature strengths (multipliers of the base EWs) at ``teff`` and ``[Z/H]``."""
    fz = 10.0 ** (0.4 * zh)
    s_m = float(_sigmoid(-(teff - 6300.0) / 550.0))  # metal lines: G/K/M
    s_mdw = float(_sigmoid(-(teff - 3700.0) / 200.0))  # M-star enhanced
    s_g = s_m * math.exp(-(((teff - 4800.0) / 1500.0) ** 2))  # CH peaks in G/K
    return {
        "m": s_m * fz,
        "g": s_g * fz,
        "M": s_m * fz * (1.0 + 4.0 * s_mdw),
        "mg": s_m * fz * (1.0 + 0.5 * s_mdw),
        "na": s_m * fz * (1.0 + 2.0 * s_mdw),
    }


def balmer_ew(teff: float) -> float:
    """Equivalent width (A) of each of Ha..He in the recipe: ~15 A at 9,500 K, ~3 A for the Sun."""
    d = math.log10(teff / 9500.0)
    width = 0.09 if d < 0 else 0.18
    return 13.0 * math.exp(-0.5 * (d / width) ** 2) + 2.5 * float(_sigmoid((teff - 5000.0) / 500.0))


def _stellar_one(wave: np.ndarray, teff: float, zh: float) -> np.ndarray:
    """Shape of one star, ``pi B_lambda / (sigma T^4)`` times absorption (1/A)."""
    flux = cm.planck_lambda(wave, teff) / (cm.SIGMA_SB * teff**4)
    10.0 ** (0.4 * zh)
    s_blank = float(_sigmoid(-(teff - 5800.0) / 450.0))
    # 4000 A break and UV blanketing of cool stars
    fz_blank = 10.0 ** (0.25 * zh)
    a = min(0.46 * s_blank * fz_blank, 0.8)
    u = 2.5 * s_blank * fz_blank
    _step_down(flux, wave, 4000.0, 20.0, a)
    n_uv = int(np.searchsorted(wave, 3800.0))
    flux[:n_uv] *= np.exp(-u * (3800.0 - wave[:n_uv]) / 1000.0)
    # Balmer jump of hot stars: full depth below the limit, and a ramp up to H14
    # (3722 A) standing for the high series members that merge into it
    d = math.log10(teff / 9800.0)
    bj = 0.6 * math.exp(-0.5 * (d / (0.12 if d < 0 else 0.20)) ** 2)
    lo = int(np.searchsorted(wave, cm.BALMER_LIMIT))
    hi = int(np.searchsorted(wave, _RAMP_END))
    flux[:lo] *= 1.0 - bj
    ramp = ((_RAMP_END - wave[lo:hi]) / (_RAMP_END - cm.BALMER_LIMIT)) ** 1.5
    flux[lo:hi] *= 1.0 - bj * ramp
    # Lyman continuum
    _step_down(flux, wave, cm.LYMAN_LIMIT, 3.0, 0.8)
    # absorption lines as optical depth
    tau = np.zeros_like(wave)
    ew_b = balmer_ew(teff)
    for centre, n in _BALMER:
        scale = 1.0 if n <= 7 else (7.0 / n) ** 2
        ew = ew_b * scale
        shrink = 1.0 if n <= 7 else 7.0 / n
        sigma = (3.0 + 0.3 * ew_b) * shrink
        gamma = max(0.25 * ew, 0.05)
        sl, prof = cm.voigtish_profile(wave, centre, sigma, gamma)
        tau[sl] += ew * prof
    st = _strengths(teff, zh)
    for centre, sigma, lor, ew0, key in _METAL_FEATURES:
        ew = ew0 * st[key]
        if ew < 1e-4:
            continue
        if lor > 0:
            sl, prof = cm.voigtish_profile(wave, centre, sigma, max(lor * ew, 0.05))
        else:
            sl, prof = cm.gauss_profile(wave, centre, sigma)
        tau[sl] += ew * prof
    flux *= np.exp(-tau)
    # TiO bands of M stars
    depth = 0.85 * float(_sigmoid(-(teff - 3500.0) / 180.0))
    if depth > 1e-3:
        for head, weight in _TIO_BANDS:
            lo = int(np.searchsorted(wave, head - 20.0))
            hi = int(np.searchsorted(wave, head + 12.0 * _TIO_SCALE))
            x = wave[lo:hi] - head
            band = np.exp(-np.clip(x, 0.0, None) / _TIO_SCALE) * _sigmoid(x / 2.0)
            flux[lo:hi] *= 1.0 - depth * weight * band
    return flux


def stellar_spectra(wave, teff, zh=0.0) -> np.ndarray:
    """Spectral shapes of stars of the given Teff, per unit bolometric luminosity.

    Parameters
    ----------
    wave : array_like, shape (M,)
        Vacuum wavelengths in Angstrom (500-50000 A).
    teff : float or array_like, shape (K,)
        Effective temperatures in K (2,000-60,000).
    zh : float or array_like, shape (K,)
        Metallicity [Z/H] (dex, solar = 0), -2.5 to 0.7.

    Returns
    -------
    numpy.ndarray, shape (K, M)
        ``pi B_lambda(Teff) / (sigma Teff^4)`` times the absorption of the
        recipe (see the module docstring), in 1/A: multiply by a bolometric
        luminosity (erg/s) to get L_lambda (erg/s/A). The blackbody part
        integrates to 1; absorption removes a few to ~30 per cent.

    Raises
    ------
    ValueError
        If ``teff`` or ``zh`` is out of range, or ``wave`` is not a valid grid.

    """
    w = cm.check_wave("wave", wave)
    t = np.atleast_1d(np.asarray(teff, dtype=np.float64))
    z = np.broadcast_to(np.asarray(zh, dtype=np.float64), t.shape)
    if t.ndim != 1 or not np.all((t >= 2000.0) & (t <= 60000.0)):
        raise ValueError(f"teff must be 2000-60000 K, got {teff!r}")
    if not np.all((z >= -2.5) & (z <= 0.7)):
        raise ValueError(f"zh must be within -2.5..0.7 dex, got {zh!r}")
    return np.stack([_stellar_one(w, float(ti), float(zi)) for ti, zi in zip(t, z, strict=True)])


# -- main-sequence relations (shared with the SSP recipe) --------------------------------
def ms_luminosity(m):
    """Main-sequence luminosity (Lsun) of mass ``m`` (Msun): the textbook piecewise power law."""
    m = np.asarray(m, dtype=np.float64)
    return np.where(
        m < 0.43,
        0.23 * m**2.3,
        np.where(m < 2.0, m**4, np.where(m < 55.0, 1.4 * m**3.5, 32000.0 * m)),
    )


def ms_radius(m):
    """Main-sequence radius (Rsun): ``m**0.8`` below 1 Msun, ``m**0.57`` above."""
    m = np.asarray(m, dtype=np.float64)
    return np.where(m < 1.0, m**0.8, m**0.57)


def ms_teff(m):
    """Main-sequence Teff (K) from L and R, capped at 50,000 K."""
    return np.minimum(cm.T_SUN * (ms_luminosity(m) / ms_radius(m) ** 2) ** 0.25, 50000.0)


def ms_lifetime(m):
    """Main-sequence lifetime (Gyr): ``10 Gyr m / L(m)`` plus 3 Myr (massive stars)."""
    m = np.asarray(m, dtype=np.float64)
    return 10.0 * m / ms_luminosity(m) + 0.003


@functools.lru_cache(maxsize=4)
def _ms_table():
    m = np.geomspace(0.08, 60.0, 4000)
    return m, ms_teff(m)


def ms_mass_for_teff(teff):
    """Invert :func:`ms_teff` (K -> Msun) by interpolation on 0.08-60 Msun."""
    m, t = _ms_table()
    return np.interp(np.log10(teff), np.log10(t), m)


def stars(n: int = 100, seed: int = 0, wave=None, *, types=tuple(STAR_TYPES)):
    """Draw a library of main-sequence star templates (A/F/G/K/M-like).

    Parameters
    ----------
    n : int
        Number of stars, >= 1; spread evenly over ``types`` (largest
        remainder), in shuffled order.
    seed : int
        Seed (>= 0): the same arguments give identical templates.
    wave : array_like, optional
        Rest-frame vacuum grid (A) within 500-50000 A; default: the package's
        default grid (log-lambda, 900-25000 A, 20.7 km/s). Spectra are made on
        a fine log grid and rebinned (flux-conserving).
    types : sequence of str
        Star types among ``"A", "F", "G", "K", "M"`` (:data:`STAR_TYPES`).

    Returns
    -------
    TemplateLibrary
        ``class`` = "STAR", ``subclass`` = the type letter; f_lambda in
        erg/s/cm^2/A at 10 pc (so the AB magnitudes of a template are absolute
        magnitudes). Metadata: ``teff`` (K, log-uniform within the type's
        range), ``feh`` ([Fe/H] ~ N(-0.2, 0.3) clipped to -1.5..0.5),
        ``mass_msun``, ``radius_rsun``, ``lum_lsun`` (from the main-sequence
        relations of this module at that Teff), ``logg`` (cgs).

    Raises
    ------
    ValueError, TypeError
        Bad ``n``, ``seed``, ``wave`` or an unknown type (the message names it).

    Notes
    -----
    Stars are in the Milky Way: a simulator scales them by
    ``(10 pc / d)**2`` and does not redshift them (or only by a radial
    velocity of order 1e-3). The recipe is in the module docstring; no
    giants, white dwarfs or carbon stars.

    """
    from .library import FLAM, TemplateLibrary

    n = cm.check_count("n", n)
    seed = check_seed(seed)
    if isinstance(types, str):
        types = (types,)
    types = tuple(types)
    if not types:
        raise ValueError("types must name at least one star type")
    for t in types:
        if t not in STAR_TYPES:
            raise ValueError(f"types: unknown star type {t!r}; known: {', '.join(STAR_TYPES)}")
    out_wave = None if wave is None else cm.check_wave("wave", wave)
    rng = np.random.default_rng(seed)
    share = np.full(len(types), n / len(types))
    counts = np.floor(share).astype(int)
    counts[: n - counts.sum()] += 1
    sub = np.concatenate([np.full(c, t) for t, c in zip(types, counts, strict=True)])[
        rng.permutation(n)
    ]
    lo = np.array([STAR_TYPES[t][0] for t in sub])
    hi = np.array([STAR_TYPES[t][1] for t in sub])
    teff = 10.0 ** rng.uniform(np.log10(lo), np.log10(hi))
    feh = np.clip(rng.normal(-0.2, 0.3, n), -1.5, 0.5)
    mass = ms_mass_for_teff(teff)
    radius = ms_radius(mass)
    lum = (radius**2) * (teff / cm.T_SUN) ** 4
    logg = np.log10(6.674e-8 * 1.98841e33 * mass / (radius * cm.R_SUN_CM) ** 2)
    build, needs_rebin = cm.build_grid_for(out_wave)
    shapes = stellar_spectra(build, teff, feh)  # per unit L_bol, 1/A
    flux = shapes * (lum * cm.L_SUN / cm.FOUR_PI_D10_SQ)[:, None]
    grid = build
    if needs_rebin:
        flux = cm.rebin(build, flux, out_wave)
        grid = out_wave
    from astropy.table import Table

    meta = Table(
        {
            "class": np.full(n, "STAR"),
            "subclass": sub,
            "teff": teff,
            "feh": feh,
            "mass_msun": mass,
            "radius_rsun": radius,
            "lum_lsun": lum,
            "logg": logg,
        }
    )
    meta.meta.update({"MODEL": "deepz.templates.stars", "SEED": seed})
    return TemplateLibrary(
        wave=grid, flux=flux, meta=meta, unit=FLAM, ref_distance_pc=cm.REF_DISTANCE_PC, name="stars"
    )
