"""DESI ``coadd-*.fits`` and ``spectra-*.fits`` files.

Data model (https://desidatamodel.readthedocs.io, ``coadd-SURVEY-PROGRAM-PIXNUM``
and ``spectra-...``): HDU ``FIBERMAP`` (one row per spectrum, ``TARGETID``
and targeting/fibre columns; ``EXP_FIBERMAP`` and ``SCORES`` beside it), then
for each arm X in B, R, Z (or a single ``BRZ`` after ``coadd_cameras``):
``X_WAVELENGTH`` (M_X,) float64 vacuum Angstrom, ``X_FLUX`` and ``X_IVAR``
(N, M_X) float32 in 1e-17 erg/s/cm2/A, ``X_MASK`` (N, M_X) uint32 (stored
int32 with ``BZERO = 2**31``, sometimes tile-compressed), ``X_RESOLUTION``
(N, ndiag, M_X; not read). The arms of DESI are linear with 0.8 A pixels:
B 3600-5800 A (2751 px), R 5760-7620 A (2326 px), Z 7520-9824 A (2881 px), on
one common lattice, overlapping in 5760-5800 and 7520-7620 A.

Redshift catalogues (``redrock-*.fits``, older ``zbest-*.fits``) sit next to
the coadds: HDU ``REDSHIFTS`` (``ZBEST``) with ``TARGETID, Z, ZERR, ZWARN,
SPECTYPE, SUBTYPE, DELTACHI2, CHI2, COEFF, NPIXELS``; :func:`read_desi` joins
them on ``TARGETID`` into ``meta`` (``Z_CAT`` ...).
"""

from __future__ import annotations

import logging
import os

import numpy as np
from astropy.table import Table

# the kernel by name: tests may monkeypatch ``deepz.io.desi.resample``
from deepz.kernels import resample

from ._common import (
    ReadError,
    as_mask,
    check_on_error,
    expand_paths,
    get_hdu,
    hdu_names,
    image_data,
    native,
    open_fits,
    parse_unit,
    read_many,
)
from .batch import FLAM, SpectraBatch, _is_flambda, concatenate, sanitize
from .catalog import attach_catalog, read_catalog

__all__ = ["combine_arms", "desi_arms", "find_redrock", "read_desi", "resample"]

log = logging.getLogger("deepz.io")

#: FIBERMAP columns kept in ``meta`` by default (those present in the file).
DEFAULT_FIBERMAP_COLUMNS = (
    "TARGET_RA",
    "TARGET_DEC",
    "OBJTYPE",
    "COADD_FIBERSTATUS",
    "FIBERSTATUS",
    "TILEID",
    "PETAL_LOC",
    "FIBER",
    "EXPID",
    "NIGHT",
    "COADD_NUMEXP",
    "COADD_EXPTIME",
    "DESI_TARGET",
    "BGS_TARGET",
    "MWS_TARGET",
    "SCND_TARGET",
    "EBV",
)

_ARM_ORDER = {"B": 0, "R": 1, "Z": 2}


def desi_arms(hdul) -> list[str]:
    """Return the arms of an open DESI file (from its ``*_WAVELENGTH`` HDUs), blue first."""
    arms = [n[: -len("_WAVELENGTH")] for n in hdu_names(hdul) if n.endswith("_WAVELENGTH")]
    return sorted(arms, key=lambda a: (_ARM_ORDER.get(a, 9), a))


def find_redrock(path: str) -> str | None:
    """Return the redrock/zbest catalogue next to a coadd/spectra file, or None.

    ``coadd-X.fits`` and ``spectra-X.fits`` look for ``redrock-X.fits`` then
    ``zbest-X.fits`` in the same directory.
    """
    d, base = os.path.split(path)
    for prefix in ("coadd-", "spectra-"):
        if base.startswith(prefix):
            rest = base[len(prefix) :]
            for cat in ("redrock-", "zbest-"):
                cand = os.path.join(d, cat + rest)
                if os.path.exists(cand):
                    return cand
    return None


