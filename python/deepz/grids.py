"""Wavelength grids: linear and log-linear constructors, and survey presets.

A grid is a 1-D float64 array of pixel *centres* in Angstrom (vacuum); bin
edges lie half-way between neighbouring centres (see :mod:`deepz.kernels`).
The presets are the sampling of the instruments and of the papers' set-ups:

==================  ==============================================  ==========================
name                centres                                          source
==================  ==============================================  ==========================
``euclid_rest``     3750 bins of 5 A, edges 1252.5-20002.5 A         Stivaktakis et al. (2019)
``euclid_nisp``     1800 bins of 5 A, edges 11000-20000 A            Stivaktakis et al. (2019)
``sdss``            log10 step 1e-4, 3800-9200 A (3.5798-3.9638)      SDSS DR7 spectra
``boss``            log10 step 1e-4, 3600-10400 A (3.5563-4.0170)     BOSS/eBOSS DR12+ spectra
``desi_b/r/z``      0.8 A linear: 3600-5800, 5760-7620, 7520-9824 A   DESI coadd files (EDR)
``fourmost_lrs``    0.35 A linear, 3700-9500 A (arms joined; approx.)  4MOST LRS design (R~6500)
``gasnet``          5001 pixels, 4000-9000 A (1 A)                    Zhong et al. (2024)
``yurchuk``         4000-9000 A at 1 A (5001 pixels)                  Yurchuk & Skyruta
``optical``         log10 step 4e-4, 3600-9797 A (1088 pixels)        deepz's default model
==================  ==============================================  ==========================
"""

from __future__ import annotations

import numpy as np

__all__ = ["PRESETS", "dloglam", "is_loglinear", "linear", "loglinear", "preset"]


def linear(start: float, stop: float, step: float) -> np.ndarray:
    """Return the centres ``start, start + step, ..., stop`` (``stop`` included if on the grid).

    Parameters
    ----------
    start, stop : float
        First and last centre in Angstrom, ``stop > start``.
    step : float
        Pixel width in Angstrom, > 0.

    Returns
    -------
    numpy.ndarray
        float64 centres; the count is ``round((stop - start) / step) + 1``.

    """
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step}")
    if not stop > start:
        raise ValueError(f"stop must be > start, got start={start}, stop={stop}")
    n = int(round((stop - start) / step)) + 1
    return start + step * np.arange(n, dtype=np.float64)


def loglinear(start: float, stop: float, dlog10: float = 1e-4) -> np.ndarray:
    """Return centres equally spaced in log10(wavelength) from ``start`` to about ``stop``.

    Parameters
    ----------
    start, stop : float
        First centre and the wavelength the grid reaches (Angstrom).
    dlog10 : float
        Step in log10(lambda); SDSS, BOSS and redrock use 1e-4 (69 km/s).

    Returns
    -------
    numpy.ndarray
        float64 centres ``10 ** (log10(start) + dlog10 * arange(n))``.

    """
    if not dlog10 > 0:
        raise ValueError(f"dlog10 must be > 0, got {dlog10}")
    if not (start > 0 and stop > start):
        raise ValueError(f"need 0 < start < stop, got start={start}, stop={stop}")
    lo = np.log10(start)
    n = int(round((np.log10(stop) - lo) / dlog10)) + 1
    return 10.0 ** (lo + dlog10 * np.arange(n, dtype=np.float64))


def dloglam(wave: np.ndarray, rtol: float = 1e-9) -> float | None:
    """Return the constant log10 step of ``wave``, or ``None`` if it is not log-linear."""
    w = np.asarray(wave, dtype=np.float64)
    if w.ndim != 1 or w.size < 2 or np.any(w <= 0):
        return None
    d = np.diff(np.log10(w))
    step = float(d.mean())
    if step > 0 and np.all(np.abs(d - step) <= rtol * max(1.0, abs(step)) + 1e-12):
        return step
    return None


def is_loglinear(wave: np.ndarray, rtol: float = 1e-9) -> bool:
    """Say whether ``wave`` is equally spaced in log10(wavelength)."""
    return dloglam(wave, rtol) is not None


PRESETS = {
    "euclid_rest": lambda: linear(1255.0, 20000.0, 5.0),
    "euclid_nisp": lambda: linear(11002.5, 19997.5, 5.0),
    "sdss": lambda: 10.0 ** (3.5798 + 1e-4 * np.arange(3841)),
    "boss": lambda: 10.0 ** (3.5563 + 1e-4 * np.arange(4608)),
    "desi_b": lambda: linear(3600.0, 5800.0, 0.8),
    "desi_r": lambda: linear(5760.0, 7620.0, 0.8),
    "desi_z": lambda: linear(7520.0, 9824.0, 0.8),
    "fourmost_lrs": lambda: linear(3700.0, 9500.0, 0.35),
    "gasnet": lambda: np.linspace(4000.0, 9000.0, 5001),
    "yurchuk": lambda: linear(4000.0, 9000.0, 1.0),
    "optical": lambda: loglinear(3600.0, 9800.0, 4e-4),
}


def preset(name: str) -> np.ndarray:
    """Return a fresh copy of the named survey grid (see the module table)."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(
            f"unknown grid preset {name!r}; known: {', '.join(sorted(PRESETS))}"
        ) from None
