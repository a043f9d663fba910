"""Shared pieces of the template builders (private).

Constants, the default rest grid, bin edges, a flux-conserving rebin, exact
bin-integrated line profiles, and a velocity convolution on log-lambda grids.

Nothing here is public API; the package docstring documents the conventions.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

# -- physical constants (cgs) ---------------------------------------------------------
C_KMS = 299792.458  # speed of light, km/s
C_AA = 2.99792458e18  # speed of light, Angstrom/s
H_CGS = 6.62607015e-27  # Planck constant, erg s
K_CGS = 1.380649e-16  # Boltzmann constant, erg/K
SIGMA_SB = 5.670374419e-5  # Stefan-Boltzmann, erg/s/cm^2/K^4
L_SUN = 3.828e33  # nominal solar luminosity, erg/s (IAU 2015 B3)
R_SUN_CM = 6.957e10  # nominal solar radius, cm (IAU 2015 B3)
T_SUN = 5772.0  # nominal solar effective temperature, K (IAU 2015 B3)
PC_CM = 3.0856775814913673e18  # parsec, cm

#: Reference distance of the physical templates: f_lambda is given at 10 pc.
REF_DISTANCE_PC = 10.0
#: 4 pi (10 pc)^2 in cm^2: L_lambda [erg/s/A] / this = f_lambda at 10 pc.
FOUR_PI_D10_SQ = 4.0 * math.pi * (REF_DISTANCE_PC * PC_CM) ** 2

# -- hydrogen (vacuum wavelengths from the Rydberg formula, reduced-mass R_H) ---------
RYDBERG_H = 109677.58  # cm^-1
LYMAN_LIMIT = 1e8 / RYDBERG_H  # 911.763 A
BALMER_LIMIT = 4e8 / RYDBERG_H  # 3647.05 A


def balmer_wave(n: int) -> float:
    """Vacuum wavelength (A) of the Balmer line from upper level ``n`` (n >= 3)."""
    return 1e8 / (RYDBERG_H * (0.25 - 1.0 / n**2))


# -- the default rest-frame grid --------------------------------------------------------
#: First centre of the default rest grid (Angstrom).
DEFAULT_WAVE_MIN = 900.0
#: The default rest grid reaches (at least) this wavelength (Angstrom).
DEFAULT_WAVE_MAX = 25000.0
#: Step of the default rest grid in log10(lambda): 3e-5 = 20.7 km/s per pixel.
DEFAULT_DLOG10 = 3e-5
#: Wavelengths the physical builders accept (Angstrom): outside, the recipes mean nothing.
VALID_RANGE = (500.0, 50000.0)


def loglam_grid(start: float, stop: float, dlog10: float) -> np.ndarray:
    """Centres ``start * 10**(dlog10 * k)`` for k = 0.. up to the first >= ``stop``."""
    n = int(math.ceil((math.log10(stop) - math.log10(start)) / dlog10 - 1e-9)) + 1
    return start * 10.0 ** (dlog10 * np.arange(n, dtype=np.float64))


def default_wave() -> np.ndarray:
    """Return the default rest-frame grid: log-lambda, 900-25000 A, 20.7 km/s (48,125 pixels)."""
    return loglam_grid(DEFAULT_WAVE_MIN, DEFAULT_WAVE_MAX, DEFAULT_DLOG10)


def edges_from_centres(wave: np.ndarray) -> np.ndarray:
    """Bin edges half-way between centres; the outer edges mirror the first/last half-widths."""
    w = np.asarray(wave, dtype=np.float64)
    mid = 0.5 * (w[1:] + w[:-1])
    first = w[0] - (mid[0] - w[0])
    last = w[-1] + (w[-1] - mid[-1])
    return np.concatenate(([first], mid, [last]))


def check_wave(name: str, wave, valid=VALID_RANGE, min_pixels: int = 2) -> np.ndarray:
    """Return ``wave`` as a finite, strictly increasing float64 1-D grid (or raise, naming it)."""
    try:
        arr = np.asarray(wave, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of wavelengths in Angstrom: {err}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (M,), got shape {arr.shape}")
    if arr.size < min_pixels:
        raise ValueError(f"{name} needs at least {min_pixels} pixels, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (it holds NaN or inf)")
    if np.any(np.diff(arr) <= 0):
        i = int(np.argmax(np.diff(arr) <= 0))
        raise ValueError(
            f"{name} must be strictly increasing: "
            f"{name}[{i}]={arr[i]} >= {name}[{i + 1}]={arr[i + 1]}"
        )
    if valid is not None and (arr[0] < valid[0] or arr[-1] > valid[1]):
        raise ValueError(
            f"{name} must lie within {valid[0]:g}-{valid[1]:g} A for this model, "
            f"got {arr[0]:g}-{arr[-1]:g} A"
        )
    return np.ascontiguousarray(arr)


def check_count(name: str, n) -> int:
    """Return ``n`` as an int >= 1 (or raise, naming it)."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= 1, got {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return int(n)


def rebin(wave_in: np.ndarray, flux_in: np.ndarray, wave_out: np.ndarray) -> np.ndarray:
    """Flux-conserving rebin of ``flux_in`` (K, M) from ``wave_in`` to ``wave_out`` (P,).

    Private helper of the template *builders* only (they make spectra on a fine
    internal log grid that always covers ``wave_out``): the input is read as
    piecewise constant over its bins and each output bin gets the mean over its
    own bin. Users resample libraries with :meth:`TemplateLibrary.resample`,
    which calls :func:`deepz.kernels.resample`.
    """
    e_in = edges_from_centres(wave_in)
    e_out = edges_from_centres(wave_out)
    if e_out[0] < e_in[0] or e_out[-1] > e_in[-1]:
        raise ValueError("internal error: the build grid does not cover the output grid")
    flux_in = np.atleast_2d(flux_in)
    cum = np.zeros((flux_in.shape[0], e_in.size))
    np.cumsum(flux_in * np.diff(e_in), axis=1, out=cum[:, 1:])
    # piecewise-linear cumulative integral at the output edges
    j = np.clip(np.searchsorted(e_in, e_out, side="right") - 1, 0, e_in.size - 2)
    t = (e_out - e_in[j]) / (e_in[j + 1] - e_in[j])
    at = cum[:, j] * (1.0 - t) + cum[:, j + 1] * t
    return np.diff(at, axis=1) / np.diff(e_out)


