"""Shared plumbing of the readers: errors, paths, FITS opening, units, progress.

Nothing here is public except :class:`ReadError` (re-exported by
:mod:`deepz.io`).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

log = logging.getLogger("deepz.io")

#: The flux unit of SDSS/BOSS and DESI files: 1e-17 erg s^-1 cm^-2 A^-1.
FLAM_UNIT_STR = "1e-17 erg / (s cm2 Angstrom)"

#: File name endings :func:`expand_paths` picks up inside a directory.
KNOWN_SUFFIXES = (
    ".fits",
    ".fit",
    ".fts",
    ".fits.gz",
    ".fit.gz",
    ".fits.fz",
    ".h5",
    ".hdf5",
    ".hdf",
    ".npz",
    ".csv",
    ".ecsv",
)


class ReadError(Exception):
    """A file could not be read as spectra.

    The message always starts with the file name and says what is wrong with
    it; the two parts are also available as :attr:`path` and :attr:`problem`.

    Parameters
    ----------
    path : str or os.PathLike
        The offending file.
    problem : str
        What is wrong with it ("truncated: ...", "no COADD HDU ...", ...).

    """

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = str(problem)
        super().__init__(f"{self.path}: {self.problem}")

    def __reduce__(self):  # picklable (multiprocessing)
        return (type(self), (self.path, self.problem))


def expand_paths(paths) -> list[str]:
    """Return the files named by ``paths``, in a stable order.

    ``paths`` is one path or an iterable of them; each may be a file, a
    directory (its files with a known suffix, sorted, not recursive) or a glob
    pattern (``*``, ``?``, ``[...]``; sorted matches). A name that matches
    nothing is kept as it is, so that reading it gives a clear "no such file"
    error naming it. Duplicates are dropped (first occurrence kept).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[str] = []
    for p in paths:
        s = os.fspath(p)
        if os.path.isdir(s):
            found = sorted(
                str(q)
                for q in Path(s).iterdir()
                if q.is_file() and q.name.lower().endswith(KNOWN_SUFFIXES)
            )
            if not found:
                log.warning("directory %s holds no file with a known suffix %s", s, KNOWN_SUFFIXES)
            out.extend(found)
        elif glob.has_magic(s) and not os.path.exists(s):
            found = sorted(glob.glob(s))
            if not found:
                log.warning("pattern %s matches no file", s)
            out.extend(found)
        else:
            out.append(s)
    seen: set[str] = set()
    unique = []
    for s in out:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def check_exists(path: str) -> None:
    """Raise :class:`ReadError` if ``path`` is not a readable, non-empty file."""
    if not os.path.exists(path):
        raise ReadError(path, "no such file")
    if not os.path.isfile(path):
        raise ReadError(path, "not a regular file")
    if os.path.getsize(path) == 0:
        raise ReadError(path, "empty file (0 bytes)")


