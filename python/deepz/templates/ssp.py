"""A simple-stellar-population (SSP) recipe built from the analytic stellar spectra.

An SSP of age t and metallicity [Z/H] is the light of 1 Msun of stars born
together, summed over:

* the main sequence up to the turn-off mass m_TO(t): a Kroupa (2001) IMF
  (dN/dm ~ m^-1.3 for 0.08-0.5 Msun, m^-2.3 for 0.5-100 Msun; normalised to
  1 Msun formed), textbook mass-luminosity and mass-radius relations
  (L ~ 0.23 m^2.3 / m^4 / 1.4 m^3.5 / 32000 m; R ~ m^0.8 / m^0.57), Teff from
  L and R, and lifetimes t_MS = 10 Gyr m / L(m) + 3 Myr
  (:mod:`deepz.templates.stellar`); a star of age t shines at
  L_ZAMS (1 + 1.5 (t / t_MS)^2), the brightening along the main sequence
  (the Sun: x1.3 now, ~x2.5 at the turn-off);
* the post-main-sequence stars, by the fuel-consumption theorem
  (Renzini & Buzzoni 1986): L_PMS(t) = b(t) F(m_TO), with b = phi(m_TO)
  |dm_TO/dt| the rate at which stars leave the main sequence and the fuel
  F = f(m_TO) 10 Gyr Lsun m_TO (f = 1.6 below 2 Msun, where stars climb the red
  giant branch, falling to 0.3 above 5 Msun; 1.6 brings the V-band light of
  a 10 Gyr solar population to M/L_V ~ 6.5 per Msun formed, as in
  Bruzual & Charlot 2003 with a Chabrier IMF). Low-mass giants shine at
  4,900 K (clump, 20 %), 4,300 K (RGB, 45 %) and 3,600 K (upper RGB/AGB,
  35 %), massive ones half as blue-loop supergiants at 0.7 Teff(m_TO) (at
  least 7,000 K) and half as red supergiants at 4,000 K; the giant Teffs are
  shifted by -250 K per dex of [Z/H].

The light is put on a grid of 40 temperatures (2,600-50,000 K, log-spaced)
whose spectra come from :func:`deepz.templates.stellar.stellar_spectra`;
an SSP spectrum is ``sum_T W[t, T] Lsun S_T(lambda)``.

What it gets right: a blue, Balmer-jump-free UV-bright young population; A
stars (Balmer absorption) dominating at 0.3-1 Gyr; a red, 4000-A-break
dominated old population with a bolometric giant fraction near 55 %. What it
does not: no Wolf-Rayet or TP-AGB phases, no horizontal-branch morphology,
no alpha-enhancement, colours good to ~0.1-0.2 mag against BC03 rather
than to 0.02.
"""

from __future__ import annotations

import functools

import numpy as np

from . import _common as cm
from .stellar import ms_lifetime, ms_luminosity, ms_teff, stellar_spectra

__all__ = ["AGE_GRID", "TEFF_GRID", "ZH_GRID", "ssp_spectra", "ssp_weights"]

#: Temperatures (K) on which SSP light is placed.
TEFF_GRID = np.geomspace(2600.0, 50000.0, 40)
#: Metallicities [Z/H] (dex) of the precomputed stellar libraries.
ZH_GRID = np.array([-1.0, -0.5, 0.0, 0.3])
#: SSP ages (Gyr): 1 Myr-14 Gyr, 70 log-spaced values.
AGE_GRID = np.geomspace(0.001, 14.0, 70)


def _age_edges() -> np.ndarray:
    mid = np.sqrt(AGE_GRID[1:] * AGE_GRID[:-1])
    return np.concatenate(([0.0], mid, [AGE_GRID[-1] * np.sqrt(AGE_GRID[-1] / AGE_GRID[-2])]))


#: Edges (Gyr) of the lookback-time bins that the SSP ages represent.
AGE_EDGES = _age_edges()


