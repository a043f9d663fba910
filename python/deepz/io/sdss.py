"""SDSS/BOSS/eBOSS ``spec-PLATE-MJD-FIBER.fits`` files (full or "lite").

Data model (https://data.sdss.org/datamodel/files/BOSS_SPECTRO_REDUX/RUN2D/spectra/PLATE4/spec.html):

- HDU 0 (PRIMARY): header with ``PLATEID``, ``MJD``, ``FIBERID``,
  ``COEFF0``/``COEFF1`` (log10 lambda of the first pixel and the step, 1e-4),
  ``BUNIT`` (``1E-17 erg/cm^2/s/Ang``), ``VACUUM = T``;
- ``COADD`` (binary table, one row per pixel): ``flux``, ``loglam`` (float32
  log10 vacuum Angstrom), ``ivar``, ``and_mask``, ``or_mask``, ``wdisp``,
  ``sky``, ``model``;
- ``SPECOBJ`` (one row; ``SPALL`` in SDSS-V): the pipeline's redshift and
  class (``Z``, ``Z_ERR``, ``ZWARNING``, ``CLASS``, ``SUBCLASS``), ids and
  positions;
- full files add ``SPZLINE`` and one HDU per exposure and camera (ignored).

What the reader does: the grid is rebuilt in float64 from ``COEFF0 +
COEFF1 * i`` when that agrees with the float32 ``loglam`` column (it does for
SDSS: the column is that grid rounded to float32), else ``10**loglam``; a
pixel with a nonzero ``and_mask`` (bad in every exposure) gets ivar 0 and the
``and_mask`` bits are kept in ``mask`` (``or_mask`` is not used for masking:
a pixel bad in one exposure is still good in the coadd); the id packs
(plate, mjd, fiber) as :func:`sdss_id`.
"""

from __future__ import annotations

import logging
import os
import re

import numpy as np
from astropy.table import Table

from ._common import (
    ReadError,
    as_mask,
    check_on_error,
    expand_paths,
    get_hdu,
    hdu_names,
    native,
    open_fits,
    parse_unit,
    read_many,
)
from .batch import FLAM, SpectraBatch, _is_flambda, concatenate, sanitize

__all__ = ["read_sdss", "sdss_id", "sdss_unpack_id"]

log = logging.getLogger("deepz.io")

_NAME_RE = re.compile(r"spec(?:-lite)?-(\d+)-(\d+)-(\d+)\.fits", re.IGNORECASE)
DLOGLAM = 1e-4


def sdss_id(plate, mjd, fiber) -> np.ndarray:
    """Pack SDSS (plate, mjd, fiber) into one int64 id.

    The layout is that of SDSS's ``SPECOBJID`` (DR8+) with the ``RUN2D``
    and line bits left at zero::

        id = plate << 50 | fiber << 38 | (mjd - 50000) << 24

    so ``id >> 24 << 24 == SPECOBJID >> 24 << 24`` for the same spectrum, ids
    sort by plate, and :func:`sdss_unpack_id` inverts it. Valid for
    plate < 16384, fiber < 4096 and 50000 <= mjd < 66384.

    Raises
    ------
    ValueError
        If a value is out of those ranges.

    """
    plate = np.asarray(plate, dtype=np.int64)
    mjd = np.asarray(mjd, dtype=np.int64)
    fiber = np.asarray(fiber, dtype=np.int64)
    if np.any((plate < 0) | (plate >= 1 << 14)):
        raise ValueError(f"plate must be in [0, 16384), got {plate}")
    if np.any((fiber < 0) | (fiber >= 1 << 12)):
        raise ValueError(f"fiber must be in [0, 4096), got {fiber}")
    if np.any((mjd < 50000) | (mjd >= 50000 + (1 << 14))):
        raise ValueError(f"mjd must be in [50000, 66384), got {mjd}")
    return (plate << 50) | (fiber << 38) | ((mjd - 50000) << 24)


