"""Run redrock on DESI coadd files without desispec: the peer of deepz's default model.

``rrdesi`` (redrock.external.desi) imports desispec and desiutil, which are
not installed here, so this module does what its reader ``DistTargetsDESI``
and ``rrdesi`` do, with redrock's own lower-level API:

1. read each ``coadd-*.fits`` with astropy: per arm X (every ``X_WAVELENGTH``
   HDU) the flux, ivar, mask and resolution rows; NaN/inf flux and ivar -> 0,
   ivar = 0 where the mask is set or the flux is below -5 sigma (rrdesi's
   ``--negflux-nsig 5``), the resolution data (ndiag, nwave) as
   desispec.resolution.Resolution stores it (a ``scipy.sparse.dia_matrix``
   with offsets ndiag//2 ... -ndiag//2);
2. one :class:`redrock.targets.Target` per TARGETID with one
   :class:`redrock.targets.Spectrum` per arm (``band`` = the arm), coadded
   across arms' exposures by ``compute_coadd(cache_Rcsr=True)`` as rrdesi's
   default (a coadd file has one spectrum per arm: nothing to add), then
   rrdesi's sky-line masks (5572-5582 A and 9792-9795 A);
3. :func:`redrock.templates.load_dist_templates` (the templates rebinned
   onto every arm's grid at every redshift of their scan: once per run) and
   :func:`redrock.zfind.zfind` (the chi^2 scan of every target against every
   template, then the fine fit around the 3 best minima), one process
   (``mp_procs=1``), no archetypes, no priors: rrdesi's defaults.

Everything runs under ``threadpool_limits(1)`` (one BLAS thread: a per-core
figure). :func:`run` returns the catalogue and the time of each stage.

Run as a script on coadd files (templates from bench/redrock_templates.py)::

    PYTHONPATH=python python bench/redrock_peer.py coadd-*.fits
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
from astropy.io import fits

SKY_MASKS = ((5572.0, 5582.0), (9792.0, 9795.0))  # rrdesi's default sky-line masks (A)
NEGFLUX_NSIG = 5.0


def resolution_matrix(data: np.ndarray) -> scipy.sparse.dia_matrix:
    """Return the (nwave, nwave) resolution matrix of DESI resolution rows ``data`` (ndiag, nwave).

    The layout of desispec.resolution.Resolution: row ``i`` of ``data`` is the
    diagonal of offset ``ndiag // 2 - i``.
    """
    ndiag, nwave = data.shape
    offsets = np.arange(ndiag // 2, -(ndiag // 2) - 1, -1)
    return scipy.sparse.dia_matrix(
        (np.asarray(data, dtype=np.float64), offsets), shape=(nwave, nwave)
    )


def gaussian_resolution(n_spec: int, nwave: int, sigma_pix: float, ndiag: int = 11) -> np.ndarray:
    """Resolution rows (n_spec, ndiag, nwave) of a Gaussian LSF of ``sigma_pix`` pixels.

    Rows sum to 1 (each row of the matrix is a normalised, pixel-sampled
    Gaussian), the form of a DESI ``X_RESOLUTION`` HDU.
    """
    k = np.arange(ndiag // 2, -(ndiag // 2) - 1, -1, dtype=np.float64)
    taps = np.exp(-0.5 * (k / sigma_pix) ** 2)
    taps /= taps.sum()
    return np.broadcast_to(taps[None, :, None], (n_spec, ndiag, nwave)).astype(np.float32)


def read_coadd(path, rows=None) -> list:
    """Read a DESI coadd file into redrock Targets (see the module docstring, steps 1-2).

    ``rows``: the fibermap rows to keep (default: all).
    """
    from redrock.targets import Spectrum, Target

    with fits.open(path, memmap=False) as hdul:
        tid = np.asarray(hdul["FIBERMAP"].data["TARGETID"])
        sel = np.arange(tid.size) if rows is None else np.asarray(rows)
        bands = [h.name[: -len("_WAVELENGTH")] for h in hdul if h.name.endswith("_WAVELENGTH")]
        arms = {}
        for b in bands:
            wave = np.asarray(hdul[f"{b}_WAVELENGTH"].data, dtype=np.float64)
            flux = np.asarray(hdul[f"{b}_FLUX"].data[sel], dtype=np.float64)
            ivar = np.asarray(hdul[f"{b}_IVAR"].data[sel], dtype=np.float64)
            bad = ~np.isfinite(flux)
            flux[bad] = 0.0
            ivar[bad | ~np.isfinite(ivar)] = 0.0
            ivar[flux * np.sqrt(ivar) < -NEGFLUX_NSIG] = 0.0
            if f"{b}_MASK" in hdul:
                ivar *= np.asarray(hdul[f"{b}_MASK"].data[sel]) == 0
            res = np.asarray(hdul[f"{b}_RESOLUTION"].data[sel])
            arms[b.lower()] = (wave, flux, ivar, res)
    targets = []
    for j, t in enumerate(tid[sel]):
        spectra = [
            Spectrum(wave, flux[j].copy(), ivar[j].copy(), resolution_matrix(res[j]), band=b)
            for b, (wave, flux, ivar, res) in arms.items()
        ]
        target = Target(int(t), spectra)
        target.compute_coadd(cache_Rcsr=True)
        for s in target.spectra:
            for lo, hi in SKY_MASKS:
                s.ivar[(lo <= s.wave) & (s.wave <= hi)] = 0.0
        targets.append(target)
    return targets


@dataclass
class RedrockRun:
    """What :func:`run` measured (seconds, one process, one BLAS thread)."""

    n: int
    read_s: float  #: reading the coadd(s) into Targets
    templates_s: float  #: load_dist_templates: rebinning every template at every z (once a run)
    zfind_s: float  #: zfind: chi^2 scans + fine fits of the n targets
    zfit: object = field(repr=False, default=None)  #: redrock's result table

    @property
    def total_s(self) -> float:
        """Read + templates + zfind."""
        return self.read_s + self.templates_s + self.zfind_s

    @property
    def zfind_per_spectrum(self) -> float:
        """Seconds per spectrum of the per-target work alone (the part that scales with n)."""
        return self.zfind_s / self.n


def run(
    paths, template_dir, rows=None, zscan: dict | None = None, quiet: bool = True
) -> RedrockRun:
    """Redrock on DESI coadd file(s) ``paths`` with the templates in ``template_dir``.

    ``rows`` (one file only) picks fibermap rows; ``zscan`` maps ``galaxy``,
    ``qso``, ``star`` to redrock's ``"zmin,zmax,dz"`` strings (coarser or
    shorter scans; default: the templates' own grids). ``quiet`` swallows
    redrock's prints. Needs numba (redrock's rebinning) and threadpoolctl.
    """
    from redrock.targets import DistTargetsCopy
    from redrock.templates import load_dist_templates
    from redrock.zfind import zfind
    from threadpoolctl import threadpool_limits

    paths = [paths] if isinstance(paths, str) else list(paths)
    zscan = zscan or {}
    sink = contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext()
    with threadpool_limits(1), sink:
        t0 = time.perf_counter()
        targets = [t for p in paths for t in read_coadd(p, rows)]
        dtargets = DistTargetsCopy(targets)
        dwave = dtargets.wavegrids()
        t1 = time.perf_counter()
        dtemplates = load_dist_templates(
            dwave,
            templates=str(template_dir),
            mp_procs=1,
            zscan_galaxy=zscan.get("galaxy"),
            zscan_qso=zscan.get("qso"),
            zscan_star=zscan.get("star"),
        )
        t2 = time.perf_counter()
        _, zfit = zfind(dtargets, dtemplates, mp_procs=1, nminima=3, ncamera=len(dwave))
        t3 = time.perf_counter()
    return RedrockRun(len(targets), t1 - t0, t2 - t1, t3 - t2, zfit)


if __name__ == "__main__":
    import tempfile

    from redrock_templates import build

    with tempfile.TemporaryDirectory() as tmp:
        build(tmp)
        for p in sys.argv[1:]:
            r = run(p, tmp)
            best = r.zfit[r.zfit["znum"] == 0] if "znum" in r.zfit.colnames else r.zfit
            print(
                f"{p}: {r.n} target(s); read {r.read_s:.2f} s, templates {r.templates_s:.2f} s,"
                f" zfind {r.zfind_s:.2f} s ({r.zfind_per_spectrum:.2f} s/spectrum);"
                f" z = {list(np.round(np.asarray(best['z']), 4))}"
                f" {list(np.asarray(best['spectype']).astype(str))}"
            )
