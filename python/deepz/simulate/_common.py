"""Shared machinery of the observers: libraries, distances, LSFs, labels, normalisation.

Private to :mod:`deepz.simulate`; the package docstring documents the conventions.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
from typing import Any

import numpy as np

from .. import kernels
from .._validate import check_seed
from ._seeding import check_offset

log = logging.getLogger("deepz.simulate")

#: Flux unit of every simulated spectrum: 1e-17 erg / s / cm^2 / A (the SDSS/DESI convention).
FLUX_UNIT = "1e-17 erg / (s cm2 Angstrom)"
#: Multiply erg/s/cm^2/A by this to get :data:`FLUX_UNIT`.
TO_FLUX_UNIT = 1e17
#: Speed of light in km/s.
C_KMS = 299792.458
#: FWHM / sigma of a Gaussian.
FWHM_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
#: Step (log10) of the fine grid on which libraries are smoothed (20.7 km/s).
FINE_DLOG10 = 3e-5
#: The ``norm`` settings every spectroscopic observer understands.
NORMS = ("none", "xmax", "max", "l2")
CLASSES = ("GALAXY", "STAR", "QSO")


# -- argument checks --------------------------------------------------------------------


def check_n(n) -> int:
    """``n`` as an int >= 1 (ValueError / TypeError naming ``n``)."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int >= 1 (the number of samples), got {n!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1 (the number of samples), got {n}")
    return int(n)


def check_call(n, seed, offset) -> tuple[int, int, int]:
    n = check_n(n)
    return n, check_seed(seed), check_offset(offset, n)


