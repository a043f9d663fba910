"""Template libraries from files and arrays: redrock FITS, ASCII SEDs, kcorrect.

Formats
-------
redrock template FITS (:func:`from_redrock_fits`)
    The templates of the DESI redshift fitter redrock
    (``rrtemplate-<TYPE>-<SUBTYPE>.fits``): an image HDU -- named
    ``BASIS_VECTORS``, or else the primary HDU -- of shape (nbasis, nwave) holding
    PCA basis vectors (rows), with the wavelength grid in its header:
    ``wave = CRVAL1 + CDELT1 * arange(NAXIS1)``, and ``wave = 10**wave`` when
    ``LOGLAM`` is present and non-zero; ``RRTYPE`` (GALAXY / STAR / QSO) and
    ``RRSUBTYP`` name the class and subclass. Wavelengths are rest-frame vacuum
    Angstrom, fluxes of arbitrary normalisation. An optional ``ARCHETYPE_COEFF``
    image HDU, shape (narchetype, nbasis), holds the coefficients that rebuild
    the spectra the basis was made from (``archetype = coeff @ basis``).
two-column ASCII SEDs (:func:`from_ascii`)
    The EAZY / LePhare convention: one SED per file, whitespace-separated
    columns ``wavelength [A]  f_lambda`` (any further columns are ignored),
    lines starting with ``#`` are comments, wavelengths increasing (repeated
    wavelengths, which some LePhare files hold, are refused with the line
    number). Rest-frame, arbitrary normalisation unless a ``unit`` is given.
arrays (:func:`from_arrays`)
    Any ``wave`` (M,) and ``flux`` (K, M) you have.
kcorrect (:func:`kcorrect_templates`)
    The galaxy templates that ship with the ``kcorrect`` package (Blanton &
    Roweis 2007; ``kcorrect==5.1.9`` on PyPI, BSD-3): file
    ``kcorrect/data/templates/kcorrect-default-v4.fits``: HDU ``FLUX`` is a
    one-row binary table with columns ``wave`` (10000 log-spaced wavelengths,
    600 A-3.2e6 A) and ``flux`` (5 x 10000, erg/s/cm^2/A at 10 pc for 1 Msun
    formed); image HDUs ``INTSFH``, ``MREMAIN``, ``METS``, ``M300`` and
    ``M1000`` give per template the integrated star formation, the mass
    remaining, the metallicity and the mass formed in the last 300 Myr and
    1 Gyr. (Files with separate ``WAVE`` and ``FLUX`` image HDUs are read
    too.) The package is only located, never imported.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from . import _common as cm
from .library import CLASSES, FLAM, TemplateLibrary

__all__ = ["from_arrays", "from_ascii", "from_redrock_fits", "kcorrect_templates"]

log = logging.getLogger(__name__)


def _path(name: str, path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {path!r}")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{name}: no such file: {p}")
    return p


def from_arrays(
    wave,
    flux,
    *,
    cls: str = "GALAXY",
    subclass: str = "",
    meta=None,
    unit=None,
    ref_distance_pc=None,
    name: str = "arrays",
) -> TemplateLibrary:
    """Make a library from arrays.

    Parameters
    ----------
    wave : array_like, shape (M,)
        Rest-frame vacuum wavelengths (A), strictly increasing.
    flux : array_like, shape (M,) or (K, M)
        f_lambda.
    cls : {"GALAXY", "STAR", "QSO"}
        Class of every template (unless ``meta`` has a ``class`` column).
    subclass : str
        Subclass of every template (unless ``meta`` has a ``subclass`` column).
    meta : Table, structured array or dict, optional
        Further per-template columns (K rows).
    unit : astropy unit or str, optional
        Unit of ``flux``; ``None`` = arbitrary.
    ref_distance_pc : float, optional
        Distance at which ``flux`` is the observed flux (10 for absolute
        templates); ``None`` when arbitrary.
    name : str
        Label.

    Returns
    -------
    TemplateLibrary

    Raises
    ------
    ValueError, TypeError
        See :class:`TemplateLibrary`; ``cls`` not a known class.

    """
    if cls not in CLASSES:
        raise ValueError(f"cls must be one of {CLASSES}, got {cls!r}")
    f = np.asarray(flux)
    k = 1 if f.ndim == 1 else (f.shape[0] if f.ndim == 2 else 0)
    table = Table() if meta is None else (meta.copy() if isinstance(meta, Table) else Table(meta))
    rows = len(table) if table.colnames else k
    if "class" not in table.colnames:
        table["class"] = np.full(rows, cls)
    if "subclass" not in table.colnames:
        table["subclass"] = np.full(rows, str(subclass))
    return TemplateLibrary(
        wave=wave, flux=flux, meta=table, unit=unit, ref_distance_pc=ref_distance_pc, name=name
    )


def from_ascii(
    paths,
    *,
    cls: str = "GALAXY",
    unit=None,
    ref_distance_pc=None,
    wave=None,
) -> TemplateLibrary:
    """Read two-column ASCII SEDs (EAZY / LePhare convention) into one library.

    Parameters
    ----------
    paths : path or sequence of paths
        Files of ``wavelength [A]  f_lambda`` rows (``#`` comments, extra
        columns ignored).
    cls : {"GALAXY", "STAR", "QSO"}
        Class of the templates.
    unit, ref_distance_pc : optional
        As in :func:`from_arrays` (default: arbitrary normalisation).
    wave : array_like, optional
        Common grid (A). Needed when the files have different grids; each SED
        is then put on it by :meth:`TemplateLibrary.resample` (flux-conserving,
        NaN where a file does not cover it). Without it all files must share
        one grid.

    Returns
    -------
    TemplateLibrary
        ``subclass`` = the file name without its extension; ``meta["path"]``
        the file.

    Raises
    ------
    FileNotFoundError
        A path that is not a file.
    ValueError
        A file that does not parse, has fewer than 2 columns or 2 rows,
        non-finite values or non-increasing wavelengths (the message names
        the file); different grids without ``wave``.

    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [_path("paths", p) for p in paths]
    if not paths:
        raise ValueError("paths must name at least one file")
    libs = []
    for p in paths:
        try:
            data = np.loadtxt(p, comments="#", ndmin=2, dtype=np.float64)
        except ValueError as err:
            raise ValueError(f"{p}: not a table of numbers: {err}") from None
        if data.shape[1] < 2 or data.shape[0] < 2:
            raise ValueError(
                f"{p}: need at least 2 rows of 2 columns (wavelength, f_lambda), got {data.shape}"
            )
        w, f = data[:, 0], data[:, 1]
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(f))):
            raise ValueError(f"{p}: holds NaN or inf values")
        bad = np.flatnonzero(np.diff(w) <= 0)
        if bad.size:
            raise ValueError(
                f"{p}: wavelengths must increase strictly; line {bad[0] + 2} of the data has "
                f"{w[bad[0] + 1]} after {w[bad[0]]}"
            )
        libs.append(
            from_arrays(
                w,
                f,
                cls=cls,
                subclass=p.stem,
                meta={"path": [str(p)]},
                unit=unit,
                ref_distance_pc=ref_distance_pc,
                name=p.stem,
            )
        )
    from .library import concatenate

    if wave is not None:
        libs = [lib.resample(wave) for lib in libs]
    else:
        first = libs[0].wave
        for lib, p in zip(libs, paths, strict=True):
            if lib.wave.shape != first.shape or not np.array_equal(lib.wave, first):
                raise ValueError(
                    f"{p} has another wavelength grid than {paths[0]}: give wave= to put all "
                    f"files on one grid"
                )
    out = concatenate(libs, name="ascii")
    return out


