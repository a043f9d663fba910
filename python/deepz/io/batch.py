"""The batch of spectra every reader returns and every kernel and model eats.

A :class:`SpectraBatch` holds N spectra as arrays on one of three kinds of
wavelength grid:

- **shared**: ``wave`` is (M,), the same grid for every spectrum;
- **per spectrum**: ``wave`` is (N, M), one grid per row (SDSS files of
  different plates, mixed surveys); rows shorter than M are padded at the red
  end (grid extended with its last pixel ratio, flux 0, ivar 0) and the true
  length is in ``meta["NPIX"]``;
- **arms**: ``wave``, ``flux``, ``ivar`` and ``mask`` are dicts keyed by arm
  (DESI ``"B"``, ``"R"``, ``"Z"``), each arm with its shared (M_arm,) grid.

Conventions (those of :mod:`deepz.kernels`): wavelengths in Angstrom
(vacuum for SDSS and DESI, as the files give them), float64; flux f_lambda in
``flux_unit``; ``ivar`` the inverse variance in ``flux_unit**-2`` with
**0 = masked**. A pixel whose survey mask is nonzero, whose flux or ivar is
not finite, gets ivar 0 (and flux 0 where it was not finite); the survey mask
itself is kept, as uint32 bits, in ``mask``; the count of non-finite pixels
of each spectrum is in ``meta["NPIX_NONFINITE"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import Table, vstack

from ._common import FLAM_UNIT_STR

__all__ = [
    "FLAM",
    "SpectraBatch",
    "concatenate",
    "from_arrays",
    "from_specutils",
]

log = logging.getLogger("deepz.io")

#: Default flux unit of the batch: 1e-17 erg s^-1 cm^-2 Angstrom^-1 (SDSS, DESI).
FLAM = u.Unit(FLAM_UNIT_STR)
_FLAM_PHYS = u.erg / u.s / u.cm**2 / u.AA
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _is_flambda(unit) -> bool:
    return unit.is_equivalent(_FLAM_PHYS)


def _is_arbitrary(unit) -> bool:
    return unit.physical_type == "dimensionless"


@dataclass(eq=False)
class SpectraBatch:
    """N spectra with their grids, inverse variances, masks, ids and metadata.

    Parameters
    ----------
    wave : numpy.ndarray or dict of str to numpy.ndarray
        Pixel centres in Angstrom, float64, strictly increasing: (M,) shared,
        (N, M) one grid per spectrum, or a dict of (M_arm,) grids per arm.
    flux : numpy.ndarray or dict
        (N, M) float32 or float64 f_lambda in ``flux_unit`` (dict of
        (N, M_arm) for arms). Always finite.
    ivar : numpy.ndarray or dict
        Inverse variance, same shape and dtype as ``flux``, >= 0, finite;
        0 marks a masked pixel.
    mask : numpy.ndarray or dict, optional
        uint32 survey mask bits (SDSS ``and_mask``, DESI ``*_MASK``); 0 = good.
        Every pixel with a nonzero mask has ivar 0. Zeros if not given.
    targetid : numpy.ndarray, optional
        (N,) int64 ids: DESI ``TARGETID``; SDSS (plate, mjd, fiber) packed by
        :func:`deepz.io.sdss.sdss_id`; the row index for files without ids.
        ``arange(N)`` if not given.
    meta : astropy.table.Table, optional
        N rows of per-spectrum metadata. Readers fill ``SOURCE`` (file),
        ``HDU``, ``ROW`` (index in the file), ``NPIX``, ``NPIX_NONFINITE``,
        the survey's own columns, and the catalogue redshift where the file
        (or a catalogue next to it) has one: ``Z_CAT``, ``ZERR_CAT``,
        ``ZWARN_CAT``, ``SPECTYPE_CAT``, ``SUBTYPE_CAT`` (DESI names whatever
        the survey; SDSS ``CLASS`` becomes ``SPECTYPE_CAT``).
    flux_unit : astropy.units.UnitBase
        Unit of ``flux``: an f_lambda unit, or dimensionless for arbitrary
        units (generic files that say nothing).
    errors : list of (str, str)
        Files that could not be read by ``read(..., on_error="skip")``, as
        ``(path, problem)``.

    Notes
    -----
    The constructor checks shapes, dtypes and grids and raises ``ValueError``
    naming the field; it does not copy. Use :func:`from_arrays` to build a
    batch from user arrays (it converts units and masks non-finite pixels).

    """

    wave: np.ndarray | dict
    flux: np.ndarray | dict
    ivar: np.ndarray | dict
    mask: np.ndarray | dict | None = None
    targetid: np.ndarray | None = None
    meta: Table | None = None
    flux_unit: u.UnitBase = FLAM
    errors: list = field(default_factory=list)

    def __post_init__(self):
        self.flux_unit = u.Unit(self.flux_unit)
        if isinstance(self.flux, dict):
            if not (isinstance(self.wave, dict) and isinstance(self.ivar, dict)):
                raise ValueError("wave, flux and ivar must all be dicts of arms, or none")
            if set(self.wave) != set(self.flux) or set(self.ivar) != set(self.flux):
                raise ValueError(
                    f"arms differ: wave {list(self.wave)}, flux {list(self.flux)}, "
                    f"ivar {list(self.ivar)}"
                )
            if self.mask is None:
                self.mask = {a: np.zeros(f.shape, np.uint32) for a, f in self.flux.items()}
            n = None
            for arm in self.flux:
                n = self._check_arrays(
                    self.wave[arm],
                    self.flux[arm],
                    self.ivar[arm],
                    self.mask[arm],
                    f"[{arm!r}]",
                    shared_only=True,
                )
        else:
            if self.mask is None:
                self.mask = np.zeros(np.shape(self.flux), np.uint32)
            n = self._check_arrays(self.wave, self.flux, self.ivar, self.mask, "")
        if self.targetid is None:
            self.targetid = np.arange(n, dtype=np.int64)
        self.targetid = np.asarray(self.targetid)
        if self.targetid.shape != (n,) or self.targetid.dtype.kind not in "iu":
            raise ValueError(
                f"targetid must be ({n},) integers, got shape "
                f"{self.targetid.shape} dtype {self.targetid.dtype}"
            )
        self.targetid = self.targetid.astype(np.int64, copy=False)
        if self.meta is None:
            self.meta = Table({"ROW": np.arange(n)})
        if not isinstance(self.meta, Table):
            self.meta = Table(self.meta)
        if len(self.meta) != n:
            raise ValueError(f"meta must have {n} rows (one per spectrum), got {len(self.meta)}")
        if not (_is_flambda(self.flux_unit) or _is_arbitrary(self.flux_unit)):
            raise ValueError(
                f"flux_unit must be an f_lambda unit or dimensionless, got {self.flux_unit}"
            )

    @staticmethod
    def _check_arrays(wave, flux, ivar, mask, tag, shared_only=False) -> int:
        for name, a in (("flux", flux), ("ivar", ivar)):
            if not isinstance(a, np.ndarray) or a.ndim != 2:
                raise ValueError(
                    f"{name}{tag} must be a 2-D (N, M) array, got "
                    f"{getattr(a, 'shape', type(a).__name__)}"
                )
            if a.dtype not in _FLOATS:
                raise ValueError(f"{name}{tag} must be float32 or float64, got {a.dtype}")
        if ivar.shape != flux.shape or ivar.dtype != flux.dtype:
            raise ValueError(
                f"ivar{tag} must match flux: {flux.shape} {flux.dtype}, got "
                f"{ivar.shape} {ivar.dtype}"
            )
        if not isinstance(mask, np.ndarray) or mask.shape != flux.shape or mask.dtype != np.uint32:
            raise ValueError(
                f"mask{tag} must be uint32 of shape {flux.shape}, got "
                f"{getattr(mask, 'shape', None)} {getattr(mask, 'dtype', None)}"
            )
        n, m = flux.shape
        if not isinstance(wave, np.ndarray) or wave.dtype != np.float64:
            raise ValueError(
                f"wave{tag} must be a float64 array, got "
                f"{getattr(wave, 'dtype', type(wave).__name__)}"
            )
        ok_shapes = [(m,)] if shared_only else [(m,), (n, m)]
        if wave.shape not in ok_shapes:
            raise ValueError(
                f"wave{tag} must have shape {' or '.join(map(str, ok_shapes))}, got {wave.shape}"
            )
        if not np.all(np.isfinite(wave)):
            raise ValueError(f"wave{tag} has non-finite values")
        if m > 1 and not np.all(np.diff(wave, axis=-1) > 0):
            raise ValueError(f"wave{tag} must be strictly increasing along the pixel axis")
        return n

    # ------------------------------------------------------------------ shape
    def __len__(self) -> int:
        """Return the number of spectra N."""
        return len(self.targetid)

    @property
    def arms(self) -> list[str] | None:
        """Arm names when the arms are kept separate, else None."""
        return list(self.flux) if isinstance(self.flux, dict) else None

    @property
    def shared_wave(self) -> bool:
        """True when all spectra share one (M,) grid (per arm for arms)."""
        if self.arms is not None:
            return True
        return self.wave.ndim == 1

    @property
    def npix(self) -> int | dict:
        """M, the pixels per spectrum (a dict per arm for arms)."""
        if self.arms is not None:
            return {a: f.shape[1] for a, f in self.flux.items()}
        return self.flux.shape[1]

    @property
    def dtype(self) -> np.dtype:
        """The float dtype of flux and ivar."""
        f = next(iter(self.flux.values())) if self.arms is not None else self.flux
        return f.dtype

    @property
    def source(self) -> np.ndarray:
        """The file each spectrum came from (``meta["SOURCE"]``; '' if unknown)."""
        if "SOURCE" in self.meta.colnames:
            return np.asarray(self.meta["SOURCE"], dtype=str)
        return np.full(len(self), "", dtype=str)

    @property
    def sigma(self) -> np.ndarray:
        """1-sigma errors ``1/sqrt(ivar)`` (inf where masked); not for arms."""
        self._no_arms("sigma")
        with np.errstate(divide="ignore"):
            return 1.0 / np.sqrt(self.ivar)

    def wave_of(self, i: int) -> np.ndarray:
        """Return the (M,) grid of spectrum ``i`` (not for arms)."""
        self._no_arms("wave_of")
        return self.wave if self.wave.ndim == 1 else self.wave[i]

    def wave_2d(self) -> np.ndarray:
        """Return the grids as an (N, M) array (a broadcast view when shared)."""
        self._no_arms("wave_2d")
        if self.wave.ndim == 2:
            return self.wave
        return np.broadcast_to(self.wave, self.flux.shape)

    def n_good(self) -> np.ndarray:
        """Return the number of unmasked pixels (ivar > 0) of each spectrum (all arms)."""
        if self.arms is not None:
            return sum(np.count_nonzero(v > 0, axis=1) for v in self.ivar.values())
        return np.count_nonzero(self.ivar > 0, axis=1)

    def _no_arms(self, what):
        if self.arms is not None:
            raise ValueError(
                f"{what} needs one grid per spectrum; this batch keeps the arms "
                f"{self.arms} separate: read with arms='combine'"
            )

    def __repr__(self) -> str:
        grid = (
            "arms " + ",".join(f"{a}:{m}" for a, m in self.npix.items())
            if self.arms is not None
            else f"{'shared' if self.shared_wave else 'per-spectrum'} grid of {self.npix} px"
        )
        err = f", {len(self.errors)} failed files" if self.errors else ""
        return (
            f"SpectraBatch(N={len(self)}, {grid}, {self.dtype}, flux_unit='{self.flux_unit}'{err})"
        )

    # ------------------------------------------------------------ transforms
    def select(self, idx) -> SpectraBatch:
        """Return the spectra ``idx`` (int, slice, int array or boolean mask) as a new batch.

        Arrays are copied; a shared grid stays shared; ``errors`` are kept.
        """
        rows = np.arange(len(self))[idx]
        rows = np.atleast_1d(rows)

        def take(a, is_wave=False):
            if isinstance(a, dict):
                return {k: take(v, is_wave) for k, v in a.items()}
            if is_wave and a.ndim == 1:
                return a
            return a[rows]

        if self.arms is not None:
            wave = dict(self.wave)
        else:
            wave = take(self.wave, True)
        return SpectraBatch(
            wave,
            take(self.flux),
            take(self.ivar),
            take(self.mask),
            self.targetid[rows],
            self.meta[rows],
            self.flux_unit,
            list(self.errors),
        )

    def __getitem__(self, idx) -> SpectraBatch:
        """Return ``self.select(idx)``."""
        return self.select(idx)

    def astype(self, dtype) -> SpectraBatch:
        """Return a batch whose flux and ivar have ``dtype`` (float32 or float64)."""
        dtype = np.dtype(dtype)
        if dtype not in _FLOATS:
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")

        def cast(a):
            if isinstance(a, dict):
                return {k: v.astype(dtype) for k, v in a.items()}
            return a.astype(dtype)

        return SpectraBatch(
            self.wave,
            cast(self.flux),
            cast(self.ivar),
            self.mask,
            self.targetid,
            self.meta,
            self.flux_unit,
            list(self.errors),
        )

    def to_unit(self, unit) -> SpectraBatch:
        """Return the batch with flux converted to the f_lambda ``unit`` (ivar follows)."""
        unit = u.Unit(unit)
        if unit == self.flux_unit:
            return self
        if self.arms is not None:
            fl, iv = {}, {}
            for a in self.arms:
                k = flux_factor(self.flux_unit, unit, self.wave[a])
                fl[a] = (self.flux[a] * k).astype(self.dtype)
                iv[a] = (self.ivar[a] / k**2).astype(self.dtype)
        else:
            k = flux_factor(self.flux_unit, unit, self.wave)
            fl = (self.flux * k).astype(self.dtype)
            iv = (self.ivar / k**2).astype(self.dtype)
        return SpectraBatch(
            self.wave, fl, iv, self.mask, self.targetid, self.meta, unit, list(self.errors)
        )

    def table(self) -> Table:
        """Return ``meta`` with ``TARGETID`` as first column (for joins with catalogues)."""
        t = self.meta.copy(copy_data=False)
        if "TARGETID" in t.colnames:
            t.remove_column("TARGETID")
        t.add_column(self.targetid, name="TARGETID", index=0)
        return t

    # -------------------------------------------------------------- specutils
    def to_specutils(self, stack: bool = False):
        """Return the spectra as specutils objects (``Spectrum``; ``Spectrum1D`` before 2.0).

        Parameters
        ----------
        stack : bool
            False: a list of N one-dimensional spectra. True: one spectrum with
            (N, M) flux (needs a shared grid).

        Returns
        -------
        list of specutils.Spectrum or specutils.Spectrum
            Flux in ``flux_unit``, spectral axis in Angstrom, uncertainty as
            ``InverseVariance`` (unit ``flux_unit**-2``), ``mask`` True where
            ivar is 0; ``meta`` holds ``targetid`` and the metadata row(s).

        Raises
        ------
        ImportError
            If specutils is not installed (it is optional).
        ValueError
            For separate arms, or ``stack=True`` with per-spectrum grids.

        """
        self._no_arms("to_specutils")
        Spectrum = _specutils_class()
        from astropy.nddata import InverseVariance

        if stack:
            if not self.shared_wave:
                raise ValueError(
                    "to_specutils(stack=True) needs a shared grid; this batch has "
                    "one grid per spectrum: use stack=False"
                )
            return Spectrum(
                flux=self.flux * self.flux_unit,
                spectral_axis=self.wave * u.AA,
                uncertainty=InverseVariance(self.ivar, unit=self.flux_unit**-2),
                mask=self.ivar == 0,
                meta={"targetid": self.targetid, "table": self.table()},
            )
        out = []
        tab = self.table()
        for i in range(len(self)):
            row = {k: _plain(tab[k][i]) for k in tab.colnames if np.ndim(tab[k][i]) == 0}
            out.append(
                Spectrum(
                    flux=self.flux[i] * self.flux_unit,
                    spectral_axis=self.wave_of(i) * u.AA,
                    uncertainty=InverseVariance(self.ivar[i], unit=self.flux_unit**-2),
                    mask=self.ivar[i] == 0,
                    meta={"targetid": int(self.targetid[i]), **row},
                )
            )
        return out

    @classmethod
    def from_specutils(cls, spectra, unit=None) -> SpectraBatch:
        """Build a batch from specutils spectra (see :func:`from_specutils`)."""
        return from_specutils(spectra, unit=unit)

    @classmethod
    def from_arrays(cls, wave, flux, ivar=None, err=None, **kwargs) -> SpectraBatch:
        """Build a batch from arrays (see :func:`from_arrays`)."""
        return from_arrays(wave, flux, ivar=ivar, err=err, **kwargs)


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _specutils_class():
    try:
        from specutils import Spectrum
    except ImportError:
        try:
            from specutils import Spectrum1D as Spectrum
        except ImportError as exc:
            raise ImportError("this needs specutils (optional): pip install specutils") from exc
    return Spectrum


# ---------------------------------------------------------------------- units
def flux_factor(from_unit, to_unit, wave) -> np.ndarray | float:
    """Return k such that ``flux[to_unit] = k * flux[from_unit]`` at wavelengths ``wave`` (A).

    Same-kind units (f_lambda to f_lambda) give a scalar; f_nu (Jy, erg/s/cm2/Hz,
    ...) to f_lambda gives an array shaped like ``wave``. Arbitrary
    (dimensionless) units only convert to themselves.
    """
    from_unit, to_unit = u.Unit(from_unit), u.Unit(to_unit)
    if from_unit == to_unit:
        return 1.0
    try:
        return float((1.0 * from_unit).to_value(to_unit))
    except u.UnitConversionError:
        pass
    try:
        w = np.asarray(wave, dtype=np.float64) * u.AA
        return (np.ones(w.shape) * from_unit).to_value(to_unit, u.spectral_density(w))
    except u.UnitConversionError as exc:
        raise ValueError(f"flux unit {from_unit} cannot be converted to {to_unit}") from exc


def _wave_angstrom(wave) -> np.ndarray:
    if isinstance(wave, u.Quantity):
        try:
            return wave.to_value(u.AA, u.spectral()).astype(np.float64)
        except u.UnitConversionError as exc:
            raise ValueError(
                f"wave must be a spectral quantity (length, frequency, energy), "
                f"got unit {wave.unit}"
            ) from exc
    arr = np.asarray(wave)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"wave must be numeric, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def sanitize(flux: np.ndarray, ivar: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mask in place: ivar 0 where mask != 0 or flux/ivar non-finite; flux 0 where non-finite.

    Returns the count of non-finite pixels per spectrum. Raises ``ValueError``
    if ivar has negative values (a corrupt file, not a masked pixel).
    """
    bad = ~np.isfinite(flux) | ~np.isfinite(ivar)
    nonfinite = np.count_nonzero(bad, axis=-1)
    if bad.any():
        flux[bad] = 0
        ivar[bad] = 0
    neg = ivar < 0
    if neg.any():
        raise ValueError(f"ivar has {int(neg.sum())} negative values (min {ivar[neg].min():g})")
    ivar[mask != 0] = 0
    return nonfinite


