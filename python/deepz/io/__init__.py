"""Read survey spectra, write redshift catalogues.

Readers return one :class:`SpectraBatch` (wave, flux, ivar, mask, targetid,
meta, flux_unit) that every kernel and model of deepz takes:

- :func:`read` -- any mix of files, directories and glob patterns, each
  file's type told from its content; :func:`iter_read` streams them in
  chunks;
- :func:`read_sdss` -- SDSS/BOSS ``spec-PLATE-MJD-FIBER.fits``;
- :func:`read_desi` -- DESI ``coadd-*.fits`` / ``spectra-*.fits`` (arms
  combined or separate; redrock redshifts joined);
- :func:`read_table` -- FITS tables/images, HDF5, npz, CSV;
- :func:`from_arrays`, :func:`from_specutils`, :meth:`SpectraBatch.to_specutils`
  -- numpy/astropy Quantities and specutils, units converted.

Writers are atomic (a temporary file renamed into place):
:func:`write_catalog` (FITS/CSV/ECSV/HDF5/Parquet redshift catalogues with
DESI column names and :class:`ZWarn` bits), :func:`write_spectra` (deepz's
HDF5 layout). Every bad input file raises :class:`ReadError` naming the file
and the problem, or is skipped and reported with ``on_error="skip"``.

Examples
--------
>>> from deepz import io
>>> sdss = io.read_sdss("spec-0945-52652-0470.fits")            # doctest: +SKIP
>>> desi = io.read_desi("coadd-sv3-dark-26065.fits")            # doctest: +SKIP
>>> cat = io.make_catalog(desi.targetid, z, zerr=zerr)          # doctest: +SKIP
>>> io.write_catalog("deepz-zcat.fits", cat, seed=42)           # doctest: +SKIP

"""

from __future__ import annotations

from ._common import ReadError, expand_paths
from .batch import FLAM, SpectraBatch, concatenate, from_arrays, from_specutils
from .catalog import (
    CATALOG_COLUMNS,
    REDROCK_COMPATIBLE,
    ZWarn,
    attach_catalog,
    make_catalog,
    read_catalog,
    write_catalog,
)
from .desi import combine_arms, find_redrock, read_desi
from .dispatch import iter_read, read, sniff
from .generic import read_table, write_spectra
from .sdss import read_sdss, sdss_id, sdss_unpack_id

__all__ = [
    "CATALOG_COLUMNS",
    "FLAM",
    "REDROCK_COMPATIBLE",
    "ReadError",
    "SpectraBatch",
    "ZWarn",
    "attach_catalog",
    "combine_arms",
    "concatenate",
    "expand_paths",
    "find_redrock",
    "from_arrays",
    "from_specutils",
    "iter_read",
    "make_catalog",
    "read",
    "read_catalog",
    "read_desi",
    "read_sdss",
    "read_table",
    "sdss_id",
    "sdss_unpack_id",
    "sniff",
    "write_catalog",
    "write_spectra",
]
