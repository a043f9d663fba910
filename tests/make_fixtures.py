"""Write small spectra files in the exact SDSS and DESI layouts (good and bad) for the io tests.

Nothing here is downloaded and nothing generated is committed: the tests call
:func:`make_all` on a temporary directory. Run as a script to look at the
files::

    python tests/make_fixtures.py /tmp/deepz-fixtures

Layouts follow the data models:

- SDSS ``spec-PLATE-MJD-FIBER.fits``: PRIMARY (PLATEID, MJD, FIBERID, COEFF0,
  COEFF1, BUNIT, VACUUM), ``COADD`` table (flux, loglam, ivar, and_mask,
  or_mask, wdisp, sky, model; float32/int32 as SDSS), ``SPECOBJ`` (one row:
  PLATE, MJD, FIBERID, Z, Z_ERR, ZWARNING, CLASS, SUBCLASS, SPECOBJID,
  PLUG_RA, PLUG_DEC).
- DESI ``coadd-*.fits``: PRIMARY, ``FIBERMAP`` (TARGETID, TARGET_RA,
  TARGET_DEC, OBJTYPE, COADD_FIBERSTATUS), then per arm ``X_WAVELENGTH``
  (float64, BUNIT Angstrom), ``X_FLUX``/``X_IVAR`` (float32, BUNITs as DESI),
  ``X_MASK`` (uint32 stored as int32 + BZERO, optionally tile-compressed as in
  ``spectra-*`` files), ``X_RESOLUTION`` (N, 11, M); ``redrock-*.fits`` with
  ``REDSHIFTS``.

Also: :func:`real_file` finds the real survey files shipped inside installed
packages (fastspecfit, ppxf, specutils) *without importing them*.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from astropy.io import fits

SDSS_BUNIT = "1E-17 erg/cm^2/s/Ang"
DESI_FLUX_BUNIT = "10**-17 erg/(s cm2 Angstrom)"
DESI_IVAR_BUNIT = "10**+34 (s2 cm4 Angstrom2) / erg2"
DESI_STEP = 0.8


def real_file(package: str, *relpath: str) -> str | None:
    """Return the path of a data file inside an installed package, or None.

    Uses ``importlib.util.find_spec(package).origin`` and never imports the
    package (fastspecfit is installed without its dependencies and cannot be
    imported).
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    p = Path(spec.origin).parent.joinpath(*relpath)
    return str(p) if p.exists() else None


# --------------------------------------------------------------------- SDSS
def sdss_arrays(rng, npix: int, loglam0: float):
    """Return a dict of SDSS COADD columns for one spectrum on the 1e-4 lattice."""
    loglam = loglam0 + 1e-4 * np.arange(npix)
    wave = 10.0**loglam
    flux = (5.0 + 0.001 * (wave - wave[0]) + rng.normal(0, 0.5, npix)).astype(np.float32)
    ivar = rng.uniform(2.0, 4.0, npix).astype(np.float32)
    return {
        "loglam": loglam,
        "flux": flux,
        "ivar": ivar,
        "and_mask": np.zeros(npix, np.int32),
        "or_mask": np.zeros(npix, np.int32),
    }


