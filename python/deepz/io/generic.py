"""Spectra in generic files: FITS tables/images, HDF5, npz, CSV; and deepz's own HDF5 writer.

Layouts understood by :func:`read_table` (column and dataset names are
matched case-insensitively):

- **FITS binary table**, either one spectrum with one row per pixel (scalar
  columns ``WAVE``/``WAVELENGTH``/``LAMBDA``/``LOGLAM``, ``FLUX``, optional
  ``IVAR``/``ERR``/``ERROR``/``SIGMA``/``VAR``, ``MASK``) or one spectrum per
  row (vector columns; ``WAVE`` a vector per row or, if scalar... not
  allowed: give it per row), with units from ``TUNITn`` and ids from a
  ``TARGETID``/``ID``/``OBJID`` column.
- **FITS image**: a 1-D or (N, M) image with a spectral WCS on its first
  axis, evaluated by astropy.wcs (linear, ``WAVE-LOG``, ``-TAB``; air
  wavelengths converted to vacuum; ``DC-FLAG = 1`` log10 axes; see
  ``_wcs_wave``), optional ``IVAR``/``ERR`` image HDU.
- **HDF5**, deepz's layout (written by :func:`write_spectra`): datasets
  ``wave`` (M,) or (N, M), ``flux`` (N, M), ``ivar``, ``mask``,
  ``targetid``, group ``meta`` of (N,) columns; root attributes
  ``deepz_format = "spectra"``, ``flux_unit``, ``deepz_version``. Plain HDF5
  files with datasets named as in the tables above (at the root, or in the
  first group that has a ``flux``) are read too; units from a ``unit(s)``
  attribute.
- **deepz simulated sets** (:func:`deepz.simulate.write_hdf5`): the
  physical flux (``flux * norm``), the arms of multi-arm observers joined
  (inverse-variance weighted, as DESI coadds), ``TARGETID`` the global sample
  index, and the truth (``Z_TRUE``, ``SPECTYPE_TRUE``, ``SUBTYPE_TRUE``) in
  ``meta`` (:func:`simulated_truth`).
- **npz**: the same names as deepz's HDF5 (``flux_unit`` a 0-d string).
- **CSV/ECSV**: one spectrum, columns ``wave``, ``flux``, and optionally
  ``err`` (or ``ivar``, ``mask``); ECSV units are honoured.

Without unit information the wavelengths are taken as Angstrom and the flux
is in ``flux_unit`` (argument; default: arbitrary units).
"""

from __future__ import annotations

import logging
import os
import warnings

import astropy.units as u
import numpy as np
from astropy.table import Table

from ._atomic import atomic_path
from ._common import (
    ReadError,
    check_exists,
    expand_paths,
    image_data,
    native,
    open_fits,
    parse_unit,
    read_many,
)
from .batch import SpectraBatch, concatenate, from_arrays

__all__ = ["read_table", "write_spectra"]

log = logging.getLogger("deepz.io")

WAVE_NAMES = ("wave", "wavelength", "lambda", "lam", "wavelengths", "loglam")
FLUX_NAMES = ("flux", "spectrum", "spectra", "fluxes")
IVAR_NAMES = ("ivar", "invvar", "inverse_variance", "flux_ivar")
ERR_NAMES = (
    "err",
    "error",
    "sigma",
    "flux_err",
    "err_flux",
    "uncertainty",
    "noise",
    "flux_error",
    "std",
)
VAR_NAMES = ("var", "variance")
MASK_NAMES = ("mask", "and_mask", "bad", "badpix")
ID_NAMES = ("targetid", "target_id", "id", "objid", "specobjid", "ids")


def _find(names_present, candidates):
    low = {n.lower(): n for n in names_present}
    for c in candidates:
        if c in low:
            return low[c]
    return None