def from_redrock_fits(path, *, archetypes: bool = False) -> TemplateLibrary:
    """Read a redrock template file (see the module docstring for the layout).

    Parameters
    ----------
    path : path
        ``rrtemplate-*.fits``.
    archetypes : bool
        False: return the PCA basis vectors themselves (``subclass`` =
        RRSUBTYP, ``meta["basis"]`` = row index; not physical spectra, they
        may be negative). True: return the spectra rebuilt from the
        ``ARCHETYPE_COEFF`` HDU (``coeff @ basis``).

    Returns
    -------
    TemplateLibrary
        Arbitrary normalisation (dimensionless, no reference distance);
        ``class`` from RRTYPE, ``subclass`` from RRSUBTYP; ``meta.meta`` holds
        RRTYPE, RRSUBTYP, RRVER/VERSION and the file name.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a file.
    ValueError
        No 2-D image, missing CRVAL1/CDELT1, an RRTYPE that is not GALAXY,
        STAR or QSO, an ARCHETYPE_COEFF whose shape does not fit the basis, or
        ``archetypes=True`` without that HDU.

    """
    p = _path("path", path)
    with fits.open(p, memmap=False) as hdul:
        hdu = hdul["BASIS_VECTORS"] if "BASIS_VECTORS" in hdul else hdul[0]
        if hdu.data is None or hdu.data.ndim not in (1, 2):
            raise ValueError(f"{p}: the BASIS_VECTORS / primary HDU holds no 1-D or 2-D image")
        basis = np.atleast_2d(np.asarray(hdu.data, dtype=np.float64))
        hdr = hdu.header
        for key in ("CRVAL1", "CDELT1"):
            if key not in hdr:
                raise ValueError(
                    f"{p}: header keyword {key} is missing (needed for the wavelengths)"
                )
        nwave = basis.shape[1]
        wave = float(hdr["CRVAL1"]) + float(hdr["CDELT1"]) * np.arange(nwave, dtype=np.float64)
        loglam = bool(hdr.get("LOGLAM", 0))
        if loglam:
            wave = 10.0**wave
        rrtype = str(hdr.get("RRTYPE", "GALAXY")).strip().upper()
        subtype = str(hdr.get("RRSUBTYP", "")).strip().upper()
        if rrtype not in CLASSES:
            raise ValueError(f"{p}: RRTYPE must be one of {CLASSES}, got {rrtype!r}")
        coeff = None
        if "ARCHETYPE_COEFF" in hdul:
            coeff = np.atleast_2d(np.asarray(hdul["ARCHETYPE_COEFF"].data, dtype=np.float64))
        version = str(hdr.get("VERSION", hdr.get("RRVER", "")))
    nb = basis.shape[0]
    if coeff is not None and coeff.shape[1] != nb:
        if coeff.shape[0] == nb:
            coeff = coeff.T
        else:
            raise ValueError(
                f"{p}: ARCHETYPE_COEFF has shape {coeff.shape}, which does not fit "
                f"{nb} basis vectors"
            )
    if archetypes:
        if coeff is None:
            raise ValueError(
                f"{p}: archetypes=True needs an ARCHETYPE_COEFF HDU, and there is none"
            )
        flux = coeff @ basis
        meta = {
            "class": np.full(flux.shape[0], rrtype),
            "subclass": np.full(flux.shape[0], subtype),
            "archetype": np.arange(flux.shape[0]),
        }
    else:
        flux = basis
        meta = {
            "class": np.full(nb, rrtype),
            "subclass": np.full(nb, subtype),
            "basis": np.arange(nb),
        }
    table = Table(meta)
    table.meta.update(
        {
            "RRTYPE": rrtype,
            "RRSUBTYP": subtype,
            "VERSION": version,
            "FILE": p.name,
            "LOGLAM": loglam,
            "KIND": "ARCHETYPE" if archetypes else "PCA",
        }
    )
    return TemplateLibrary(wave=wave, flux=flux, meta=table, unit=None, name=p.stem)