def write_sdss(
    path,
    plate,
    mjd,
    fiber,
    cols: dict,
    specobj: dict | None = None,
    header_ids: bool = True,
    coadd: bool = True,
    coeff0=None,
) -> str:
    """Write an SDSS spec file with the COADD columns ``cols`` (see :func:`sdss_arrays`)."""
    npix = len(cols["flux"])
    primary = fits.PrimaryHDU()
    h = primary.header
    if header_ids:
        h["PLATEID"] = plate
        h["MJD"] = mjd
        h["FIBERID"] = fiber
    # the plate's grid: a fibre's COADD may start a few pixels later (as in real files)
    h["COEFF0"] = round(float(cols["loglam"][0]) - 3e-4, 4) if coeff0 is None else coeff0
    h["COEFF1"] = 1e-4
    h["BUNIT"] = SDSS_BUNIT
    h["VACUUM"] = True
    hdus = [primary]
    if coadd:
        c = fits.BinTableHDU.from_columns(
            [
                fits.Column("flux", "E", array=np.asarray(cols["flux"], np.float32)),
                fits.Column("loglam", "E", array=np.asarray(cols["loglam"], np.float32)),
                fits.Column("ivar", "E", array=np.asarray(cols["ivar"], np.float32)),
                fits.Column("and_mask", "J", array=np.asarray(cols["and_mask"], np.int32)),
                fits.Column("or_mask", "J", array=np.asarray(cols["or_mask"], np.int32)),
                fits.Column("wdisp", "E", array=np.ones(npix, np.float32)),
                fits.Column("sky", "E", array=np.zeros(npix, np.float32)),
                fits.Column("model", "E", array=np.asarray(cols["flux"], np.float32)),
            ],
            name="COADD",
        )
        hdus.append(c)
    if specobj is not None:
        so = {
            "PLATE": plate,
            "MJD": mjd,
            "FIBERID": fiber,
            "Z": 0.0,
            "Z_ERR": 0.0,
            "ZWARNING": 0,
            "CLASS": "GALAXY",
            "SUBCLASS": "",
            "PLUG_RA": 150.0,
            "PLUG_DEC": 2.0,
            "SPECOBJID": str(_specobjid(plate, mjd, fiber)),
            **specobj,
        }
        fmt = {
            "PLATE": "J",
            "MJD": "J",
            "FIBERID": "J",
            "Z": "E",
            "Z_ERR": "E",
            "ZWARNING": "J",
            "CLASS": "6A",
            "SUBCLASS": "21A",
            "PLUG_RA": "D",
            "PLUG_DEC": "D",
            "SPECOBJID": "22A",
        }
        hdus.append(
            fits.BinTableHDU.from_columns(
                [fits.Column(k, fmt[k], array=np.array([v])) for k, v in so.items()], name="SPECOBJ"
            )
        )
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return str(path)


def _specobjid(plate, mjd, fiber, run2d=26):
    return (plate << 50) | (fiber << 38) | ((mjd - 50000) << 24) | (run2d << 10)


# --------------------------------------------------------------------- DESI
def desi_arms(rng, n: int, npix: int = 120, starts=(3600.0, 3680.0, 3760.0), step=DESI_STEP):
    """Return {arm: dict(wave, flux, ivar, mask)} with overlapping arms on one lattice."""
    arms = {}
    for arm, w0 in zip("BRZ", starts, strict=False):
        wave = w0 + step * np.arange(npix)
        flux = (3.0 + 0.002 * (wave - 3600.0) + rng.normal(0, 0.3, (n, npix))).astype(np.float32)
        ivar = rng.uniform(5.0, 15.0, (n, npix)).astype(np.float32)
        arms[arm] = {
            "wave": wave,
            "flux": flux,
            "ivar": ivar,
            "mask": np.zeros((n, npix), np.uint32),
        }
    return arms


def write_desi(
    path,
    targetid,
    arms: dict,
    objtype=None,
    fiberstatus=None,
    compress_mask: bool = False,
    drop: tuple = (),
    spectra: bool = False,
) -> str:
    """Write a DESI coadd (or ``spectra=True``: spectra) file; ``drop`` lists HDUs to leave out."""
    n = len(targetid)
    primary = fits.PrimaryHDU()
    primary.header["SPGRP"] = "healpix"
    primary.header["SURVEY"] = "test"
    hdus = [primary]
    objtype = objtype if objtype is not None else ["TGT"] * n
    status_name = "FIBERSTATUS" if spectra else "COADD_FIBERSTATUS"
    fm = fits.BinTableHDU.from_columns(
        [
            fits.Column("TARGETID", "K", array=np.asarray(targetid, np.int64)),
            fits.Column("TARGET_RA", "D", array=np.linspace(10, 11, n)),
            fits.Column("TARGET_DEC", "D", array=np.linspace(-5, -4, n)),
            fits.Column("OBJTYPE", "3A", array=np.asarray(objtype)),
            fits.Column(
                status_name,
                "J",
                array=np.asarray(fiberstatus if fiberstatus is not None else np.zeros(n), np.int32),
            ),
        ],
        name="FIBERMAP",
    )
    hdus.append(fm)
    for arm, a in arms.items():
        w = fits.ImageHDU(np.asarray(a["wave"], np.float64), name=f"{arm}_WAVELENGTH")
        w.header["BUNIT"] = "Angstrom"
        f = fits.ImageHDU(np.asarray(a["flux"], np.float32), name=f"{arm}_FLUX")
        f.header["BUNIT"] = DESI_FLUX_BUNIT
        iv = fits.ImageHDU(np.asarray(a["ivar"], np.float32), name=f"{arm}_IVAR")
        iv.header["BUNIT"] = DESI_IVAR_BUNIT
        mdata = np.asarray(a["mask"], np.uint32)
        m = (
            fits.CompImageHDU(mdata, name=f"{arm}_MASK")
            if compress_mask
            else fits.ImageHDU(mdata, name=f"{arm}_MASK")
        )
        r = fits.ImageHDU(np.zeros((n, 11, len(a["wave"])), np.float32), name=f"{arm}_RESOLUTION")
        hdus += [w, f, iv, m, r]
    hdus = [h for h in hdus if h.name not in drop]
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return str(path)