def _read_one(
    path: str,
    arms: str = "combine",
    rows: slice | None = None,
    fibermap_columns="default",
    dtype=None,
    combine_wave=None,
    redrock="auto",
) -> SpectraBatch:
    with open_fits(path) as hdul:
        fm_hdu = get_hdu(hdul, "FIBERMAP", path)
        n_all = int(fm_hdu.header["NAXIS2"])
        rows = slice(0, n_all) if rows is None else rows
        armlist = desi_arms(hdul)
        if not armlist:
            raise ReadError(
                path,
                f"no arm found: no *_WAVELENGTH HDU (the file has "
                f"{', '.join(hdu_names(hdul))}); not a DESI coadd/spectra file",
            )
        partial = [a for a in "BRZ" if a not in armlist]
        if set(armlist) & set("BRZ") and partial:
            raise ReadError(
                path,
                f"arm(s) {', '.join(partial)} missing: the file has "
                f"{', '.join(a + '_WAVELENGTH' for a in armlist)} only "
                f"(truncated, or a partial file?)",
            )
        waves, fluxes, ivars, masks = {}, {}, {}, {}
        unit = None
        names = hdu_names(hdul)
        for a in armlist:
            for part in ("FLUX", "IVAR"):
                if f"{a}_{part}" not in names:
                    raise ReadError(
                        path, f"arm {a}: missing HDU '{a}_{part}' (the file has {', '.join(names)})"
                    )
            whdu = hdul[f"{a}_WAVELENGTH"]
            w = native(np.asarray(whdu.data, dtype=np.float64)).reshape(-1)
            wunit = parse_unit(whdu.header.get("BUNIT"), None)
            if wunit is not None and str(wunit) not in ("Angstrom", "AA"):
                import astropy.units as u

                w = (w * wunit).to_value(u.AA, u.spectral())
            fhdu = hdul[f"{a}_FLUX"]
            shape = fhdu.data.shape if fhdu.data is not None else None
            if shape is None or len(shape) != 2 or shape[1] != w.size or shape[0] != n_all:
                raise ReadError(
                    path,
                    f"arm {a}: {a}_FLUX has shape {shape}, expected "
                    f"({n_all}, {w.size}) from FIBERMAP rows and {a}_WAVELENGTH",
                )
            f = image_data(fhdu, rows).astype(dtype or np.float32)
            iv = image_data(hdul[f"{a}_IVAR"], rows).astype(f.dtype)
            if iv.shape != f.shape:
                raise ReadError(path, f"arm {a}: {a}_IVAR has shape {iv.shape}, {a}_FLUX {f.shape}")
            if f"{a}_MASK" in names:
                mk = as_mask(image_data(hdul[f"{a}_MASK"], rows)).copy()
                if mk.shape != f.shape:
                    raise ReadError(
                        path, f"arm {a}: {a}_MASK has shape {mk.shape}, {a}_FLUX {f.shape}"
                    )
            else:
                log.debug("%s: no %s_MASK; mask is zero", path, a)
                mk = np.zeros(f.shape, np.uint32)
            if not np.all(np.isfinite(w)):
                raise ReadError(path, f"arm {a}: {a}_WAVELENGTH has non-finite values")
            if w.size > 1 and not np.all(np.diff(w) > 0):
                raise ReadError(path, f"arm {a}: {a}_WAVELENGTH is not strictly increasing")
            unit = unit or parse_unit(fhdu.header.get("BUNIT"), FLAM)
            waves[a], fluxes[a], ivars[a], masks[a] = w, f, iv, mk
        fm = fm_hdu.data[rows]
        fm_names = {c.upper(): c for c in fm_hdu.columns.names}
        if "TARGETID" not in fm_names:
            raise ReadError(path, "FIBERMAP has no TARGETID column")
        tid = native(np.asarray(fm[fm_names["TARGETID"]])).astype(np.int64)
        if fibermap_columns == "all":
            keep = [c for c in fm_hdu.columns.names if c.upper() != "TARGETID"]
        else:
            want = DEFAULT_FIBERMAP_COLUMNS if fibermap_columns == "default" else fibermap_columns
            keep = [fm_names[c.upper()] for c in want if c.upper() in fm_names]
        meta = Table()
        for c in keep:
            col = native(np.asarray(fm[c]))
            if col.dtype.kind == "S":
                col = np.char.strip(col.astype(str))
            meta[c.upper()] = col

    n = len(tid)
    nonfinite = np.zeros(n, dtype=np.int64)
    for a in armlist:
        try:
            nonfinite += sanitize(fluxes[a], ivars[a], masks[a])
        except ValueError as exc:
            raise ReadError(path, f"arm {a}: {exc}") from exc
    good = sum(np.count_nonzero(ivars[a] > 0, axis=1) for a in armlist)
    if n and rows == slice(0, n_all) and not np.any(good):
        raise ReadError(
            path,
            "no usable pixel: every pixel of every spectrum has ivar 0, a "
            "nonzero mask or a non-finite value",
        )
    if nonfinite.any():
        log.info("%s: %d non-finite flux/ivar pixels masked", path, int(nonfinite.sum()))
    if unit is None or not _is_flambda(unit):
        unit = FLAM
    start = rows.start or 0
    meta["SOURCE"] = np.full(n, path)
    meta["HDU"] = np.full(n, "+".join(f"{a}_FLUX" for a in armlist))
    meta["ROW"] = np.arange(start, start + n)
    meta["NPIX_NONFINITE"] = nonfinite
    meta["NPIX_GOOD"] = good

    if arms == "separate":
        batch = SpectraBatch(waves, fluxes, ivars, masks, tid, meta, unit)
    else:
        w, f, iv, mk = combine_arms(waves, fluxes, ivars, masks, new_wave=combine_wave)
        meta["NPIX"] = np.full(n, w.size)
        batch = SpectraBatch(w, f, iv, mk, tid, meta, unit)
    if redrock is not None:
        _attach_redrock(batch, path, redrock)
    return batch


