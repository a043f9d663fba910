"""Emission and absorption lines: vacuum rest wavelengths and typical strengths.

The catalogue holds the lines a redshift refinement looks for in optical
galaxy and QSO spectra. Every wavelength is a VACUUM rest wavelength in
Angstrom (deepz works in vacuum throughout, as SDSS, BOSS and DESI do);
convert air wavelengths with :func:`air_to_vacuum`.

Sources
-------
Wavelengths
    The SDSS line list (vacuum), "Table of spectral lines used in SDSS",
    https://classic.sdss.org/dr6/algorithms/linestable.html , which follows
    the NIST Atomic Spectra Database; CIV 1549.06 and CIII] 1908.73 are the
    NIST doublet/multiplet centres used by Vanden Berk et al. (2001, AJ 122,
    549); MgII 2799.49 is the SDSS value for the unresolved 2796.35/2803.53
    doublet.
Strengths (``Line.strength``, line flux relative to H-alpha = 1)
    Balmer lines: case B recombination, T = 10^4 K, n_e = 100 cm^-3
    (Osterbrock & Ferland 2006, *Astrophysics of Gaseous Nebulae and AGN*,
    Table 4.4): Ha/Hb = 2.86, Hg/Hb = 0.468, Hd/Hb = 0.259, i.e. no dust.
    Forbidden lines: typical values of SDSS star-forming galaxies on the BPT
    star-forming sequence (Kauffmann et al. 2003, MNRAS 346, 1055; Brinchmann
    et al. 2004, MNRAS 351, 1151): [NII]6583/Ha = 0.30, [OIII]5007/Hb = 1.0,
    ([SII]6716 + [SII]6731)/Ha = 0.34 with 6716/6731 = 1.4, and
    ([OII]3726 + [OII]3729)/Hb = 2.0 with 3729/3726 = 1.4 (n_e ~ 100 cm^-3).
    The weak members of the [NII] and [OIII] doublets follow the atomic
    ratios 6583/6548 = 2.94 and 5007/4959 = 2.98 (Storey & Zeippen 2000,
    MNRAS 312, 813). Real galaxies scatter around these by factors of a few.
    Ly-alpha, CIV, CIII], MgII and the CaII H and K absorption lines are weak
    or absent in typical star-forming galaxies; their strengths are NOMINAL
    small values (Ly-alpha: the case-B 8.7 Ha times an escape fraction of
    ~5 %), good only to order a greedy search, not for physics.

Names are matched by :func:`get` without regard to case, spaces, ``_``,
``-`` and brackets, so ``"[OIII]5007"``, ``"OIII5007"`` and ``"oiii 5007"``
are the same line; a few common aliases (``"Ha"``, ``"Hb"``, ``"Lya"``,
``"MgII"``, ``"CaK"`` ...) are accepted too.

Examples
--------
>>> from deepz import lines
>>> lines.get("Halpha")[0].wave
6564.61
>>> [line.name for line in lines.YURCHUK_SKYRUTA][:3]
['Hbeta', '[OIII]4959', '[OIII]5007']
>>> round(float(lines.vacuum_to_air(6564.61)), 2)
6562.8

"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = [
    "BY_NAME",
    "CATALOGUE",
    "KINDS",
    "YURCHUK_SKYRUTA",
    "Line",
    "air_to_vacuum",
    "get",
    "vacuum_to_air",
]

KINDS = ("emission", "absorption")


@dataclass(frozen=True)
class Line:
    """One spectral line.

    Parameters
    ----------
    name : str
        Conventional label, e.g. ``"Halpha"``, ``"[OIII]5007"`` (the number is
        the customary, usually air, label; the wavelength is ``wave``).
    wave : float
        Vacuum rest wavelength in Angstrom, > 0.
    kind : {"emission", "absorption"}
        Whether the line is a flux excess or a deficit.
    strength : float
        Typical line flux relative to H-alpha = 1 in a star-forming galaxy
        (see the module docstring for the sources); > 0. The line search uses
        it to order its greedy search and to weigh the quality score.
    broad_qso : bool
        True for lines that are broad (thousands of km/s) in QSO spectra.

    """

    name: str
    wave: float
    kind: str = "emission"
    strength: float = 1.0
    broad_qso: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Line name must be a non-empty string, got {self.name!r}")
        wave = float(self.wave)
        if not (math.isfinite(wave) and wave > 0):
            raise ValueError(
                f"Line {self.name!r}: wave must be finite and > 0 Angstrom, got {wave}"
            )
        if self.kind not in KINDS:
            raise ValueError(f"Line {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        strength = float(self.strength)
        if not (math.isfinite(strength) and strength > 0):
            raise ValueError(f"Line {self.name!r}: strength must be finite and > 0, got {strength}")
        object.__setattr__(self, "wave", wave)
        object.__setattr__(self, "strength", strength)
        object.__setattr__(self, "broad_qso", bool(self.broad_qso))

    @property
    def sign(self) -> float:
        """+1 for an emission line, -1 for an absorption line."""
        return 1.0 if self.kind == "emission" else -1.0

    @property
    def air_wave(self) -> float:
        """The rest wavelength in air (Angstrom), by :func:`vacuum_to_air`."""
        return float(vacuum_to_air(self.wave))


# Case-B Balmer ratios relative to H-alpha (Osterbrock & Ferland 2006).
_HB = 1.0 / 2.86

#: Every line, in increasing wavelength.
CATALOGUE: tuple[Line, ...] = (
    Line("Lyalpha", 1215.67, "emission", 0.4, True),
    Line("CIV1549", 1549.06, "emission", 0.02, True),
    Line("CIII]1909", 1908.73, "emission", 0.03, True),
    Line("MgII2799", 2799.49, "emission", 0.02, True),
    Line("[OII]3726", 3727.09, "emission", round(2.0 * _HB / 2.4, 3), False),
    Line("[OII]3729", 3729.88, "emission", round(2.0 * _HB * 1.4 / 2.4, 3), False),
    Line("CaII_K", 3934.78, "absorption", 0.05, False),
    Line("CaII_H", 3969.59, "absorption", 0.04, False),
    Line("Hdelta", 4102.89, "emission", round(0.259 * _HB, 3), True),
    Line("Hgamma", 4341.68, "emission", round(0.468 * _HB, 3), True),
    Line("Hbeta", 4862.68, "emission", round(_HB, 3), True),
    Line("[OIII]4959", 4960.30, "emission", round(_HB / 2.98, 3), False),
    Line("[OIII]5007", 5008.24, "emission", round(_HB, 3), False),
    Line("[NII]6548", 6549.86, "emission", round(0.30 / 2.94, 3), False),
    Line("Halpha", 6564.61, "emission", 1.0, True),
    Line("[NII]6583", 6585.27, "emission", 0.30, False),
    Line("[SII]6716", 6718.29, "emission", round(0.34 * 1.4 / 2.4, 3), False),
    Line("[SII]6731", 6732.67, "emission", round(0.34 / 2.4, 3), False),
)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-\[\]]", "", name).lower()


#: Lines by their exact name (read-only).
BY_NAME: Mapping[str, Line] = MappingProxyType({line.name: line for line in CATALOGUE})

_ALIASES = {
    "ha": "Halpha",
    "hb": "Hbeta",
    "hg": "Hgamma",
    "hd": "Hdelta",
    "lya": "Lyalpha",
    "lyman alpha": "Lyalpha",
    "civ": "CIV1549",
    "ciii": "CIII]1909",
    "mgii": "MgII2799",
    "cak": "CaII_K",
    "cah": "CaII_H",
}
_LOOKUP = {_key(line.name): line for line in CATALOGUE}
_LOOKUP.update({_key(alias): BY_NAME[name] for alias, name in _ALIASES.items()})


def get(names: str | Line | Iterable[str | Line]) -> tuple[Line, ...]:
    """Return the catalogue lines of the given names, in the given order.

    Parameters
    ----------
    names : str, Line, or iterable of them
        Line names (matched without regard to case, spaces, ``_``, ``-`` and
        brackets, aliases accepted); a :class:`Line` passes through as is.

    Returns
    -------
    tuple of Line

    Raises
    ------
    ValueError
        If a name is not in the catalogue (the message names it and lists the
        known names).
    TypeError
        If an item is neither a string nor a :class:`Line`.

    """
    if isinstance(names, (str, Line)):
        names = (names,)
    out = []
    for item in names:
        if isinstance(item, Line):
            out.append(item)
        elif isinstance(item, str):
            line = _LOOKUP.get(_key(item))
            if line is None:
                known = ", ".join(line.name for line in CATALOGUE)
                raise ValueError(f"unknown line {item!r}; known lines: {known}")
            out.append(line)
        else:
            raise TypeError(f"a line must be a name (str) or a Line, got {item!r}")
    return tuple(out)


#: The eight lines of Yurchuk & Skyruta's emission-line correction, by wavelength.
YURCHUK_SKYRUTA: tuple[Line, ...] = get(
    (
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

# -- air <-> vacuum ---------------------------------------------------------------

#: Below this wavelength (Angstrom) air and vacuum wavelengths are the same by
#: convention (lines in the UV are always quoted in vacuum).
AIR_VACUUM_LIMIT = 2000.0


def _refractive_index(vacuum) -> np.ndarray:
    # Morton (2000, ApJS 130, 403), eq. 8, from Ciddor (1996): dry air at
    # 15 C, 101 325 Pa, 450 ppm CO2; s is the vacuum wavenumber in 1/micron.
    s2 = (1.0e4 / vacuum) ** 2
    return 1.0 + 8.34254e-5 + 2.406147e-2 / (130.0 - s2) + 1.5998e-4 / (38.9 - s2)


def _wavelengths(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0 Angstrom")
    return arr


def vacuum_to_air(wave):
    """Convert vacuum wavelengths (Angstrom) to air.

    Uses the refractive index of Morton (2000, eq. 8; from Ciddor 1996), as
    the SDSS idlutils ``vactoair`` and astropy's specutils do:
    ``air = vacuum / n(vacuum)``. Wavelengths below 2000 A are returned
    unchanged (UV lines are always quoted in vacuum).

    Parameters
    ----------
    wave : float or array_like
        Vacuum wavelengths in Angstrom, > 0.

    Returns
    -------
    float or numpy.ndarray
        Air wavelengths, float64, the shape of ``wave`` (a float for a scalar).

    Raises
    ------
    ValueError
        If a wavelength is not finite or not > 0.

    """
    vac = _wavelengths("wave", wave)
    air = np.where(vac >= AIR_VACUUM_LIMIT, vac / _refractive_index(vac), vac)
    return float(air) if air.ndim == 0 else air


def air_to_vacuum(wave):
    """Convert air wavelengths (Angstrom) to vacuum.

    The exact inverse of :func:`vacuum_to_air` (Morton 2000 / Ciddor 1996):
    ``vacuum = air * n(vacuum)`` solved by fixed-point iteration, which
    converges by a factor ~1e-4 per step; four steps leave an error far below
    1e-9 A, so ``vacuum_to_air(air_to_vacuum(x)) == x`` to rounding. Where
    the vacuum wavelength would fall below 2000 A the input is returned
    unchanged (UV lines are quoted in vacuum); as :func:`vacuum_to_air` maps
    vacuum 2000 A to air 1999.35 A, air wavelengths in [1999.35, 2000) are
    read as converted ones.

    Parameters
    ----------
    wave : float or array_like
        Air wavelengths in Angstrom, > 0.

    Returns
    -------
    float or numpy.ndarray
        Vacuum wavelengths, float64, the shape of ``wave``.

    Raises
    ------
    ValueError
        If a wavelength is not finite or not > 0.

    Examples
    --------
    >>> round(float(air_to_vacuum(6562.80)), 2)
    6564.61

    """
    air = _wavelengths("wave", wave)
    vac = air.copy()
    for _ in range(4):
        vac = air * _refractive_index(vac)
    vac = np.where(vac >= AIR_VACUUM_LIMIT, vac, air)
    return float(vac) if vac.ndim == 0 else vac
