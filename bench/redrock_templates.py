"""Redrock-format template files built from deepz's own template library.

Redrock templates built from deepz's library, since the official ones
(desihub/redrock-templates) cannot be downloaded here: timing, not accuracy,
is what they are for. They let ``bench/test_bench_default.py`` run redrock as
the peer of deepz's default model on the same spectra.

What is written (one ``rrtemplate-TYPE[-SUBTYPE]-vdeepz.fits`` per type, the
layout :class:`redrock.templates.Template` reads; see redrock/templates.py):

- HDU 0: empty primary; HDU 1 ``BASIS_VECTORS``: the (nbasis, nwave) PCA basis
  (float64), header ``CRVAL1`` / ``CDELT1`` in log10(Angstrom) with
  ``LOGLAM = 1`` (rest-frame vacuum grid, dlog10 = 3e-5, 20.7 km/s),
  ``RRTYPE``, ``RRSUBTYP``, ``RRVER`` (redrock's version), ``VERSION``
  (``deepz``), ``RRMETHOD = 'PCA'`` and ``RRIGM`` (``Inoue14`` for galaxies
  and QSOs, ``None`` for stars: files without a known VERSION must say it).
- No ``REDSHIFTS`` HDU: redrock then scans its default grids (the ones of the
  official pre-2024 templates): GALAXY -0.005 < z < 1.7 in dlog10(1+z) =
  3e-4 (about 1450 redshifts), QSO 0.05 < z < 6 in 5e-4 (about 1650), STAR
  -0.002 < z < 0.002 in 4e-5 (101). ``zscan_*`` arguments of
  :func:`redrock.templates.load_dist_templates` override them.

The set mirrors the official one in size, which is what sets redrock's cost
(the chi^2 scan is nz x nbasis per target): GALAXY 10 basis vectors (as
rrtemplate-galaxy v2.6), QSO 4 (as the QSO templates), STAR one file per
deepz star type A/F/G/K/M with 5 vectors each (the official set has 8 star
subtypes: B, A, F, G, K, M, WD, CV). Rest-frame coverage: galaxies 1200-10500
A, QSOs 505-10000 A (z up to 6 on 3600-9824 A), stars 3400-10500 A.

Basis vectors: the SVD of deepz's physical templates
(:func:`deepz.templates.galaxies`, :func:`~deepz.templates.qsos`,
:func:`~deepz.templates.stars`, seeded), each template scaled to unit mean
flux first (no mean subtraction: the first vector is the mean shape, as in
redrock's PCA files). Vectors whose singular value is below 1e-9 of the first
are dropped (a degenerate basis would only make redrock's solve fail).

Run as a script to write the files somewhere::

    PYTHONPATH=python python bench/redrock_templates.py /tmp/rrtemplates
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

DLOG10 = 3e-5  # rest-frame log10 step (deepz's default template grid)
VERSION = "deepz"
RANGES = {  # rest-frame coverage (Angstrom) per redrock type
    "GALAXY": (1200.0, 10500.0),
    "QSO": (505.0, 10000.0),  # deepz's qsos() needs >= 500 A
    "STAR": (3400.0, 10500.0),
}
IGM = {"GALAXY": "Inoue14", "QSO": "Inoue14", "STAR": "None"}


def loglam_grid(lo: float, hi: float, dlog10: float = DLOG10) -> tuple[float, np.ndarray]:
    """Return (log10 of the first pixel, the grid in Angstrom) from ``lo`` to ``hi``."""
    start = np.log10(lo)
    n = int(np.floor((np.log10(hi) - start) / dlog10)) + 1
    return start, 10.0 ** (start + dlog10 * np.arange(n))


def pca_basis(flux: np.ndarray, n_basis: int) -> np.ndarray:
    """Return the first ``n_basis`` right singular vectors of unit-mean-scaled ``flux``.

    ``flux`` is (K, M) with K >= 1 templates; each row is divided by its mean
    (no mean is subtracted). Vectors with a singular value below 1e-9 of the
    first are dropped, so fewer than ``n_basis`` may come back. The sign is
    fixed so that each vector's sum is >= 0.
    """
    flux = np.asarray(flux, dtype=np.float64)
    if flux.ndim != 2 or flux.shape[0] < 1:
        raise ValueError(f"flux must be (K, M) with K >= 1, got shape {flux.shape}")
    if n_basis < 1:
        raise ValueError(f"n_basis must be >= 1, got {n_basis}")
    scaled = flux / np.mean(flux, axis=1, keepdims=True)
    _, s, vt = np.linalg.svd(scaled, full_matrices=False)
    keep = min(n_basis, int(np.sum(s > 1e-9 * s[0])))
    basis = vt[:keep] * s[:keep, None] / np.sqrt(flux.shape[0])  # mean-flux units
    basis *= np.where(basis.sum(axis=1) < 0, -1.0, 1.0)[:, None]
    return basis


def write_template(
    path, basis: np.ndarray, loglam0: float, rrtype: str, subtype: str = "", dlog10: float = DLOG10
) -> str:
    """Write one redrock template file (``BASIS_VECTORS`` HDU; see the module docstring)."""
    import redrock

    rrtype = rrtype.upper()
    hdu = fits.ImageHDU(np.ascontiguousarray(basis, dtype=np.float64), name="BASIS_VECTORS")
    h = hdu.header
    h["CRVAL1"] = (loglam0, "log10(A) of pixel 0 (rest frame, vacuum)")
    h["CDELT1"] = (dlog10, "log10(Angstrom) step")
    h["LOGLAM"] = (1, "CRVAL1 and CDELT1 are log10(Angstrom)")
    h["RRTYPE"] = (rrtype, "spectral type")
    h["RRSUBTYP"] = (subtype, "spectral subtype")
    h["RRVER"] = (redrock.__version__, "redrock version the file was written for")
    h["VERSION"] = (VERSION, "deepz bench templates: timing only")
    h["RRMETHOD"] = ("PCA", "basis vectors from an SVD")
    h["RRIGM"] = (IGM[rrtype], "IGM model redrock applies")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
    return str(path)


def build(
    outdir,
    *,
    seed: int = 0,
    n_galaxy_basis: int = 10,
    n_qso_basis: int = 4,
    n_star_basis: int = 5,
    star_types=("A", "F", "G", "K", "M"),
    n_galaxies: int = 120,
    n_qsos: int = 60,
    n_stars_per_type: int = 12,
) -> list[str]:
    """Write the GALAXY, QSO and STAR-<type> template files into ``outdir``; return their paths.

    ``n_galaxies``, ``n_qsos`` and ``n_stars_per_type`` physical templates
    (seeds ``seed``, ``seed + 1``, ``seed + 2``) feed the SVDs. Takes a few
    seconds (the galaxy library dominates).
    """
    from deepz import templates

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    start, wave = loglam_grid(*RANGES["GALAXY"])
    gal = templates.galaxies(n_galaxies, seed, wave)
    paths.append(
        write_template(
            out / f"rrtemplate-GALAXY-v{VERSION}.fits",
            pca_basis(gal.flux, n_galaxy_basis),
            start,
            "GALAXY",
        )
    )
    start, wave = loglam_grid(*RANGES["QSO"])
    qso = templates.qsos(n_qsos, seed + 1, wave)
    paths.append(
        write_template(
            out / f"rrtemplate-QSO-v{VERSION}.fits", pca_basis(qso.flux, n_qso_basis), start, "QSO"
        )
    )
    start, wave = loglam_grid(*RANGES["STAR"])
    stars = templates.stars(
        n_stars_per_type * len(star_types), seed + 2, wave, types=tuple(star_types)
    )
    sub = np.asarray(stars.meta["subclass"]).astype(str)
    for t in star_types:
        paths.append(
            write_template(
                out / f"rrtemplate-STAR-{t}-v{VERSION}.fits",
                pca_basis(stars.flux[sub == t], n_star_basis),
                start,
                "STAR",
                t,
            )
        )
    return paths


if __name__ == "__main__":
    for p in build(sys.argv[1] if len(sys.argv) > 1 else "rrtemplates"):
        print(p)