def check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def positive(name: str, value, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    ok = v >= 0 if allow_zero else v > 0
    if not (math.isfinite(v) and ok):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_norm(norm) -> str:
    if not isinstance(norm, str) or norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return norm


# -- cosmology --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _distance_table() -> tuple[np.ndarray, np.ndarray]:
    """Z grid (step 1e-4 to z = 12) and d_L in pc for Planck18 (trapezoid on 1/E(z))."""
    from astropy import units as u
    from astropy.cosmology import Planck18

    z = np.linspace(0.0, 12.0, 120_001)
    inv_e = Planck18.inv_efunc(z)
    dc = np.concatenate(([0.0], np.cumsum(0.5 * (inv_e[1:] + inv_e[:-1]) * np.diff(z))))
    dh_pc = (Planck18.hubble_distance).to_value(u.pc)
    if Planck18.Ok0 != 0:  # pragma: no cover - Planck18 is flat
        raise RuntimeError("the distance table assumes a flat cosmology")
    return z, (1.0 + z) * dh_pc * dc


def luminosity_distance_pc(z) -> np.ndarray:
    """Planck18 luminosity distance in parsec for 0 < z <= 12.

    Interpolated (linearly) in a table of step 1e-4 in z built once from the
    trapezoidal integral of astropy's ``Planck18.inv_efunc``: within 1e-7 of
    ``Planck18.luminosity_distance`` (tested), and 1000 times faster for
    batches of thousands of redshifts.
    """
    zz = np.asarray(z, dtype=np.float64)
    if np.any(~np.isfinite(zz)) or np.any(zz <= 0) or np.any(zz > 12):
        raise ValueError("z must be within (0, 12] for the luminosity distance")
    zt, dl = _distance_table()
    return np.interp(zz, zt, dl)


def distance_scale(z) -> np.ndarray:
    """Return ``(10 pc / d_L(z))**2``, which takes a template at 10 pc to redshift z."""
    return (10.0 / luminosity_distance_pc(z)) ** 2


# -- template libraries -----------------------------------------------------------------


def loglam_grid(lo: float, hi: float, dlog10: float) -> np.ndarray:
    """Centres ``10**(log10(lo) + k dlog10)`` from ``lo`` to the first one >= ``hi``."""
    a = math.log10(lo)
    n = int(math.ceil((math.log10(hi) - a) / dlog10 - 1e-9)) + 1
    return 10.0 ** (a + dlog10 * np.arange(n, dtype=np.float64))


def edges(wave: np.ndarray) -> np.ndarray:
    """Bin edges half-way between centres; outer edges mirror the first/last half widths."""
    mid = 0.5 * (wave[1:] + wave[:-1])
    return np.concatenate(([2 * wave[0] - mid[0]], mid, [2 * wave[-1] - mid[-1]]))


def rebin(wave: np.ndarray, flux: np.ndarray, new_wave: np.ndarray) -> np.ndarray:
    """Flux-conserving rebinning of rows of ``flux`` with :func:`deepz.redshift` at z = 0."""
    k = flux.shape[0]
    return kernels.redshift(flux, wave, np.arange(k), np.zeros(k), new_wave, scale="none")


@dataclasses.dataclass(frozen=True)
class LibrarySpec:
    """Which built-in library an observer draws from (hashable: a cache key).

    Galaxies (:func:`deepz.templates.galaxies`, seed ``seed``, population at
    ``z_ref``), stars (seed + 1) and QSOs (seed + 2), concatenated in that
    order, on the templates' default grid (``wave_min`` None: 900-25000 A,
    log step 3e-5) or on the same log step from ``wave_min`` to 25000 A.
    """

    n_galaxies: int = 0
    n_stars: int = 0
    n_qsos: int = 0
    seed: int = 0
    z_ref: float = 0.0
    wave_min: float | None = None

    @property
    def wave_range(self) -> tuple[float, float]:
        return (900.0 if self.wave_min is None else float(self.wave_min)), 25_000.0

    def build(self):
        from .. import templates as tp

        wave = None if self.wave_min is None else loglam_grid(self.wave_min, 25_000.0, FINE_DLOG10)
        parts = []
        if self.n_galaxies:
            parts.append(tp.galaxies(self.n_galaxies, self.seed, wave, z_ref=self.z_ref))
        if self.n_stars:
            parts.append(tp.stars(self.n_stars, self.seed + 1, wave))
        if self.n_qsos:
            parts.append(tp.qsos(self.n_qsos, self.seed + 2, wave))
        if not parts:
            raise ValueError(
                "the library must hold at least one template (n_galaxies, n_stars, n_qsos all 0)"
            )
        lib = parts[0] if len(parts) == 1 else tp.concatenate(parts, name="default")
        log.info("built template library %r", lib)
        return lib


_LIBRARIES: dict[Any, Any] = {}
_PREPARED: dict[Any, Any] = {}
_CACHE_SIZE = 6


def _cached(cache: dict, key, make):
    try:
        return cache[key]
    except KeyError:
        pass
    value = make()
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value


def library_for(spec: LibrarySpec, library=None):
    """Return the user's library if given, else the built-in one of ``spec`` (cached)."""
    if library is not None:
        return library
    return _cached(_LIBRARIES, spec, spec.build)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A library ready to redshift: float32 (K, M) on ``rest_wave``, 1e-17 erg/s/cm^2/A at 10 pc."""

    rest_wave: np.ndarray
    flux: np.ndarray
    cls: np.ndarray  # (K,) index into CLASSES
    sub: np.ndarray  # (K,) index into subclass_names
    subclass_names: tuple[str, ...]
    physical: bool  # unit erg/s/cm^2/A at a reference distance (so distances apply)
    ref_distance_pc: float


def _smooth(flux: np.ndarray, sigma_pix: float) -> np.ndarray:
    """Gaussian smoothing of rows (sigma in pixels) by FFT, edges extended by their end values."""
    if sigma_pix < 0.05:
        return flux
    k, m = flux.shape
    pad = int(math.ceil(6.0 * sigma_pix)) + 2
    nfft = 1 << int(math.ceil(math.log2(m + 2 * pad)))
    transfer = np.exp(-2.0 * (math.pi * sigma_pix * np.fft.rfftfreq(nfft)) ** 2)
    out = np.empty((k, m))
    for a in range(0, k, 32):
        rows = flux[a : a + 32]
        padded = np.empty((rows.shape[0], nfft))
        padded[:, pad : pad + m] = rows
        padded[:, :pad] = rows[:, :1]
        padded[:, pad + m :] = rows[:, -1:]
        out[a : a + 32] = np.fft.irfft(np.fft.rfft(padded, axis=1) * transfer, n=nfft, axis=1)[
            :, pad : pad + m
        ]
    return out


def prepare(lib, rest_wave: np.ndarray | None, resolution: float | None, key) -> Prepared:
    """Smooth a library to constant resolving power R in velocity and rebin it to ``rest_wave``.

    A Gaussian line-spread function of constant R = lambda / FWHM is the same
    in the rest frame as in the observed frame (R does not change with
    redshift), so it is applied ONCE to the library: the library is rebinned to
    a log-lambda grid of step 3e-5 (20.7 km/s) unless it already is one,
    convolved with a Gaussian of sigma = c / (R 2.3548) in velocity (constant
    in pixels there), then rebinned (flux-conserving) onto ``rest_wave``
    (``None``: keep the fine grid). Results are cached by ``key``.
    """

    def make():
        wave = np.asarray(lib.wave, dtype=np.float64)
        flux = np.asarray(lib.flux, dtype=np.float64)
        if np.any(np.isnan(flux)):
            raise ValueError(
                "library: templates with NaN pixels cannot be observed; "
                "select or resample the library first"
            )
        if resolution is not None:
            step = lib.dloglam
            if step is None or abs(step - FINE_DLOG10) > 1e-3 * FINE_DLOG10:
                fine = loglam_grid(wave[0] * 1.0001, wave[-1] / 1.0001, FINE_DLOG10)
                flux = rebin(wave, flux, fine)
                wave, step = fine, FINE_DLOG10
            sigma_kms = C_KMS / (resolution * FWHM_SIGMA)
            flux = _smooth(flux, sigma_kms / (C_KMS * math.log(10.0) * step))
        if rest_wave is not None:
            e_lib, e_new = edges(wave), edges(rest_wave)
            if e_new[0] < e_lib[0] or e_new[-1] > e_lib[-1]:
                raise ValueError(
                    f"library: its grid ({wave[0]:.1f}-{wave[-1]:.1f} A) does not cover the "
                    f"rest-frame "
                    f"grid the observer needs ({rest_wave[0]:.1f}-{rest_wave[-1]:.1f} A)"
                )
            flux = rebin(wave, flux, rest_wave)
            wave = rest_wave
        unit = getattr(lib, "unit", None)
        physical = (
            lib.ref_distance_pc is not None
            and unit is not None
            and unit.physical_type != "dimensionless"
        )
        scale = TO_FLUX_UNIT if physical else 1.0
        if physical:
            from astropy import units as u

            scale *= lib.unit.to(u.erg / u.s / u.cm**2 / u.AA)
        meta = lib.meta
        cls_names = np.asarray(meta["class"]).astype(str)
        sub_full = np.char.add(
            np.char.add(cls_names, ":"), np.asarray(meta["subclass"]).astype(str)
        )
        names = tuple(sorted(set(sub_full.tolist())))
        return Prepared(
            rest_wave=np.ascontiguousarray(wave),
            flux=np.ascontiguousarray(flux * scale, dtype=np.float32),
            cls=np.array([CLASSES.index(c) for c in cls_names], dtype=np.int64),
            sub=np.array([names.index(s) for s in sub_full], dtype=np.int64),
            subclass_names=names,
            physical=physical,
            ref_distance_pc=float(lib.ref_distance_pc or 10.0),
        )

    return _cached(_PREPARED, key, make)


def lsf_kernel(sigma_pix: float) -> np.ndarray:
    """Return normalised, pixel-integrated Gaussian taps of sigma ``sigma_pix`` pixels."""
    from scipy.special import erf

    half = max(1, int(math.ceil(5.0 * sigma_pix)))
    e = np.arange(-half, half + 2) - 0.5
    cdf = 0.5 * (1.0 + erf(e / (math.sqrt(2.0) * sigma_pix)))
    k = np.diff(cdf)
    return k / k.sum()


def convolve_rows(flux: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Convolve every row with ``taps`` (edges: nearest), in the dtype of ``flux``."""
    from scipy.ndimage import convolve1d

    return convolve1d(flux, taps.astype(flux.dtype), axis=1, mode="nearest")


# -- normalisation ----------------------------------------------------------------------


def normalise(flux: np.ndarray, ivar: np.ndarray, norm: str, xmax: float | None) -> np.ndarray:
    """Divide rows of ``flux`` in place by their norm (and scale ``ivar``); return the factors.

    Masked pixels must already hold flux 0 (the observers make them so), so
    they take no part in the max or the L2 norm. Row norms are summed
    pairwise in the flux dtype (relative error ~1e-7 in float32).
    """
    n = flux.shape[0]
    if norm == "none":
        return np.ones(n)
    if norm == "xmax":
        factor = np.full(n, 2.0 * float(xmax))
    else:
        if norm == "max":
            factor = np.abs(flux).max(axis=1).astype(np.float64)
        else:  # l2
            factor = np.sqrt(np.einsum("ij,ij->i", flux, flux).astype(np.float64))
        factor = np.where(factor > 0, factor, 1.0)
    inv = (1.0 / factor)[:, None].astype(flux.dtype)
    flux *= inv
    ivar *= (factor * factor)[:, None].astype(ivar.dtype)
    return factor


# -- configs ----------------------------------------------------------------------------


def to_jsonable(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "library"
        }
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


class ObserverMixin:
    """Config serialisation shared by every observer dataclass."""

    kind: str = ""

    def config(self) -> dict[str, Any]:
        """Return the configuration as a JSON-able dict (``kind`` + fields; a library by name)."""
        d = {"kind": self.kind, **to_jsonable(self)}
        lib = getattr(self, "library", None)
        if lib is not None:
            d["library"] = {"name": lib.name, "K": len(lib), "user": True}
        return d

    def to_json(self) -> str:
        """:meth:`config` as a JSON string."""
        return json.dumps(self.config(), sort_keys=True)


def class_labels(prep: Prepared, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return prep.cls[index], prep.sub[index]


def eligible(targets, prep: Prepared, field_name: str = "targets"):
    """Concatenated eligible template indices and (start, count) per target/population."""
    names = np.array(prep.subclass_names)
    pieces, starts, counts = [], [], []
    at = 0
    for i, t in enumerate(targets):
        ok = prep.cls == CLASSES.index(t.cls)
        if t.subclasses:
            allowed = {f"{t.cls}:{s}" for s in t.subclasses}
            unknown = allowed - set(names.tolist())
            if unknown:
                raise ValueError(
                    f"{field_name}[{i}].subclasses: {sorted(unknown)} not in the library "
                    f"(it has {sorted(set(names.tolist()))})"
                )
            ok &= np.isin(names[prep.sub], sorted(allowed))
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            raise ValueError(f"{field_name}[{i}] ({t.name!r}): the library has no {t.cls} template")
        pieces.append(idx)
        starts.append(at)
        counts.append(idx.size)
        at += idx.size
    return np.concatenate(pieces), np.array(starts), np.array(counts)


def library_range(spec: LibrarySpec, library) -> tuple[float, float]:
    """Rest wavelengths (A) the library covers."""
    if library is not None:
        return float(library.wave[0]), float(library.wave[-1])
    return spec.wave_range