def from_arrays(
    wave, flux, ivar=None, err=None, mask=None, unit=None, targetid=None, meta=None, dtype=None
) -> SpectraBatch:
    """Build a batch from arrays or astropy Quantities, converting units.

    Parameters
    ----------
    wave : array_like or astropy.units.Quantity
        (M,) or (N, M) pixel centres. Plain arrays are taken as Angstrom;
        Quantities in any spectral unit (nm, um, Hz, eV) are converted to
        Angstrom. A decreasing grid (e.g. from frequencies) is reversed, with
        the flux, errors and mask.
    flux : array_like or astropy.units.Quantity
        (M,) for one spectrum or (N, M). A Quantity in f_lambda or f_nu units
        (Jy, erg/s/cm2/Hz, ...) is converted to ``unit``.
    ivar, err : array_like or Quantity, optional
        Inverse variance or 1-sigma error (give at most one), in the flux's
        unit (its inverse square for ivar). ``err`` 0 or non-finite means
        masked. Neither given: ivar 1 everywhere (unweighted) and a log line.
    mask : array_like, optional
        Nonzero (or True) = bad pixel; kept as uint32 bits and gives ivar 0.
    unit : str or astropy.units.UnitBase, optional
        Flux unit of the batch. Default: the flux Quantity's unit when it is
        an f_lambda unit, else 1e-17 erg/s/cm2/A; dimensionless (arbitrary
        units) for a plain flux array.
    targetid : array_like of int, optional
        (N,) ids; default ``arange(N)``.
    meta : astropy.table.Table or dict, optional
        Extra per-spectrum columns.
    dtype : numpy dtype, optional
        float32 or float64 for flux/ivar; default the flux's float type
        (float64 for integers or Quantities of other types).

    Returns
    -------
    SpectraBatch
        Non-finite flux/ivar/err pixels are set to flux 0, ivar 0 and counted
        in ``meta["NPIX_NONFINITE"]``.

    Raises
    ------
    ValueError
        Shapes that do not match, a non-monotonic or non-finite grid, an
        unconvertible unit, negative ivar, both ivar and err.

    """
    if ivar is not None and err is not None:
        raise ValueError("give ivar or err, not both")
    w = _wave_angstrom(wave)
    src_unit = flux.unit if isinstance(flux, u.Quantity) else None
    f = np.asarray(flux.value if src_unit is not None else flux)
    if f.ndim == 1:
        f = f[None, :]
    if f.ndim != 2:
        raise ValueError(f"flux must have shape (M,) or (N, M), got {np.shape(flux)}")
    n, m = f.shape
    if w.shape not in ((m,), (n, m)) and not (w.ndim == 2 and w.shape == (1, m)):
        raise ValueError(
            f"wave must have shape ({m},) or ({n}, {m}) to match flux {f.shape}, got {w.shape}"
        )
    if w.ndim == 2 and w.shape[0] == 1:
        w = w[0]
    if dtype is None:
        dtype = f.dtype if f.dtype in _FLOATS else np.float64
    dtype = np.dtype(dtype)
    if dtype not in _FLOATS:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")

    # target unit and conversion factor (per pixel for f_nu)
    if unit is not None:
        target = u.Unit(unit)
    elif src_unit is not None:
        target = src_unit if _is_flambda(src_unit) else FLAM
    else:
        target = u.dimensionless_unscaled
    if src_unit is None or src_unit == target:
        k = 1.0
    elif _is_arbitrary(src_unit):
        raise ValueError(f"flux is dimensionless; cannot convert it to {target}")
    else:
        k = flux_factor(src_unit, target, w)
    f64 = f.astype(np.float64) * k

    def strip(q, want_inverse_sq):
        if isinstance(q, u.Quantity):
            if src_unit is None:
                return q.value
            expect = src_unit**-2 if want_inverse_sq else src_unit
            return q.to_value(expect)
        return np.asarray(q)

    with np.errstate(divide="ignore", invalid="ignore"):
        if ivar is not None:
            iv = np.broadcast_to(strip(ivar, True), f.shape).astype(np.float64) / np.square(k)
        elif err is not None:
            e = np.broadcast_to(strip(err, False), f.shape).astype(np.float64) * np.abs(k)
            iv = np.where(np.isfinite(e) & (e > 0), 1.0 / np.square(e), 0.0)
        else:
            log.info("from_arrays: no ivar or err given; using ivar = 1 (unweighted)")
            iv = np.ones(f.shape)
    if mask is None:
        mk = np.zeros(f.shape, np.uint32)
    else:
        mk = np.broadcast_to(np.asarray(mask), f.shape)
        mk = mk.astype(np.uint32) if mk.dtype == np.bool_ else mk.astype(np.int64).astype(np.uint32)
    f64 = np.array(f64, dtype=dtype)
    iv = np.array(iv, dtype=dtype)
    mk = np.array(mk, dtype=np.uint32)

    # a decreasing grid (frequencies, or given red to blue) is flipped
    if m > 1 and np.all(np.diff(w, axis=-1) < 0):
        w = w[..., ::-1].copy()
        f64, iv, mk = f64[:, ::-1].copy(), iv[:, ::-1].copy(), mk[:, ::-1].copy()
    if not np.all(np.isfinite(w)):
        raise ValueError("wave has non-finite values")
    if m > 1 and not np.all(np.diff(w, axis=-1) > 0):
        raise ValueError("wave must be strictly monotonic along the pixel axis")
    nonfinite = sanitize(f64, iv, mk)
    t = Table(meta) if meta is not None else Table()
    if len(t.colnames) and len(t) != n:
        raise ValueError(f"meta must have {n} rows, got {len(t)}")
    defaults = {
        "SOURCE": np.full(n, "<arrays>"),
        "HDU": np.full(n, ""),
        "ROW": np.arange(n),
        "NPIX": np.full(n, m),
        "NPIX_NONFINITE": nonfinite,
    }
    for name, col in defaults.items():
        if name not in t.colnames:
            t[name] = col
    tid = None if targetid is None else np.asarray(targetid).reshape(-1)
    return SpectraBatch(w, f64, iv, mk, tid, t, target)