def _build(
    path,
    hdu,
    wave,
    flux,
    ivar=None,
    err=None,
    var=None,
    mask=None,
    tid=None,
    wave_unit=None,
    unit_in=None,
    flux_unit=None,
    loglam=False,
    meta=None,
    row0=0,
    dtype=None,
) -> SpectraBatch:
    """Make a batch from raw arrays read from a file, with its units."""
    wave = np.asarray(wave, dtype=np.float64)
    if loglam:
        wave = 10.0**wave
    elif wave_unit is not None and wave_unit != u.AA:
        wave = (wave * wave_unit).to_value(u.AA, u.spectral())
    flux = np.asarray(flux)
    if flux.dtype.kind not in "fiu":
        raise ReadError(path, f"flux is not numeric (dtype {flux.dtype})")
    if var is not None:
        with np.errstate(invalid="ignore"):
            err = np.sqrt(np.asarray(var, dtype=np.float64))
    target = flux_unit
    fq = flux * unit_in if unit_in is not None else flux
    if unit_in is not None and ivar is not None:
        ivar = np.asarray(ivar) * unit_in**-2
    if unit_in is not None and err is not None:
        err = np.asarray(err) * unit_in
    n = 1 if flux.ndim == 1 else flux.shape[0]
    t = Table(meta) if meta is not None else Table()
    t["SOURCE"] = np.full(n, path)
    t["HDU"] = np.full(n, str(hdu))
    t["ROW"] = np.arange(row0, row0 + n)
    t["NPIX"] = np.full(n, flux.shape[-1])
    if ivar is None and err is None:
        log.info("%s: no ivar/err column; ivar = 1 (unweighted)", path)
    try:
        return from_arrays(
            wave, fq, ivar=ivar, err=err, mask=mask, unit=target, targetid=tid, meta=t, dtype=dtype
        )
    except (ValueError, TypeError) as exc:
        raise ReadError(path, str(exc)) from exc


def _fits_table(path, h, flux_unit, dtype, rows=None):
    names = h.columns.names
    fcol = _find(names, FLUX_NAMES)
    wcol = _find(names, WAVE_NAMES)
    if fcol is None:
        raise ReadError(
            path, f"HDU {h.name or 1}: no flux column (looked for {FLUX_NAMES}; has {names})"
        )
    if wcol is None:
        raise ReadError(
            path, f"HDU {h.name or 1}: no wavelength column (looked for {WAVE_NAMES}; has {names})"
        )
    data = h.data
    vector = data[fcol].ndim == 2
    if vector and rows is not None:
        data = data[rows]

    def col(name):
        return None if name is None else native(np.asarray(data[name]))

    tunits = {n: h.columns[n].unit for n in names}
    wave = col(wcol)
    flux = col(fcol)
    ivc, erc, vac = _find(names, IVAR_NAMES), _find(names, ERR_NAMES), _find(names, VAR_NAMES)
    mkc = _find(names, MASK_NAMES)
    tidc = _find(names, ID_NAMES)
    loglam = wcol.lower() == "loglam"
    wunit = parse_unit(tunits[wcol], None)
    funit = parse_unit(tunits[fcol], None)
    tid = None
    meta = None
    if vector:
        if wave.ndim == 1:
            raise ReadError(
                path,
                f"flux column {fcol} holds one spectrum per row but "
                f"wavelength column {wcol} is scalar",
            )
        if tidc is not None:
            tid = col(tidc).astype(np.int64)
        scal = [
            c
            for c in names
            if c not in (fcol, wcol, ivc, erc, vac, mkc, tidc) and data[c].ndim == 1
        ]
        meta = Table({c.upper(): col(c) for c in scal}) if scal else None
    mask = col(mkc)
    if mask is not None and mask.dtype.kind == "f":
        mask = mask != 0
    return _build(
        path,
        h.name or 1,
        wave,
        flux,
        ivar=col(ivc),
        err=col(erc),
        var=col(vac),
        mask=mask,
        tid=tid,
        wave_unit=wunit,
        unit_in=funit,
        flux_unit=flux_unit,
        loglam=loglam,
        meta=meta,
        row0=(rows.start or 0) if rows is not None else 0,
        dtype=dtype,
    )