def write_redrock(
    path, targetid, z, zerr=None, zwarn=None, spectype=None, subtype=None, deltachi2=None
) -> str:
    """Write a redrock-layout catalogue (HDU REDSHIFTS)."""
    n = len(targetid)
    cols = [
        fits.Column("TARGETID", "K", array=np.asarray(targetid, np.int64)),
        fits.Column("Z", "D", array=np.asarray(z, np.float64)),
        fits.Column("ZERR", "D", array=np.asarray(zerr if zerr is not None else np.full(n, 1e-4))),
        fits.Column(
            "ZWARN", "K", array=np.asarray(zwarn if zwarn is not None else np.zeros(n), np.int64)
        ),
        fits.Column("CHI2", "D", array=np.ones(n)),
        fits.Column("COEFF", "10D", array=np.zeros((n, 10))),
        fits.Column("NPIXELS", "K", array=np.full(n, 7000)),
        fits.Column("SPECTYPE", "6A", array=np.asarray(spectype or ["GALAXY"] * n)),
        fits.Column("SUBTYPE", "20A", array=np.asarray(subtype or [""] * n)),
        fits.Column("NCOEFF", "K", array=np.full(n, 10)),
        fits.Column(
            "DELTACHI2",
            "D",
            array=np.asarray(deltachi2 if deltachi2 is not None else np.full(n, 100.0)),
        ),
    ]
    fits.HDUList(
        [fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="REDSHIFTS")]
    ).writeto(path, overwrite=True)
    return str(path)


