"""Training data on the fly: a plain generator and a torch ``IterableDataset``.

Batch ``k`` of epoch ``e`` is a pure function of the observer's configuration,
the seed, ``e`` and ``k``:

- ``fresh=True`` (default: every epoch sees new spectra): it holds samples
  ``k*B .. k*B + B - 1`` of the epoch seed ``derive_seed(seed, 4, e)``;
- ``fresh=False`` (a fixed training set of ``epoch_size`` spectra, as in the
  paper set-ups): samples ``k*B ..`` of ``seed`` itself, the same every epoch.

Because every observer draws sample ``i`` from (seed, i) alone, a batch can be
made without making the ones before it: resuming at batch ``k`` is free, and
splitting the batches over DataLoader workers (worker ``w`` of ``W`` makes
batches ``start + w, start + w + W, ...``, which the DataLoader hands out
round-robin in that very order) gives the same stream for any ``num_workers``.

Resume protocol: the Trainer of :mod:`deepz.training` calls
``stream.batches(epoch=e, start=k, seed=s)`` (its ``ResumableStream``
protocol) and ``len(stream)`` (batches per epoch, when ``epoch_size`` is set).
Inside a DataLoader, position the stream before iterating with
:meth:`SimulatedStream.set_epoch` / :meth:`SimulatedStream.load_state_dict`;
:meth:`SimulatedStream.state_dict` returns ``{"seed", "epoch", "start",
"batch_size", ...}`` with ``start`` the batch the next iteration begins with.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._validate import check_seed
from ._seeding import STREAM, derive_seed
from .batch import SimulatedBatch

__all__ = ["SimulatedStream", "batch_offset", "iterate_batches"]


def _epoch_seed(seed: int, epoch: int, fresh: bool) -> int:
    return derive_seed(seed, STREAM["epoch"], epoch) if fresh else seed


def batch_offset(k: int, batch_size: int) -> int:
    """Global index of the first sample of batch ``k``."""
    return k * batch_size


def _count(name, value, minimum=0):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def iterate_batches(
    observer,
    seed: int,
    batch_size: int,
    *,
    epoch: int = 0,
    start: int = 0,
    epoch_size: int | None = None,
    fresh: bool = True,
    worker: int = 0,
    n_workers: int = 1,
    threads: int | None = None,
    dtype=np.float32,
) -> Iterator[SimulatedBatch]:
    """Yield the :class:`SimulatedBatch` es of one epoch, from batch ``start`` on (no torch needed).

    Parameters
    ----------
    observer
        Any deepz observer (``simulate(n, seed, offset)``).
    seed : int
        The run's seed.
    batch_size : int
        Samples per batch (>= 1).
    epoch : int
        Epoch number (>= 0).
    start : int
        First batch (>= 0).
    epoch_size : int, optional
        Samples per epoch (the last batch may be short); None: endless.
    fresh : bool
        New samples every epoch (True) or the same ``epoch_size`` samples.
    worker, n_workers : int
        Yield only batches ``start + worker + j * n_workers`` (j = 0, 1, ...): a
        DataLoader that asks its workers in turn then gets ``start, start + 1,
        ...`` in order.
    threads : int, optional
        Kernel threads.
    dtype : {float32, float64}
        Dtype of flux and ivar.

    Yields
    ------
    SimulatedBatch
        Batch ``k`` covers samples ``k*batch_size ..`` of the epoch's seed.

    """
    seed = check_seed(seed)
    batch_size = _count("batch_size", batch_size, 1)
    epoch = _count("epoch", epoch)
    start = _count("start", start)
    n_workers = _count("n_workers", n_workers, 1)
    worker = _count("worker", worker)
    if worker >= n_workers:
        raise ValueError(f"worker must be < n_workers = {n_workers}, got {worker}")
    if epoch_size is not None:
        epoch_size = _count("epoch_size", epoch_size, 1)
    elif not fresh:
        raise ValueError("fresh=False (a fixed training set) needs epoch_size")
    s = _epoch_seed(seed, epoch, fresh)
    n_batches = None if epoch_size is None else math.ceil(epoch_size / batch_size)
    k = start + worker
    while n_batches is None or k < n_batches:
        off = batch_offset(k, batch_size)
        n = batch_size if epoch_size is None else min(batch_size, epoch_size - off)
        yield observer.simulate(n, s, offset=off, threads=threads, dtype=dtype)
        k += n_workers


def _default_target(observer) -> str:
    if getattr(observer, "kind", "") == "euclid_nisp":
        return "z_class"
    return "z"


def _torch():
    import torch

    return torch


try:  # the dataset class needs torch at definition time; the rest of deepz.simulate does not
    from torch.utils.data import IterableDataset as _Base
except ImportError:  # pragma: no cover - torch is an optional dependency
    _Base = object


class SimulatedStream(_Base):
    """A torch ``IterableDataset`` of simulated ``(x, y)`` batches, reproducible from one seed.

    Parameters
    ----------
    observer
        A deepz observer (:func:`deepz.simulate.euclid_nisp`, ``sdss`` ...).
    seed : int
        Seed of the stream.
    batch_size : int
        Spectra per batch (use ``DataLoader(stream, batch_size=None)``: the
        stream batches itself).
    epoch_size : int, optional
        Samples per epoch; ``len(stream)`` is then the batches per epoch.
        None: an endless epoch (give the Trainer ``steps_per_epoch``).
    fresh : bool
        New spectra every epoch (default) or the same ``epoch_size`` ones.
    x : str
        What the network eats: ``"flux"`` (spectra; photometry: fluxes) or
        ``"mag"`` (photometry), or ``"flux+ivar"`` (a (B, 2, P) tensor).
    y : str or tuple of str
        The target: ``"z_class"`` (Euclid default), ``"z"`` (others),
        ``"label"``, ``"subclass"``, ``"target"``; a tuple gives a dict.
    channel : bool
        Give x a channel axis, (B, 1, P) (default False: (B, P); deepz's
        models accept both).
    device : str or torch.device
        Where :meth:`batches` puts the tensors (the main process; inside
        DataLoader workers tensors stay on the CPU -- use ``pin_memory``).
        The kernels run on the CPU today; when deepz's CUDA kernels are
        wired into :mod:`deepz.kernels`, the observer's arrays can stay on the
        device end to end.
    threads : int, optional
        Kernel threads per process (with several DataLoader workers, 1 each
        is usually best).
    dtype : {numpy.float32, numpy.float64}
        Dtype of x.
    warm : bool
        Simulate one sample at construction, so that the template library
        (and a pilot X_max) are built once in this process and inherited by
        forked DataLoader workers instead of being rebuilt in each.

    Examples
    --------
    >>> from torch.utils.data import DataLoader
    >>> from deepz.simulate import SimulatedStream, euclid_nisp
    >>> stream = SimulatedStream(euclid_nisp(n_templates=20, xmax=1.0), seed=1, batch_size=8,
    ...                          epoch_size=32)
    >>> x, y = next(iter(DataLoader(stream, batch_size=None)))
    >>> tuple(x.shape), y.dtype, len(stream)
    ((8, 1800), torch.int64, 4)

    """

    def __init__(
        self,
        observer,
        seed: int,
        batch_size: int = 256,
        *,
        epoch_size: int | None = None,
        fresh: bool = True,
        x: str = "flux",
        y: str | tuple[str, ...] | None = None,
        channel: bool = False,
        device: Any = "cpu",
        threads: int | None = None,
        dtype=np.float32,
        warm: bool = True,
    ) -> None:
        if _Base is object:  # pragma: no cover
            raise ImportError(
                "SimulatedStream needs torch; use deepz.simulate.iterate_batches without it"
            )
        super().__init__()
        self.observer = observer
        self.seed = check_seed(seed)
        self.batch_size = _count("batch_size", batch_size, 1)
        self.epoch_size = None if epoch_size is None else _count("epoch_size", epoch_size, 1)
        if not fresh and epoch_size is None:
            raise ValueError("fresh=False (a fixed training set) needs epoch_size")
        self.fresh = bool(fresh)
        if x not in ("flux", "mag", "flux+ivar"):
            raise ValueError(f"x must be 'flux', 'mag' or 'flux+ivar', got {x!r}")
        self.x = x
        self.y = _default_target(observer) if y is None else y
        self.channel = bool(channel)
        self.device = device
        self.threads = threads
        self.dtype = np.dtype(dtype)
        self.epoch = 0
        self.start = 0
        if warm:  # build the library (and X_max) here, so forked workers inherit the caches
            observer.simulate(1, self.seed)

    # -- positioning -----------------------------------------------------------------
    def __len__(self) -> int:
        if self.epoch_size is None:
            raise TypeError("an endless SimulatedStream has no length (set epoch_size)")
        return math.ceil(self.epoch_size / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce epoch ``epoch`` from its first batch."""
        self.epoch = _count("epoch", epoch)
        self.start = 0

    def state_dict(self) -> dict[str, Any]:
        """Where the next iteration starts, and what defines the stream (JSON-able)."""
        return {
            "seed": self.seed,
            "epoch": self.epoch,
            "start": self.start,
            "batch_size": self.batch_size,
            "epoch_size": self.epoch_size,
            "fresh": self.fresh,
            "observer": self.observer.config(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Position the stream (``epoch``, ``start``); refuses another seed or batch size."""
        for key in ("seed", "batch_size", "epoch_size", "fresh"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(
                    f"state_dict: {key} = {state[key]!r} differs from this stream's "
                    f"{getattr(self, key)!r}"
                )
        self.epoch = _count("epoch", state.get("epoch", 0))
        self.start = _count("start", state.get("start", 0))

    # -- conversion ------------------------------------------------------------------
    def to_xy(self, batch: SimulatedBatch, device=None):
        """Return the ``(x, y)`` tensors of a batch."""
        torch = _torch()
        if self.x == "mag":
            if "mag" not in batch.extra:
                raise ValueError("x='mag' needs a photometry observer")
            arr = batch.extra["mag"]
        elif self.x == "flux+ivar":
            arr = np.stack([batch.flux, batch.ivar], axis=1)
        else:
            arr = batch.flux
        x = torch.from_numpy(np.ascontiguousarray(arr, dtype=self.dtype))
        if self.channel and x.ndim == 2:
            x = x[:, None, :]
        data = batch.per_sample()
        names = (self.y,) if isinstance(self.y, str) else tuple(self.y)
        ys = {}
        for name in names:
            if name not in data:
                raise ValueError(
                    f"y: {name!r} is not produced by {batch.observer} (has {sorted(data)})"
                )
            ys[name] = torch.from_numpy(np.ascontiguousarray(data[name]))
        y = ys[names[0]] if isinstance(self.y, str) else ys
        if device is not None and str(device) != "cpu":
            x = x.to(device, non_blocking=True)
            y = (
                y.to(device, non_blocking=True)
                if isinstance(self.y, str)
                else {k: v.to(device, non_blocking=True) for k, v in y.items()}
            )
        return x, y

    # -- iteration -------------------------------------------------------------------
    def batches(self, epoch: int = 0, start: int = 0, seed: int | None = None):
        """Yield ``(x, y)`` batches ``start, start+1, ...`` of ``epoch`` on :attr:`device`.

        The ``ResumableStream`` protocol of :mod:`deepz.training`.
        """
        s = self.seed if seed is None else seed
        for b in iterate_batches(
            self.observer,
            s,
            self.batch_size,
            epoch=epoch,
            start=start,
            epoch_size=self.epoch_size,
            fresh=self.fresh,
            threads=self.threads,
            dtype=self.dtype,
        ):
            yield self.to_xy(b, self.device)

    def __iter__(self):
        torch = _torch()
        info = torch.utils.data.get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        device = self.device if info is None else None
        for b in iterate_batches(
            self.observer,
            self.seed,
            self.batch_size,
            epoch=self.epoch,
            start=self.start,
            epoch_size=self.epoch_size,
            fresh=self.fresh,
            worker=worker,
            n_workers=n_workers,
            threads=self.threads,
            dtype=self.dtype,
        ):
            yield self.to_xy(b, device)