def _wcs_wave(path, hdr, m, hdul=None):
    """Vacuum wavelengths (Angstrom) of the M pixels of an image's first axis, from its WCS.

    astropy.wcs (WCSLIB) evaluates the spectral axis: linear ``WAVE`` /
    ``AWAV`` / ``FREQ`` / ``ENER`` / ``WAVN`` axes, the FITS standard's
    ``WAVE-LOG`` (lambda = CRVAL exp(w / CRVAL)), ``-TAB`` lookup tables (the
    table HDU from ``hdul``), in whatever CUNIT1 says (converted with
    astropy's spectral equivalencies). Two survey conventions WCSLIB does not
    know are honoured by hand: ``DC-FLAG = 1`` (IRAF/SDSS: CRVAL1 and CDELT1 in
    log10 Angstrom) and ``CTYPE1 = 'LOGLAM'``; a ``WAVE-LOG`` axis whose CRVAL1
    is below 10 is such a log10 axis too (a standard one would be a
    wavelength under 10 Angstrom). Air wavelengths (``CTYPE1 = 'AWAV'``,
    ``AIRORVAC = 'air'`` or ``VACUUM = F``) are converted to vacuum with
    :func:`deepz.lines.air_to_vacuum`.
    """
    from astropy.wcs import WCS, FITSFixedWarning

    from ..lines import air_to_vacuum

    crval = hdr.get("CRVAL1")
    cdelt = hdr.get("CDELT1", hdr.get("CD1_1"))
    if crval is None or (cdelt is None and "-TAB" not in str(hdr.get("CTYPE1", ""))):
        raise ReadError(path, "image HDU has no wavelength WCS (CRVAL1 and CDELT1/CD1_1)")
    ctype = str(hdr.get("CTYPE1", "")).strip().upper()
    air = ctype.startswith("AWAV") or str(hdr.get("AIRORVAC", "")).strip().lower() == "air"
    air = air or hdr.get("VACUUM", True) is False
    log10 = (
        hdr.get("DC-FLAG") == 1
        or ctype == "LOGLAM"
        or (ctype.startswith("WAVE-LOG") and abs(float(crval)) < 10)
    )
    if log10:
        crpix = hdr.get("CRPIX1", 1.0)
        wave = 10.0 ** (crval + cdelt * (np.arange(m) + 1 - crpix))
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                w = WCS(hdr, fobj=hdul, naxis=[1])
            values = w.pixel_to_world_values(np.arange(m, dtype=np.float64))
            unit_text = str(w.wcs.cunit[0])
        except Exception as exc:  # astropy.wcs raises its own family of errors
            raise ReadError(path, f"cannot evaluate the spectral WCS ({exc})") from exc
        unit = parse_unit(unit_text, None) if unit_text else None
        if unit is None and ctype[:4] in ("FREQ", "ENER", "WAVN"):
            raise ReadError(path, f"spectral axis {ctype!r} without a CUNIT1")
        wave = np.asarray(values, dtype=np.float64)
        if unit is not None and unit != u.AA:
            try:
                wave = (wave * unit).to_value(u.AA, u.spectral())
            except u.UnitConversionError as exc:
                raise ReadError(path, f"CUNIT1 {unit_text!r} is not a spectral unit") from exc
    if wave.size > 1 and wave[0] > wave[-1]:  # a frequency or energy axis runs backwards
        raise ReadError(
            path,
            "the spectral WCS gives decreasing wavelengths (a frequency/energy axis): "
            "deepz reads images whose wavelength increases with the pixel index",
        )
    if air:
        wave = air_to_vacuum(wave)
    return wave, None


