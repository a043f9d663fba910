"""Fixed simulated data sets in HDF5: written atomically, chunk by chunk, with all metadata.

File layout (one group, the root)::

    /flux        (N, P) float32/64   as the observer delivers it (after its norm)
    /ivar        (N, P)              0 = masked
    /wave        (P,)  float64       Angstrom, vacuum (photometry: band pivots)
    /z           (N,)  float64
    /template, /label, /subclass     (N,) int64
    /norm        (N,)  float64       physical flux = flux * norm[:, None]
    /z_class     (N,)  int64         (observers with redshift slots)
    /extra/<name> (N, ...)           observer-specific per-sample arrays
    attributes: deepz_version, observer, config (JSON), seed, offset, n,
                unit (of the physical flux), wave_unit, class_names,
                subclass_names, meta (JSON), norm_kind, xmax (the X_max the
                data were normalised with, or NaN), xmax_data (max |physical
                flux| over the file: the paper's "X_max of the training set"),
                created (UTC ISO time), format ("deepz-simulated/1")

The file is written under a temporary name in the same directory and moved
into place with :func:`os.replace` once complete, so a reader never sees a
half-written file, and an interrupted run leaves no file under ``path``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .._validate import check_seed
from ._seeding import check_offset
from .batch import SimulatedBatch

__all__ = ["FORMAT", "observer_from_config", "read_hdf5", "write_hdf5"]

log = logging.getLogger("deepz.simulate")

FORMAT = "deepz-simulated/1"
_PER_SAMPLE = ("z", "template", "label", "subclass", "norm")


def observer_from_config(config: dict | str, library=None):
    """Rebuild an observer from :meth:`config` (a dict or its JSON string).

    Parameters
    ----------
    config : dict or str
        What ``observer.config()`` returned (stored in HDF5 files and batches).
    library : TemplateLibrary, optional
        The user library, when the observer had one (it is not stored).

    Raises
    ------
    ValueError
        An unknown ``kind``, or a user library that is not passed again.

    """
    from .euclid import EuclidNISP
    from .photometry import Photometry
    from .spectro import SpectroSurvey

    cfg = json.loads(config) if isinstance(config, str) else dict(config)
    kind = cfg.pop("kind", None)
    classes = {"euclid_nisp": EuclidNISP, "spectro": SpectroSurvey, "photometry": Photometry}
    if kind not in classes:
        raise ValueError(f"config: unknown observer kind {kind!r}; known: {sorted(classes)}")
    lib_info = cfg.pop("library", None)
    if lib_info is not None and library is None:
        raise ValueError(
            f"config: the observer used a user library ({lib_info}); pass it as library="
        )
    for key, value in list(cfg.items()):
        if isinstance(value, list) and key not in ("arms", "targets", "populations"):
            cfg[key] = tuple(value)
    return classes[kind](**cfg, library=library)


def write_hdf5(
    path,
    observer,
    n: int,
    seed: int,
    *,
    offset: int = 0,
    chunk: int | None = None,
    progress: bool = True,
    compression: str | None = None,
    dtype=np.float32,
    threads: int | None = None,
) -> Path:
    """Simulate ``n`` samples of ``observer`` and write them to an HDF5 file, atomically.

    Parameters
    ----------
    path : str or path-like
        Output file (replaced if it exists, only once the new one is complete).
    observer
        A deepz observer.
    n : int
        Samples (>= 1): indices ``offset .. offset + n - 1`` of ``seed``.
    seed, offset : int
        As for ``observer.simulate``; the file holds exactly what
        ``observer.simulate(n, seed, offset)`` returns.
    chunk : int, optional
        Samples simulated and written at a time (also the HDF5 chunk rows);
        default: 10,000, or fewer so that a chunk holds at most 2e7 pixels
        (80 MB of float32 flux) -- 1,206 rows for 4MOST's 16,572 pixels.
    progress : bool
        Show a tqdm progress bar (on stderr) when there is more than one chunk.
    compression : str, optional
        h5py compression filter for the per-pixel arrays (``"gzip"``,
        ``"lzf"``); default none (fastest).
    dtype : {float32, float64}
        Dtype of flux and ivar.
    threads : int, optional
        Kernel threads.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError, TypeError
        Bad ``n``, ``seed``, ``offset`` or ``chunk`` (named in the message).

    """
    import h5py
    from tqdm.auto import tqdm

    from .. import __version__
    from ._common import check_n, count

    n = check_n(n)
    seed = check_seed(seed)
    offset = check_offset(offset, n)
    if chunk is None:
        chunk = max(1, min(10_000, 20_000_000 // max(1, int(getattr(observer, "n_pixels", 2000)))))
    chunk = count("chunk", chunk)
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as h5:
            first = observer.simulate(
                min(chunk, n), seed, offset=offset, dtype=dtype, threads=threads
            )
            p = first.flux.shape[1]
            rows = min(chunk, n)
            pix = {"chunks": (rows, p), "compression": compression}
            h5.create_dataset("flux", (n, p), dtype=first.flux.dtype, **pix)
            h5.create_dataset("ivar", (n, p), dtype=first.ivar.dtype, **pix)
            h5.create_dataset("wave", data=first.wave)
            for name in _PER_SAMPLE:
                h5.create_dataset(name, (n,), dtype=getattr(first, name).dtype)
            if first.z_class is not None:
                h5.create_dataset("z_class", (n,), dtype=first.z_class.dtype)
            extra = h5.create_group("extra")
            for name, arr in first.extra.items():
                extra.create_dataset(name, (n, *arr.shape[1:]), dtype=arr.dtype)
            xmax_data = 0.0
            bar = tqdm(
                total=n,
                unit="spectra",
                desc=f"simulate {first.observer}",
                disable=not progress or n <= chunk,
                leave=False,
            )
            batch = first
            at = 0
            while True:
                sl = slice(at, at + len(batch))
                h5["flux"][sl] = batch.flux
                h5["ivar"][sl] = batch.ivar
                for name in _PER_SAMPLE:
                    h5[name][sl] = getattr(batch, name)
                if batch.z_class is not None:
                    h5["z_class"][sl] = batch.z_class
                for name, arr in batch.extra.items():
                    extra[name][sl] = arr
                good = batch.ivar > 0
                phys = np.abs(np.where(good, batch.flux, 0)).max(axis=1) * batch.norm
                xmax_data = max(xmax_data, float(phys.max()))
                at += len(batch)
                bar.update(len(batch))
                if at >= n:
                    break
                batch = observer.simulate(
                    min(chunk, n - at), seed, offset=offset + at, dtype=dtype, threads=threads
                )
            bar.close()
            xmax = first.meta.get("xmax")
            attrs = {
                "format": FORMAT,
                "deepz_version": __version__,
                "observer": first.observer,
                "config": json.dumps(first.config, sort_keys=True),
                "seed": np.uint64(seed),
                "offset": np.int64(offset),
                "n": np.int64(n),
                "unit": first.unit,
                "wave_unit": "Angstrom (vacuum)",
                "class_names": json.dumps(list(first.class_names)),
                "subclass_names": json.dumps(list(first.subclass_names)),
                "meta": json.dumps(first.meta, sort_keys=True, default=_jsonable),
                "norm_kind": str(first.config.get("norm", "none")),
                "xmax": float("nan") if xmax is None else float(xmax),
                "xmax_data": xmax_data,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            h5.attrs.update(attrs)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    log.info("wrote %d %s samples (seed %d) to %s", n, first.observer, seed, path)
    return path


def read_hdf5(path, start: int = 0, stop: int | None = None) -> SimulatedBatch:
    """Read a file written by :func:`write_hdf5` (rows ``start:stop``) as a :class:`SimulatedBatch`.

    Raises
    ------
    ValueError
        If the file is not a deepz simulated data set.

    """
    import h5py

    with h5py.File(path, "r") as h5:
        if h5.attrs.get("format") != FORMAT:
            raise ValueError(
                f"path: {path} is not a deepz simulated data set "
                f"(format {h5.attrs.get('format')!r})"
            )
        n = int(h5.attrs["n"])
        start, stop, _ = slice(start, stop).indices(n)
        stop = max(stop, start)
        sl = slice(start, stop)
        a = h5.attrs
        meta = json.loads(a["meta"])
        xmax = float(a["xmax"])
        meta["xmax"] = None if math.isnan(xmax) else xmax
        meta["xmax_data"] = float(a["xmax_data"])
        meta["deepz_version"] = str(a["deepz_version"])
        return SimulatedBatch(
            flux=h5["flux"][sl],
            ivar=h5["ivar"][sl],
            wave=h5["wave"][()],
            z=h5["z"][sl],
            template=h5["template"][sl],
            label=h5["label"][sl],
            subclass=h5["subclass"][sl],
            class_names=tuple(json.loads(a["class_names"])),
            subclass_names=tuple(json.loads(a["subclass_names"])),
            z_class=h5["z_class"][sl] if "z_class" in h5 else None,
            norm=h5["norm"][sl],
            seed=int(a["seed"]),
            offset=int(a["offset"]) + start,
            observer=str(a["observer"]),
            config=json.loads(a["config"]),
            unit=str(a["unit"]),
            extra={k: v[sl] for k, v in h5["extra"].items()},
            meta=meta,
        )


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-able: {type(value).__name__}")