def _attach_redrock(batch: SpectraBatch, path: str, redrock) -> None:
    if isinstance(redrock, str) and redrock == "auto":
        cat_path = find_redrock(path)
        if cat_path is None:
            return
        try:
            cat = read_catalog(cat_path)
        except (ReadError, OSError, ValueError, KeyError) as exc:
            log.warning("%s: could not read the catalogue next to it (%s)", path, exc)
            return
        log.info("%s: redshifts from %s", path, cat_path)
    elif isinstance(redrock, Table):
        cat = redrock
    else:
        cat = read_catalog(redrock)
    attach_catalog(batch, cat)


def read_desi(
    paths,
    arms: str = "combine",
    redrock="auto",
    on_error: str = "raise",
    combine_wave=None,
    fibermap_columns="default",
    dtype=None,
    progress: bool | None = None,
) -> SpectraBatch:
    """Read DESI coadd or spectra files into one batch.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        Files, directories or glob patterns (see :func:`deepz.io.read`).
    arms : {"combine", "separate"}
        "combine" (default): the arms are joined on one grid by
        :func:`combine_arms` (inverse-variance weighted where they overlap).
        "separate": ``wave``, ``flux``, ``ivar`` and ``mask`` are dicts
        keyed by arm ("B", "R", "Z").
    redrock : "auto", None, str or astropy.table.Table
        Catalogue redshifts to join on TARGETID into ``meta`` (``Z_CAT``,
        ``ZERR_CAT``, ``ZWARN_CAT``, ``SPECTYPE_CAT``, ``SUBTYPE_CAT``,
        ``DELTACHI2_CAT``): "auto" looks for ``redrock-X.fits`` or
        ``zbest-X.fits`` next to ``coadd-X.fits``/``spectra-X.fits``; a path or
        table uses that catalogue for every file; None reads none.
    on_error : {"raise", "skip"}
        As in :func:`deepz.io.read_sdss`.
    combine_wave : array_like, optional
        Grid (Angstrom) to combine the arms onto; default the union of the
        arms' common lattice (3600-9824 A at 0.8 A, 7781 px for DESI).
    fibermap_columns : "default", "all" or list of str
        FIBERMAP columns copied into ``meta`` (``TARGETID`` always becomes
        ``batch.targetid``). "default" keeps positions, OBJTYPE, fibre status,
        tile, fibre and target bits (:data:`DEFAULT_FIBERMAP_COLUMNS`).
    dtype : numpy dtype, optional
        float32 (default, as in the files) or float64.
    progress : bool, optional
        tqdm bar over the files (if tqdm is installed); default for > 1 file.

    Returns
    -------
    SpectraBatch
        One row per FIBERMAP row of each file, in file order. ``meta`` has
        ``SOURCE``, ``HDU``, ``ROW``, ``NPIX_GOOD`` (unmasked pixels, all
        arms), ``NPIX_NONFINITE`` and the FIBERMAP columns. Sky fibres and
        fibres with a bad ``COADD_FIBERSTATUS`` are kept (check ``OBJTYPE``,
        ``*FIBERSTATUS``); their pixels are masked where the pipeline said so.

    Raises
    ------
    ReadError
        A missing or truncated file, a missing FIBERMAP or arm HDU, shapes
        that disagree, negative ivar, or a file whose every pixel is masked.

    """
    check_on_error(on_error)
    if arms not in ("combine", "separate"):
        raise ValueError(f"arms must be 'combine' or 'separate', got {arms!r}")
    files = expand_paths(paths)

    def one(p):
        return _read_one(
            p,
            arms=arms,
            fibermap_columns=fibermap_columns,
            dtype=dtype,
            combine_wave=combine_wave,
            redrock=redrock,
        )

    batches, errors = read_many(files, one, on_error, "reading DESI", progress)
    out = concatenate(batches)
    out.errors = errors
    return out


