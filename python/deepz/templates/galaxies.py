"""The built-in physical galaxy model: stellar populations, dust and nebular lines.

Each template is one galaxy, drawn at random (seeded) in one of five
subclasses, and built in four steps.

1. **Stars.** A star-formation history (SFH) in lookback time ``t``: a
   delayed-tau component ``psi ~ (A - t) exp(-(A - t)/tau)`` (started ``A`` Gyr
   ago) plus, for starbursts and post-starbursts, a burst of constant SFR;
   integrated over the 70 age bins of the SSP recipe
   (:mod:`deepz.templates.ssp`) at the galaxy's metallicity, and scaled by the
   mass formed.
2. **Dust.** Calzetti et al. (2000) attenuation with
   ``E(B-V)_stars = 0.44 E(B-V)_gas`` (:mod:`deepz.templates.dust`); then the
   stellar velocity dispersion (Gaussian in velocity) and, for star-forming
   classes, interstellar UV absorption lines (SiII, OI, CII, SiIV, CIV, FeII,
   AlII with EWs near the Lyman-break-galaxy composite of Shapley et al. 2003,
   blueshifted by 150 km/s). Ionizing flux (< 912 A) is multiplied by an escape
   fraction of 0.05 on top of the stars' own Lyman break.
3. **Lines.** Nebular emission lines from :mod:`deepz.lines` (Lya, [OII]
   3726/3729, Hd, Hg, Hb, [OIII] 4959/5007, [NII] 6548/6583, Ha, [SII]
   6716/6731) as Gaussians of the gas velocity dispersion, integrated
   exactly over each pixel, attenuated with E(B-V)_gas (Lya instead by its
   escape fraction).
4. **Units.** f_lambda in erg/s/cm^2/A **at 10 pc** (L_lambda / (4 pi (10 pc)^2)).

Subclasses and their distributions
----------------------------------
``PASSIVE``
    log M (mass formed) from a Schechter mass function, log M* = 10.8,
    alpha = -0.5, over 9.5-11.8 (typical of quiescent galaxies; Peng et al.
    2010, ApJ 721, 193; Baldry et al. 2012, MNRAS 421, 621); formed
    A ~ U(t_max/2, t_max) Gyr ago with tau ~ logU(0.1, 0.6) Gyr; E(B-V)_stars
    ~ U(0, 0.05); no emission lines.
``POSTSTARBURST``
    as PASSIVE (log M* = 10.5, log M 9.5-11.5) plus a burst of 5-30 % of the
    mass lasting 0.1-0.3 Gyr that ended 0.2-1.0 Gyr ago: A stars, strong
    Balmer absorption, no lines.
``STARFORMING``
    intrinsic (dust-corrected) L(Ha) from the Ha luminosity function of
    Sobral et al. (2013, MNRAS 428, 1128; HiZELS): Schechter, alpha = -1.60,
    log L*(z) = 0.45 z + 41.87 erg/s at the library's ``z_ref``, drawn over
    log(L/L*) in [-1.5, 1.0]; SFR = L(Ha) / 10**41.27 Msun/yr (Kennicutt &
    Evans 2012, Kroupa IMF); delayed tau with tau ~ logU(1, 10) Gyr,
    A ~ U(1, min(t_max, 3 tau)) Gyr (so that the galaxy is still on the
    star-forming sequence, sSFR >~ 10^-10.9 /yr); the mass formed is SFR / sSFR of that SFH (10 Myr
    mean), which ties EW(Ha) to the continuum. Gas metallicity from the
    mass-metallicity relation of Tremonti et al. (2004, ApJ 613, 898; scatter
    0.1 dex) moved by -0.25 dex to the Pettini & Pagel (2004) N2 scale
    (Kewley & Ellison 2008), N2 = log([NII]6583/Ha) = (12 + log O/H - 8.90) / 0.57
    clipped to -2.0..-0.3; log([OIII]5007/Hb) = the Kauffmann et al. (2003)
    demarcation minus 0.25 dex (scatter 0.1, always >= 0.05 dex below it);
    log([SII]/Ha) ~ N(-0.45, 0.1); log([OII]/Hb) ~ N(0.45, 0.12);
    A(Ha) = 0.91 + 0.77 X + 0.11 X^2 - 0.09 X^3 with X = log M - 10 (Garn &
    Best 2010, MNRAS 409, 421; scatter 0.28 mag), E(B-V)_gas = A(Ha) / k(Ha);
    n_e lognormal, median 100 cm^-3 (0.25 dex); sigma_gas = 10**(1.6 + 0.15
    (log M - 10)) km/s (0.08 dex); Lya escape fraction logU(0.005, 0.1).
``STARBURST``
    as STARFORMING plus an ongoing burst (begun 30-300 Myr ago, 2-15 % of the mass),
    so that EW(Ha) is high; n_e median 200 cm^-3; Lya escape logU(0.02, 0.3).
``AGN`` (narrow-line, type 2)
    host as a massive, older galaxy (log M* = 10.8, log M 10.0-11.8,
    A ~ U(t_max/2, t_max), tau ~ logU(0.5, 3) Gyr); half Seyferts, half
    LINERs (``agn_type``). EW(Ha) lognormal, median 15 A (Seyfert) or 3.5 A
    (LINER), 0.25/0.2 dex, after Cid Fernandes et al. (2011, MNRAS 413, 1687;
    strong AGN EW > 6 A, LINER-like 3-6 A); BPT positions drawn above the
    Kewley et al. (2001) maximum-starburst line (+0.05 dex) and split by the
    Schawinski et al. (2007) line log([OIII]/Hb) = 1.05 N2 + 0.45: Seyferts
    N2 ~ N(0.0, 0.15), O3 ~ N(0.8, 0.15); LINERs N2 ~ N(0.1, 0.12),
    O3 ~ N(0.1, 0.15); log([SII]/Ha) ~ N(-0.25, 0.1) / N(-0.15, 0.1);
    log([OII]/Hb) ~ N(0.45, 0.15) / N(0.65, 0.15) (LINERs keep
    [OII] > [OIII]); E(B-V)_gas ~ N(0.3, 0.15) clipped 0-1; n_e median
    300 cm^-3; sigma_gas median 200 km/s; intrinsic Ha/Hb = 3.1 (collisional
    enhancement in AGN, Osterbrock & Ferland 2006) instead of 2.86.

Common to all: case-B Balmer ratios Ha:Hb:Hg:Hd = 2.86:1:0.468:0.259
(Osterbrock & Ferland 2006, T = 10^4 K), Lya/Ha = 8.7 times the escape
fraction; [OIII] 5007/4959 = 2.98, [NII] 6583/6548 = 2.94 (Storey & Zeippen
2000); doublet ratios [OII] 3729/3726 and [SII] 6716/6731 as functions of
the electron density, ``R = a (b + n_e) / (c + n_e)`` (Sanders et al. 2016,
ApJ 816, 23: a, b, c = 0.3771, 2468, 638.4 for [OII]; 0.4315, 2107, 627.1 for
[SII]); stellar metallicity = gas 12+log(O/H) - 8.69 (or, without lines,
[Z/H] = 0.05 + 0.35 (log M - 11), Gallazzi et al. 2005), scatter 0.1;
sigma_stars = 10**(2.2 + 0.3 (log M - 10.5)) km/s (0.8 times that in discs);
``t_max`` = age of the Universe at ``z_ref`` (Planck18) minus 0.3 Gyr.
Mass here is the mass *formed* (about 1.6 times the mass still in stars for
an old population).

Limits: the stellar recipe is not a calibrated population-synthesis model
(see :mod:`deepz.templates.ssp`); no nebular continuum, no dust emission
(beyond ~3 micron the templates are stellar photospheres only), no He lines,
no [NeIII], [OI], [ArIII] or UV nebular lines (only the catalogue's lines);
line ratios are drawn around empirical sequences, not from photoionisation
models.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from astropy.cosmology import Planck18

from .. import lines as _lines
from .._validate import check_seed
from . import _common as cm
from .dust import STELLAR_TO_GAS, calzetti_attenuation, calzetti_k
from .library import FLAM, TemplateLibrary, d4000
from .ssp import AGE_EDGES, AGE_GRID, composite

__all__ = [
    "GALAXY_LINES",
    "GALAXY_SUBCLASSES",
    "HALPHA_LF",
    "galaxies",
    "kauffmann03",
    "kewley01",
    "schawinski07",
]

log = logging.getLogger(__name__)

#: Subclasses of the galaxy model, and their default shares of a library.
GALAXY_SUBCLASSES = {
    "PASSIVE": 0.25,
    "POSTSTARBURST": 0.05,
    "STARFORMING": 0.40,
    "STARBURST": 0.15,
    "AGN": 0.15,
}

#: The catalogue lines the galaxy model emits (vacuum wavelengths from deepz.lines).
GALAXY_LINES = _lines.get(
    (
        "Lyalpha",
        "[OII]3726",
        "[OII]3729",
        "Hdelta",
        "Hgamma",
        "Hbeta",
        "[OIII]4959",
        "[OIII]5007",
        "[NII]6548",
        "Halpha",
        "[NII]6583",
        "[SII]6716",
        "[SII]6731",
    )
)

#: Ha luminosity function (Sobral et al. 2013): alpha, log L*(z) = slope z + log L*(0).
HALPHA_LF = {"alpha": -1.60, "log_lstar_0": 41.87, "dlog_lstar_dz": 0.45, "range_dex": (-1.5, 1.0)}

CASE_B = {"Halpha": 2.86, "Hbeta": 1.0, "Hgamma": 0.468, "Hdelta": 0.259}
LYA_HA_CASE_B = 8.7
OIII_RATIO = 2.98
NII_RATIO = 2.94
LOG_SFR_PER_LHA = -41.27  # Kennicutt & Evans (2012)
LYC_ESCAPE = 0.05

# interstellar UV absorption (vacuum A, EW A), roughly the Shapley et al. (2003) composite
_ISM_LINES = (
    (1260.42, 1.6),
    (1303.27, 2.2),
    (1334.53, 1.7),
    (1393.76, 1.8),
    (1402.77, 0.8),
    (1526.71, 1.7),
    (_lines.get("CIV1549")[0].wave, 3.0),
    (1608.45, 0.9),
    (1670.79, 1.0),
)


def kauffmann03(n2):
    """Kauffmann et al. (2003) star-forming limit: log([OIII]/Hb) = 0.61 / (N2 - 0.05) + 1.3."""
    n2 = np.asarray(n2, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(n2 < 0.05, 0.61 / (n2 - 0.05) + 1.3, -np.inf)


def kewley01(n2):
    """Kewley et al. (2001) maximum starburst: log([OIII]/Hb) = 0.61 / (N2 - 0.47) + 1.19."""
    n2 = np.asarray(n2, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(n2 < 0.47, 0.61 / (n2 - 0.47) + 1.19, -np.inf)


def schawinski07(n2):
    """Schawinski et al. (2007) Seyfert/LINER division: log([OIII]/Hb) = 1.05 N2 + 0.45."""
    return 1.05 * np.asarray(n2, dtype=np.float64) + 0.45


def bpt_class(n2, o3) -> np.ndarray:
    """BPT class: "SF", "COMPOSITE", "SEYFERT" or "LINER" ("" where N2/O3 are NaN)."""
    n2, o3 = np.asarray(n2, float), np.asarray(o3, float)
    out = np.full(n2.shape, "", dtype="U9")
    ok = np.isfinite(n2) & np.isfinite(o3)
    sf = ok & (o3 < kauffmann03(n2))
    agn = ok & ~sf & (o3 >= kewley01(n2))
    out[sf] = "SF"
    out[ok & ~sf & ~agn] = "COMPOSITE"
    out[agn & (o3 >= schawinski07(n2))] = "SEYFERT"
    out[agn & (o3 < schawinski07(n2))] = "LINER"
    return out


def doublet_ratio(ne, which: str):
    """Return [OII] 3729/3726 or [SII] 6716/6731 at electron density ``ne`` (Sanders+ 2016)."""
    a, b, c = {"OII": (0.3771, 2468.0, 638.4), "SII": (0.4315, 2107.0, 627.1)}[which]
    ne = np.asarray(ne, dtype=np.float64)
    return a * (b + ne) / (c + ne)


def _schechter_logx(rng, n, alpha, lo, hi):
    """Draw log10(x) with dN/dlog x ~ x^(alpha+1) exp(-x) on [lo, hi] (inverse CDF on a grid)."""
    grid = np.linspace(lo, hi, 4001)
    x = 10.0**grid
    pdf = x ** (alpha + 1.0) * np.exp(-x)
    cdf = np.concatenate(([0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))))
    return np.interp(rng.random(n) * cdf[-1], cdf, grid)


def _logu(rng, lo, hi, n):
    return 10.0 ** rng.uniform(math.log10(lo), math.log10(hi), n)


def _mass_per_age(A, tau, fb, b_start, b_end):
    """Fractions of the mass formed in each SSP age bin, and the 10-Myr mean sSFR (1/Gyr)."""
    sub = 24
    frac = (np.arange(sub) + 0.5) / sub
    e0, e1 = AGE_EDGES[:-1], AGE_EDGES[1:]
    t = e0[:, None] + (e1 - e0)[:, None] * frac[None, :]  # (n_age, sub) lookback times
    dt = ((e1 - e0) / sub)[:, None]

    def delayed(tl):
        s = A.reshape((-1,) + (1,) * tl.ndim) - tl
        return np.where(
            s > 0, s * np.exp(-np.clip(s, 0, None) / tau.reshape(s.shape[:1] + (1,) * tl.ndim)), 0.0
        )

    def burst(tl):
        lo = b_end.reshape((-1,) + (1,) * tl.ndim)
        hi = b_start.reshape((-1,) + (1,) * tl.ndim)
        return ((tl >= lo) & (tl < hi)).astype(float)

    d_bins = (delayed(t) * dt).sum(-1)  # (K, n_age)
    b_bins = (burst(t) * dt).sum(-1)
    d_tot = d_bins.sum(1, keepdims=True)
    b_tot = b_bins.sum(1, keepdims=True)
    d_bins = d_bins / np.where(d_tot > 0, d_tot, 1.0)
    b_bins = np.where(b_tot > 0, b_bins / np.where(b_tot > 0, b_tot, 1.0), 0.0)
    mass = (1.0 - fb)[:, None] * d_bins + fb[:, None] * b_bins
    # 10 Myr mean SFR per unit mass, on a fine grid
    tf = (np.arange(200) + 0.5) / 200 * 0.01
    d10 = delayed(tf).sum(-1) * (0.01 / 200) / d_tot[:, 0]
    b10 = np.where(
        b_tot[:, 0] > 0,
        burst(tf).sum(-1) * (0.01 / 200) / np.where(b_tot[:, 0] > 0, b_tot[:, 0], 1),
        0.0,
    )
    ssfr10 = ((1.0 - fb) * d10 + fb * b10) / 0.01
    mwa = (mass * AGE_GRID).sum(1)
    return mass, ssfr10, mwa


def _counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    names = list(fractions)
    p = np.array([fractions[s] for s in names], dtype=np.float64)
    raw = p / p.sum() * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return dict(zip(names, counts.tolist(), strict=True))


def _check_fractions(fractions) -> dict[str, float]:
    if fractions is None:
        return dict(GALAXY_SUBCLASSES)
    if not isinstance(fractions, dict) or not fractions:
        raise TypeError(f"fractions must be a non-empty dict subclass -> share, got {fractions!r}")
    out = {}
    for key, value in fractions.items():
        if key not in GALAXY_SUBCLASSES:
            raise ValueError(
                f"fractions: unknown subclass {key!r}; known: {', '.join(GALAXY_SUBCLASSES)}"
            )
        v = float(value)
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"fractions[{key!r}] must be >= 0, got {value!r}")
        out[key] = v
    if sum(out.values()) <= 0:
        raise ValueError("fractions must not all be 0")
    return {k: out[k] for k in GALAXY_SUBCLASSES if k in out}


def _continuum_at_halpha(wave, flux):
    """Mean f_lambda in 6490-6530 and 6610-6650 A (side bands of Ha+[NII]); NaN if not covered."""
    sel = ((wave >= 6490.0) & (wave <= 6530.0)) | ((wave >= 6610.0) & (wave <= 6650.0))
    if sel.sum() < 2:
        return np.full(flux.shape[0], np.nan)
    return flux[:, sel].mean(axis=1)


def galaxies(
    n: int = 200,
    seed: int = 0,
    wave=None,
    *,
    fractions: dict[str, float] | None = None,
    z_ref: float = 0.0,
    emission_lines: bool = True,
) -> TemplateLibrary:
    """Draw a library of physical galaxy templates (the default library of deepz).

    Parameters
    ----------
    n : int
        Number of templates, >= 1.
    seed : int
        Seed (>= 0) of every random draw: the same arguments give identical
        templates.
    wave : array_like, optional
        Rest-frame vacuum grid (A, strictly increasing, within 500-50000 A).
        Default: log-lambda from 900 A to 25,000 A in steps of
        dlog10 = 3e-5 (20.7 km/s; 48,125 pixels), which resolves lines of
        sigma >= 40 km/s by two pixels or more. On another grid the stellar
        continuum is built on a fine log grid and rebinned (flux-conserving);
        emission lines are integrated exactly over each output pixel.
    fractions : dict, optional
        Share of each subclass (``PASSIVE``, ``POSTSTARBURST``,
        ``STARFORMING``, ``STARBURST``, ``AGN``); default
        :data:`GALAXY_SUBCLASSES`. Counts are rounded by largest remainder, so
        every subclass with a share gets its templates; the order is shuffled.
    z_ref : float
        Redshift whose galaxy population the templates represent (0-6): sets
        L*(Ha) of the luminosity function and caps the stellar ages at the
        age of the Universe then (Planck18). The templates stay rest-frame.
        Use ~1.4 for Euclid-like H-alpha samples.
    emission_lines : bool
        False leaves the lines out (everything else, including all random
        draws and the ``L_*`` metadata, stays identical): continuum-only
        twins for measuring the lines.

    Returns
    -------
    TemplateLibrary
        ``class`` = "GALAXY", ``subclass`` as above; f_lambda in
        erg/s/cm^2/A at 10 pc. Metadata columns: ``agn_type``, ``bpt``,
        ``age_form_gyr`` (A), ``tau_gyr``, ``burst_frac``, ``burst_start_gyr``,
        ``burst_end_gyr``, ``mw_age_gyr`` (mass-weighted age), ``log_mass``
        (log10 Msun formed), ``zh`` (stellar [Z/H]), ``oh12`` (gas, PP04 N2
        scale), ``ebv_gas``, ``ebv_stars``, ``vdisp_stars``, ``vdisp_gas``
        (km/s), ``ne`` (cm^-3), ``sfr`` (Msun/yr, 10 Myr), ``log_ssfr``
        (1/yr), ``hahb_int``, ``log_nii_ha``, ``log_oiii_hb``, ``log_sii_ha``,
        ``log_oii_hb`` (intrinsic line ratios; NaN without lines),
        ``lya_fesc``, ``L_<line>`` for each of :data:`GALAXY_LINES` (observed,
        i.e. attenuated, luminosity in erg/s; 0 without lines),
        ``L_Halpha_int`` (dust-corrected), ``ew_halpha`` (rest EW in A of the
        attenuated Ha against the continuum at 6490-6530/6610-6650 A) and
        ``d4000`` (of the attenuated stellar continuum).

    Raises
    ------
    ValueError, TypeError
        Bad ``n``, ``seed``, ``wave``, ``fractions`` or ``z_ref`` (the message
        names it).

    Notes
    -----
    Multiply ``flux`` by ``(10 pc / d_L)**2`` (:func:`deepz.templates.distance_scale`)
    and let :func:`deepz.kernels.redshift` apply the ``1 / (1 + z)`` of f_lambda
    (and the stretch of the grid) to get the observed flux of a galaxy at
    redshift z. Building 200 templates on the default grid takes ~2.5 s on
    two cores, plus ~2 s on the first call (the stellar library, then cached).

    Examples
    --------
    >>> lib = galaxies(10, seed=1)
    >>> len(lib), lib.flux.shape[1], lib.classes
    (10, 48125, {'GALAXY': 10})

    """
    n = cm.check_count("n", n)
    seed = check_seed(seed)
    frac = _check_fractions(fractions)
    try:
        z_ref = float(z_ref)
    except (TypeError, ValueError):
        raise TypeError(f"z_ref must be a number, got {z_ref!r}") from None
    if not (0.0 <= z_ref <= 6.0):
        raise ValueError(f"z_ref must be within 0-6, got {z_ref}")
    out_wave = None if wave is None else cm.check_wave("wave", wave)
    rng = np.random.default_rng(seed)

    t_max = float(Planck18.age(z_ref).value) - 0.3
    counts = _counts(n, frac)
    subclass = np.concatenate([np.full(c, s, dtype="U13") for s, c in counts.items()])
    subclass = subclass[rng.permutation(n)]

    names = (
        "A tau fb b_start b_end log_mass zh oh12 ebv_gas vdisp_stars vdisp_gas ne lha_int "
        "n2 o3 s2 r2 fesc hahb ew_target"
    )
    p = {name: np.full(n, np.nan) for name in names.split()}
    agn_type = np.full(n, "", dtype="U7")
    p["fb"][:] = 0.0
    p["b_start"][:] = 0.0
    p["b_end"][:] = 0.0

    def draw_old(idx, log_mstar, mlo, mhi, tau_lo, tau_hi):
        k = idx.size
        p["log_mass"][idx] = log_mstar + _schechter_logx(
            rng, k, -0.5, mlo - log_mstar, mhi - log_mstar
        )
        p["A"][idx] = rng.uniform(0.5 * t_max, t_max, k)
        p["tau"][idx] = _logu(rng, tau_lo, tau_hi, k)
        p["zh"][idx] = np.clip(
            0.05 + 0.35 * (p["log_mass"][idx] - 11.0) + rng.normal(0, 0.1, k), -1.0, 0.3
        )
        p["vdisp_stars"][idx] = 10.0 ** (
            2.2 + 0.3 * (p["log_mass"][idx] - 10.5) + rng.normal(0, 0.05, k)
        )

    def draw_lines_sf(idx, ne_median, fesc_lo, fesc_hi):
        k = idx.size
        lstar = HALPHA_LF["log_lstar_0"] + HALPHA_LF["dlog_lstar_dz"] * z_ref
        lo, hi = HALPHA_LF["range_dex"]
        p["lha_int"][idx] = 10.0 ** (lstar + _schechter_logx(rng, k, HALPHA_LF["alpha"], lo, hi))
        p["tau"][idx] = _logu(rng, 1.0, 10.0, k)
        a_lo = min(1.0, 0.5 * t_max)
        p["A"][idx] = rng.uniform(a_lo, np.maximum(np.minimum(t_max, 3.0 * p["tau"][idx]), a_lo))
        p["oh_scatter"] = rng.normal(0, 0.1, n)
        p["o3_scatter"] = rng.normal(0, 0.1, n)
        p["s2"][idx] = rng.normal(-0.45, 0.1, k)
        p["r2"][idx] = rng.normal(0.45, 0.12, k)
        p["ne"][idx] = np.clip(ne_median * 10.0 ** rng.normal(0, 0.25, k), 10.0, 1e4)
        p["fesc"][idx] = _logu(rng, fesc_lo, fesc_hi, k)
        p["ah_scatter"] = rng.normal(0, 0.28, n)
        p["vg_scatter"] = rng.normal(0, 0.08, n)
        p["hahb"][idx] = CASE_B["Halpha"]
        return k

    scratch = {}
    # fixed order of the subclasses keeps the draws reproducible
    for sub in GALAXY_SUBCLASSES:
        idx = np.flatnonzero(subclass == sub)
        k = idx.size
        if k == 0:
            continue
        if sub == "PASSIVE":
            draw_old(idx, 10.8, 9.5, 11.8, 0.1, 0.6)
            p["ebv_gas"][idx] = rng.uniform(0.0, 0.05, k) / STELLAR_TO_GAS
        elif sub == "POSTSTARBURST":
            draw_old(idx, 10.5, 9.5, 11.5, 0.1, 0.6)
            p["ebv_gas"][idx] = rng.uniform(0.0, 0.05, k) / STELLAR_TO_GAS
            p["fb"][idx] = rng.uniform(0.05, 0.3, k)
            p["b_end"][idx] = rng.uniform(0.2, 1.0, k)
            p["b_start"][idx] = p["b_end"][idx] + rng.uniform(0.1, 0.3, k)
        elif sub in ("STARFORMING", "STARBURST"):
            burst = sub == "STARBURST"
            draw_lines_sf(
                idx, 200.0 if burst else 100.0, 0.02 if burst else 0.005, 0.3 if burst else 0.1
            )
            scratch[sub] = (
                p.pop("oh_scatter")[idx],
                p.pop("o3_scatter")[idx],
                p.pop("ah_scatter")[idx],
                p.pop("vg_scatter")[idx],
            )
            if burst:
                p["fb"][idx] = _logu(rng, 0.02, 0.15, k)
                p["b_start"][idx] = _logu(rng, 0.03, 0.3, k)
                p["b_end"][idx] = 0.0
        elif sub == "AGN":
            draw_old(idx, 10.8, 10.0, 11.8, 0.5, 3.0)
            seyfert = rng.random(k) < 0.5
            agn_type[idx] = np.where(seyfert, "SEYFERT", "LINER")
            n2 = np.empty(k)
            o3 = np.empty(k)
            for j in range(k):
                for _ in range(1000):
                    if seyfert[j]:
                        x, y = rng.normal(0.0, 0.15), rng.normal(0.8, 0.15)
                        ok = y >= schawinski07(x)
                    else:
                        x, y = rng.normal(0.1, 0.12), rng.normal(0.1, 0.15)
                        ok = y < schawinski07(x)
                    if ok and y >= kewley01(x) + 0.05 and -0.6 < x < 0.6:
                        break
                n2[j], o3[j] = x, y
            p["n2"][idx], p["o3"][idx] = n2, o3
            p["s2"][idx] = np.where(seyfert, rng.normal(-0.25, 0.1, k), rng.normal(-0.15, 0.1, k))
            r2 = np.where(seyfert, rng.normal(0.45, 0.15, k), rng.normal(0.65, 0.15, k))
            p["r2"][idx] = np.where(seyfert, r2, np.maximum(r2, o3 + 0.05))
            p["ebv_gas"][idx] = np.clip(rng.normal(0.3, 0.15, k), 0.0, 1.0)
            p["ne"][idx] = np.clip(300.0 * 10.0 ** rng.normal(0, 0.25, k), 10.0, 1e4)
            p["vdisp_gas"][idx] = np.clip(200.0 * 10.0 ** rng.normal(0, 0.1, k), 100.0, 500.0)
            p["fesc"][idx] = rng.uniform(0.1, 0.5, k)
            p["ew_target"][idx] = np.where(
                seyfert, 15.0 * 10.0 ** rng.normal(0, 0.25, k), 3.5 * 10.0 ** rng.normal(0, 0.2, k)
            )
            p["hahb"][idx] = 3.1
    p.pop("oh_scatter", None)
    p.pop("o3_scatter", None)
    p.pop("ah_scatter", None)
    p.pop("vg_scatter", None)
    ism_scale = rng.uniform(0.5, 1.5, n)  # drawn for all, used by star-forming classes

    # star-formation histories
    mass_frac, ssfr10, mwa = _mass_per_age(p["A"], p["tau"], p["fb"], p["b_start"], p["b_end"])
    sfr_from_lines = np.isfinite(p["lha_int"])
    sfr = np.where(sfr_from_lines, p["lha_int"] * 10.0**LOG_SFR_PER_LHA, np.nan)
    p["log_mass"] = np.where(sfr_from_lines, np.log10(sfr / (ssfr10 * 1e-9)), p["log_mass"])
    mass = 10.0 ** p["log_mass"]
    sfr = np.where(sfr_from_lines, sfr, mass * ssfr10 * 1e-9)

    # gas-phase quantities of the star-forming classes (they need the mass)
    for sub, (oh_s, o3_s, ah_s, vg_s) in scratch.items():
        idx = np.flatnonzero(subclass == sub)
        x = np.clip(p["log_mass"][idx], 8.5, 11.5)
        oh_t04 = -1.492 + 1.847 * x - 0.08026 * x**2 + oh_s
        oh = oh_t04 - 0.25
        n2 = np.clip((oh - 8.90) / 0.57, -2.0, -0.3)
        ridge = kauffmann03(n2) - 0.25
        p["oh12"][idx] = oh
        p["n2"][idx] = n2
        p["o3"][idx] = np.minimum(ridge + o3_s, kauffmann03(n2) - 0.05)
        p["zh"][idx] = np.clip(oh - 8.69 + 0.1 * o3_s, -1.0, 0.3)
        xm = p["log_mass"][idx] - 10.0
        a_ha = np.clip(0.91 + 0.77 * xm + 0.11 * xm**2 - 0.09 * xm**3 + ah_s, 0.0, 4.0)
        p["ebv_gas"][idx] = a_ha / float(calzetti_k(6564.61))
        p["vdisp_gas"][idx] = np.clip(10.0 ** (1.6 + 0.15 * xm + vg_s), 25.0, 200.0)
        p["vdisp_stars"][idx] = np.clip(
            0.8 * 10.0 ** (2.2 + 0.3 * (p["log_mass"][idx] - 10.5)), 30.0, 300.0
        )
    ebv_stars = STELLAR_TO_GAS * p["ebv_gas"]

    # stellar continuum on the build grid and on an auxiliary grid for D4000 / EW(Ha)
    build, needs_rebin = cm.build_grid_for(out_wave)
    aux = cm.loglam_grid(3800.0, 6700.0, cm.DEFAULT_DLOG10)
    dlog_build = math.log10(build[1] / build[0])
    star_flags = np.isin(subclass, ("STARFORMING", "STARBURST"))

    def continuum(grid, dlog):
        lum = composite(grid, mass_frac * mass[:, None], p["zh"])  # (K, M) erg/s/A
        lum *= calzetti_attenuation(grid, ebv_stars)
        lum = cm.smooth_loglam(lum, dlog, p["vdisp_stars"])
        if grid[0] < 1750.0 and np.any(star_flags):
            tau = np.zeros((n, grid.size))
            shift = 1.0 - 150.0 / cm.C_KMS
            for centre, ew in _ISM_LINES:
                c = centre * shift
                sl, prof = cm.gauss_profile(grid, c, c * 150.0 / cm.C_KMS)
                tau[:, sl] += ew * prof[None, :]
            tau *= (ism_scale * star_flags)[:, None]
            lum *= np.exp(-tau)
        lyc = grid < cm.LYMAN_LIMIT
        lum[:, lyc] *= LYC_ESCAPE
        return lum / cm.FOUR_PI_D10_SQ

    cont_aux = continuum(aux, math.log10(aux[1] / aux[0]))
    d4 = d4000(aux, cont_aux)
    c_ha = _continuum_at_halpha(aux, cont_aux)  # f_lambda at 10 pc
    att_ha = calzetti_attenuation(np.array([6564.61]), p["ebv_gas"])[:, 0]
    agn = subclass == "AGN"
    # AGN: Ha from the drawn EW against the attenuated continuum
    l_ha_obs_agn = p["ew_target"] * c_ha * cm.FOUR_PI_D10_SQ
    p["lha_int"] = np.where(agn, l_ha_obs_agn / att_ha, p["lha_int"])

    flux = continuum(build, dlog_build)
    grid = build
    if needs_rebin:
        flux = cm.rebin(build, flux, out_wave)
        grid = out_wave

    # emission lines
    has_lines = np.isfinite(p["lha_int"])
    lums = {}
    lha = np.where(has_lines, p["lha_int"], 0.0)
    lhb = lha / np.where(has_lines, p["hahb"], 1.0)
    ne = np.where(has_lines, p["ne"], 100.0)
    r_oii = doublet_ratio(ne, "OII")
    r_sii = doublet_ratio(ne, "SII")
    oii = lhb * 10.0 ** np.nan_to_num(p["r2"])
    sii = lha * 10.0 ** np.nan_to_num(p["s2"])
    o3 = lhb * 10.0 ** np.nan_to_num(p["o3"])
    n2 = lha * 10.0 ** np.nan_to_num(p["n2"])
    intrinsic = {
        "Lyalpha": LYA_HA_CASE_B * lha * np.nan_to_num(p["fesc"]),
        "[OII]3726": oii / (1.0 + r_oii),
        "[OII]3729": oii * r_oii / (1.0 + r_oii),
        "Hdelta": lhb * CASE_B["Hdelta"],
        "Hgamma": lhb * CASE_B["Hgamma"],
        "Hbeta": lhb,
        "[OIII]4959": o3 / OIII_RATIO,
        "[OIII]5007": o3,
        "[NII]6548": n2 / NII_RATIO,
        "Halpha": lha,
        "[NII]6583": n2,
        "[SII]6716": sii * r_sii / (1.0 + r_sii),
        "[SII]6731": sii / (1.0 + r_sii),
    }
    edges = cm.edges_from_centres(grid)
    vgas = np.where(has_lines, p["vdisp_gas"], 50.0)
    for line in GALAXY_LINES:
        if line.name == "Lyalpha":
            lum_obs = intrinsic[line.name]  # the escape fraction includes dust
        else:
            lum_obs = (
                intrinsic[line.name]
                * calzetti_attenuation(np.array([line.wave]), p["ebv_gas"])[:, 0]
            )
        lum_obs = np.where(has_lines, lum_obs, 0.0)
        lums[line.name] = lum_obs
        if emission_lines and line.wave > edges[0] and line.wave < edges[-1]:
            sigma = line.wave * vgas / cm.C_KMS
            for j in np.flatnonzero(lum_obs > 0):
                cm.add_gaussian(flux[j], edges, line.wave, sigma[j], lum_obs[j] / cm.FOUR_PI_D10_SQ)

    ew_ha = lums["Halpha"] / cm.FOUR_PI_D10_SQ / c_ha
    meta = {
        "class": np.full(n, "GALAXY"),
        "subclass": subclass,
        "agn_type": agn_type,
        "bpt": bpt_class(
            np.where(has_lines, p["n2"], np.nan), np.where(has_lines, p["o3"], np.nan)
        ),
        "age_form_gyr": p["A"],
        "tau_gyr": p["tau"],
        "burst_frac": p["fb"],
        "burst_start_gyr": p["b_start"],
        "burst_end_gyr": p["b_end"],
        "mw_age_gyr": mwa,
        "log_mass": p["log_mass"],
        "zh": p["zh"],
        "oh12": p["oh12"],
        "ebv_gas": p["ebv_gas"],
        "ebv_stars": ebv_stars,
        "vdisp_stars": p["vdisp_stars"],
        "vdisp_gas": np.where(has_lines, p["vdisp_gas"], np.nan),
        "ne": np.where(has_lines, p["ne"], np.nan),
        "sfr": sfr,
        "log_ssfr": np.log10(np.maximum(sfr / mass, 1e-30)),
        "hahb_int": np.where(has_lines, p["hahb"], np.nan),
        "log_nii_ha": np.where(has_lines, p["n2"], np.nan),
        "log_oiii_hb": np.where(has_lines, p["o3"], np.nan),
        "log_sii_ha": np.where(has_lines, p["s2"], np.nan),
        "log_oii_hb": np.where(has_lines, p["r2"], np.nan),
        "lya_fesc": np.where(has_lines, p["fesc"], np.nan),
    }
    for line in GALAXY_LINES:
        meta["L_" + line.name] = lums[line.name]
    meta["L_Halpha_int"] = lha
    meta["ew_halpha"] = ew_ha
    meta["d4000"] = d4
    from astropy.table import Table

    table = Table(meta)
    table.meta.update(
        {
            "MODEL": "deepz.templates.galaxies",
            "SEED": seed,
            "Z_REF": z_ref,
            "LINES": bool(emission_lines),
        }
    )
    log.debug("galaxies: %d templates on %d pixels (seed %d)", n, grid.size, seed)
    return TemplateLibrary(
        wave=grid,
        flux=flux,
        meta=table,
        unit=FLAM,
        ref_distance_pc=cm.REF_DISTANCE_PC,
        name="galaxies",
    )