@functools.lru_cache(maxsize=1)
def _imf():
    """Mass grid (Msun), its bin widths, and the Kroupa IMF normalised to 1 Msun formed."""
    edges = np.geomspace(0.08, 100.0, 1201)
    m = np.sqrt(edges[1:] * edges[:-1])
    dm = np.diff(edges)
    phi = np.where(m < 0.5, (m / 0.5) ** -1.3, (m / 0.5) ** -2.3)
    phi /= np.sum(m * phi * dm)
    return m, dm, phi


def _spread(teff: np.ndarray, lum: np.ndarray) -> np.ndarray:
    """Put luminosities at ``teff`` onto TEFF_GRID, linearly in log T (clipped at the ends)."""
    x = np.log(np.clip(teff, TEFF_GRID[0], TEFF_GRID[-1]))
    g = np.log(TEFF_GRID)
    j = np.clip(np.searchsorted(g, x) - 1, 0, g.size - 2)
    t = (x - g[j]) / (g[j + 1] - g[j])
    out = np.zeros(g.size)
    np.add.at(out, j, lum * (1.0 - t))
    np.add.at(out, j + 1, lum * t)
    return out


@functools.lru_cache(maxsize=8)
def _weights_cached(zh: float) -> np.ndarray:
    m, dm, phi = _imf()
    t_ms = ms_lifetime(m)
    l_ms = ms_luminosity(m)
    teff = ms_teff(m)
    # turn-off mass as a function of age (t_ms decreases with m)
    order = np.argsort(t_ms)
    t_sorted, m_sorted = t_ms[order], m[order]
    weights = np.zeros((AGE_GRID.size, TEFF_GRID.size))
    for a, age in enumerate(AGE_GRID):
        alive = t_ms > age
        # stars brighten along the main sequence: L = L_ZAMS (1 + 1.5 (age / t_MS)^2)
        bright = 1.0 + 1.5 * (age / t_ms[alive]) ** 2
        w = _spread(teff[alive], (l_ms * phi * dm)[alive] * bright)
        if age > t_sorted[0]:
            lt = np.log(age)
            m_to = float(np.exp(np.interp(lt, np.log(t_sorted), np.log(m_sorted))))
            # |dm_TO/dt| numerically, in log space
            eps = 0.01
            m_hi = np.exp(np.interp(lt - eps, np.log(t_sorted), np.log(m_sorted)))
            m_lo = np.exp(np.interp(lt + eps, np.log(t_sorted), np.log(m_sorted)))
            dmdt = (m_hi - m_lo) / (age * (np.exp(eps) - np.exp(-eps)))
            phi_to = float(np.interp(np.log(m_to), np.log(m), phi))
            frac = float(np.interp(m_to, [2.0, 5.0], [1.6, 0.3]))
            l_pms = phi_to * dmdt * frac * 10.0 * m_to  # Lsun
            shift = -250.0 * zh
            low_mass = float(np.interp(m_to, [2.0, 3.0], [1.0, 0.0]))
            t_to = float(ms_teff(m_to))
            giants_t = np.array([4900.0, 4300.0, 3600.0, max(0.7 * t_to, 7000.0), 4000.0]) + shift
            giants_f = np.array(
                [
                    0.20 * low_mass,
                    0.45 * low_mass,
                    0.35 * low_mass,
                    0.5 * (1 - low_mass),
                    0.5 * (1 - low_mass),
                ]
            )
            w += _spread(giants_t, l_pms * giants_f)
        weights[a] = w
    return weights


def ssp_weights(zh: float = 0.0) -> np.ndarray:
    """Luminosity (Lsun per Msun formed) that an SSP puts at each TEFF_GRID temperature.

    Parameters
    ----------
    zh : float
        Metallicity [Z/H] (dex); only the giant temperatures depend on it.

    Returns
    -------
    numpy.ndarray, shape (len(AGE_GRID), len(TEFF_GRID))
        Read-only.

    """
    w = _weights_cached(float(zh))
    w.flags.writeable = False
    return w


