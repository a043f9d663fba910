"""The :class:`TemplateLibrary` container: K rest-frame spectra on one grid, with metadata."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.table import MaskedColumn, Table, vstack

from . import _common as cm

__all__ = ["FLAM", "TemplateLibrary", "concatenate", "d4000", "distance_scale"]

log = logging.getLogger(__name__)

#: The physical unit of the built-in libraries: erg / (s cm^2 Angstrom), at 10 pc.
FLAM = u.erg / u.s / u.cm**2 / u.AA

#: The object classes a library may hold (the ``class`` column).
CLASSES = ("GALAXY", "STAR", "QSO")


def _as_unit(unit) -> u.UnitBase:
    if unit is None:
        return u.dimensionless_unscaled
    try:
        return u.Unit(unit)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"unit must be an astropy unit or a unit string, got {unit!r}: {err}"
        ) from None


def _frozen_copy(arr) -> np.ndarray:
    """Return a read-only C-contiguous float64 array: ``arr`` if it is one, else a copy."""
    a = np.asarray(arr)
    if a.dtype == np.float64 and a.flags.c_contiguous and not a.flags.writeable:
        return a
    a = np.array(a, dtype=np.float64, order="C", copy=True)
    a.flags.writeable = False
    return a


def d4000(wave, flux) -> np.ndarray:
    """Narrow 4000 A break: mean f_nu over 4000-4100 A over that over 3850-3950 A.

    The definition of Balogh et al. (1999, ApJ 527, 54). Means are
    bin-width-weighted sums of ``f_lambda * lambda**2`` (f_nu up to a constant)
    over the pixels whose centres fall in each window.

    Parameters
    ----------
    wave : array_like, shape (M,)
        Rest-frame wavelengths (A) covering 3850-4100 A.
    flux : array_like, shape (M,) or (K, M)
        f_lambda.

    Returns
    -------
    numpy.ndarray
        Shape (K,) (a 0-d array for 1-D ``flux``).

    Raises
    ------
    ValueError
        If ``wave`` does not cover both windows.

    """
    w = np.asarray(wave, dtype=np.float64)
    f = np.asarray(flux, dtype=np.float64)
    widths = np.diff(cm.edges_from_centres(w))
    blue = (w >= 3850.0) & (w <= 3950.0)
    red = (w >= 4000.0) & (w <= 4100.0)
    if blue.sum() < 2 or red.sum() < 2:
        raise ValueError("wave must cover 3850-3950 A and 4000-4100 A to measure D4000")
    fnu = f * w**2
    b = (fnu[..., blue] * widths[blue]).sum(-1) / widths[blue].sum()
    r = (fnu[..., red] * widths[red]).sum(-1) / widths[red].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return r / b


@dataclass(frozen=True, eq=False, repr=False)
class TemplateLibrary:
    """K rest-frame spectra on one wavelength grid, with per-template metadata.

    Templates are always in the REST frame; redshifting them is the job of
    :func:`deepz.kernels.redshift`. Instances are immutable in spirit: the
    arrays are made read-only, and every method returns a new library.

    Parameters
    ----------
    wave : array_like, shape (M,)
        Pixel centres, rest-frame VACUUM wavelengths in Angstrom, strictly
        increasing, finite, > 0, M >= 2 (bin edges half-way between centres).
    flux : array_like, shape (K, M)
        f_lambda per template (stored as C-contiguous float64). NaN marks a
        pixel a template does not cover (e.g. after :meth:`resample` beyond
        its range); infinities are refused.
    meta : astropy.table.Table or structured array or dict of columns, optional
        K rows; must have (or gets) the string columns ``class`` (``"GALAXY"``,
        ``"STAR"`` or ``"QSO"``) and ``subclass``; any further columns are
        parameters (age, metallicity, E(B-V), line luminosities ...). ``None``
        gives ``class="GALAXY"`` and ``subclass=""`` for every row.
    unit : astropy unit or str, optional
        Unit of ``flux``; the built-in libraries use
        ``erg / (s cm2 Angstrom)`` (:data:`FLAM`). ``None`` = dimensionless
        (arbitrary normalisation, e.g. PCA basis vectors).
    ref_distance_pc : float or None, optional
        The distance at which ``flux`` is the observed f_lambda: 10 for the
        physical libraries (so ``flux * 4 pi (10 pc)^2`` is L_lambda in erg/s/A);
        ``None`` when the normalisation is arbitrary.
    name : str, optional
        A label shown by ``repr``.

    Raises
    ------
    ValueError
        On a bad grid, a flux shape that does not match it, infinite flux,
        metadata of the wrong length or an unknown ``class`` value (messages
        name the argument).
    TypeError
        If ``flux`` is not real numbers.

    Examples
    --------
    >>> import numpy as np
    >>> lib = TemplateLibrary(np.linspace(3000.0, 9000.0, 601), np.ones((2, 601)))
    >>> len(lib), lib.flux.shape
    (2, (2, 601))

    """

    wave: np.ndarray
    flux: np.ndarray
    meta: Table = None  # type: ignore[assignment]
    unit: u.UnitBase = None  # type: ignore[assignment]
    ref_distance_pc: float | None = None
    name: str = ""

    def __post_init__(self) -> None:
        wave = _frozen_copy(cm.check_wave("wave", self.wave, valid=None))
        if wave[0] <= 0:
            raise ValueError(f"wave must be > 0 Angstrom, got wave[0]={wave[0]}")
        flux = np.asarray(self.flux)
        if flux.dtype.kind not in "fiu":
            raise TypeError(f"flux must hold real numbers, got dtype {flux.dtype}")
        flux = _frozen_copy(flux)
        if flux.ndim == 1:
            flux = flux[None, :]
        if flux.ndim != 2 or flux.shape[1] != wave.size:
            raise ValueError(
                f"flux must have shape (K, {wave.size}) to match wave, got {flux.shape}"
            )
        if np.any(np.isinf(flux)):
            raise ValueError("flux must not hold infinities (NaN marks uncovered pixels)")
        meta = self._check_meta(self.meta, flux.shape[0])
        dist = self.ref_distance_pc
        if dist is not None:
            dist = float(dist)
            if not (np.isfinite(dist) and dist > 0):
                raise ValueError(
                    f"ref_distance_pc must be > 0 or None, got {self.ref_distance_pc!r}"
                )
        object.__setattr__(self, "wave", wave)
        object.__setattr__(self, "flux", flux)
        object.__setattr__(self, "meta", meta)
        object.__setattr__(self, "unit", _as_unit(self.unit))
        object.__setattr__(self, "ref_distance_pc", dist)
        object.__setattr__(self, "name", str(self.name))

    @staticmethod
    def _check_meta(meta, k: int) -> Table:
        if meta is None:
            meta = Table()
        elif not isinstance(meta, Table):
            try:
                meta = Table(meta)
            except (TypeError, ValueError) as err:
                raise ValueError(f"meta must be a Table, structured array or dict: {err}") from None
        else:
            meta = meta.copy(copy_data=True)
        if len(meta.colnames) and len(meta) != k:
            raise ValueError(
                f"meta must have one row per template: {k} templates, {len(meta)} rows"
            )
        if "class" not in meta.colnames:
            meta["class"] = np.full(k, "GALAXY")
        if "subclass" not in meta.colnames:
            meta["subclass"] = np.full(k, "", dtype="U1")
        cls = np.asarray(meta["class"]).astype(str)
        bad = sorted(set(cls) - set(CLASSES))
        if bad:
            raise ValueError(f"meta['class'] must be one of {CLASSES}, got {bad}")
        meta["class"] = cls
        meta["subclass"] = np.asarray(meta["subclass"]).astype(str)
        return meta

    # -- basics ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.flux.shape[0]

    @property
    def n_pixels(self) -> int:
        """Number of pixels M."""
        return self.wave.size

    @property
    def dloglam(self) -> float | None:
        """The constant log10 step of the grid, or None if it is not log-linear."""
        d = np.diff(np.log10(self.wave))
        step = float(d.mean())
        return step if np.allclose(d, step, rtol=1e-6, atol=1e-12) else None

    @property
    def classes(self) -> dict[str, int]:
        """Counts per ``class``."""
        names, counts = np.unique(np.asarray(self.meta["class"]), return_counts=True)
        return {str(a): int(b) for a, b in zip(names, counts, strict=True)}

    def __repr__(self) -> str:
        grid = f"{self.wave[0]:.1f}-{self.wave[-1]:.1f} A"
        step = self.dloglam
        if step is not None:
            grid += f", log-lambda {step:.3g} ({cm.C_KMS * np.log(10.0) * step:.1f} km/s)"
        unit = self.unit.to_string() or "arbitrary"
        if self.ref_distance_pc is not None:
            unit += f" at {self.ref_distance_pc:g} pc"
        parts = []
        for cls, count in self.classes.items():
            sub = np.asarray(self.meta["subclass"])[np.asarray(self.meta["class"]) == cls]
            names, counts = np.unique(sub, return_counts=True)
            inner = ", ".join(f"{n or '-'} {c}" for n, c in zip(names, counts, strict=True))
            parts.append(f"{cls} {count} ({inner})")
        label = f"{self.name!r}, " if self.name else ""
        return (
            f"TemplateLibrary({label}K={len(self)} x M={self.n_pixels}, {grid}; "
            f"unit {unit}; {'; '.join(parts) or 'empty'})"
        )

    def _replace(self, **changes) -> TemplateLibrary:
        kwargs = {
            "wave": self.wave,
            "flux": self.flux,
            "meta": self.meta,
            "unit": self.unit,
            "ref_distance_pc": self.ref_distance_pc,
            "name": self.name,
        }
        kwargs.update(changes)
        return TemplateLibrary(**kwargs)

    # -- selection ------------------------------------------------------------------------
    def select(self, which) -> TemplateLibrary:
        """Return the templates picked by a boolean mask, integer indices or a slice.

        Parameters
        ----------
        which : array_like of bool (K,), array_like of int, int, or slice
            A mask with one entry per template, or indices (negative allowed,
            repeats allowed, order kept).

        Returns
        -------
        TemplateLibrary

        Raises
        ------
        ValueError
            A mask of the wrong length, or an index out of range.
        TypeError
            Anything else (floats, strings).

        Examples
        --------
        >>> import numpy as np
        >>> lib = TemplateLibrary(np.linspace(3000.0, 9000.0, 11), np.arange(33.0).reshape(3, 11))
        >>> len(lib.select([True, False, True])), len(lib.select([0, 0, 2, -1]))
        (2, 4)

        """
        k = len(self)
        if isinstance(which, slice):
            idx = np.arange(k)[which]
        else:
            arr = np.asarray(getattr(which, "data", which) if hasattr(which, "mask") else which)
            if arr.dtype == bool:
                if arr.shape != (k,):
                    raise ValueError(f"which: a boolean mask needs shape ({k},), got {arr.shape}")
                idx = np.flatnonzero(arr)
            elif arr.dtype.kind in "iu":
                idx = np.atleast_1d(arr).astype(np.int64)
                if idx.ndim != 1:
                    raise ValueError(f"which: indices must be 1-D, got shape {idx.shape}")
                if np.any((idx < -k) | (idx >= k)):
                    raise ValueError(f"which: index out of range for {k} templates: {idx}")
                idx = np.where(idx < 0, idx + k, idx)
            else:
                raise TypeError(
                    f"which must be a boolean mask, integer indices or a slice, got {which!r}"
                )
        return self._replace(flux=self.flux[idx], meta=self.meta[idx])

    def concatenate(self, *others: TemplateLibrary) -> TemplateLibrary:
        """Append other libraries (same grid; see :func:`concatenate`)."""
        return concatenate([self, *others])

    # -- transforms -----------------------------------------------------------------------
    def resample(self, new_wave, method: str = "flux", fill: float = np.nan) -> TemplateLibrary:
        """Return the library on another rest-frame grid, by :func:`deepz.kernels.resample`.

        Parameters
        ----------
        new_wave : array_like, shape (P,)
            New pixel centres (A), strictly increasing.
        method : {"flux", "linear"}
            ``"flux"``: flux-conserving rebinning (bin means); ``"linear"``:
            interpolation at the new centres.
        fill : float
            Value of output pixels not covered by the library (default NaN:
            they are then masked by every kernel).

        Returns
        -------
        TemplateLibrary
            Same metadata, unit and distance; float64 flux.

        Raises
        ------
        ValueError
            From the kernel: a bad grid or method (the message names it).
        NotImplementedError
            While :func:`deepz.kernels.resample` is not built yet.

        """
        from .. import kernels

        new = cm.check_wave("new_wave", new_wave, valid=None)
        out = kernels.resample(self.wave, self.flux, new, method=method, fill=fill)
        return self._replace(wave=new, flux=np.asarray(out, dtype=np.float64))

    def normalise(self, at=5500.0, width: float = 100.0, value: float = 1.0) -> TemplateLibrary:
        """Scale each template so that its mean f_lambda in a window equals ``value``.

        Parameters
        ----------
        at : float, or (lo, hi), or (wave, throughput) pair of arrays
            A wavelength (A): the window is ``at +- width/2``; a pair of floats:
            the window ``lo..hi``; a pair of arrays: a band (filter curve,
            rest frame) over which the photon-weighted mean
            ``sum(f T lambda dl) / sum(T lambda dl)`` is taken, the throughput
            interpolated onto the library grid.
        width : float
            Window width (A) when ``at`` is a single wavelength.
        value : float
            The target mean, > 0.

        Returns
        -------
        TemplateLibrary
            Dimensionless flux (``unit`` = dimensionless, ``ref_distance_pc``
            None); the factor divided out is stored in ``meta["norm"]`` (in the
            old unit; a previous ``norm`` column is multiplied through).

        Raises
        ------
        ValueError
            If the window holds no pixel, lies outside the grid, or a
            template's mean there is not > 0 (the message lists which), or
            ``width`` / ``value`` are not > 0.

        """
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"value must be > 0, got {value!r}")
        w = self.wave
        widths = np.diff(cm.edges_from_centres(w))
        if np.ndim(at) == 0:
            if not (np.isfinite(width) and width > 0):
                raise ValueError(f"width must be > 0 Angstrom, got {width!r}")
            lo, hi = float(at) - 0.5 * width, float(at) + 0.5 * width
            weight = ((w >= lo) & (w <= hi)) * widths
            label = f"{lo:g}-{hi:g} A"
        else:
            pair = list(at)
            if len(pair) != 2:
                raise ValueError(
                    f"at must be a wavelength, (lo, hi) or (wave, throughput), got {at!r}"
                )
            if np.ndim(pair[0]) == 0:
                lo, hi = float(pair[0]), float(pair[1])
                if not hi > lo:
                    raise ValueError(f"at: the window needs lo < hi, got {at!r}")
                weight = ((w >= lo) & (w <= hi)) * widths
                label = f"{lo:g}-{hi:g} A"
            else:
                bw = cm.check_wave("at[0] (band wavelengths)", pair[0], valid=None)
                bt = np.asarray(pair[1], dtype=np.float64)
                if bt.shape != bw.shape or np.any(bt < 0) or not np.any(bt > 0):
                    raise ValueError(
                        "at[1] (throughput) must match at[0] in shape, be >= 0 and not all 0"
                    )
                weight = np.interp(w, bw, bt, left=0.0, right=0.0) * w * widths
                label = f"band {bw[0]:g}-{bw[-1]:g} A"
        if not np.any(weight > 0):
            raise ValueError(
                f"at: the window {label} holds no pixel of the grid {w[0]:g}-{w[-1]:g} A"
            )
        mean = (self.flux * weight).sum(axis=1) / weight.sum()
        bad = np.flatnonzero(~(mean > 0))
        if bad.size:
            raise ValueError(
                f"at: templates {bad[:10].tolist()} have no positive mean flux over {label}"
            )
        meta = self.meta.copy()
        factor = mean / value
        meta["norm"] = factor * (np.asarray(meta["norm"]) if "norm" in meta.colnames else 1.0)
        return self._replace(
            flux=self.flux / factor[:, None], meta=meta, unit=None, ref_distance_pc=None
        )

    def d4000(self) -> np.ndarray:
        """D4000 (narrow, Balogh et al. 1999) of every template; see :func:`d4000`."""
        return d4000(self.wave, self.flux)


def _fill_masked(table: Table) -> Table:
    for name in table.colnames:
        col = table[name]
        if isinstance(col, MaskedColumn) and np.any(col.mask):
            if col.dtype.kind == "f":
                table[name] = col.filled(np.nan)
            elif col.dtype.kind in "iu":
                table[name] = col.astype(np.float64).filled(np.nan)
            elif col.dtype.kind in "US":
                table[name] = col.filled("")
            elif col.dtype.kind == "b":
                table[name] = col.filled(False)
    return table


def concatenate(libraries: Sequence[TemplateLibrary], name: str | None = None) -> TemplateLibrary:
    """Stack libraries that share a grid into one.

    Parameters
    ----------
    libraries : sequence of TemplateLibrary
        At least one; all on exactly the same ``wave`` (resample first
        otherwise), with units convertible to the first's and the same
        ``ref_distance_pc``.
    name : str, optional
        Name of the result (default: the names joined by ``+``).

    Returns
    -------
    TemplateLibrary
        Metadata stacked with an outer join: a column missing from one
        library is NaN (numbers), ``""`` (strings) or False there.

    Raises
    ------
    ValueError
        Empty input, different grids, incompatible units or distances.
    TypeError
        An item that is not a TemplateLibrary.

    """
    libs = list(libraries)
    if not libs:
        raise ValueError("libraries must hold at least one TemplateLibrary")
    for i, lib in enumerate(libs):
        if not isinstance(lib, TemplateLibrary):
            raise TypeError(f"libraries[{i}] is not a TemplateLibrary: {type(lib).__name__}")
    first = libs[0]
    fluxes = []
    for i, lib in enumerate(libs):
        if lib.wave.shape != first.wave.shape or not np.array_equal(lib.wave, first.wave):
            raise ValueError(
                f"libraries[{i}] has another wave grid ({lib.wave[0]:g}-{lib.wave[-1]:g} A, "
                f"{lib.n_pixels} px) than libraries[0] ({first.wave[0]:g}-{first.wave[-1]:g} A, "
                f"{first.n_pixels} px): resample it first"
            )
        if lib.ref_distance_pc != first.ref_distance_pc:
            raise ValueError(
                f"libraries[{i}] is at ref_distance_pc={lib.ref_distance_pc}, "
                f"libraries[0] at {first.ref_distance_pc}"
            )
        try:
            scale = lib.unit.to(first.unit)
        except u.UnitConversionError:
            raise ValueError(
                f"libraries[{i}] has unit {lib.unit} that does not convert to {first.unit}"
            ) from None
        fluxes.append(lib.flux * scale if scale != 1.0 else lib.flux)
    metas = [lib.meta for lib in libs]
    meta = _fill_masked(vstack(metas, join_type="outer", metadata_conflicts="silent"))
    label = name if name is not None else "+".join(lib.name for lib in libs if lib.name)
    return TemplateLibrary(
        wave=first.wave,
        flux=np.concatenate(fluxes, axis=0),
        meta=meta,
        unit=first.unit,
        ref_distance_pc=first.ref_distance_pc,
        name=label,
    )


def distance_scale(z, cosmology=None) -> np.ndarray:
    """Factor ``(10 pc / d_L(z))**2`` that takes a template at 10 pc to redshift z.

    The observed f_lambda of a template at redshift z is
    ``flux * distance_scale(z) / (1 + z)`` on the stretched grid
    ``wave * (1 + z)``; :func:`deepz.kernels.redshift` applies the
    ``1 / (1 + z)`` (and the stretch), so multiply by this factor before or
    after it.

    Parameters
    ----------
    z : float or array_like
        Redshifts, > 0.
    cosmology : astropy.cosmology.Cosmology, optional
        Default: ``astropy.cosmology.Planck18``.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``z``.

    Raises
    ------
    ValueError
        If a redshift is not finite and > 0.

    Examples
    --------
    >>> f"{float(distance_scale(1.0)):.3e}"
    '2.168e-18'

    """
    zz = np.asarray(z, dtype=np.float64)
    if not np.all(np.isfinite(zz)) or np.any(zz <= 0):
        raise ValueError(f"z must be finite and > 0, got {z!r}")
    if cosmology is None:
        from astropy.cosmology import Planck18 as cosmology
    d_pc = cosmology.luminosity_distance(zz).to_value(u.pc)
    return (cm.REF_DISTANCE_PC / d_pc) ** 2