def _fits_image(path, hdul, i, flux_unit, dtype, rows=None):
    h = hdul[i]
    flux = image_data(h, rows if h.data.ndim == 2 else None)
    if flux.ndim not in (1, 2):
        raise ReadError(
            path, f"HDU {i}: image of {flux.ndim} dimensions; expected 1 (one spectrum) or 2 (N, M)"
        )
    wave, wunit = _wcs_wave(path, h.header, flux.shape[-1], hdul)
    names = [x.name.upper() for x in hdul]
    ivar = err = None
    for cand, kind in (("IVAR", "ivar"), ("ERR", "err"), ("ERROR", "err"), ("SIGMA", "err")):
        if cand in names:
            arr = image_data(hdul[names.index(cand)], rows if flux.ndim == 2 else None)
            if kind == "ivar":
                ivar = arr
            else:
                err = arr
            break
    funit = parse_unit(h.header.get("BUNIT"), None)
    return _build(
        path,
        h.name or i,
        wave,
        flux,
        ivar=ivar,
        err=err,
        wave_unit=wunit,
        unit_in=funit,
        flux_unit=flux_unit,
        dtype=dtype,
        row0=(rows.start or 0) if rows is not None else 0,
    )


def _read_fits(path, hdu, flux_unit, dtype, rows=None):
    with open_fits(path) as hdul:
        if hdu is not None:
            try:
                h = hdul[hdu]
            except KeyError as exc:
                raise ReadError(
                    path, f"missing HDU {hdu!r} (the file has {', '.join(x.name for x in hdul)})"
                ) from exc
            if hasattr(h, "columns"):
                return _fits_table(path, h, flux_unit, dtype, rows)
            return _fits_image(path, hdul, hdul.index_of(hdu), flux_unit, dtype, rows)
        for h in hdul:
            if hasattr(h, "columns") and _find(h.columns.names, FLUX_NAMES):
                return _fits_table(path, h, flux_unit, dtype, rows)
        for i, h in enumerate(hdul):
            if (
                h.is_image
                and h.data is not None
                and h.data.ndim in (1, 2)
                and h.header.get("CRVAL1") is not None
            ):
                return _fits_image(path, hdul, i, flux_unit, dtype, rows)
        raise ReadError(
            path,
            f"no spectrum found: no table with a flux column and no image "
            f"with a wavelength WCS (HDUs: {', '.join(x.name for x in hdul)})",
        )


def _h5_group(f):
    """Return the group that holds the spectra (root, or first group with a flux)."""
    if _find(list(f.keys()), FLUX_NAMES):
        return f
    for k in f:
        g = f[k]
        if hasattr(g, "keys") and _find(list(g.keys()), FLUX_NAMES):
            return g
    return None


def _attr_unit(obj, default=None):
    for key in ("unit", "units", "UNIT", "BUNIT"):
        if key in obj.attrs:
            v = obj.attrs[key]
            if isinstance(v, bytes):
                v = v.decode()
            return parse_unit(v, default)
    return default


def simulated_truth(path, rows=None) -> Table:
    """Read the truth of a simulated set written by :func:`deepz.simulate.write_hdf5`.

    Returns
    -------
    astropy.table.Table
        ``TARGETID`` (the global sample index ``offset + n``, as
        :func:`read_table` gives the spectra), ``Z_TRUE``, ``SPECTYPE_TRUE``
        and ``SUBTYPE_TRUE`` (the subclass after the colon) per sample.

    """
    from ..simulate.hdf5 import read_hdf5

    start, stop = (0, None) if rows is None else (rows.start or 0, rows.stop)
    try:
        sim = read_hdf5(path, start, stop)
    except (OSError, ValueError, KeyError) as exc:
        raise ReadError(path, f"not a readable deepz simulated set ({exc})") from exc
    n = len(sim.z)
    t = Table()
    t["TARGETID"] = np.arange(sim.offset, sim.offset + n, dtype=np.int64)
    t["Z_TRUE"] = np.asarray(sim.z, dtype=np.float64)
    t["SPECTYPE_TRUE"] = np.asarray(sim.class_names, dtype=str)[sim.label]
    sub = np.asarray([s.split(":", 1)[-1] for s in sim.subclass_names], dtype=str)
    t["SUBTYPE_TRUE"] = sub[sim.subclass]
    t.meta.update(SEED=int(sim.seed), OBSERVER=sim.observer)
    return t