def from_specutils(spectra, unit=None) -> SpectraBatch:
    """Build a batch from specutils spectra, honouring their units.

    Parameters
    ----------
    spectra : specutils.Spectrum, Spectrum1D, SpectrumList or sequence of them
        Each with 1-D or 2-D (N, M) flux. The spectral axis may be in any
        spectral unit (converted to Angstrom, reversed if decreasing); the flux
        in f_lambda or f_nu units (converted to ``unit``); the uncertainty
        ``StdDevUncertainty``, ``VarianceUncertainty`` or ``InverseVariance``
        (converted to ivar); ``mask`` True = bad (gives ivar 0 and mask bit 1).
    unit : str or astropy.units.UnitBase, optional
        Flux unit of the batch; default as in :func:`from_arrays`.

    Returns
    -------
    SpectraBatch
        One batch; ``meta["TARGETID"]``-like keys (``targetid``, ``TARGETID``)
        of the spectra's ``meta`` become the ids when present.

    """
    from astropy.nddata import InverseVariance, StdDevUncertainty, VarianceUncertainty

    if not isinstance(spectra, Sequence) or hasattr(spectra, "spectral_axis"):
        spectra = [spectra]
    batches = []
    for s in spectra:
        flux = s.flux
        m = flux.shape[-1]
        flux2 = flux.reshape(-1, m)
        wave = s.spectral_axis
        wave = u.Quantity(wave.value, wave.unit)
        ivar = err = None
        unc = s.uncertainty
        if unc is not None:
            arr = np.asarray(unc.array, dtype=np.float64).reshape(-1, m)
            unc_unit = unc.unit
            if isinstance(unc, InverseVariance):
                ivar = arr * unc_unit if unc_unit is not None else arr * flux.unit**-2
            elif isinstance(unc, StdDevUncertainty):
                err = arr * unc_unit if unc_unit is not None else arr * flux.unit
            elif isinstance(unc, VarianceUncertainty):
                err = np.sqrt(arr) * (unc_unit**0.5 if unc_unit is not None else flux.unit)
            else:
                raise ValueError(f"uncertainty type {type(unc).__name__} is not supported")
        mask = None if s.mask is None else np.asarray(s.mask).reshape(-1, m)
        meta = getattr(s, "meta", {}) or {}
        tid = None
        for key in ("targetid", "TARGETID"):
            if key in meta:
                tid = np.atleast_1d(np.asarray(meta[key])).astype(np.int64)
                break
        t = Table({"SOURCE": np.full(flux2.shape[0], "<specutils>")})
        batches.append(
            from_arrays(wave, flux2, ivar=ivar, err=err, mask=mask, unit=unit, targetid=tid, meta=t)
        )
    return concatenate(batches)


