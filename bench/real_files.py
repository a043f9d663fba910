"""Predict the real SDSS and DESI spectra that ship in PyPI packages with a deepz model.

A sanity check, never training data: ppxf 9.5.2 ships two SDSS DR18 spec-lite
files (NGC 3073, NGC 3522) with their SPECOBJ redshifts and classes;
fastspecfit 3.6.1 ships two DESI coadds with their redrock catalogues;
specutils 2.4.0 ships DESI coadd files (no redshifts). Run:

    python bench/real_files.py [MODEL]      # default: the shipped model

It prints one line per target: the catalogue's z and class (SDSS SPECOBJ or
redrock) beside deepz's Z, ZERR, SPECTYPE, P(class), ZWARN and the number of
lines the refinement found.
"""

from __future__ import annotations

import glob
import os
import sys

import numpy as np


def site(package: str) -> str:
    """Return the installed folder of ``package``."""
    mod = __import__(package)
    return os.path.dirname(mod.__file__)


def real_files() -> dict[str, list[str]]:
    """Return the real files by survey (empty lists for packages not installed)."""
    out: dict[str, list[str]] = {"sdss": [], "desi": [], "desi-specutils": []}
    try:
        out["sdss"] = sorted(glob.glob(os.path.join(site("ppxf"), "spectra", "*SDSS*.fits")))
    except ImportError:
        pass
    try:
        out["desi"] = sorted(
            glob.glob(os.path.join(site("fastspecfit"), "test", "data", "coadd-*.fits"))
        )
    except ImportError:
        pass
    try:
        out["desi-specutils"] = sorted(
            glob.glob(
                os.path.join(
                    site("specutils"),
                    "io",
                    "default_loaders",
                    "tests",
                    "desi_test_data",
                    "coadd-*.fits",
                )
            )
        )
    except ImportError:
        pass
    return out


def redrock_truth(coadd: str) -> dict[int, tuple[float, str]]:
    """Return {TARGETID: (Z, SPECTYPE)} of the redrock file beside a fastspecfit coadd."""
    from astropy.io import fits

    path = coadd.replace("coadd-", "redrock-")
    if not os.path.isfile(path):
        return {}
    with fits.open(path) as hdul:
        t = hdul["REDSHIFTS"].data
        return {
            int(i): (float(z), str(s).strip())
            for i, z, s in zip(t["TARGETID"], t["Z"], t["SPECTYPE"], strict=True)
        }


def predict_all(predictor) -> list[dict]:
    """Predict every real file; return one row per target with the catalogue's values."""
    from deepz import io

    rows = []
    for survey, files in real_files().items():
        for path in files:
            batch = io.read(path)
            cat = predictor.predict(batch, refine=True)
            truth = redrock_truth(path) if survey == "desi" else {}
            meta = batch.meta
            for i in range(len(cat)):
                tid = int(cat["TARGETID"][i])
                z_cat, cls_cat = np.nan, ""
                if survey == "sdss" and meta is not None and "Z_CAT" in meta.colnames:
                    z_cat = float(meta["Z_CAT"][i])
                    cls_cat = (
                        str(meta["SPECTYPE_CAT"][i]).strip()
                        if "SPECTYPE_CAT" in meta.colnames
                        else ""
                    )
                if tid in truth:
                    z_cat, cls_cat = truth[tid]
                rows.append(
                    {
                        "survey": survey,
                        "file": os.path.basename(path),
                        "targetid": tid,
                        "z_cat": z_cat,
                        "class_cat": cls_cat,
                        "z": float(cat["Z"][i]),
                        "zerr": float(cat["ZERR"][i]),
                        "spectype": str(cat["SPECTYPE"][i]),
                        "p_galaxy": float(cat["P_GALAXY"][i]),
                        "p_qso": float(cat["P_QSO"][i]),
                        "p_star": float(cat["P_STAR"][i]),
                        "zwarn": int(cat["ZWARN"][i]),
                        "nlines": int(cat["NLINES"][i]),
                        "z_net": float(cat["Z_NET"][i]),
                        "coverage": float(cat["COVERAGE"][i]),
                    }
                )
    return rows


def main(argv: list[str]) -> int:
    import deepz

    pred = deepz.load(argv[0]) if argv else deepz.load_default()
    rows = predict_all(pred)
    print(
        f"{'survey':15s} {'file':34s} {'targetid':>18s} {'z_cat':>8s} {'class':>7s} "
        f"{'z_deepz':>8s} {'zerr':>8s} {'type':>7s} {'P_gal':>5s} {'P_qso':>5s} "
        f"{'P_star':>6s} {'zwarn':>9s} lines {'z_net':>8s}"
    )
    for r in rows:
        print(
            f"{r['survey']:15s} {r['file'][:34]:34s} {r['targetid']:18d} {r['z_cat']:8.4f} "
            f"{r['class_cat']:>7s} {r['z']:8.4f} {r['zerr']:8.4f} {r['spectype']:>7s} "
            f"{r['p_galaxy']:5.2f} {r['p_qso']:5.2f} {r['p_star']:6.2f} {r['zwarn']:9d} "
            f"{r['nlines']:5d} {r['z_net']:8.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
