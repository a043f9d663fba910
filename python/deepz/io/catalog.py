"""Redshift catalogues: ZWARN bits, writers (FITS, CSV, ECSV, HDF5, Parquet) and readers.

A deepz catalogue is a table with one row per spectrum, in the column names
of DESI's redrock/zbest files where a column means the same thing, so that
it joins with survey catalogues on ``TARGETID`` and tools written for
redrock output read it:

================  =========  ====================================================
column            type       meaning
================  =========  ====================================================
``TARGETID``      int64      the batch's id (DESI TARGETID, packed SDSS id, ...)
``Z``             float64    best redshift
``ZERR``          float64    1-sigma uncertainty of ``Z`` (NaN if none)
``ZWARN``         int64      :class:`ZWarn` bits; 0 = no problem known
``SPECTYPE``      str        class: ``GALAXY``, ``QSO``, ``STAR`` (redrock's)
``SUBTYPE``       str        sub-class (GaSNet's 13 classes, star types, ...)
``DELTACHI2``     float64    confidence (redrock: chi2 gap to the 2nd best
                             solution); deepz: ``2 ln(p1/p2)`` of the two
                             highest P(z) peaks, a likelihood-ratio analogue
================  =========  ====================================================

deepz adds its own columns (upper case, no clash with redrock's):
``Z_MEAN``, ``Z_MODE``, ``Z_LO68``/``Z_HI68`` (PDF summary), ``P_CLASS``
(vector of class probabilities), ``Z_PDF`` (vector over the model's redshift
bins), ``Z_LINE`` (line-search redshift), ``NLINES`` (lines found), ``SNR``,
``NPIX_GOOD``, ``MODEL`` (model name). Any other columns are written as
given.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
import os

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ._atomic import atomic_path
from ._common import ReadError, check_exists, hdu_names, open_fits

__all__ = [
    "CATALOG_COLUMNS",
    "COLUMN_DOCS",
    "REDROCK_COMPATIBLE",
    "ZWarn",
    "attach_catalog",
    "make_catalog",
    "read_catalog",
    "write_catalog",
]

log = logging.getLogger("deepz.io")


class ZWarn(enum.IntFlag):
    """Bits of the ``ZWARN`` column; 0 means no known problem.

    Bits 0-11 are redrock's (``redrock.zwarning.ZWarningMask``) with
    redrock's meanings, so that a deepz ``ZWARN`` reads like a redrock one
    and the two can be OR-ed. deepz sets five of them, with the same meaning:

    - ``SKY`` (bit 0): the target is a sky fibre (DESI ``OBJTYPE == "SKY"``).
    - ``LITTLE_COVERAGE`` (bit 1), alias ``OUT_OF_RANGE``: the input does not
      cover the model's wavelength grid (too little overlap to predict
      reliably).
    - ``SMALL_DELTA_CHI2`` (bit 2), alias ``LOW_CONFIDENCE``: the best
      solution is not clearly better than the second (``DELTACHI2`` below the
      threshold; for deepz the two highest P(z) peaks are too close).
    - ``Z_FITLIMIT`` (bit 5), alias ``Z_AT_EDGE``: the best redshift is at an
      edge of the model's redshift range.
    - ``NODATA`` (bit 9): every pixel is masked (ivar 0).

    Bits 3, 4, 6, 7, 8, 10, 11 (``NEGATIVE_MODEL``, ``MANY_OUTLIERS``,
    ``NEGATIVE_EMISSION``, ``UNPLUGGED``, ``BAD_TARGET``, ``BAD_MINFIT``,
    ``POORDATA``) are listed so that redrock catalogues decode; deepz does
    not set them. redrock reserves bits 16-23 for survey afterburners, so
    deepz's own bits start at 24:

    - ``LOW_SNR`` (24): median S/N per pixel over the used range below the
      threshold.
    - ``LINE_SEARCH_DISAGREES`` (25): the line-search refinement moved z by
      more than its tolerance from the network's z (the network's z is kept).
    - ``MASKED_TOO_MUCH`` (26): the fraction of masked pixels in the model's
      range exceeds the threshold (a quantitative cousin of ``POORDATA``).
    - ``CLASS_AMBIGUOUS`` (27): the two most probable classes are too close.
    - ``BAD_INPUT`` (28): the input spectrum is unusable (non-finite values,
      negative ivar, unreadable); no prediction was made.
    """

    SKY = 1 << 0
    LITTLE_COVERAGE = 1 << 1
    SMALL_DELTA_CHI2 = 1 << 2
    NEGATIVE_MODEL = 1 << 3
    MANY_OUTLIERS = 1 << 4
    Z_FITLIMIT = 1 << 5
    NEGATIVE_EMISSION = 1 << 6
    UNPLUGGED = 1 << 7
    BAD_TARGET = 1 << 8
    NODATA = 1 << 9
    BAD_MINFIT = 1 << 10
    POORDATA = 1 << 11
    LOW_SNR = 1 << 24
    LINE_SEARCH_DISAGREES = 1 << 25
    MASKED_TOO_MUCH = 1 << 26
    CLASS_AMBIGUOUS = 1 << 27
    BAD_INPUT = 1 << 28
    # deepz names for redrock bits with the same meaning (aliases)
    OUT_OF_RANGE = LITTLE_COVERAGE
    LOW_CONFIDENCE = SMALL_DELTA_CHI2
    Z_AT_EDGE = Z_FITLIMIT

    @classmethod
    def names(cls, value: int) -> list[str]:
        """Return the canonical names of the bits set in ``value`` (unknown bits as ``BITn``)."""
        value = int(value)
        out = []
        for bit in range(63):
            if value >> bit & 1:
                member = cls._value2member_map_.get(1 << bit)
                out.append(member.name if member is not None else f"BIT{bit}")
        return out


#: ZWarn bits whose meaning is redrock's (same bit, same meaning).
REDROCK_COMPATIBLE = (
    ZWarn.SKY | ZWarn.LITTLE_COVERAGE | ZWarn.SMALL_DELTA_CHI2 | ZWarn.Z_FITLIMIT | ZWarn.NODATA
)

#: Standard columns: name -> (numpy dtype kind, fill for missing, description).
CATALOG_COLUMNS = {
    "TARGETID": (np.int64, -1, "target id"),
    "Z": (np.float64, np.nan, "best redshift"),
    "ZERR": (np.float64, np.nan, "1-sigma redshift error"),
    "ZWARN": (np.int64, 0, "warning bits (deepz.io.ZWarn; 0 = fine)"),
    "SPECTYPE": (str, "", "class: GALAXY, QSO or STAR"),
    "SUBTYPE": (str, "", "sub-class"),
    "DELTACHI2": (np.float64, np.nan, "confidence: 2 ln(p1/p2) of the two best P(z) peaks"),
}


#: What each deepz column holds: name -> (unit or "", TCOMMn text). Written as the
#: columns' TUNIT/TCOMM in FITS and as their unit/description elsewhere.
COLUMN_DOCS = {
    **{name: ("", desc) for name, (_, _, desc) in CATALOG_COLUMNS.items()},
    "Z_MEAN": ("", "mean of P(z)"),
    "Z_MODE": ("", "mode of P(z) (sub-bin refined)"),
    "Z_MEDIAN": ("", "median of P(z)"),
    "Z_ARGMAX": ("", "centre of the most probable redshift bin"),
    "Z_LO68": ("", "16th percentile of P(z)"),
    "Z_HI68": ("", "84th percentile of P(z)"),
    "Z_PDF": ("", "P(z) per redshift bin (bins in HDU Z_BINS)"),
    "Z_CLASS": ("", "most probable redshift slot (classifiers)"),
    "Z_NET": ("", "the network's redshift before refinement"),
    "Z_LINES": ("", "redshift of the line search (NaN: no line found)"),
    "Z_MEMBERS": ("", "redshift of each ensemble member"),
    "NLINES": ("", "emission lines found by the line search"),
    "PEAK_PROB": ("", "probability within the highest P(z) peak"),
    "CONFIDENCE": ("", "probability of the chosen class"),
    "CLASS": ("", "index of the chosen class"),
    "P_CLASS": ("", "probability of each class (names in CLASSES)"),
    "P_SUBCLASS": ("", "probability of each sub-class (names in SUBCLASSES)"),
    "P_GALAXY": ("", "probability of GALAXY"),
    "P_QSO": ("", "probability of QSO"),
    "P_STAR": ("", "probability of STAR"),
    "SNR_MEDIAN": ("", "median S/N per pixel on the model grid"),
    "COVERAGE": ("", "fraction of the model grid the input covers"),
    "MASKED_FRAC": ("", "fraction of the covered model grid that is masked"),
    "Z_TRUE": ("", "true redshift (simulated input)"),
    "SPECTYPE_TRUE": ("", "true class (simulated input)"),
    "SUBTYPE_TRUE": ("", "true sub-class (simulated input)"),
    "Z_CAT": ("", "redshift the input file carries (survey pipeline)"),
    "SPECTYPE_CAT": ("", "class the input file carries (survey pipeline)"),
    "SOURCE": ("", "input file"),
}


def _document(t: Table) -> None:
    """Give every column of ``t`` a description (and unit) from :data:`COLUMN_DOCS`."""
    for name in t.colnames:
        unit, desc = COLUMN_DOCS.get(name, ("", None))
        if not t[name].description:
            t[name].description = desc or name.lower().replace("_", " ")
        if unit and t[name].unit is None:
            t[name].unit = unit


def make_catalog(
    targetid, z, zerr=None, zwarn=None, spectype=None, subtype=None, deltachi2=None, **columns
) -> Table:
    """Build a catalogue table with the standard columns first, in their dtypes.

    Parameters
    ----------
    targetid, z : array_like
        (N,) ids and redshifts.
    zerr, zwarn, spectype, subtype, deltachi2 : array_like, optional
        (N,) each; missing ones are filled (NaN, 0, "").
    **columns
        Extra deepz columns (``Z_PDF=...``, ``P_CLASS=...``, ``NLINES=...``);
        (N,) or (N, K) arrays.

    Returns
    -------
    astropy.table.Table

    """
    tid = np.asarray(targetid).astype(np.int64).reshape(-1)
    n = tid.size
    given = {
        "TARGETID": tid,
        "Z": z,
        "ZERR": zerr,
        "ZWARN": zwarn,
        "SPECTYPE": spectype,
        "SUBTYPE": subtype,
        "DELTACHI2": deltachi2,
    }
    t = Table()
    for name, (dt, fill, desc) in CATALOG_COLUMNS.items():
        v = given[name]
        if v is None:
            if name in ("ZERR", "ZWARN", "SPECTYPE", "SUBTYPE", "DELTACHI2"):
                v = np.full(n, fill, dtype=object if dt is str else dt)
            else:
                raise ValueError(f"{name} is required")
        v = np.asarray(v)
        if v.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},) like targetid, got {v.shape}")
        v = v.astype(str) if dt is str else v.astype(dt)
        t[name] = v
        t[name].description = desc
    for name, v in columns.items():
        v = np.asarray(v)
        if v.shape[:1] != (n,):
            raise ValueError(f"column {name} must have {n} rows, got shape {v.shape}")
        t[name.upper()] = v
    return t


def _as_table(table) -> Table:
    if isinstance(table, Table):
        return table
    if isinstance(table, np.ndarray) and table.dtype.names:
        return Table(table)
    if isinstance(table, dict):
        return Table(table)
    if hasattr(table, "to_dict") and hasattr(table, "columns"):  # pandas
        return Table.from_pandas(table)
    raise TypeError(
        f"table must be an astropy Table, a dict of columns, a structured array "
        f"or a pandas DataFrame, got {type(table).__name__}"
    )


def _version() -> str:
    try:
        from deepz import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover
        return "unknown"


_FORMATS = {
    ".fits": "fits",
    ".fit": "fits",
    ".fits.gz": "fits",
    ".csv": "csv",
    ".ecsv": "ecsv",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def _format_of(path: str, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in set(_FORMATS.values()):
            raise ValueError(f"format must be one of {sorted(set(_FORMATS.values()))}, got {fmt!r}")
        return fmt
    low = path.lower()
    for ext in sorted(_FORMATS, key=len, reverse=True):
        if low.endswith(ext):
            return _FORMATS[ext]
    raise ValueError(
        f"cannot tell the format of {path!r} from its extension; use one of "
        f"{sorted(_FORMATS)} or pass format="
    )


def write_catalog(
    path,
    table,
    overwrite: bool = False,
    seed: int | None = None,
    meta: dict | None = None,
    format: str | None = None,
) -> str:
    """Write a redshift catalogue atomically (temporary file, then rename).

    Parameters
    ----------
    path : str or os.PathLike
        Output file; the extension picks the format: ``.fits`` (binary table,
        HDU ``REDSHIFTS`` as redrock's), ``.csv``, ``.ecsv``, ``.h5``/``.hdf5``,
        ``.parquet`` (needs pyarrow).
    table : astropy.table.Table, dict, structured array or pandas.DataFrame
        One row per spectrum; see :func:`make_catalog` and
        :data:`CATALOG_COLUMNS` for the standard columns.
    overwrite : bool
        Replace an existing file (atomically); otherwise ``FileExistsError``.
    seed : int, optional
        The run's random seed, stored in the metadata (``SEED``).
    meta : dict, optional
        More metadata (short keys; FITS header cards for ``.fits``).
    format : str, optional
        Override the extension: "fits", "csv", "ecsv", "hdf5", "parquet".

    Returns
    -------
    str
        ``path``.

    Notes
    -----
    Metadata written: the table's own ``meta`` (a Predictor catalogue's
    ``MODEL``, ``TASK``, ``Z_BINS``, ``CLASSES``), ``DEEPZVER`` (deepz
    version), ``SEED`` (if given), ``DATE`` (UTC), ``meta``, and for FITS the
    ZWARN bit names (``ZWBITnn``); :func:`read_catalog` gives them back.
    FITS keeps scalars in the primary and table headers, short lists and
    dicts as JSON strings in the table header (card comment ``deepz meta
    (JSON)``), and long numeric lists (a P(z) model's ``Z_BINS``, ``Z_EDGES``)
    each in a table HDU of that name (one ``VALUE`` column); every column gets
    its ``TCOMMn`` (and ``TUNITn`` where it has a unit) from
    :data:`COLUMN_DOCS`. CSV keeps them as ``# key: value`` comment lines before
    the header row (lists as JSON); ECSV/HDF5/Parquet in the table meta.
    CSV and Parquet hold no vector columns: ``P_SUBCLASS`` (N, K) is written as
    ``P_SUBCLASS_0`` ... ``P_SUBCLASS_{K-1}`` and the widths in the meta
    ``VECTORS``, from which :func:`read_catalog` joins them again.
    A write interrupted at any point (exception, Ctrl-C) leaves ``path``
    untouched: either the old file or none, never a partial one.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    ValueError
        Unknown extension.
    ImportError
        Parquet without pyarrow.

    """
    path = os.fspath(path)
    fmt = _format_of(path, format)
    t = _as_table(table).copy(copy_data=False)
    own = dict(t.meta)  # the table's metadata (Predictor: MODEL, TASK, Z_BINS, CLASSES)
    info = {
        **own,
        "DEEPZVER": _version(),
        "DATE": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if seed is not None:
        info["SEED"] = int(seed)
    info.update(meta or {})
    optional = set(own) - set(meta or {})
    _document(t)
    if fmt in ("csv", "parquet"):
        t, widths = _split_vectors(t)
        if widths:
            info["VECTORS"] = widths
            log.info(
                "%s: vector columns %s written as scalar columns NAME_0..NAME_K-1 "
                "(read_catalog joins them again)",
                path,
                ", ".join(widths),
            )
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError(
                "writing Parquet needs pyarrow: pip install 'deepz[parquet]' (or write .fits, "
                ".csv, .ecsv or .h5)"
            ) from None
    with atomic_path(path, overwrite=overwrite) as tmp:
        if fmt == "fits":
            _write_fits(tmp, t, info, optional)
        elif fmt == "csv":
            t.meta = {}
            with open(tmp, "w", newline="") as fh:
                fh.writelines(
                    f"# {k}: {v if _is_scalar(v) else _json(v)}\n" for k, v in info.items()
                )
                t.write(fh, format="ascii.csv")
        elif fmt == "ecsv":
            t.meta = dict(info)
            t.write(tmp, format="ascii.ecsv", overwrite=True)
        elif fmt == "hdf5":
            t.meta = dict(info)
            t.write(tmp, format="hdf5", path="REDSHIFTS", overwrite=True, serialize_meta=True)
        else:
            _write_parquet(tmp, t, info)
    log.info("wrote %d rows to %s", len(t), path)
    return path


_META = "deepz meta"
_META_JSON = "deepz meta (JSON)"
_LEGACY_META = ("DEEPZVER", "SEED", "DATE")  # read back from files written without comments


def _is_scalar(v) -> bool:
    return v is None or isinstance(v, (str, bool, int, float, np.generic))


_PARQUET_META = b"deepz_meta"  # schema metadata key: the catalogue's meta as JSON


def _write_parquet(path: str, t: Table, info: dict) -> None:
    """Write scalar columns and ``info`` with pyarrow (astropy's Parquet reader needs pandas)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {c: pa.array(np.asarray(t[c])) for c in t.colnames}
    fields = [
        pa.field(
            c,
            cols[c].type,
            metadata={b"unit": str(t[c].unit or ""), b"comment": t[c].description or ""},
        )
        for c in t.colnames
    ]
    schema = pa.schema(fields, metadata={_PARQUET_META: _json(info)})
    pq.write_table(pa.Table.from_arrays(list(cols.values()), schema=schema), path)


def _read_parquet(path: str) -> Table:
    """Read a Parquet catalogue with pyarrow: numpy columns, units, comments and meta."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("reading Parquet needs pyarrow: pip install 'deepz[parquet]'") from None
    pt = pq.read_table(path)
    t = Table()
    for field, col in zip(pt.schema, pt.columns, strict=True):
        values = col.to_numpy(zero_copy_only=False)
        if values.dtype == object:
            values = values.astype(str)
        t[field.name] = values
        fmeta = field.metadata or {}
        t[field.name].unit = fmeta.get(b"unit", b"").decode() or None
        t[field.name].description = fmeta.get(b"comment", b"").decode() or None
    meta = (pt.schema.metadata or {}).get(_PARQUET_META)
    t.meta = json.loads(meta) if meta else {}
    return t


def _json(v) -> str:
    def default(x):
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
        return str(x)

    return json.dumps(v, default=default)


_ARRAY_META = "DEEPZARR"  # header card of a meta array's own HDU


def _numeric_list(v) -> bool:
    if isinstance(v, np.ndarray):
        return v.ndim == 1 and v.dtype.kind in "iuf" and v.size > 8
    return (
        isinstance(v, (list, tuple))
        and len(v) > 8
        and all(isinstance(x, (int, float, np.integer, np.floating)) for x in v)
    )


def _split_vectors(t: Table) -> tuple[Table, dict]:
    """Replace each (N, K) column by K scalar columns ``NAME_k``; return the widths."""
    widths = {c: int(np.prod(t[c].shape[1:])) for c in t.colnames if t[c].ndim > 1}
    if not widths:
        return t, {}
    out = Table(meta=t.meta)
    for c in t.colnames:
        if c not in widths:
            out[c] = t[c]
            continue
        flat = np.asarray(t[c]).reshape(len(t), -1)
        for k in range(widths[c]):
            out[f"{c}_{k}"] = flat[:, k]
            out[f"{c}_{k}"].description = f"{t[c].description or c} [{k}]"
    return out, widths


def _join_vectors(t: Table) -> Table:
    """Undo :func:`_split_vectors` from the ``VECTORS`` meta of a CSV/Parquet catalogue."""
    widths = t.meta.get("VECTORS")
    if isinstance(widths, str):
        widths = json.loads(widths)
    if not widths:
        return t
    out = Table(meta={k: v for k, v in t.meta.items() if k != "VECTORS"})
    parts = {f"{c}_{k}": c for c, w in widths.items() for k in range(int(w))}
    for c in t.colnames:
        if c not in parts:
            out[c] = t[c]
        elif c == f"{parts[c]}_0":
            name, w = parts[c], int(widths[parts[c]])
            out[name] = np.stack([np.asarray(t[f"{name}_{k}"]) for k in range(w)], axis=1)
    return out


def _write_fits(tmp: str, t: Table, info: dict, optional: set = frozenset()) -> None:
    primary = fits.PrimaryHDU()
    t.meta = {}
    hdu = fits.table_to_hdu(t)
    hdu.name = "REDSHIFTS"
    for i, name in enumerate(t.colnames, start=1):
        if t[name].description:
            hdu.header[f"TCOMM{i}"] = str(t[name].description)[:68]
    arrays = []
    for k, v in info.items():
        key = str(k).upper()
        if len(key) > 8:  # FITS's long-keyword convention keeps the name whole
            key = f"HIERARCH {key}"
        if _numeric_list(v):  # a long numeric list (Z_BINS, Z_EDGES): an HDU of its own
            col = fits.Column(name="VALUE", format="D", array=np.asarray(v, dtype=np.float64))
            extra = fits.BinTableHDU.from_columns([col], name=str(k).upper())
            extra.header[_ARRAY_META] = (str(k), "deepz meta array: this key")
            arrays.append(extra)
            continue
        headers = (primary.header, hdu.header) if _is_scalar(v) else (hdu.header,)
        card = (v, _META) if _is_scalar(v) else (_json(v), _META_JSON)
        for h in headers:
            try:
                h[key] = card
            except (ValueError, TypeError) as exc:
                if k not in optional:  # the caller's own meta must be written
                    raise
                log.warning("table meta %r not written to the FITS header: %s", k, exc)
    for h in (primary.header, hdu.header):
        for bit in ZWarn:
            h[f"ZWBIT{bit.bit_length() - 1:02d}"] = (bit.name, "ZWARN bit name")
    fits.HDUList([primary, hdu, *arrays]).writeto(tmp, overwrite=True, checksum=True)


def read_catalog(path, hdu: str | int | None = None) -> Table:
    """Read a redshift catalogue: deepz's, redrock's (``REDSHIFTS``), zbest (``ZBEST``).

    Parameters
    ----------
    path : str or os.PathLike
        ``.fits`` (HDU ``REDSHIFTS``, else ``ZBEST``, else the first table),
        ``.csv``, ``.ecsv``, ``.h5``/``.hdf5``, ``.parquet``. A deepz
        simulated set (HDF5) reads as its truth table
        (:func:`deepz.io.generic.simulated_truth`).
    hdu : str or int, optional
        The FITS HDU to read.

    Returns
    -------
    astropy.table.Table
        Columns as stored (string columns stripped); the metadata in
        ``meta``.

    Raises
    ------
    ReadError
        A missing, truncated or unreadable file, or a FITS file without a
        table.

    """
    path = os.fspath(path)
    check_exists(path)
    try:
        fmt = _format_of(path, None)
    except ValueError:
        fmt = "fits"
    if fmt != "fits":
        try:
            if fmt == "csv":
                t = Table.read(path, format="ascii.csv", comment="#")
                t.meta = _csv_meta(path)
            elif fmt == "ecsv":
                t = Table.read(path, format="ascii.ecsv")
            elif fmt == "hdf5" and _is_simulated(path):
                from .generic import simulated_truth

                return simulated_truth(path)
            elif fmt == "hdf5":
                t = Table.read(path, format="hdf5", path="REDSHIFTS")
            else:
                t = _read_parquet(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ReadError(path, f"not a readable {fmt} catalogue ({exc})") from exc
        return _unmask_strings(_join_vectors(t))
    with open_fits(path) as hdul:
        names = hdu_names(hdul)
        if hdu is None:
            for cand in ("REDSHIFTS", "ZBEST", "ZCATALOG"):
                if cand in names:
                    hdu = cand
                    break
            else:
                tables = [i for i, h in enumerate(hdul) if hasattr(h, "columns")]
                if not tables:
                    raise ReadError(path, f"no table HDU (the file has {', '.join(names)})")
                hdu = tables[0]
        if isinstance(hdu, str) and hdu.upper() not in names:
            raise ReadError(path, f"missing HDU {hdu!r} (the file has {', '.join(names)})")
        h = hdul[hdu]
        t = Table(h.data, copy=True)
        t.meta = {}
        for k in dict.fromkeys(h.header):  # write_catalog's cards: comment "deepz meta"
            if k in ("", "COMMENT", "HISTORY"):
                continue
            comment = h.header.comments[k]
            if comment == _META_JSON:
                t.meta[k] = json.loads(h.header[k])
            elif comment == _META or k in _LEGACY_META:
                t.meta[k] = h.header[k]
        for x in hdul:
            if _ARRAY_META in x.header and x is not h:
                t.meta[str(x.header[_ARRAY_META])] = [float(v) for v in x.data["VALUE"]]
    for c in t.colnames:
        if t[c].dtype.kind in "SU":
            t[c] = np.char.strip(np.asarray(t[c]).astype(str))
        elif t[c].dtype.byteorder == ">":
            t[c] = t[c].astype(t[c].dtype.newbyteorder("="))
    return t


def _is_simulated(path: str) -> bool:
    import h5py

    from ..simulate.hdf5 import FORMAT

    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except OSError:
        return False


def _csv_meta(path: str) -> dict:
    """Read the ``# key: value`` lines that :func:`write_catalog` puts before a CSV header."""
    meta = {}
    with open(path) as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            key, sep, value = line[1:].strip().partition(": ")
            if sep:
                if value.startswith(("[", "{")):  # lists and dicts are written as JSON
                    try:
                        value = json.loads(value)
                    except ValueError:
                        pass
                meta[key] = value
    return meta


def _unmask_strings(t: Table) -> Table:
    """Text formats read empty strings back as masked: make them '' again."""
    for c in t.colnames:
        col = t[c]
        if col.dtype.kind in "SU" and hasattr(col, "mask"):
            t[c] = np.asarray(col.filled("")).astype(str)
    return t


_CAT_MAP = (
    ("Z", "Z_CAT"),
    ("ZERR", "ZERR_CAT"),
    ("ZWARN", "ZWARN_CAT"),
    ("SPECTYPE", "SPECTYPE_CAT"),
    ("SUBTYPE", "SUBTYPE_CAT"),
    ("DELTACHI2", "DELTACHI2_CAT"),
)


def attach_catalog(batch, catalog) -> None:
    """Join catalogue redshifts into ``batch.meta`` on TARGETID (in place).

    ``Z, ZERR, ZWARN, SPECTYPE, SUBTYPE, DELTACHI2`` of ``catalog`` become
    ``Z_CAT, ZERR_CAT, ...``; spectra absent from the catalogue get NaN,
    -1 or "" (and one log line). A catalogue with repeated TARGETIDs uses the
    first row of each.
    """
    cat = _as_table(catalog)
    if "TARGETID" not in cat.colnames:
        raise ValueError("catalogue has no TARGETID column")
    ctid = np.asarray(cat["TARGETID"]).astype(np.int64)
    if len(ctid) == 0:
        found = np.zeros(len(batch), bool)
        rows = np.zeros(len(batch), np.int64)
    else:
        order = np.argsort(ctid, kind="stable")  # stable: first of repeated ids
        sorted_tid = ctid[order]
        pos = np.clip(np.searchsorted(sorted_tid, batch.targetid), 0, len(ctid) - 1)
        found = sorted_tid[pos] == batch.targetid
        rows = order[pos]
    if not np.all(found):
        log.info("%d of %d targets are not in the catalogue", int((~found).sum()), len(batch))
    for src, dst in _CAT_MAP:
        if src not in cat.colnames:
            continue
        col = np.asarray(cat[src])
        if len(col) == 0:
            col = np.zeros(1, dtype=col.dtype)
        if col.dtype.kind in "SU":
            vals = np.where(found, np.char.strip(col.astype(str))[rows], "")
        elif col.dtype.kind == "f":
            vals = np.where(found, col[rows], np.nan)
        else:
            vals = np.where(found, col[rows], -1)
        batch.meta[dst] = vals