@functools.lru_cache(maxsize=3)
def _library_cached(key: tuple) -> np.ndarray:
    wave = np.frombuffer(key[0], dtype=np.float64)
    lib = np.stack([stellar_spectra(wave, TEFF_GRID, z) for z in ZH_GRID])  # (Z, T, M)
    lib *= cm.L_SUN
    lib.flags.writeable = False
    return lib


def stellar_library(wave: np.ndarray) -> np.ndarray:
    """Spectra (erg/s/A per Lsun) of TEFF_GRID x ZH_GRID on ``wave``: shape (Z, T, M), cached."""
    w = np.ascontiguousarray(wave, dtype=np.float64)
    return _library_cached((w.tobytes(),))


def zh_weights(zh: np.ndarray) -> np.ndarray:
    """Linear interpolation weights (K, len(ZH_GRID)) of metallicities on ZH_GRID (clipped)."""
    z = np.clip(np.asarray(zh, dtype=np.float64), ZH_GRID[0], ZH_GRID[-1])
    j = np.clip(np.searchsorted(ZH_GRID, z) - 1, 0, ZH_GRID.size - 2)
    t = (z - ZH_GRID[j]) / (ZH_GRID[j + 1] - ZH_GRID[j])
    out = np.zeros((z.size, ZH_GRID.size))
    out[np.arange(z.size), j] = 1.0 - t
    out[np.arange(z.size), j + 1] = t
    return out


def composite(wave: np.ndarray, mass_per_age: np.ndarray, zh: np.ndarray) -> np.ndarray:
    """Return L_lambda (erg/s/A, shape (K, M)) of composite stellar populations.

    ``mass_per_age`` (K, n_age) is the mass (Msun) formed in each AGE_GRID bin,
    ``zh`` (K,) the metallicities.
    """
    lib = stellar_library(wave)  # (Z, T, M)
    zw = zh_weights(zh)  # (K, Z)
    coeff = np.zeros((mass_per_age.shape[0], ZH_GRID.size, TEFF_GRID.size))
    for iz, z in enumerate(ZH_GRID):
        coeff[:, iz, :] = (mass_per_age @ ssp_weights(z)) * zw[:, iz : iz + 1]
    return coeff.reshape(coeff.shape[0], -1) @ lib.reshape(-1, lib.shape[-1])


def ssp_spectra(age, zh=0.0, wave=None) -> tuple[np.ndarray, np.ndarray]:
    """L_lambda of 1 Msun simple stellar populations (the recipe of this module).

    Parameters
    ----------
    age : float or array_like, shape (K,)
        Ages in Gyr, 0.001-14 (interpolated linearly in log age between the
        70 grid ages).
    zh : float or array_like, shape (K,)
        Metallicity [Z/H] in dex (-1.0..0.3; interpolated between
        -1, -0.5, 0, 0.3).
    wave : array_like, optional
        Rest-frame grid (A); default: the package's default grid.

    Returns
    -------
    wave : numpy.ndarray, shape (M,)
    lum : numpy.ndarray, shape (K, M)
        L_lambda in erg/s/A per Msun formed (no dust, no nebular emission, no
        velocity broadening).

    Raises
    ------
    ValueError
        Ages outside 0.001-14 Gyr, a bad grid.

    """
    a = np.atleast_1d(np.asarray(age, dtype=np.float64))
    if a.ndim != 1 or not np.all((a >= AGE_GRID[0]) & (a <= AGE_GRID[-1])):
        raise ValueError(f"age must be within {AGE_GRID[0]}-{AGE_GRID[-1]} Gyr, got {age!r}")
    z = np.broadcast_to(np.asarray(zh, dtype=np.float64), a.shape)
    w = cm.default_wave() if wave is None else cm.check_wave("wave", wave)
    la, lg = np.log(a), np.log(AGE_GRID)
    j = np.clip(np.searchsorted(lg, la) - 1, 0, lg.size - 2)
    t = (la - lg[j]) / (lg[j + 1] - lg[j])
    mass = np.zeros((a.size, AGE_GRID.size))
    mass[np.arange(a.size), j] = 1.0 - t
    mass[np.arange(a.size), j + 1] = t
    return w, composite(w, mass, z)