def _kcorrect_dir() -> Path:
    try:
        spec = importlib.util.find_spec("kcorrect")
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise ImportError(
            "the kcorrect templates need the kcorrect package: pip install kcorrect "
            "(deepz only reads its data files; `pip install kcorrect --no-deps` is enough)"
        )
    return Path(spec.origin).parent / "data" / "templates"


def kcorrect_templates(which: str = "default") -> TemplateLibrary:
    """Read the real galaxy templates of the kcorrect package (Blanton & Roweis 2007).

    Parameters
    ----------
    which : {"default", "lrg1"}
        ``kcorrect-default-v4.fits`` (5 templates spanning the SDSS galaxy
        population) or ``kcorrect-lrg1-v4.fits`` (an LRG template).

    Returns
    -------
    TemplateLibrary
        f_lambda in erg/s/cm^2/A at 10 pc for 1 Msun formed, on kcorrect's own
        log grid (600 A-3.2e6 A, dlog10 ~ 3.7e-4, ~85 km/s): resample it
        before mixing it with other libraries. ``subclass`` = ``"KCORRECT"``;
        metadata ``intsfh``, ``mremain``, ``mets``, ``m300``, ``m1000`` where
        the file has them.

    Raises
    ------
    ImportError
        kcorrect is not installed (the message says ``pip install kcorrect``).
    FileNotFoundError
        The package is there but the template file is not.
    ValueError
        An unknown ``which`` or a file of unexpected layout.

    """
    files = {"default": "kcorrect-default-v4.fits", "lrg1": "kcorrect-lrg1-v4.fits"}
    if which not in files:
        raise ValueError(f"which must be one of {sorted(files)}, got {which!r}")
    path = _kcorrect_dir() / files[which]
    if not path.is_file():
        raise FileNotFoundError(f"kcorrect is installed but {path} is missing: reinstall kcorrect")
    with fits.open(path, memmap=False) as hdul:
        if "FLUX" in hdul and isinstance(hdul["FLUX"], fits.BinTableHDU):
            row = hdul["FLUX"].data
            wave = np.asarray(row["wave"][0], dtype=np.float64)
            flux = np.asarray(row["flux"][0], dtype=np.float64)
        elif "WAVE" in hdul and "FLUX" in hdul:
            wave = np.asarray(hdul["WAVE"].data, dtype=np.float64).ravel()
            flux = np.asarray(hdul["FLUX"].data, dtype=np.float64)
        else:
            raise ValueError(f"{path}: neither a FLUX table nor WAVE/FLUX images")
        flux = np.atleast_2d(flux)
        if flux.shape[1] != wave.size and flux.shape[0] == wave.size:
            flux = flux.T
        k = flux.shape[0]
        meta = {
            "class": np.full(k, "GALAXY"),
            "subclass": np.full(k, "KCORRECT"),
            "template": np.arange(k),
        }
        for ext in ("INTSFH", "MREMAIN", "METS", "M300", "M1000"):
            if ext in hdul and hdul[ext].data is not None and np.size(hdul[ext].data) == k:
                meta[ext.lower()] = np.asarray(hdul[ext].data, dtype=np.float64).ravel()
    table = Table(meta)
    table.meta.update({"FILE": path.name, "SOURCE": "kcorrect (Blanton & Roweis 2007), BSD-3"})
    log.debug("kcorrect: %d templates, %d pixels from %s", k, wave.size, path)
    return TemplateLibrary(
        wave=wave,
        flux=flux,
        meta=table,
        unit=FLAM,
        ref_distance_pc=cm.REF_DISTANCE_PC,
        name=f"kcorrect-{which}",
    )