def _read_simulated(path, flux_unit, dtype, rows=None):
    """Read a simulated set as spectra: physical flux, arms joined, truth in meta."""
    from ..simulate.hdf5 import read_hdf5
    from .desi import combine_arms

    start, stop = (0, None) if rows is None else (rows.start or 0, rows.stop)
    try:
        sim = read_hdf5(path, start, stop)
    except (OSError, ValueError, KeyError) as exc:
        raise ReadError(path, f"not a readable deepz simulated set ({exc})") from exc
    norm = np.asarray(sim.norm, dtype=np.float64)[:, None]
    flux = np.asarray(sim.flux, dtype=np.float64) * norm
    with np.errstate(divide="ignore", invalid="ignore"):
        ivar = np.where(norm > 0, np.asarray(sim.ivar, dtype=np.float64) / norm**2, 0.0)
    wave = np.asarray(sim.wave, dtype=np.float64)
    arms = (sim.meta or {}).get("arms")
    if arms:  # the arms side by side, each on its own grid: joined as DESI's reader does
        cut = {a: slice(int(lo), int(hi)) for a, (lo, hi) in arms.items()}
        wave, flux, ivar, _ = combine_arms(
            {a: wave[c] for a, c in cut.items()},
            {a: flux[:, c] for a, c in cut.items()},
            {a: ivar[:, c] for a, c in cut.items()},
        )
    truth = simulated_truth(path, rows)
    return _build(
        path,
        "simulated",
        wave,
        flux,
        ivar=ivar,
        tid=np.asarray(truth["TARGETID"]),
        unit_in=parse_unit(sim.unit, None),
        flux_unit=flux_unit,
        meta=truth[["Z_TRUE", "SPECTYPE_TRUE", "SUBTYPE_TRUE"]],
        row0=start,
        dtype=dtype,
    )


def _read_hdf5(path, flux_unit, dtype, rows=None):
    import h5py

    from ..simulate.hdf5 import FORMAT as SIMULATED

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ReadError(path, f"not a readable HDF5 file ({exc})") from exc
    if f.attrs.get("format") == SIMULATED:
        f.close()
        return _read_simulated(path, flux_unit, dtype, rows)
    with f:
        g = _h5_group(f)
        if g is None:
            raise ReadError(
                path, f"no flux dataset (looked for {FLUX_NAMES}; the file has {list(f.keys())})"
            )
        keys = list(g.keys())
        fk, wk = _find(keys, FLUX_NAMES), _find(keys, WAVE_NAMES)
        if wk is None:
            raise ReadError(path, f"no wavelength dataset (looked for {WAVE_NAMES}; has {keys})")
        fl = g[fk]
        sel = rows if (rows is not None and fl.ndim == 2) else slice(None)

        def get(name, per_spectrum=True):
            if name is None:
                return None
            ds = g[name]
            if per_spectrum and ds.ndim == fl.ndim and fl.ndim == 2:
                return native(ds[sel])
            return native(ds[()])

        try:
            flux = get(fk)
            wave = get(wk)
            ivk, erk, vak = _find(keys, IVAR_NAMES), _find(keys, ERR_NAMES), _find(keys, VAR_NAMES)
            ivar, err, var = get(ivk), get(erk), get(vak)
            mk = _find(keys, MASK_NAMES)
            mask = get(mk)
            tk = _find(keys, ID_NAMES)
            tid = None
            if tk is not None:
                tid = np.asarray(g[tk][sel] if fl.ndim == 2 else g[tk][()]).reshape(-1)
            meta = None
            if "meta" in keys and hasattr(g["meta"], "keys"):
                meta = Table()
                for c in g["meta"]:
                    v = g["meta"][c][sel] if fl.ndim == 2 else g["meta"][c][()]
                    v = np.asarray(v)
                    if v.dtype.kind in "SO":
                        v = v.astype(str)
                    meta[c] = v
                for c in ("SOURCE", "HDU", "ROW", "NPIX"):
                    if c in meta.colnames:
                        meta.rename_column(c, f"ORIG_{c}")
        except (OSError, ValueError) as exc:
            raise ReadError(path, f"HDF5 data unreadable ({exc})") from exc
        funit = parse_unit(
            _attr_unit(g[fk], None) or f.attrs.get("flux_unit") or g.attrs.get("flux_unit"), None
        )
        wunit = _attr_unit(g[wk], None) or parse_unit(f.attrs.get("wave_unit"), None)
        loglam = wk.lower() == "loglam"
        name = g.name
    if mask is not None and mask.dtype.kind == "f":
        mask = mask != 0
    return _build(
        path,
        name,
        wave,
        flux,
        ivar=ivar,
        err=err,
        var=var,
        mask=mask,
        tid=tid,
        wave_unit=wunit,
        unit_in=funit,
        flux_unit=flux_unit,
        loglam=loglam,
        meta=meta,
        row0=(rows.start or 0) if rows is not None else 0,
        dtype=dtype,
    )