def truncate(src, dst, keep: float = 0.6) -> str:
    """Copy the first ``keep`` fraction of ``src`` to ``dst`` (a download cut short)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return str(dst)


# -------------------------------------------------------------------- all
def make_all(outdir, seed: int = 20261125) -> SimpleNamespace:
    """Write every fixture into ``outdir``; return their paths and the arrays written.

    Good files: ``sdss_a`` (SPECOBJ, two and_mask pixels whose ivar is > 0 in
    the file), ``sdss_b`` (another plate and grid; a NaN flux, an inf ivar,
    three zero-ivar pixels; ids from the header only), ``sdss_c`` (ids from
    the file name only), ``desi`` (4 targets, 3 overlapping arms, masked,
    NaN and zero-ivar pixels, a sky fibre fully masked; ``redrock`` next to
    it lacks one target), ``desi_spectra`` (tile-compressed masks, as DESI
    spectra files), ``desi_offset`` (arms not on one lattice).
    Bad files (each must raise a ReadError naming it): ``sdss_truncated``,
    ``sdss_nocoadd``, ``sdss_allmasked``, ``sdss_nanwave``, ``desi_truncated``,
    ``desi_noivar`` (no R_IVAR), ``desi_nofibermap``, ``desi_allmasked``,
    ``desi_negivar``, ``empty``, ``garbage``.
    Generic: ``csv``, ``ecsv_units`` (nm and Jy), ``npz``, ``h5_plain``,
    ``fits_rows`` (one spectrum, a row per pixel), ``fits_vector`` (a row per
    spectrum).
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    fx = SimpleNamespace(dir=str(out))

    # ---- SDSS good
    a = sdss_arrays(rng, 200, 3.5793)
    a["and_mask"][[10, 11]] = [1 << 23, (1 << 26) | (1 << 23)]
    fx.sdss_a_cols = a
    fx.sdss_a_id = (945, 52652, 470)
    fx.sdss_a = write_sdss(
        out / "spec-0945-52652-0470.fits",
        945,
        52652,
        470,
        a,
        specobj={"Z": 0.1234, "Z_ERR": 2e-5, "CLASS": "GALAXY", "SUBCLASS": "STARFORMING"},
    )
    b = sdss_arrays(rng, 180, 3.5810)
    b["flux"][5] = np.nan
    b["ivar"][6] = np.inf
    b["ivar"][7:10] = 0
    fx.sdss_b_cols = b
    fx.sdss_b_id = (2488, 54149, 1)
    fx.sdss_b = write_sdss(out / "spec-2488-54149-0001.fits", 2488, 54149, 1, b)
    c = sdss_arrays(rng, 150, 3.6000)
    fx.sdss_c_cols = c
    fx.sdss_c_id = (1000, 52000, 12)
    fx.sdss_c = write_sdss(out / "spec-1000-52000-0012.fits", 1000, 52000, 12, c, header_ids=False)

    # ---- SDSS bad
    bad = out / "bad"
    bad.mkdir(exist_ok=True)
    fx.sdss_truncated = truncate(fx.sdss_a, bad / "spec-0945-52652-0471.fits", 0.5)
    fx.sdss_nocoadd = write_sdss(
        bad / "spec-0945-52652-0472.fits", 945, 52652, 472, a, specobj={}, coadd=False
    )
    m = sdss_arrays(rng, 100, 3.58)
    m["ivar"][:] = 0
    fx.sdss_allmasked = write_sdss(bad / "spec-0945-52652-0473.fits", 945, 52652, 473, m)
    nw = sdss_arrays(rng, 100, 3.58)
    nw["loglam"] = nw["loglam"].copy()
    nw["loglam"][50] = np.nan
    fx.sdss_nanwave = write_sdss(bad / "spec-0945-52652-0474.fits", 945, 52652, 474, nw)

    # ---- DESI good
    n = 4
    arms = desi_arms(rng, n)
    arms["B"]["mask"][0, [3, 4]] = [1, 1 << 9]  # masked, ivar > 0 in the file
    arms["R"]["flux"][1, 7] = np.nan  # NaN flux
    arms["Z"]["ivar"][2, 10:15] = 0  # zero ivar
    arms["B"]["mask"][1, 110:120] = 1  # B's red end masked, R overlaps it
    for arm in arms.values():  # target 3: a dead sky fibre
        arm["ivar"][3] = 0
        arm["mask"][3] = 1 << 1
    fx.desi_arms = arms
    fx.desi_tid = np.array(
        [39633345008634465, 39633345008634466, 616088619186127404, -1695072], np.int64
    )
    fx.desi = write_desi(
        out / "coadd-test-1.fits",
        fx.desi_tid,
        arms,
        objtype=["TGT", "TGT", "TGT", "SKY"],
        fiberstatus=[0, 0, 0, 512],
    )
    fx.desi_z = np.array([0.5, 1.2, 0.01])
    fx.redrock = write_redrock(
        out / "redrock-test-1.fits",
        fx.desi_tid[[2, 0, 1]],
        fx.desi_z[[2, 0, 1]],
        spectype=["STAR", "GALAXY", "QSO"],
    )
    sp_arms = desi_arms(rng, 3)
    sp_arms["R"]["mask"][1, 0:5] = 1
    fx.desi_spectra_arms = sp_arms
    fx.desi_spectra_tid = np.array([11, 12, 13], np.int64)
    fx.desi_spectra = write_desi(
        out / "spectra-test-2.fits", fx.desi_spectra_tid, sp_arms, compress_mask=True, spectra=True
    )
    off = desi_arms(rng, 2, starts=(3600.0, 3680.3, 3760.55))
    fx.desi_offset_arms = off
    fx.desi_offset = write_desi(out / "coadd-test-3.fits", np.array([21, 22]), off)

    # ---- DESI bad
    fx.desi_truncated = truncate(fx.desi, bad / "coadd-bad-1.fits", 0.7)
    fx.desi_noivar = write_desi(bad / "coadd-bad-2.fits", fx.desi_tid, arms, drop=("R_IVAR",))
    fx.desi_nofibermap = write_desi(bad / "coadd-bad-3.fits", fx.desi_tid, arms, drop=("FIBERMAP",))
    dead = desi_arms(rng, 2)
    for arm in dead.values():
        arm["ivar"][:] = 0
    fx.desi_allmasked = write_desi(bad / "coadd-bad-4.fits", np.array([1, 2]), dead)
    neg = desi_arms(rng, 2)
    neg["B"]["ivar"][0, 3] = -1.0
    fx.desi_negivar = write_desi(bad / "coadd-bad-5.fits", np.array([1, 2]), neg)
    fx.empty = str(bad / "coadd-empty.fits")
    Path(fx.empty).write_bytes(b"")
    fx.garbage = str(bad / "garbage.fits")
    Path(fx.garbage).write_bytes(b"this is not a FITS file at all\n" * 10)

    # ---- generic
    gen = out / "generic"
    gen.mkdir(exist_ok=True)
    gw = np.linspace(4000.0, 5000.0, 101)
    gf = 1.0 + 0.001 * (gw - 4000.0)
    ge = np.full(101, 0.1)
    fx.gen_wave, fx.gen_flux, fx.gen_err = gw, gf, ge
    fx.csv = str(gen / "spec.csv")
    with open(fx.csv, "w") as fh:
        fh.write("# a comment line\nwave,flux,err\n")
        for w, f, e in zip(gw, gf, ge, strict=True):
            fh.write(f"{w:.6f},{f:.8f},{e:.8f}\n")
    fx.ecsv_units = str(gen / "spec_units.ecsv")
    import astropy.units as u
    from astropy.table import Table

    t = Table({"wavelength": gw / 10 * u.nm, "flux": gf * u.mJy, "err": ge * u.mJy})
    t.write(fx.ecsv_units, format="ascii.ecsv", overwrite=True)
    nf = np.vstack([gf, 2 * gf, 3 * gf])
    fx.npz = str(gen / "spectra.npz")
    np.savez(fx.npz, wave=gw, flux=nf, ivar=np.full(nf.shape, 100.0), targetid=[7, 8, 9])
    import h5py

    fx.h5_plain = str(gen / "plain.h5")
    with h5py.File(fx.h5_plain, "w") as f:
        g = f.create_group("data")
        d = g.create_dataset("Wavelength", data=np.vstack([gw, gw + 1.0]))
        d.attrs["unit"] = "Angstrom"
        g.create_dataset("Flux", data=nf[:2].astype(np.float32))
        g.create_dataset("Error", data=np.full((2, 101), 0.5, np.float32))
    fx.fits_rows = str(gen / "rows.fits")
    fits.BinTableHDU.from_columns(
        [
            fits.Column("WAVE", "D", unit="nm", array=gw / 10),
            fits.Column("FLUX", "E", unit="1e-17 erg/(s cm2 Angstrom)", array=gf),
            fits.Column("IVAR", "E", array=1 / ge**2),
            fits.Column("MASK", "J", array=(np.arange(101) == 50).astype(np.int32)),
        ],
        name="SPECTRUM",
    ).writeto(fx.fits_rows, overwrite=True)
    fx.fits_vector = str(gen / "vector.fits")
    fits.BinTableHDU.from_columns(
        [
            fits.Column("TARGETID", "K", array=np.array([101, 102, 103])),
            fits.Column("WAVELENGTH", "101D", array=np.vstack([gw, gw, gw + 5])),
            fits.Column("FLUX", "101E", array=nf),
            fits.Column("ERR", "101E", array=np.full(nf.shape, 0.2)),
            fits.Column("ZSPEC", "D", array=np.array([0.1, 0.2, 0.3])),
        ],
        name="SPECTRA",
    ).writeto(fx.fits_vector, overwrite=True)
    return fx


def main(argv=None) -> int:
    """Write the fixtures into the directory given on the command line."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python tests/make_fixtures.py OUTDIR", file=sys.stderr)
        return 2
    fx = make_all(argv[0])
    for k, v in sorted(vars(fx).items()):
        if isinstance(v, str) and os.path.isfile(v):
            print(f"{k:18s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