# ------------------------------------------------------------- concatenation
def _pad_grid(w: np.ndarray, m: int) -> np.ndarray:
    """Extend the increasing grid ``w`` to ``m`` pixels with its last pixel ratio."""
    extra = m - w.size
    if extra <= 0:
        return w
    ratio = w[-1] / w[-2] if w.size > 1 and w[-2] > 0 and w[-1] > w[-2] else 1.0 + 1e-4
    if w[-1] <= 0:  # a grid ending at or below zero: extend linearly
        step = w[-1] - w[-2] if w.size > 1 else 1.0
        return np.concatenate([w, w[-1] + step * np.arange(1, extra + 1)])
    return np.concatenate([w, w[-1] * ratio ** np.arange(1, extra + 1)])


def concatenate(batches, unit=None) -> SpectraBatch:
    """Stack batches along the spectrum axis.

    Parameters
    ----------
    batches : sequence of SpectraBatch
        At least one. Either all with separate arms (same arms on identical
        grids) or none.
    unit : astropy unit, optional
        Flux unit of the result; default the first batch's with a physical
        unit. Fluxes are converted (f_nu/f_lambda aware); batches in
        arbitrary (dimensionless) units only join each other.

    Returns
    -------
    SpectraBatch
        A shared grid if all batches share one identical grid; otherwise one
        grid per spectrum, shorter rows padded at the red end (grid extended
        with its last pixel ratio, flux 0, ivar 0; ``meta["NPIX"]`` keeps the
        true length). flux dtype is the common float type. ``meta`` tables
        are stacked with missing columns masked. ``errors`` are joined.

    """
    batches = list(batches)
    if not batches:
        raise ValueError("concatenate needs at least one batch")
    if len(batches) == 1 and unit is None:
        return batches[0]
    arbitrary = [b for b in batches if _is_arbitrary(b.flux_unit)]
    physical = [b for b in batches if not _is_arbitrary(b.flux_unit)]
    if unit is None:
        unit = physical[0].flux_unit if physical else batches[0].flux_unit
    unit = u.Unit(unit)
    if arbitrary and (physical or not _is_arbitrary(unit)):
        a_src = arbitrary[0].source[0] if len(arbitrary[0]) else "?"
        p_src = physical[0].source[0] if physical and len(physical[0]) else str(unit)
        raise ValueError(
            f"cannot join spectra in arbitrary flux units ({a_src}) with spectra "
            f"in {unit} ({p_src}): give flux_unit= to say what unit the files "
            f"without one are in"
        )
    batches = [b.to_unit(unit) for b in batches]
    dtype = np.result_type(*[b.dtype for b in batches])
    errors = [e for b in batches for e in b.errors]
    tid = np.concatenate([b.targetid for b in batches])
    meta = vstack([b.meta for b in batches], join_type="outer", metadata_conflicts="silent")
    arms = [b.arms for b in batches]
    if any(a is not None for a in arms):
        if any(a is None for a in arms) or any(set(a) != set(arms[0]) for a in arms):
            raise ValueError(f"cannot concatenate batches with different arms: {arms}")
        wave, flux, ivar, mask = {}, {}, {}, {}
        for a in arms[0]:
            w0 = batches[0].wave[a]
            if any(
                b.wave[a].shape != w0.shape or not np.array_equal(b.wave[a], w0) for b in batches
            ):
                raise ValueError(
                    f"arm {a!r} has different grids in the batches; "
                    f"read with arms='combine' to join them"
                )
            wave[a] = w0
            flux[a] = np.concatenate([b.flux[a] for b in batches]).astype(dtype, copy=False)
            ivar[a] = np.concatenate([b.ivar[a] for b in batches]).astype(dtype, copy=False)
            mask[a] = np.concatenate([b.mask[a] for b in batches])
        return SpectraBatch(wave, flux, ivar, mask, tid, meta, unit, errors)

    w0 = batches[0].wave
    if all(
        b.wave.ndim == 1 and b.wave.shape == w0.shape and np.array_equal(b.wave, w0)
        for b in batches
    ):
        return SpectraBatch(
            w0,
            np.concatenate([b.flux for b in batches]).astype(dtype, copy=False),
            np.concatenate([b.ivar for b in batches]).astype(dtype, copy=False),
            np.concatenate([b.mask for b in batches]),
            tid,
            meta,
            unit,
            errors,
        )
    m = max(b.flux.shape[1] for b in batches)
    n = len(tid)
    wave = np.empty((n, m))
    flux = np.zeros((n, m), dtype)
    ivar = np.zeros((n, m), dtype)
    mask = np.zeros((n, m), np.uint32)
    i = 0
    for b in batches:
        nb, mb = b.flux.shape
        for j in range(nb):
            wave[i + j] = _pad_grid(b.wave_of(j), m)
        flux[i : i + nb, :mb] = b.flux
        ivar[i : i + nb, :mb] = b.ivar
        mask[i : i + nb, :mb] = b.mask
        i += nb
    if "NPIX" not in meta.colnames:
        meta["NPIX"] = np.concatenate([np.full(len(b), b.flux.shape[1]) for b in batches])
    return SpectraBatch(wave, flux, ivar, mask, tid, meta, unit, errors)