def build_grid_for(wave_out: np.ndarray | None) -> tuple[np.ndarray, bool]:
    """Return ``(build_wave, needs_rebin)``: the fine log grid the builders work on.

    With no output grid, the default grid itself. Otherwise a log grid at
    ``DEFAULT_DLOG10`` (or finer, down to half the finest log step of
    ``wave_out``, at most 4 million pixels) covering the output bin edges.
    """
    if wave_out is None:
        return default_wave(), False
    e = edges_from_centres(wave_out)
    dlog = DEFAULT_DLOG10
    finest = float(np.min(np.diff(np.log10(e))))
    if finest < 2 * dlog:
        dlog = max(finest / 2.0, (math.log10(e[-1]) - math.log10(e[0])) / 4e6)
    lo, hi = e[0] * 10 ** (-3 * dlog), e[-1] * 10 ** (3 * dlog)
    return loglam_grid(lo, hi, dlog), True


def add_gaussian(
    flux: np.ndarray, edges: np.ndarray, centre: float, sigma: float, amount: float
) -> None:
    """Add one bin-integrated Gaussian of integrated ``amount`` to the 1-D ``flux`` in place."""
    if amount == 0.0 or not sigma > 0:
        return
    lo = max(int(np.searchsorted(edges, centre - 9.0 * sigma)) - 1, 0)
    hi = min(int(np.searchsorted(edges, centre + 9.0 * sigma)) + 1, edges.size)
    if hi - lo < 2:
        return
    cdf = ndtr((edges[lo:hi] - centre) / sigma)
    flux[lo : hi - 1] += amount * np.diff(cdf) / np.diff(edges[lo:hi])


def gauss_profile(wave: np.ndarray, centre: float, sigma: float) -> tuple[slice, np.ndarray]:
    """Unit-area Gaussian sampled at centres, only where it matters: ``(slice, values)``."""
    lo = int(np.searchsorted(wave, centre - 7.0 * sigma))
    hi = int(np.searchsorted(wave, centre + 7.0 * sigma))
    x = (wave[lo:hi] - centre) / sigma
    return slice(lo, hi), np.exp(-0.5 * x * x) / (sigma * math.sqrt(2.0 * math.pi))


def voigtish_profile(
    wave: np.ndarray, centre: float, sigma: float, gamma: float, eta: float = 0.5
) -> tuple[slice, np.ndarray]:
    """Unit-area pseudo-Voigt: ``eta`` Lorentzian (HWHM ``gamma``) + Gaussian, cut at 40 HWHM."""
    half = max(7.0 * sigma, 40.0 * gamma)
    lo = int(np.searchsorted(wave, centre - half))
    hi = int(np.searchsorted(wave, centre + half))
    x = wave[lo:hi] - centre
    g = np.exp(-0.5 * (x / sigma) ** 2) / (sigma * math.sqrt(2.0 * math.pi))
    lor = (gamma / math.pi) / (x * x + gamma * gamma)
    return slice(lo, hi), (1.0 - eta) * g + eta * lor


def planck_lambda(wave: np.ndarray, teff: float) -> np.ndarray:
    """Pi * B_lambda(T): surface flux of a blackbody, erg/s/cm^2/A, at ``wave`` (A)."""
    x = (H_CGS * C_AA / K_CGS) / (wave * teff)  # h c / (lambda k T), lambda in A
    with np.errstate(over="ignore"):
        val = 2.0 * H_CGS * C_AA**2 / wave**5 / np.expm1(np.minimum(x, 700.0))
    # with lambda and c in Angstrom, 2 h c^2 / lambda^5 is in erg/s/A^3 = 1e16 erg/s/cm^2/A
    return math.pi * 1e16 * val


def smooth_loglam(flux: np.ndarray, dlog10: float, sigma_kms) -> np.ndarray:
    """Convolve each row of ``flux`` (K, M) with a Gaussian of ``sigma_kms`` (K,) km/s.

    The rows are sampled on a log10 grid of step ``dlog10``; FFT with edge
    padding (no wrap-around).
    """
    flux = np.atleast_2d(flux)
    sigma_kms = np.broadcast_to(np.asarray(sigma_kms, float), (flux.shape[0],))
    sig_pix = sigma_kms / (C_KMS * math.log(10.0) * dlog10)
    pad = int(math.ceil(6.0 * float(np.max(sig_pix)))) + 2
    m = flux.shape[1]
    nfft = 1 << int(math.ceil(math.log2(m + 2 * pad)))
    padded = np.empty((flux.shape[0], nfft))
    padded[:, pad : pad + m] = flux
    padded[:, :pad] = flux[:, :1]
    padded[:, pad + m :] = flux[:, -1:]
    freq = np.fft.rfftfreq(nfft)
    out = np.empty_like(flux)
    for k in range(flux.shape[0]):
        if sig_pix[k] <= 0.05:
            out[k] = flux[k]
            continue
        kernel = np.exp(-2.0 * (math.pi * sig_pix[k] * freq) ** 2)
        out[k] = np.fft.irfft(np.fft.rfft(padded[k]) * kernel, n=nfft)[pad : pad + m]
    return out
