"""``read`` and ``iter_read``: any mix of survey and generic files, by content."""

from __future__ import annotations

from collections.abc import Iterator

from ._common import (
    ReadError,
    check_on_error,
    expand_paths,
    hdu_names,
    log,
    open_fits,
    read_many,
)
from ._common import progress as _progress_bar
from .batch import SpectraBatch, concatenate
from .desi import _read_one as _read_desi_file
from .generic import generic_count, generic_kind, read_table_file
from .sdss import _read_one as _read_sdss_file

__all__ = ["iter_read", "read", "sniff"]


def sniff(path: str) -> str:
    """Return the kind of a file: "sdss", "desi", "catalog", "fits", "hdf5", "npz" or "csv".

    Told from the content, not the name: FITS files with a ``COADD`` (or
    ``SPECOBJ``/``SPALL``) HDU are SDSS spec files; with ``FIBERMAP`` and
    ``*_WAVELENGTH`` HDUs, DESI coadd/spectra files; with ``REDSHIFTS`` or
    ``ZBEST``, redshift catalogues (which :func:`read` passes over); other
    FITS files are generic tables/images.

    Raises
    ------
    ReadError
        If the file does not exist, is empty, truncated, or of no known type.

    """
    kind = generic_kind(str(path))
    if kind != "fits":
        return kind
    with open_fits(str(path)) as hdul:
        names = hdu_names(hdul)
    if "COADD" in names or "SPECOBJ" in names or "SPALL" in names:
        return "sdss"
    if "FIBERMAP" in names or any(n.endswith("_WAVELENGTH") for n in names):
        return "desi"
    if "REDSHIFTS" in names or "ZBEST" in names:
        return "catalog"
    return "fits"


def _spectra_files(files: list[str]) -> list[str]:
    """Drop redshift catalogues (redrock/zbest files) that globs and directories pick up."""
    out = []
    for f in files:
        try:
            if sniff(f) == "catalog":
                log.info("%s is a redshift catalogue, not spectra: not read as spectra", f)
                continue
        except ReadError:
            pass  # reported when the file is read
        out.append(f)
    return out


def _read_any(path: str, arms, redrock, flux_unit, dtype, hdu, rows=None) -> SpectraBatch:
    kind = sniff(path)
    if kind == "sdss":
        return _read_sdss_file(path, dtype)
    if kind == "desi":
        return _read_desi_file(path, arms=arms, redrock=redrock, dtype=dtype, rows=rows)
    return read_table_file(path, hdu=hdu, flux_unit=flux_unit, dtype=dtype, rows=rows)


def read(
    paths,
    on_error: str = "raise",
    arms: str = "combine",
    redrock="auto",
    flux_unit=None,
    dtype=None,
    hdu=None,
    progress: bool | None = None,
) -> SpectraBatch:
    """Read spectra from any mix of SDSS, DESI and generic files into one batch.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        Files, directories (their files with a known suffix: .fits, .fit,
        .fits.gz, .h5, .hdf5, .npz, .csv, .ecsv; not recursive) and glob
        patterns (``"data/spec-*.fits"``), in any mix. Each file's type is
        told from its content (:func:`sniff`).
    on_error : {"raise", "skip"}
        "raise" (default): the first bad file raises :class:`ReadError`,
        whose message starts with the file name and says what is wrong.
        "skip": the other files are read; failures are listed in
        ``batch.errors`` as ``(path, problem)`` and logged as one warning.
        If no file can be read, ReadError is raised either way.
    arms : {"combine", "separate"}
        DESI arms joined on one grid or kept apart (see :func:`read_desi`).
    redrock : "auto", None, str or Table
        DESI catalogue redshifts to attach (see :func:`read_desi`).
    flux_unit : str or astropy unit, optional
        For generic files (see :func:`read_table`); survey files are in
        1e-17 erg/s/cm2/A.
    dtype : numpy dtype, optional
        float32 or float64 (default: as stored).
    hdu : int or str, optional
        HDU of generic FITS files.
    progress : bool, optional
        tqdm progress bar over files when tqdm is installed (default: on for
        more than one file); messages go to the ``deepz.io`` logger.

    Returns
    -------
    SpectraBatch
        The spectra of all files, in file order (see
        :func:`deepz.io.concatenate` for how different grids are joined).

    Examples
    --------
    >>> from deepz import io
    >>> batch = io.read("spectra/spec-*.fits", on_error="skip")  # doctest: +SKIP
    >>> batch.flux.shape, batch.targetid[:3], batch.errors        # doctest: +SKIP

    """
    check_on_error(on_error)
    files = _spectra_files(expand_paths(paths))
    batches, errors = read_many(
        files,
        lambda p: _read_any(p, arms, redrock, flux_unit, dtype, hdu),
        on_error,
        "reading",
        progress,
    )
    out = concatenate(batches)
    out.errors = errors
    return out