@contextlib.contextmanager
def open_fits(path: str, memmap: bool = True) -> Iterator:
    """Open a FITS file for the whole of a read, turning its failures into ReadError.

    All headers are parsed on entry, so a truncated file is detected at once
    (astropy only warns about it); warnings raised while the file is open are
    captured: truncation becomes a :class:`ReadError`, others are logged at
    DEBUG level (real survey headers carry many harmless non-standard cards).
    Image data are memory-mapped and *not* scaled (``BZERO`` masks are
    scaled by :func:`image_data`), which is what lets memmap work on DESI
    ``*_MASK`` HDUs.
    """
    from astropy.io import fits

    check_exists(path)
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(9)
    if head == b"SIMPLE  =" and size % 2880:
        raise ReadError(
            path,
            f"truncated: {size} bytes is not a whole number of 2880-byte "
            f"FITS blocks (the file was cut {size % 2880} bytes into a block)",
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(
                path, memmap=memmap, do_not_scale_image_data=True, lazy_load_hdus=False
            )
        except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise ReadError(path, f"not a readable FITS file ({exc})") from exc
        try:
            _raise_truncated(path, caught)
            try:
                yield hdul
            except ReadError:
                raise
            except (TypeError, ValueError, OSError, IndexError) as exc:
                _raise_truncated(path, caught)
                if "buffer is too small" in str(exc):
                    raise ReadError(
                        path, "truncated: a data unit ends past the end of the file"
                    ) from exc
                raise ReadError(path, f"{type(exc).__name__}: {exc}") from exc
            _raise_truncated(path, caught)
        finally:
            hdul.close()
    for w in caught:
        log.debug("%s: %s", path, w.message)


def _raise_truncated(path: str, caught) -> None:
    for w in caught:
        msg = str(w.message)
        if "truncated" in msg or "file is corrupted" in msg:
            raise ReadError(path, f"truncated: {msg}")


def hdu_names(hdul) -> list[str]:
    """Return the upper-case EXTNAMEs of an open HDUList (PRIMARY for HDU 0)."""
    return [(h.name or "").upper() for h in hdul]


def get_hdu(hdul, name: str, path: str):
    """Return the HDU called ``name`` or raise ReadError listing what the file has."""
    names = hdu_names(hdul)
    if name.upper() not in names:
        raise ReadError(path, f"missing HDU {name!r} (the file has {', '.join(names)})")
    return hdul[names.index(name.upper())]


def image_data(hdu, rows: slice | None = None) -> np.ndarray:
    """Return an image HDU's data (optionally rows ``rows`` of the first axis), scaled.

    Files are opened with ``do_not_scale_image_data=True`` so that memmap
    works; ``BSCALE``/``BZERO`` are applied here. An integer image with
    ``BZERO = 2**31`` (FITS unsigned 32-bit convention, DESI masks) becomes
    uint32; other scaled images become float64. The result is native-endian.
    """
    data = hdu.data
    if data is None:
        raise ValueError(f"HDU {hdu.name} has no data")
    if rows is not None:
        data = data[rows]
    bzero = hdu.header.get("BZERO", 0)
    bscale = hdu.header.get("BSCALE", 1)
    data = native(np.asarray(data))
    if bscale == 1 and bzero == 0:
        return data
    if data.dtype.kind == "i" and bscale == 1 and bzero == 2 ** (8 * data.dtype.itemsize - 1):
        return data.view(np.dtype(f"u{data.dtype.itemsize}")) ^ np.array(
            1 << (8 * data.dtype.itemsize - 1), dtype=f"u{data.dtype.itemsize}"
        )
    return data.astype(np.float64) * bscale + bzero


def native(a: np.ndarray) -> np.ndarray:
    """Return ``a`` in native byte order (a copy only when needed)."""
    a = np.asarray(a)
    if a.dtype.byteorder not in ("=", "|") and a.dtype.byteorder != _NATIVE:
        return a.astype(a.dtype.newbyteorder("="))
    return a


_NATIVE = "<" if np.little_endian else ">"


def as_mask(a: np.ndarray) -> np.ndarray:
    """Return survey mask bits as uint32 (int32 bit patterns are kept)."""
    a = native(np.asarray(a))
    if a.dtype == np.uint32:
        return a
    if a.dtype.kind in "iu" and a.dtype.itemsize == 4:
        return a.view(np.uint32)
    if a.dtype == np.bool_:
        return a.astype(np.uint32)
    return a.astype(np.int64).astype(np.uint32)


def progress(
    iterable: Iterable, total: int | None = None, desc: str = "", enable: bool | None = None
):
    """Wrap ``iterable`` in a tqdm bar when tqdm is installed and ``enable`` allows.

    ``enable=None`` shows a bar only for more than one item; without tqdm the
    iterable is returned unchanged (progress is then logged per file at DEBUG).
    """
    if enable is False:
        return iterable
    if enable is None and (total is None or total <= 1):
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit="file", leave=False)


def parse_unit(text, default=None):
    """Parse a unit string from a FITS/HDF5 header leniently; ``default`` if unparsable.

    Handles the spellings found in survey files: ``1E-17 erg/cm^2/s/Ang``
    (SDSS), ``10**-17 erg/(s cm2 Angstrom)`` (DESI), ``Angstrom``, ``nm``.
    """
    import astropy.units as u

    if text is None:
        return default
    if isinstance(text, u.UnitBase):
        return text
    s = str(text).strip()
    if not s:
        return default
    cleaned = (
        s.replace("Angstroms", "Angstrom")
        .replace("Ang", "Angstrom")
        .replace("Angstromstrom", "Angstrom")
        .replace("^", "")
    )
    for candidate, fmt in ((s, "fits"), (s, None), (cleaned, "fits"), (cleaned, None)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return u.Unit(candidate, format=fmt) if fmt else u.Unit(candidate)
        except (ValueError, TypeError):
            continue
    log.debug("could not parse unit %r; using %s", s, default)
    return default


ON_ERROR = ("raise", "skip")


def check_on_error(on_error: str) -> None:
    """Raise ValueError unless ``on_error`` is 'raise' or 'skip'."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")


def read_many(
    files: list[str],
    read_one,
    on_error: str = "raise",
    desc: str = "reading",
    show_progress: bool | None = None,
):
    """Call ``read_one(path)`` on each file; return ``(results, errors)``.

    ``on_error="raise"`` lets the first :class:`ReadError` propagate (any other
    exception from a file becomes a ReadError naming it). ``"skip"`` collects
    ``(path, problem)`` for each failing file, logs one warning listing them,
    and raises only if no file at all could be read.
    """
    check_on_error(on_error)
    if not files:
        raise ReadError("<no files>", "no input file (empty list, or no match for the patterns)")
    results, errors = [], []
    for path in progress(files, total=len(files), desc=desc, enable=show_progress):
        log.debug("%s %s", desc, path)
        try:
            try:
                results.append(read_one(path))
            except ReadError:
                raise
            except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
                raise ReadError(path, f"{type(exc).__name__}: {exc}") from exc
        except ReadError as exc:
            if on_error == "raise":
                raise
            errors.append((exc.path, exc.problem))
    if errors:
        log.warning(
            "skipped %d of %d files:\n%s",
            len(errors),
            len(files),
            "\n".join(f"  {p}: {m}" for p, m in errors),
        )
    if not results:
        raise ReadError(
            files[0] if len(files) == 1 else f"<all {len(files)} files>",
            "no file could be read: " + "; ".join(f"{p}: {m}" for p, m in errors),
        )
    return results, errors
