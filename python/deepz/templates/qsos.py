"""Type-1 QSO templates and the mean Lyman-alpha forest transmission.

The rest-frame template of a QSO is the sum of

* a power law ``f_nu ~ nu**alpha_nu`` (``f_lambda ~ lambda**-(2 + alpha_nu)``),
  alpha_nu ~ N(-0.5, 0.3) (Vanden Berk et al. 2001, AJ 122, 549, find -0.44
  for the SDSS composite), normalised by the absolute AB magnitude at
  1450 A, M_1450, drawn from a double power-law luminosity function
  ``phi ~ 1 / (10**(0.4 (a + 1)(M - M*)) + 10**(0.4 (b + 1)(M - M*)))``
  with a = -1.5, b = -3.3, M* = -26 over -29 < M_1450 < -22 (round values
  typical of the z ~ 2 fits of Ross et al. 2013 and Palanque-Delabrouille
  et al. 2016, not a fit of ours);
* a Balmer continuum below 3647 A (Grandi 1982: ``B_lambda(15,000 K)
  (1 - exp(-(lambda/3647)**3))``, edge smoothed over 25 A), 10-40 % of the
  power law at the edge;
* a crude FeII pseudo-continuum: broad Gaussian bumps at 2400, 2650, 2950 A
  (UV, ~80 A EW in all) and 4560, 5270 A (optical, ~50 A EW), times a
  strength ~ U(0.5, 1.5);
* hot dust: a 1,200-1,600 K blackbody whose f_nu at 2.2 micron is 0.5-3 times
  the power law's;
* broad emission lines -- the catalogue lines with ``broad_qso`` (Lya,
  CIV, CIII], MgII, Hd, Hg, Hb, Ha) -- each 70 % a Gaussian of FWHM
  ``fwhm_broad`` (lognormal, median 3,500 km/s, 0.15 dex, 1,500-9,000) and
  30 % one of 2.5 times that width; rest-frame EWs lognormal around the
  Vanden Berk et al. (2001, Table 2) composite (Lya 92.9, CIV 23.8, CIII]
  21.2, MgII 32.3, Hd 5.1, Hg 12.6, Hb 46.2, Ha 194.5 A; 0.15 dex common
  to the QSO and 0.1 dex per line); CIV 1.0-1.4 times broader and
  blueshifted by 0-1,500 km/s (Richards et al. 2011);
* narrow lines: [OIII]5007 EW lognormal, median 13.2 A (0.35 dex), FWHM
  ~500 km/s; [OIII]4959 = 5007/2.98; narrow Hb = [OIII]5007/8, narrow
  Ha = 3.1 narrow Hb, [NII]6583 = narrow Ha, [NII]6548 = 6583/2.94,
  [SII] = 0.5 narrow Ha, [OII] = 0.3 [OIII]5007 (Seyfert-like NLR ratios),
  doublets at n_e = 300 cm^-3;
* a Lyman-limit cut: zero flux below 911.76 A (rest; optional).

Not included: NV, SiIV+OIV], OI, CII, HeII and the other UV lines absent from
:mod:`deepz.lines`, intrinsic reddening, the host galaxy, broad absorption
lines. The Lyman-alpha forest depends on the QSO's redshift, so it is not in
the template: apply :func:`lya_forest_transmission` on the observed grid
after redshifting (it applies to galaxies just as well).
"""

from __future__ import annotations

import math

import numpy as np

from .. import lines as _lines
from .._validate import check_seed
from . import _common as cm
from .galaxies import doublet_ratio
from .library import FLAM, TemplateLibrary

__all__ = ["QSO_BROAD_EW", "lya_forest_transmission", "qsos", "tau_eff_lya"]

LYA = _lines.get("Lyalpha")[0].wave

#: Median rest-frame EWs (A) of the broad lines (Vanden Berk et al. 2001, Table 2).
QSO_BROAD_EW = {
    "Lyalpha": 92.91,
    "CIV1549": 23.78,
    "CIII]1909": 21.19,
    "MgII2799": 32.28,
    "Hdelta": 5.05,
    "Hgamma": 12.62,
    "Hbeta": 46.21,
    "Halpha": 194.52,
}
_BROAD = tuple(line for line in _lines.CATALOGUE if line.broad_qso and line.kind == "emission")
_FE_BUMPS = (
    (2400.0, 150.0, 35.0),
    (2650.0, 100.0, 25.0),
    (2950.0, 100.0, 20.0),
    (4560.0, 80.0, 25.0),
    (5270.0, 100.0, 25.0),
)  # centre, sigma, EW (A)