def _read_npz(path, flux_unit, dtype, rows=None):
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ReadError(path, f"not a readable npz file ({exc})") from exc
    with z:
        keys = list(z.keys())
        fk, wk = _find(keys, FLUX_NAMES), _find(keys, WAVE_NAMES)
        if fk is None or wk is None:
            raise ReadError(path, f"npz needs flux and wave arrays (has {keys})")
        flux = z[fk]
        sel = rows if (rows is not None and flux.ndim == 2) else slice(None)

        def get(name):
            if name is None:
                return None
            a = z[name]
            return (
                a[sel]
                if (a.ndim == 2 and flux.ndim == 2)
                or (a.ndim == 1 and name in (_find(keys, ID_NAMES),) and flux.ndim == 2)
                else a
            )

        funit = parse_unit(str(z["flux_unit"]), None) if "flux_unit" in keys else None
        wunit = parse_unit(str(z["wave_unit"]), None) if "wave_unit" in keys else None
        mask = get(_find(keys, MASK_NAMES))
        tk = _find(keys, ID_NAMES)
        out = dict(
            wave=get(wk),
            flux=flux[sel],
            ivar=get(_find(keys, IVAR_NAMES)),
            err=get(_find(keys, ERR_NAMES)),
            var=get(_find(keys, VAR_NAMES)),
            mask=None if mask is None else (mask != 0 if mask.dtype.kind == "f" else mask),
            tid=None if tk is None else get(tk),
        )
        meta_keys = [k for k in keys if k.startswith("meta_")]
        meta = (
            Table({k[5:]: (z[k][sel] if flux.ndim == 2 else z[k]) for k in meta_keys})
            if meta_keys
            else None
        )
    if meta is not None:
        for c in ("SOURCE", "HDU", "ROW", "NPIX"):
            if c in meta.colnames:
                meta.rename_column(c, f"ORIG_{c}")
    return _build(
        path,
        "npz",
        **out,
        wave_unit=wunit,
        unit_in=funit,
        flux_unit=flux_unit,
        loglam=wk.lower() == "loglam",
        meta=meta,
        dtype=dtype,
        row0=(rows.start or 0) if rows is not None else 0,
    )


def _read_csv(path, flux_unit, dtype):
    ecsv = path.lower().endswith(".ecsv")
    try:
        t = Table.read(path, format="ascii.ecsv" if ecsv else "ascii.csv", comment="#")
    except Exception as exc:  # astropy's ascii readers raise many types
        raise ReadError(path, f"not a readable {'ECSV' if ecsv else 'CSV'} table ({exc})") from exc
    names = t.colnames
    wk, fk = _find(names, WAVE_NAMES), _find(names, FLUX_NAMES)
    if wk is None or fk is None:
        raise ReadError(
            path,
            f"CSV needs a wavelength column ({WAVE_NAMES}) and a flux column "
            f"({FLUX_NAMES}); has {names}",
        )

    def col(k):
        if k is None:
            return None
        c = t[k]
        if hasattr(c, "mask") and np.any(c.mask):
            return np.asarray(c.filled(np.nan), dtype=np.float64)
        return np.asarray(c)

    wunit = t[wk].unit
    funit = t[fk].unit
    mask = col(_find(names, MASK_NAMES))
    return _build(
        path,
        "csv",
        col(wk),
        col(fk),
        ivar=col(_find(names, IVAR_NAMES)),
        err=col(_find(names, ERR_NAMES)),
        var=col(_find(names, VAR_NAMES)),
        mask=mask,
        wave_unit=u.Unit(wunit) if wunit else None,
        unit_in=u.Unit(funit) if funit else None,
        flux_unit=flux_unit,
        loglam=wk.lower() == "loglam",
        dtype=dtype,
    )