def sdss_unpack_id(ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(plate, mjd, fiber)`` from ids made by :func:`sdss_id` (or SPECOBJIDs)."""
    ids = np.asarray(ids, dtype=np.int64)
    plate = ids >> 50
    fiber = (ids >> 38) & 0xFFF
    mjd = ((ids >> 24) & 0x3FFF) + 50000
    return plate, mjd, fiber


def _exact_loglam(loglam: np.ndarray, c0=None, c1=None) -> np.ndarray:
    """Return the float64 lattice ``c0 + c1 * k`` that float32 ``loglam`` rounds, if it is one.

    ``COEFF0``/``COEFF1`` of the primary header describe the plate's grid;
    the COADD of one fibre is a contiguous run of it (it may start a few
    pixels later). Without them the SDSS lattice (0 + 1e-4 k) is tried.
    """
    c0 = 0.0 if c0 is None or c1 is None else float(c0)
    c1 = DLOGLAM if c1 is None else float(c1)
    if not c1 > 0 or loglam.size == 0:
        return loglam
    k = np.round((loglam - c0) / c1)
    exact = c0 + c1 * k
    if np.all(np.diff(k) == 1) and np.max(np.abs(exact - loglam)) < 1e-5:
        return exact
    return loglam


def _cols(table_hdu) -> dict[str, str]:
    return {n.lower(): n for n in table_hdu.columns.names}


def _first(row: dict, *names, default=None):
    for n in names:
        if n in row:
            return row[n]
    return default


def _specobj_row(hdul) -> dict:
    names = hdu_names(hdul)
    for ext in ("SPECOBJ", "SPALL"):
        if ext in names:
            hdu = hdul[names.index(ext)]
            if hdu.data is not None and len(hdu.data):
                rec = hdu.data[0]
                return {n.upper(): rec[n] for n in hdu.columns.names}
    return {}


def _strip(v):
    if isinstance(v, (bytes, np.bytes_)):
        v = v.decode("ascii", "replace")
    if isinstance(v, str):
        return v.strip()
    return v.item() if isinstance(v, np.generic) else v


def _read_one(path: str, dtype=None) -> SpectraBatch:
    with open_fits(path) as hdul:
        names = hdu_names(hdul)
        if "COADD" not in names:
            hint = (
                " (an SDSS DR7-and-earlier spSpec file? those are not supported)"
                if hdul[0].data is not None and getattr(hdul[0].data, "ndim", 0) == 2
                else ""
            )
            raise ReadError(
                path,
                f"missing HDU 'COADD' (the file has {', '.join(names)}); "
                f"not an SDSS spec file{hint}",
            )
        coadd = get_hdu(hdul, "COADD", path)
        if not hasattr(coadd, "columns"):
            raise ReadError(path, "HDU 'COADD' is not a binary table")
        cols = _cols(coadd)
        missing = [c for c in ("loglam", "flux", "ivar") if c not in cols]
        if missing:
            raise ReadError(
                path, f"HDU 'COADD' lacks column(s) {missing} (has {coadd.columns.names})"
            )
        data = coadd.data
        if data is None or len(data) == 0:
            raise ReadError(path, "HDU 'COADD' has no rows")
        loglam = native(np.asarray(data[cols["loglam"]])).astype(np.float64)
        flux = native(np.asarray(data[cols["flux"]])).astype(dtype or np.float32)
        ivar = native(np.asarray(data[cols["ivar"]])).astype(flux.dtype)
        if "and_mask" in cols:
            mask = as_mask(np.asarray(data[cols["and_mask"]])).copy()
        else:
            log.debug("%s: COADD has no and_mask column; mask is zero", path)
            mask = np.zeros(flux.shape, np.uint32)
        hdr = hdul[0].header
        row = _specobj_row(hdul)
        unit = parse_unit(hdr.get("BUNIT"), FLAM)

    if not np.all(np.isfinite(loglam)):
        nbad = int((~np.isfinite(loglam)).sum())
        raise ReadError(path, f"COADD loglam has {nbad} non-finite values")
    if loglam.size > 1 and not np.all(np.diff(loglam) > 0):
        raise ReadError(path, "COADD loglam is not strictly increasing")
    loglam = _exact_loglam(loglam, hdr.get("COEFF0"), hdr.get("COEFF1"))
    wave = 10.0**loglam
    try:
        nonfinite = sanitize(flux[None, :], ivar[None, :], mask[None, :])
    except ValueError as exc:
        raise ReadError(path, f"COADD {exc}") from exc
    if not np.any(ivar > 0):
        raise ReadError(
            path,
            "no usable pixel: every pixel has ivar 0, a nonzero and_mask or a non-finite value",
        )
    if nonfinite[0]:
        log.info("%s: %d non-finite flux/ivar pixels masked", path, nonfinite[0])

    # ids: SPECOBJ/SPALL, then the primary header, then the file name
    plate = _first(row, "PLATE", "FIELD", default=hdr.get("PLATEID", hdr.get("FIELD")))
    mjd = _first(row, "MJD", default=hdr.get("MJD"))
    fiber = _first(row, "FIBERID", "FIBER", default=hdr.get("FIBERID"))
    if plate is None or mjd is None or fiber is None:
        m = _NAME_RE.search(os.path.basename(path))
        if m is None:
            raise ReadError(
                path,
                "cannot tell plate, mjd and fiber: no SPECOBJ HDU, no "
                "PLATEID/MJD/FIBERID header cards, and the file name is "
                "not spec-PLATE-MJD-FIBER.fits",
            )
        plate, mjd, fiber = (int(g) for g in m.groups())
    plate, mjd, fiber = int(plate), int(mjd), int(fiber)
    try:
        tid = sdss_id(plate, mjd, fiber)
    except ValueError as exc:
        raise ReadError(path, str(exc)) from exc

    if not _is_flambda(unit):
        log.debug("%s: BUNIT %s is not f_lambda; assuming %s", path, unit, FLAM)
        unit = FLAM
    meta = {
        "SOURCE": [path],
        "HDU": ["COADD"],
        "ROW": [0],
        "NPIX": [flux.size],
        "NPIX_NONFINITE": nonfinite,
        "PLATE": [plate],
        "MJD": [mjd],
        "FIBERID": [fiber],
        "COEFF0": [round(float(loglam[0]), 10)],
        "COEFF1": [round(float((loglam[-1] - loglam[0]) / max(loglam.size - 1, 1)), 12)],
    }
    if "SPECOBJID" in row:
        try:
            meta["SPECOBJID"] = [int(str(_strip(row["SPECOBJID"])) or -1)]
        except ValueError:
            meta["SPECOBJID"] = [-1]
    ra = _first(row, "PLUG_RA", "RACAT", "RA")
    dec = _first(row, "PLUG_DEC", "DECCAT", "DEC")
    if ra is not None and dec is not None:
        meta["RA"], meta["DEC"] = [float(ra)], [float(dec)]
    for src, dst in (
        ("Z", "Z_CAT"),
        ("Z_ERR", "ZERR_CAT"),
        ("ZWARNING", "ZWARN_CAT"),
        ("CLASS", "SPECTYPE_CAT"),
        ("SUBCLASS", "SUBTYPE_CAT"),
    ):
        if src in row:
            meta[dst] = [_strip(row[src])]
    batch = SpectraBatch(
        wave, flux[None, :], ivar[None, :], mask[None, :], tid[None], Table(meta), unit
    )
    return batch


def read_sdss(
    paths,
    on_error: str = "raise",
    common_grid: bool = False,
    dtype=None,
    progress: bool | None = None,
) -> SpectraBatch:
    """Read SDSS/BOSS ``spec-*.fits`` files into one batch.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        Files, directories or glob patterns (see :func:`deepz.io.read`).
    on_error : {"raise", "skip"}
        "raise": the first bad file raises :class:`~deepz.io.ReadError` naming
        it. "skip": bad files are left out, listed in ``batch.errors`` as
        ``(path, problem)`` and in one logged warning.
    common_grid : bool
        False (default): one grid per spectrum unless all files share the same
        grid. True: SDSS grids all lie on one log10 lattice of step 1e-4, so
        the spectra are placed, without interpolation, on the shared grid that
        spans them all (pixels outside a spectrum's range get flux 0, ivar 0).
    dtype : numpy dtype, optional
        float32 (default: what the files hold) or float64.
    progress : bool, optional
        Show a tqdm bar (if tqdm is installed); default for more than one file.

    Returns
    -------
    SpectraBatch
        N = number of files read; ids from :func:`sdss_id`; ``meta`` with
        ``SOURCE``, ``HDU`` ("COADD"), ``PLATE``, ``MJD``, ``FIBERID``,
        ``SPECOBJID``, ``RA``, ``DEC``, ``NPIX``, and ``Z_CAT``, ``ZERR_CAT``,
        ``ZWARN_CAT``, ``SPECTYPE_CAT`` (SDSS CLASS), ``SUBTYPE_CAT`` (SUBCLASS)
        from the SPECOBJ HDU when the file has it.

    Raises
    ------
    ReadError
        A missing file, a truncated file, a missing COADD HDU or column, a
        grid that is not increasing, negative ivar, or a file with no usable
        pixel (all masked).

    """
    check_on_error(on_error)
    files = expand_paths(paths)
    batches, errors = read_many(
        files, lambda p: _read_one(p, dtype), on_error, "reading SDSS", progress
    )
    out = _to_common_grid(batches) if common_grid else concatenate(batches)
    out.errors = errors
    return out


def _to_common_grid(batches: list[SpectraBatch]) -> SpectraBatch:
    """Place SDSS spectra on the log10 lattice of step 1e-4 that spans them all."""
    starts = []
    for b in batches:
        w = b.wave_of(0)
        ll = np.log10(w)
        k0 = ll[0] / DLOGLAM
        steps = np.diff(ll) / DLOGLAM
        if abs(k0 - round(k0)) > 1e-3 or (steps.size and np.max(np.abs(steps - 1)) > 1e-3):
            raise ValueError(
                f"{b.source[0]}: grid is not on the SDSS log10 lattice of step "
                f"1e-4; use common_grid=False"
            )
        starts.append(round(k0))
    lo = min(starts)
    hi = max(s + b.flux.shape[1] for s, b in zip(starts, batches, strict=True))
    unit = batches[0].flux_unit
    batches = [b.to_unit(unit) for b in batches]
    wave = 10.0 ** (DLOGLAM * np.arange(lo, hi))
    n = len(batches)
    dtype = np.result_type(*[b.dtype for b in batches])
    flux = np.zeros((n, hi - lo), dtype)
    ivar = np.zeros((n, hi - lo), dtype)
    mask = np.zeros((n, hi - lo), np.uint32)
    for i, (s, b) in enumerate(zip(starts, batches, strict=True)):
        sl = slice(s - lo, s - lo + b.flux.shape[1])
        flux[i, sl], ivar[i, sl], mask[i, sl] = b.flux[0], b.ivar[0], b.mask[0]
    from astropy.table import vstack

    meta = vstack([b.meta for b in batches], join_type="outer", metadata_conflicts="silent")
    tid = np.concatenate([b.targetid for b in batches])
    return SpectraBatch(wave, flux, ivar, mask, tid, meta, unit)