# ---------------------------------------------------------------- combining
def _linear_step(w: np.ndarray) -> float | None:
    if w.size < 2:
        return None
    d = np.diff(w)
    step = (w[-1] - w[0]) / (w.size - 1)
    if np.max(np.abs(d - step)) <= 1e-6 * step:
        return float(step)
    return None


def _common_lattice(waves: dict) -> tuple[float, float, int] | None:
    """Return (start, step, n) of the lattice all arms sit on, or None."""
    steps = [_linear_step(w) for w in waves.values()]
    if any(s is None for s in steps):
        return None
    step = steps[0]
    if any(abs(s - step) > 1e-6 * step for s in steps):
        return None
    start = min(w[0] for w in waves.values())
    for w in waves.values():
        k = (w[0] - start) / step
        if abs(k - round(k)) > 1e-3:
            return None
    stop = max(w[-1] for w in waves.values())
    return start, step, int(round((stop - start) / step)) + 1


def combine_arms(wave: dict, flux: dict, ivar: dict, mask: dict | None = None, new_wave=None):
    """Join spectrograph arms onto one grid, inverse-variance weighted where they overlap.

    Parameters
    ----------
    wave : dict of str to numpy.ndarray
        (M_a,) increasing grid of each arm, Angstrom.
    flux, ivar : dict of str to numpy.ndarray
        (N, M_a) flux and inverse variance of each arm (0 = masked).
    mask : dict of str to numpy.ndarray, optional
        (N, M_a) uint32 mask bits of each arm.
    new_wave : array_like, optional
        Output grid. Default: when the arms are linear with one step and
        their pixels lie on one common lattice (DESI), the union of that
        lattice; otherwise a linear grid from the bluest to the reddest
        pixel with the finest arm step.

    Returns
    -------
    wave : numpy.ndarray
        (M,) float64 output grid.
    flux, ivar : numpy.ndarray
        (N, M), dtype of the input flux. Where arms overlap,
        ``flux = sum(ivar_a flux_a) / sum(ivar_a)`` and ``ivar = sum(ivar_a)``
        (the optimal combination of independent measurements); where no arm
        has ivar > 0, ivar is 0 and flux the plain mean of the covering arms
        (0 outside every arm).
    mask : numpy.ndarray
        (N, M) uint32: the bitwise AND of the covering arms' masks (a bit is
        set when every arm that covers the pixel has it, as SDSS's and_mask);
        0 where no arm covers. Pixels with a nonzero mask have ivar 0.

    Notes
    -----
    On a common lattice the arms' pixels are placed without interpolation.
    Otherwise (or with ``new_wave``) each arm is first rebinned with
    :func:`deepz.kernels.resample` (flux-conserving, ``fill=0``: output bins
    an arm does not fully cover get ivar 0 from that arm) and its mask is
    carried by the nearest arm pixel.

    """
    armlist = list(flux)
    if mask is None:
        mask = {a: np.zeros(flux[a].shape, np.uint32) for a in armlist}
    n = flux[armlist[0]].shape[0]
    dtype = np.result_type(*[flux[a].dtype for a in armlist])
    lattice = None if new_wave is not None else _common_lattice(wave)
    if lattice is not None:
        start, step, m = lattice
        out_wave = start + step * np.arange(m)
    else:
        if new_wave is None:
            step = min(float(np.min(np.diff(wave[a]))) for a in armlist)
            lo = min(wave[a][0] for a in armlist)
            hi = max(wave[a][-1] for a in armlist)
            new_wave = lo + step * np.arange(int(np.floor((hi - lo) / step + 1e-9)) + 1)
        out_wave = np.asarray(new_wave, dtype=np.float64)
        m = out_wave.size
    num = np.zeros((n, m))
    wsum = np.zeros((n, m))
    fsum = np.zeros((n, m))
    cover = np.zeros(m, dtype=np.int64)
    mand = np.full((n, m), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    for a in armlist:
        fa = flux[a].astype(np.float64)
        iva = ivar[a].astype(np.float64)
        iva = np.where(mask[a] != 0, 0.0, iva)
        if lattice is not None:
            o = int(round((wave[a][0] - start) / step))
            sl = slice(o, o + wave[a].size)
            num[:, sl] += iva * fa
            wsum[:, sl] += iva
            fsum[:, sl] += fa
            cover[sl] += 1
            mand[:, sl] &= mask[a]
        else:
            wa = np.asarray(wave[a], dtype=np.float64)
            rf, riv = resample(wa, fa, out_wave, ivar=iva, method="flux", fill=0.0)
            rf = np.nan_to_num(np.asarray(rf, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
            riv = np.nan_to_num(np.asarray(riv, dtype=np.float64), nan=0.0)
            # the arm covers the output centres within its own first..last centre
            tol = 1e-6 * (wa[-1] - wa[0]) / max(wa.size - 1, 1)
            inside = (out_wave >= wa[0] - tol) & (out_wave <= wa[-1] + tol)
            num += riv * rf
            wsum += riv
            fsum[:, inside] += rf[:, inside]
            cover[inside] += 1
            idx = np.clip(np.searchsorted(wa, out_wave[inside]), 1, wa.size - 1)
            near = np.where(
                np.abs(wa[idx - 1] - out_wave[inside]) <= np.abs(wa[idx] - out_wave[inside]),
                idx - 1,
                idx,
            )
            mand[:, inside] &= mask[a][:, near]
    with np.errstate(invalid="ignore", divide="ignore"):
        plain = np.where(cover > 0, fsum / np.maximum(cover, 1), 0.0)
        out_flux = np.where(wsum > 0, num / np.where(wsum > 0, wsum, 1.0), plain)
    out_mask = np.where(cover > 0, mand, np.uint32(0)).astype(np.uint32)
    out_ivar = np.where(out_mask != 0, 0.0, wsum)
    return out_wave, out_flux.astype(dtype), out_ivar.astype(dtype), out_mask
