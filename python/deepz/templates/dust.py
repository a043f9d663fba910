"""Dust attenuation: the Calzetti et al. (2000) starburst law.

Calzetti, D., Armus, L., Bohlin, R. C., et al. 2000, ApJ 533, 682, eq. (4):

    k(lambda) = 2.659 (-2.156 + 1.509/x - 0.198/x^2 + 0.011/x^3) + R_V   0.12 <= x < 0.63
    k(lambda) = 2.659 (-1.857 + 1.040/x) + R_V                           0.63 <= x <= 2.20

with x the wavelength in micron and R_V = 4.05. The law is defined on
0.12-2.2 micron; outside it this module extends k linearly in 1/x from the
ends (the usual choice of SED codes, e.g. the extension of Leitherer et al.
2002 below 0.12 micron has the same slope to within a few per cent at
0.1 micron), and clips k at 0 in the infrared (no negative attenuation).

The stellar continuum and the nebular lines see different colour excesses:
E(B-V)_stars = 0.44 E(B-V)_gas (Calzetti 2000, eq. 3). This package applies
``k`` to both (Calzetti recommends a Milky-Way curve for the lines; over
Halpha-Hbeta the two differ by ~8 % in k(Hb) - k(Ha), well inside the scatter
of real Balmer decrements), so the attenuated Balmer decrement is
``(Ha/Hb)_int * 10**(0.4 E(B-V)_gas (k(Hb) - k(Ha)))``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CALZETTI_RV", "STELLAR_TO_GAS", "calzetti_attenuation", "calzetti_k"]

#: R_V of the Calzetti (2000) law.
CALZETTI_RV = 4.05
#: E(B-V)_stars / E(B-V)_gas (Calzetti 2000).
STELLAR_TO_GAS = 0.44

_X_UV, _X_IR = 0.12, 2.20


def _k_uv(x):
    return 2.659 * (-2.156 + 1.509 / x - 0.198 / x**2 + 0.011 / x**3) + CALZETTI_RV


def _k_opt(x):
    return 2.659 * (-1.857 + 1.040 / x) + CALZETTI_RV


def _slope_inv(fun, x, h=1e-4):
    """Dk / d(1/x) at x, numerically."""
    return (fun(1.0 / (1.0 / x + h)) - fun(1.0 / (1.0 / x - h))) / (2.0 * h)


def calzetti_k(wave) -> np.ndarray:
    """Return k(lambda) = A_lambda / E(B-V) of the Calzetti (2000) law.

    Parameters
    ----------
    wave : array_like
        Rest-frame vacuum wavelengths in Angstrom, > 0.

    Returns
    -------
    numpy.ndarray
        float64 k values, the shape of ``wave``; >= 0. Linear in 1/lambda
        outside 1200-22000 A (see the module docstring).

    Raises
    ------
    ValueError
        If a wavelength is not finite and > 0.

    Examples
    --------
    >>> round(float(calzetti_k(6564.61)), 2)   # Halpha
    3.32
    >>> round(float(calzetti_k(4862.68)), 2)   # Hbeta
    4.6

    """
    w = np.asarray(wave, dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("wave must be finite and > 0 Angstrom")
    x = w * 1e-4
    k = np.where(x < 0.63, _k_uv(np.clip(x, _X_UV, 0.63)), _k_opt(np.clip(x, 0.63, _X_IR)))
    lo = x < _X_UV
    if np.any(lo):
        s = _slope_inv(_k_uv, _X_UV)
        k = np.where(lo, _k_uv(_X_UV) + s * (1.0 / x - 1.0 / _X_UV), k)
    hi = x > _X_IR
    if np.any(hi):
        s = _slope_inv(_k_opt, _X_IR)
        k = np.where(hi, _k_opt(_X_IR) + s * (1.0 / x - 1.0 / _X_IR), k)
    return np.maximum(k, 0.0)


def calzetti_attenuation(wave, ebv) -> np.ndarray:
    """Return the transmitted fraction ``10**(-0.4 * E(B-V) * k(lambda))``.

    Parameters
    ----------
    wave : array_like, shape (M,)
        Wavelengths in Angstrom.
    ebv : float or array_like, shape (K,)
        Colour excess E(B-V) in magnitudes, >= 0 (use ``E(B-V)_stars`` for a
        stellar continuum, ``E(B-V)_gas`` for nebular lines).

    Returns
    -------
    numpy.ndarray
        Shape (M,) for a scalar ``ebv``, (K, M) otherwise; values in (0, 1].

    Raises
    ------
    ValueError
        If ``ebv`` is negative or not finite.

    """
    e = np.asarray(ebv, dtype=np.float64)
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ValueError(f"ebv must be finite and >= 0, got {ebv!r}")
    k = calzetti_k(wave)
    return 10.0 ** (-0.4 * e[..., None] * k)