def generic_kind(path: str) -> str:
    """Return "fits", "hdf5", "npz" or "csv" from a file's first bytes (then its name)."""
    check_exists(path)
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head.startswith(b"\x1f\x8b") and ".fit" in path.lower():
        return "fits"
    low = path.lower()
    if low.endswith((".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fits.fz")):
        raise ReadError(path, f"not a FITS file: it starts with {head[:9]!r}, not 'SIMPLE  ='")
    if low.endswith((".h5", ".hdf5", ".hdf")):
        raise ReadError(path, "not an HDF5 file (no HDF5 signature)")
    if low.endswith(".npz"):
        raise ReadError(path, "not an npz file (no zip signature)")
    if low.endswith((".csv", ".ecsv", ".txt", ".dat")):
        return "csv"
    try:
        head.decode("utf-8")
        return "csv"
    except UnicodeDecodeError:
        raise ReadError(path, "unknown file type (not FITS, HDF5, npz or text)") from None


def read_table_file(path: str, hdu=None, flux_unit=None, dtype=None, rows=None) -> SpectraBatch:
    """Read one generic file (the dispatcher's entry point)."""
    kind = generic_kind(path)
    if kind == "fits":
        return _read_fits(path, hdu, flux_unit, dtype, rows)
    if kind == "hdf5":
        return _read_hdf5(path, flux_unit, dtype, rows)
    if kind == "npz":
        return _read_npz(path, flux_unit, dtype, rows)
    return _read_csv(path, flux_unit, dtype)


def read_table(
    paths,
    hdu=None,
    flux_unit=None,
    on_error: str = "raise",
    dtype=None,
    progress: bool | None = None,
) -> SpectraBatch:
    """Read spectra from generic files: FITS tables or images, HDF5, npz, CSV/ECSV.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        Files, directories or glob patterns. The type is told from the
        content (FITS, HDF5 and zip signatures), then from the extension.
    hdu : int or str, optional
        FITS HDU holding the spectra; default the first table with a flux
        column, else the first image with a wavelength WCS.
    flux_unit : str or astropy unit, optional
        Unit of the batch. Files that state their flux unit (TUNIT, BUNIT,
        ECSV, a ``unit`` attribute) are converted to it; files that do not
        are taken to be in it. Default: the file's unit, or arbitrary
        (dimensionless) units when the file says nothing.
    on_error : {"raise", "skip"}
        As in :func:`deepz.io.read`.
    dtype : numpy dtype, optional
        float32 or float64; default the file's float type.
    progress : bool, optional
        tqdm bar over the files (if tqdm is installed).

    Returns
    -------
    SpectraBatch
        See the module docstring for the layouts. ids from a TARGETID/ID
        column or dataset, else the row index within each file.

    Raises
    ------
    ReadError
        A missing/truncated/unknown file, no flux or wavelength column, a
        grid that is not monotonic, negative ivar.

    """
    files = expand_paths(paths)
    batches, errors = read_many(
        files,
        lambda p: read_table_file(p, hdu=hdu, flux_unit=flux_unit, dtype=dtype),
        on_error,
        "reading",
        progress,
    )
    out = concatenate(batches)
    out.errors = errors
    return out