def tau_eff_lya(z) -> np.ndarray:
    """Mean effective Lya-forest optical depth, ``0.0018 (1 + z)**3.92``.

    Faucher-Giguere et al. (2008, ApJ 681, 831), measured over 2 < z < 4.2;
    extrapolated outside (at z < 2 the optical depth is small anyway; at
    z ~ 6 it gives exp(-tau) ~ 0.02, near the observed mean transmission).
    """
    z = np.asarray(z, dtype=np.float64)
    return 0.0018 * (1.0 + z) ** 3.92


def lya_forest_transmission(obs_wave, z, lyman_limit: bool = True) -> np.ndarray:
    """Mean IGM transmission of the Lyman-alpha forest on an OBSERVED grid.

    Light seen at ``lambda_obs < 1215.67 (1 + z)`` was absorbed by Lya in gas
    at ``z_abs = lambda_obs / 1215.67 - 1``; its mean transmission is
    ``exp(-tau_eff(z_abs))`` (:func:`tau_eff_lya`). Below the source's Lyman
    limit, ``lambda_obs < 911.76 (1 + z)``, the transmission is 0 when
    ``lyman_limit`` (Lyman-limit systems make it so on most sight lines).

    Parameters
    ----------
    obs_wave : array_like, shape (M,) or (N, M)
        Observed vacuum wavelengths (A), > 0.
    z : float or array_like, shape (N,)
        Source redshifts, >= 0.
    lyman_limit : bool
        Zero the flux below the Lyman limit of the source.

    Returns
    -------
    numpy.ndarray
        Transmission in [0, 1]: shape (M,) for one grid and a scalar z,
        (N, M) otherwise. Multiply the redshifted f_lambda by it.

    Raises
    ------
    ValueError
        Non-finite or non-positive wavelengths, negative or non-finite z,
        shapes that do not broadcast.

    Notes
    -----
    Only Lya: the Lyb forest (below 1025.7 (1 + z)) and higher orders are not
    added, so the flux there is somewhat too high. A mean, not a
    realisation: individual sight lines fluctuate around it.

    Examples
    --------
    >>> t = lya_forest_transmission([4000.0, 5000.0], 3.0)
    >>> round(float(t[0]), 3), float(t[1])
    (0.825, 1.0)

    """
    w = np.asarray(obs_wave, dtype=np.float64)
    if w.ndim not in (1, 2) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("obs_wave must be a finite, positive (M,) or (N, M) array of Angstrom")
    zz = np.asarray(z, dtype=np.float64)
    if zz.ndim > 1 or not np.all(np.isfinite(zz)) or np.any(zz < 0):
        raise ValueError(f"z must be a finite scalar or (N,) array >= 0, got {z!r}")
    scalar = zz.ndim == 0 and w.ndim == 1
    zc = zz.reshape(-1, 1)
    if w.ndim == 2 and zc.shape[0] not in (1, w.shape[0]):
        raise ValueError(f"z has {zc.shape[0]} values but obs_wave has {w.shape[0]} rows")
    z_abs = w / LYA - 1.0
    absorbed = (w < LYA * (1.0 + zc)) & (z_abs > 0)
    out = np.where(absorbed, np.exp(-tau_eff_lya(np.clip(z_abs, 0.0, None))), 1.0)
    if lyman_limit:
        out = np.where(w < cm.LYMAN_LIMIT * (1.0 + zc), 0.0, out)
    return out[0] if scalar else out


def _m1450(rng, n, a=-1.5, b=-3.3, mstar=-26.0, lo=-29.0, hi=-22.0):
    grid = np.linspace(lo, hi, 4001)
    d = grid - mstar
    pdf = 1.0 / (10.0 ** (0.4 * (a + 1.0) * d) + 10.0 ** (0.4 * (b + 1.0) * d))
    cdf = np.concatenate(([0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))))
    return np.interp(rng.random(n) * cdf[-1], cdf, grid)