def iter_read(
    paths,
    chunk_size: int = 1024,
    on_error: str = "raise",
    arms: str = "combine",
    redrock="auto",
    flux_unit=None,
    dtype=None,
    hdu=None,
    progress: bool | None = None,
) -> Iterator[SpectraBatch]:
    """Yield batches of at most ``chunk_size`` spectra from many or large files.

    Parameters
    ----------
    paths, on_error, arms, redrock, flux_unit, dtype, hdu
        As in :func:`read`.
    chunk_size : int
        Spectra per yielded batch (the last may be smaller); > 0.
    progress : bool, optional
        tqdm bar over files (if tqdm is installed); default on for > 1 file.

    Yields
    ------
    SpectraBatch
        Consecutive spectra in file order; a batch may span files. Each
        batch's ``errors`` lists the files skipped (``on_error="skip"``)
        since the previous batch (failures after the last batch are only
        logged; all failures are logged in one warning at the end).

    Notes
    -----
    Memory stays bounded: HDF5 files and FITS tables/images are read in row
    slices of ``chunk_size`` (h5py and memory-mapped FITS read only those
    rows); SDSS, DESI, npz and CSV files are read one whole file at a time
    (memory-mapped; a DESI file holds at most a few thousand spectra) so
    that each file is checked as a whole, exactly as :func:`read` does.

    """
    check_on_error(on_error)
    if not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    files = _spectra_files(expand_paths(paths))
    if not files:
        raise ReadError("<no files>", "no input file (empty list, or no match for the patterns)")
    buffer: list[SpectraBatch] = []
    buffered = 0
    pending_errors: list[tuple[str, str]] = []
    all_errors: list[tuple[str, str]] = []
    n_ok = 0

    def parts(path):
        """Yield the pieces of one file; any failure becomes a ReadError naming it."""
        try:
            kind = sniff(path)
            if kind in ("sdss", "desi", "csv", "npz"):  # npz cannot be read by rows
                yield _read_any(path, arms, redrock, flux_unit, dtype, hdu)
                return
            n = generic_count(path)
            if n <= chunk_size:
                yield read_table_file(path, hdu=hdu, flux_unit=flux_unit, dtype=dtype)
                return
            for start in range(0, n, chunk_size):
                yield read_table_file(
                    path,
                    hdu=hdu,
                    flux_unit=flux_unit,
                    dtype=dtype,
                    rows=slice(start, min(start + chunk_size, n)),
                )
        except ReadError:
            raise
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise ReadError(path, f"{type(exc).__name__}: {exc}") from exc

    for path in _progress_bar(files, total=len(files), desc="reading", enable=progress):
        try:
            for part in parts(path):
                buffer.append(part)
                buffered += len(part)
                while buffered >= chunk_size:
                    merged = concatenate(buffer)
                    out = merged.select(slice(0, chunk_size))
                    out.errors, pending_errors = pending_errors, []
                    rest = merged.select(slice(chunk_size, len(merged)))
                    buffer = [rest] if len(rest) else []
                    buffered = len(rest)
                    yield out
        except ReadError as exc:
            if on_error == "raise":
                raise
            pending_errors.append((exc.path, exc.problem))
            all_errors.append((exc.path, exc.problem))
            continue
        n_ok += 1
    if all_errors:
        log.warning(
            "skipped %d of %d files:\n%s",
            len(all_errors),
            len(files),
            "\n".join(f"  {p}: {m}" for p, m in all_errors),
        )
    if n_ok == 0:
        raise ReadError(
            files[0] if len(files) == 1 else f"<all {len(files)} files>",
            "no file could be read: " + "; ".join(f"{p}: {m}" for p, m in all_errors),
        )
    if buffer:
        out = concatenate(buffer)
        out.errors = pending_errors
        yield out