def generic_count(path: str) -> int:
    """Return the number of spectra in a generic file (cheap for FITS tables and HDF5)."""
    kind = generic_kind(path)
    if kind == "hdf5":
        import h5py

        try:
            with h5py.File(path, "r") as f:
                g = _h5_group(f)
                if g is None:
                    raise ReadError(path, "no flux dataset")
                ds = g[_find(list(g.keys()), FLUX_NAMES)]
                return ds.shape[0] if ds.ndim == 2 else 1
        except OSError as exc:
            raise ReadError(path, f"not a readable HDF5 file ({exc})") from exc
    if kind == "fits":
        with open_fits(path) as hdul:
            for h in hdul:
                if hasattr(h, "columns"):
                    fc = _find(h.columns.names, FLUX_NAMES)
                    if fc:
                        return h.header["NAXIS2"] if h.data[fc].ndim == 2 else 1
                elif h.data is not None and h.data.ndim == 2 and h.header.get("CRVAL1"):
                    return h.data.shape[0]
        return 1
    if kind == "npz":
        with np.load(path, allow_pickle=False) as z:
            fk = _find(list(z.keys()), FLUX_NAMES)
            return z[fk].shape[0] if fk and z[fk].ndim == 2 else 1
    return 1


def write_spectra(
    path, batch: SpectraBatch, overwrite: bool = False, compression: str | None = "gzip"
) -> str:
    """Write a batch in deepz's HDF5 layout (``.h5``/``.hdf5``) or as ``.npz``, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; the extension picks the format.
    batch : SpectraBatch
        A batch with one grid (shared or per spectrum); arms must be
        combined first.
    overwrite : bool
        Replace an existing file (atomically); otherwise ``FileExistsError``.
    compression : str or None
        HDF5 dataset compression ("gzip", "lzf", None).

    Returns
    -------
    str
        ``path``. :func:`read_table` (and :func:`deepz.io.read`) read back
        the same arrays, ids, unit and scalar meta columns; the batch's
        ``SOURCE``, ``HDU``, ``ROW``, ``NPIX`` come back as ``ORIG_SOURCE``
        ... (the new ones name the written file).

    """
    path = os.fspath(path)
    batch._no_arms("write_spectra")
    low = path.lower()
    try:
        from deepz import __version__ as version
    except ImportError:  # pragma: no cover
        version = "unknown"
    meta_cols = {
        c: np.asarray(batch.meta[c])
        for c in batch.meta.colnames
        if batch.meta[c].ndim == 1 and np.asarray(batch.meta[c]).dtype.kind in "biufSU"
    }
    if low.endswith((".h5", ".hdf5", ".hdf")):
        import h5py

        with atomic_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["deepz_format"] = "spectra"
            f.attrs["deepz_version"] = str(version)
            f.attrs["flux_unit"] = batch.flux_unit.to_string()
            f.attrs["wave_unit"] = "Angstrom"
            kw = {"compression": compression} if compression else {}
            f.create_dataset("wave", data=batch.wave, **kw)
            f.create_dataset("flux", data=batch.flux, **kw)
            f.create_dataset("ivar", data=batch.ivar, **kw)
            f.create_dataset("mask", data=batch.mask, **kw)
            f.create_dataset("targetid", data=batch.targetid)
            g = f.create_group("meta")
            for c, v in meta_cols.items():
                if v.dtype.kind == "U":
                    v = v.astype(h5py.string_dtype())
                g.create_dataset(c, data=v)
    elif low.endswith(".npz"):
        arrays = {
            "wave": batch.wave,
            "flux": batch.flux,
            "ivar": batch.ivar,
            "mask": batch.mask,
            "targetid": batch.targetid,
            "flux_unit": np.array(batch.flux_unit.to_string()),
            "wave_unit": np.array("Angstrom"),
        }
        arrays.update({f"meta_{c}": v for c, v in meta_cols.items()})
        with atomic_path(path, overwrite=overwrite) as tmp:
            np.savez_compressed(tmp, **arrays)
    else:
        raise ValueError(f"write_spectra writes .h5/.hdf5 or .npz, got {path!r}")
    return path