def qsos(n: int = 100, seed: int = 0, wave=None, *, lyman_limit: bool = True) -> TemplateLibrary:
    """Draw a library of type-1 QSO templates (rest frame, no Lya forest).

    Parameters
    ----------
    n : int
        Number of templates, >= 1.
    seed : int
        Seed (>= 0): the same arguments give identical templates.
    wave : array_like, optional
        Rest-frame vacuum grid (A) within 500-50000 A; default: the package's
        default grid (log-lambda, 900-25000 A, 20.7 km/s). Everything is
        analytic and integrated over each pixel, so any grid is exact.
    lyman_limit : bool
        Set the flux below 911.76 A to 0 (pixels straddling it keep the
        fraction above).

    Returns
    -------
    TemplateLibrary
        ``class`` = "QSO", ``subclass`` = "BROADLINE"; f_lambda in
        erg/s/cm^2/A at 10 pc. Metadata: ``m1450`` (absolute AB mag at
        1450 A), ``alpha_nu``, ``fwhm_broad`` and ``fwhm_narrow`` (km/s),
        ``civ_blueshift`` (km/s), ``fe_strength``, ``balmer_cont``,
        ``dust_teff``, ``dust_ratio``, ``ew_<line>`` (rest EW in A of each
        broad line and of ``[OIII]5007``) and ``L_<line>`` (erg/s) for every
        line added.

    Raises
    ------
    ValueError, TypeError
        Bad ``n``, ``seed`` or ``wave`` (the message names it).

    See Also
    --------
    lya_forest_transmission : the IGM absorption to apply after redshifting.

    """
    n = cm.check_count("n", n)
    seed = check_seed(seed)
    grid = cm.default_wave() if wave is None else cm.check_wave("wave", wave)
    rng = np.random.default_rng(seed)
    m1450 = _m1450(rng, n)
    alpha = rng.normal(-0.5, 0.3, n)
    fwhm = np.clip(3500.0 * 10.0 ** rng.normal(0, 0.15, n), 1500.0, 9000.0)
    civ_shift = rng.uniform(0.0, 1500.0, n)
    civ_broad = rng.uniform(1.0, 1.4, n)
    common = rng.normal(0, 0.15, n)
    per_line = {name: rng.normal(0, 0.1, n) for name in QSO_BROAD_EW}
    ew_oiii = 13.23 * 10.0 ** rng.normal(0, 0.35, n)
    fwhm_n = np.clip(500.0 * 10.0 ** rng.normal(0, 0.1, n), 250.0, 1200.0)
    fe = rng.uniform(0.5, 1.5, n)
    bc = rng.uniform(0.1, 0.4, n)
    dust_t = rng.uniform(1200.0, 1600.0, n)
    dust_r = 10.0 ** rng.uniform(math.log10(0.5), math.log10(3.0), n)

    edges = cm.edges_from_centres(grid)
    f1450 = 10.0 ** (-0.4 * (m1450 + 48.6)) * cm.C_AA / 1450.0**2  # f_lambda at 10 pc
    pl = f1450[:, None] * (grid[None, :] / 1450.0) ** (-(2.0 + alpha[:, None]))

    def powerlaw_at(lam):
        return f1450 * (lam / 1450.0) ** (-(2.0 + alpha))

    # Balmer continuum
    edge = cm.BALMER_LIMIT
    shape = cm.planck_lambda(grid, 15000.0) * (-np.expm1(-((grid / edge) ** 3)))
    shape *= 0.5 * (1.0 + np.tanh((edge - grid) / 25.0))
    ref = float(cm.planck_lambda(np.array([edge]), 15000.0)[0] * (-math.expm1(-1.0)))
    flux = pl + (bc * powerlaw_at(edge) / ref)[:, None] * shape[None, :]
    # hot dust: f_nu ratio at 2.2 micron = f_lambda ratio at the same wavelength
    lam_k = 22000.0
    for j in range(n):
        bb = cm.planck_lambda(grid, dust_t[j])
        bb_ref = float(cm.planck_lambda(np.array([lam_k]), dust_t[j])[0])
        flux[j] += dust_r[j] * powerlaw_at(lam_k)[j] * bb / bb_ref
    lums = {}
    ews = {}

    def cont(lam):
        """Return the continuum (power law + Balmer continuum + hot dust) at ``lam``."""
        base = powerlaw_at(lam)
        if lam < edge + 200.0:
            s = float(
                cm.planck_lambda(np.array([lam]), 15000.0)[0] * (-math.expm1(-((lam / edge) ** 3)))
            )
            base = base + bc * powerlaw_at(edge) / ref * s * 0.5 * (
                1.0 + math.tanh((edge - lam) / 25.0)
            )
        dust = np.array(
            [
                dust_r[j]
                * powerlaw_at(lam_k)[j]
                * float(cm.planck_lambda(np.array([lam]), dust_t[j])[0])
                / float(cm.planck_lambda(np.array([lam_k]), dust_t[j])[0])
                for j in range(n)
            ]
        )
        return base + dust

    fe_add = np.zeros_like(flux)
    for centre, sigma, ew in _FE_BUMPS:
        amount = fe * ew * cont(centre)
        for j in range(n):
            cm.add_gaussian(fe_add[j], edges, centre, sigma, amount[j])
    flux += fe_add

    for line in _BROAD:
        ew = QSO_BROAD_EW[line.name] * 10.0 ** (common + per_line[line.name])
        centre = np.full(n, line.wave)
        width = fwhm.copy()
        if line.name == "CIV1549":
            centre = line.wave * (1.0 - civ_shift / cm.C_KMS)
            width = fwhm * civ_broad
        amount = ew * cont(line.wave)
        ews["ew_" + line.name] = ew
        lums["L_" + line.name] = amount * cm.FOUR_PI_D10_SQ
        sig = centre * width / cm.C_KMS / 2.3548
        for j in range(n):
            cm.add_gaussian(flux[j], edges, centre[j], sig[j], 0.7 * amount[j])
            cm.add_gaussian(flux[j], edges, centre[j], 2.5 * sig[j], 0.3 * amount[j])

    # narrow lines
    o3 = ew_oiii * cont(_lines.get("[OIII]5007")[0].wave)
    hb_n = o3 / 8.0
    ha_n = 3.1 * hb_n
    r_oii = doublet_ratio(300.0, "OII")
    r_sii = doublet_ratio(300.0, "SII")
    narrow = {
        "[OII]3726": 0.3 * o3 / (1.0 + r_oii),
        "[OII]3729": 0.3 * o3 * r_oii / (1.0 + r_oii),
        "Hbeta": hb_n,
        "[OIII]4959": o3 / 2.98,
        "[OIII]5007": o3,
        "[NII]6548": ha_n / 2.94,
        "Halpha": ha_n,
        "[NII]6583": ha_n,
        "[SII]6716": 0.5 * ha_n * r_sii / (1.0 + r_sii),
        "[SII]6731": 0.5 * ha_n / (1.0 + r_sii),
    }
    ews["ew_[OIII]5007"] = ew_oiii
    for name, amount in narrow.items():
        lam = _lines.get(name)[0].wave
        key = "L_" + name + ("_narrow" if name in ("Hbeta", "Halpha") else "")
        lums[key] = amount * cm.FOUR_PI_D10_SQ
        sig = lam * fwhm_n / cm.C_KMS / 2.3548
        for j in range(n):
            cm.add_gaussian(flux[j], edges, lam, sig[j], amount[j])

    if lyman_limit:
        frac = np.clip((edges[1:] - cm.LYMAN_LIMIT) / np.diff(edges), 0.0, 1.0)
        flux *= frac[None, :]

    from astropy.table import Table

    meta = {
        "class": np.full(n, "QSO"),
        "subclass": np.full(n, "BROADLINE"),
        "m1450": m1450,
        "alpha_nu": alpha,
        "fwhm_broad": fwhm,
        "fwhm_narrow": fwhm_n,
        "civ_blueshift": civ_shift,
        "fe_strength": fe,
        "balmer_cont": bc,
        "dust_teff": dust_t,
        "dust_ratio": dust_r,
    }
    meta.update(ews)
    meta.update(lums)
    table = Table(meta)
    table.meta.update({"MODEL": "deepz.templates.qsos", "SEED": seed})
    return TemplateLibrary(
        wave=grid, flux=flux, meta=table, unit=FLAM, ref_distance_pc=cm.REF_DISTANCE_PC, name="qsos"
    )
