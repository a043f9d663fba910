"""Train deepz networks: fit, validate, early-stop, checkpoint, resume exactly.

:class:`Trainer` runs the training loop of every deepz network: from arrays, a
map-style torch ``Dataset`` or an on-the-fly stream of simulated batches, with
any optimiser and learning-rate schedule, early stopping on a validation
metric, mixed precision on GPU, ``torch.compile`` when asked, a progress bar,
and per-epoch metrics logged and saved.

Every epoch (and every ``checkpoint_every`` steps inside one) the whole state
of the run is written *atomically* to ``out_dir/checkpoint.pt``; ``fit(...,
resume=True)`` continues from it **exactly**: a run killed with SIGKILL in the
middle of an epoch, then resumed, ends with the same weights, bit for bit, as
an uninterrupted run with the same seed (given deterministic kernels, see
"Exact resume" below).

Files in ``out_dir``
--------------------
``checkpoint.pt``
    The latest state (see :func:`load_checkpoint`): model, optimiser,
    scheduler and gradient-scaler states, epochs done, step within the epoch,
    the running training loss of the epoch in progress, best metric and epoch,
    early-stopping counter, RNG states (torch CPU, CUDA when used, numpy's
    global generator, Python's ``random``; the data-order generator is a pure
    function of seed and epoch and is stored as its seed), per-epoch history,
    seed and configuration.
``best.pt``
    ``{"model": state_dict, "epoch", "metric", "value", "deepz_version"}`` of
    the best epoch by the monitored metric (the early-stopping metric, else
    ``val_loss`` when validation data are given; no file otherwise).
``history.json``
    The list of per-epoch records (``epoch`` counted from 1, ``steps``,
    ``train_loss``, ``val_loss`` and ``val_<metric>`` when validating, ``lr``,
    ``seconds``); non-finite values are written as ``null``.
``run.json``
    Seed, configuration, data description, deepz/torch/Python versions,
    start and end times (UTC, ISO 8601), status (``running``, ``completed``,
    ``stopped_early``) and one entry per resume.

Each file is written to a temporary file in ``out_dir``, flushed, fsynced and
renamed over the old one with :func:`os.replace` (then the directory is
fsynced): a reader, or a resumed run, sees the old file or the new one, never
a torn one. One run per ``out_dir``.

Training data
-------------
``train`` (and ``val``) may be:

- a pair ``(x, y)`` of numpy arrays or torch tensors with the same first
  axis: shuffled each epoch (training) by a permutation drawn from a
  generator seeded with ``(seed, epoch)``, cut into batches of ``batch_size``;
- a map-style :class:`torch.utils.data.Dataset` of ``(x, y)`` samples: the
  same seeded permutation, loaded by a ``DataLoader`` (``num_workers``,
  default collation);
- a *resumable stream* (any object with a ``batches`` method, see
  :class:`ResumableStream`): the on-the-fly simulator case;
- any other iterable of ``(x, y)`` batches (a generator, an
  ``IterableDataset``, a ``DataLoader``): accepted, but it cannot be
  positioned, so a resume restarts the interrupted epoch from a fresh
  iterator, and says so in a logged warning.

``x`` may be a tensor, a tuple of tensors (passed as ``model(*x)``) or a dict
(``model(**x)``). Batches are moved to the device; floating tensors are cast
to the model's parameter dtype (numpy float64 arrays train a float32 model),
integer tensors (class indices) are kept.

The stream protocol (for on-the-fly simulators)
-----------------------------------------------
A stream implements ``batches(epoch, start, seed)`` (called with keywords)
returning an iterator of ``(x, y)`` batches for epoch ``epoch`` (counted from
0) that begins with batch number ``start`` (counted from 0 within the epoch).
Batch ``k`` of epoch ``e`` must be a pure function of ``(seed, e, k)`` and the
stream's own configuration: ``batches(epoch=e, start=k, seed=s)`` yields
exactly what ``batches(epoch=e, start=0, seed=s)`` yields after skipping
``k`` batches, without generating them (with deepz's counter-based noise,
draw the spectra of batch ``k`` from ``SeedSequence([seed, e, k])`` or use
``offset = (e * steps_per_epoch + k) * batch_size``). The stream must not
draw from global RNGs. If it defines ``__len__``, that is the number of
batches per epoch; an infinite stream needs the Trainer's
``steps_per_epoch``. Training streams are called with the Trainer's
``seed``; validation streams with ``epoch=0, start=0`` and a different seed
derived from it (so one simulator object can serve both, and validation sees
the same batches every epoch).

Exact resume
------------
A fresh ``fit`` seeds torch (CPU and CUDA), numpy's global generator and
Python's ``random`` from ``seed`` -- the only global state the Trainer
changes, unless ``deterministic=True`` (which also calls
``torch.use_deterministic_algorithms(True)`` and turns off cuDNN
benchmarking). A resume restores all of them from the checkpoint, together
with the model, optimiser, scheduler, scaler, counters and the running loss,
and restarts the data at the checkpointed step (map-style data: the same
permutation, skipping the batches done; streams: ``start=step``). Bitwise
equality with an uninterrupted run then needs deterministic kernels (on CPU:
the same thread count; on GPU: ``deterministic=True`` and
``CUBLAS_WORKSPACE_CONFIG=:4096:8``), a ``Dataset`` whose random draws (if
any) come from torch's global generator with ``num_workers=0``, and the same
``seed`` and ``batch_size`` (checked). Optimiser hyper-parameters (the
learning rate included) come from the checkpoint. Work done after the last
checkpoint is redone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import platform
import random
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from . import _core

__all__ = [
    "BEST_FILE",
    "CHECKPOINT_FILE",
    "HISTORY_FILE",
    "RUN_FILE",
    "ResumableStream",
    "TrainResult",
    "Trainer",
    "atomic_write",
    "load_checkpoint",
]

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
BEST_FILE = "best.pt"
HISTORY_FILE = "history.json"
RUN_FILE = "run.json"

_FORMAT = "deepz.training/1"
_TMP_PREFIX = ".deepz-tmp-"
_SEED_MAX = 2**63

_OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adagrad": torch.optim.Adagrad,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}

_LOSSES: dict[str, Callable[[], nn.Module]] = {
    "cross_entropy": nn.CrossEntropyLoss,
    "mse": nn.MSELoss,
    "mae": nn.L1Loss,
    "l1": nn.L1Loss,
    "huber": partial(nn.HuberLoss, delta=0.1),  # GaSNet-II's delta
}

_HALVE = re.compile(r"halve_every_(\d+)")

# Purposes of the random streams derived from the run seed (SeedSequence spawn keys).
_SEED_DATA, _SEED_NUMPY, _SEED_VAL_STREAM, _SEED_LOADER = 1, 2, 3, 4


# ----------------------------------------------------------------------------------
# Public helpers
# ----------------------------------------------------------------------------------


@runtime_checkable
class ResumableStream(Protocol):
    """An on-the-fly source of batches that can start anywhere (see the module notes).

    ``batches(epoch=e, start=k, seed=s)`` returns an iterator over the batches
    ``k, k+1, ...`` of epoch ``e`` (both counted from 0); batch ``k`` depends
    only on ``(s, e, k)`` and the stream's configuration, never on ``start``
    or on global RNGs. ``__len__``, when defined, gives the batches per epoch.
    """

    def batches(self, epoch: int, start: int, seed: int) -> Iterable[Any]:
        """Iterate over the ``(x, y)`` batches of ``epoch`` from batch ``start`` on."""
        ...


@dataclass(frozen=True)
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes
    ----------
    history : list of dict
        One record per completed epoch (see the module notes), across resumes.
    best_metric : str or None
        The monitored history key (``"val_loss"``, ``"val_acc"``, ...), or
        None when nothing was monitored (no validation data).
    best_value : float or None
        Its best value.
    best_epoch : int or None
        The epoch (from 1) that reached it; ``best.pt`` holds its weights.
    epochs_run : int
        Epochs completed in total.
    stopped_early : bool
        Whether early stopping ended the run.
    seed : int
        The run seed.
    out_dir, checkpoint_path, best_path, history_path, run_path : Path or None
        Where the run's files are (None without an ``out_dir``; ``best_path``
        None when no best weights were written).

    """

    history: list[dict[str, Any]]
    best_metric: str | None
    best_value: float | None
    best_epoch: int | None
    epochs_run: int
    stopped_early: bool
    seed: int
    out_dir: Path | None
    checkpoint_path: Path | None
    best_path: Path | None
    history_path: Path | None
    run_path: Path | None


def atomic_write(path: str | os.PathLike[str], write: Callable[[Any], None]) -> Path:
    """Write a file atomically: temporary file in the same directory, fsync, rename.

    Parameters
    ----------
    path : path-like
        The file to (re)place. Its directory must exist.
    write : callable
        ``write(f)`` writes the content to the binary file object ``f``.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    The data are flushed and fsynced before :func:`os.replace` renames the
    temporary file over ``path``, and the directory is fsynced after, so a
    crash at any moment leaves either the old file or the new one. On an
    exception the temporary file is removed and ``path`` is untouched.
    Temporary files are named ``.deepz-tmp-<name>.*``; :class:`Trainer`
    removes stale ones (left by a killed process) when a run starts.

    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint written by :class:`Trainer` (tensors on the CPU).

    Parameters
    ----------
    path : path-like
        ``checkpoint.pt`` (or a run's ``out_dir``, meaning its
        ``checkpoint.pt``) or ``best.pt``.

    Returns
    -------
    dict
        For ``checkpoint.pt``: ``format``, ``deepz_version``, ``seed``,
        ``config``, ``model`` (state dict), ``optimizer``, ``scheduler``,
        ``scaler``, ``epochs_done``, ``step`` (batches done in epoch
        ``epochs_done + 1``), ``global_step``, ``best``, ``bad_epochs``,
        ``stopped``, ``history``, ``rng``, ...

    Raises
    ------
    ValueError
        If the file is not a deepz training checkpoint.

    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_FILE
    # weights_only: nothing but tensors and plain containers is unpickled.
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != _FORMAT:
        got = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(
            f"{path}: not a deepz training checkpoint (format {got!r}, expected {_FORMAT!r})"
        )
    return ckpt


# ----------------------------------------------------------------------------------
# Small private helpers
# ----------------------------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not possible on every platform (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _write_json(path: Path, obj: Any) -> None:
    text = json.dumps(_json_safe(obj), indent=2, allow_nan=False) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _derive_seed(seed: int, purpose: int, *more: int, bits: int = 63) -> int:
    state = np.random.SeedSequence([seed, purpose, *more]).generate_state(2, np.uint32)
    return int((int(state[0]) << 32 | int(state[1])) >> (64 - bits))


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def _describe(obj: Any) -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, partial):
        return repr(obj)
    if isinstance(obj, nn.Module):
        return type(obj).__qualname__
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return f"{module}.{name}" if module else name


def _positive_int(value: Any, name: str, *, allow_none: bool = False, minimum: int = 1) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    return int(value)


def _positive_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{name}: expected a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: must be a finite number > 0, got {value}")
    return float(value)


def _resolve_device(device: Any) -> torch.device:
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device: expected 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}"
        ) from err
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device: deepz trains on 'cpu' or 'cuda', got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r}: torch sees no CUDA device (torch.cuda.is_available() is False); "
            "use device='cpu' or 'auto'"
        )
    return dev


def _tree_map(fn: Callable[[torch.Tensor], Any], obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, np.ndarray):
        return fn(torch.from_numpy(obj))
    if isinstance(obj, Mapping):
        return {k: _tree_map(fn, v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a namedtuple
        return type(obj)(*(_tree_map(fn, v) for v in obj))
    if isinstance(obj, list | tuple):
        return type(obj)(_tree_map(fn, v) for v in obj)
    return obj


def _first_tensor(obj: Any) -> torch.Tensor | None:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, Mapping):
        obj = list(obj.values())
    if isinstance(obj, list | tuple):
        for v in obj:
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def _batch_len(y: Any, x: Any) -> int:
    t = _first_tensor(y)
    if t is None or t.ndim == 0:
        t = _first_tensor(x)
    return int(t.shape[0]) if t is not None and t.ndim > 0 else 1


def _cat(parts: list[Any]) -> Any:
    first = parts[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(parts) if first.ndim > 0 else torch.stack(parts)
    if isinstance(first, Mapping):
        return {k: _cat([p[k] for p in parts]) for k in first}
    if isinstance(first, list | tuple):
        return type(first)(_cat([p[i] for p in parts]) for i in range(len(first)))
    return parts


def _as_float(value: Any, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"metric {name!r} returned a tensor of shape {tuple(value.shape)}, "
                "expected a scalar"
            )
        return float(value.detach().cpu().item())
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"metric {name!r} returned {type(value).__name__}, expected a scalar"
        ) from err


def _rng_state(cuda: bool) -> dict[str, Any]:
    np_state = np.random.get_state()  # noqa: NPY002 - the global state is what we save
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if cuda else None,
        "numpy": {
            "name": str(np_state[0]),
            "keys": [int(k) for k in np_state[1]],
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def _set_rng_state(state: Mapping[str, Any], cuda: bool) -> None:
    torch.set_rng_state(state["torch"])
    if cuda:
        if state.get("cuda") is not None:
            torch.cuda.set_rng_state_all(state["cuda"])
        else:
            log.warning(
                "the checkpoint holds no CUDA RNG state (written on CPU); CUDA draws will differ"
            )
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002 - restoring the saved global state
        (
            n["name"],
            np.asarray(n["keys"], dtype=np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))


# ----------------------------------------------------------------------------------
# Data sources: one interface over arrays, datasets, streams and plain iterables
# ----------------------------------------------------------------------------------


class _Source:
    """Batches of one epoch from any position; ``resumable`` when positioning is exact."""

    resumable = True
    owns_iterator = True  # iterate() returns a fresh iterator that may be closed after the epoch
    kind = "?"

    def __len__(self) -> int:  # batches per full epoch, when known
        raise TypeError

    def n_batches(self) -> int | None:
        try:
            return len(self)
        except TypeError:
            return None

    def iterate(self, epoch: int, start: int) -> Iterator[Any]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind


class _Permuted(_Source):
    """Shared logic of arrays and map-style datasets: a seeded permutation per epoch."""

    def __init__(
        self, n: int, batch_size: int, shuffle: bool, seed: int, drop_last: bool, name: str
    ):
        if n == 0:
            raise ValueError(f"{name}: is empty (0 samples)")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.drop_last = drop_last
        if len(self) == 0:
            raise ValueError(
                f"{name}: {n} samples make no full batch of batch_size={batch_size} "
                "with drop_last=True"
            )

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.n)
        return torch.randperm(self.n, generator=_generator(self.data_seed(epoch)))

    def data_seed(self, epoch: int) -> int:
        return _derive_seed(self.seed, _SEED_DATA, epoch)

    def index_batches(self, epoch: int, start: int) -> Iterator[torch.Tensor]:
        order = self.order(epoch)
        for k in range(start, len(self)):
            yield order[k * self.batch_size : (k + 1) * self.batch_size]


class _ArraySource(_Permuted):
    kind = "arrays"

    def __init__(
        self, x: Any, y: Any, batch_size: int, shuffle: bool, seed: int, drop_last: bool, name: str
    ):
        self.x = _tree_map(torch.as_tensor, x)
        self.y = _tree_map(torch.as_tensor, y)
        nx, ny = _first_tensor(self.x), _first_tensor(self.y)
        if nx is None or ny is None or nx.ndim == 0 or ny.ndim == 0:
            raise ValueError(f"{name}: expected (x, y) arrays with a leading sample axis")
        if nx.shape[0] != ny.shape[0]:
            raise ValueError(f"{name}: x has {nx.shape[0]} samples but y has {ny.shape[0]}")
        super().__init__(int(nx.shape[0]), batch_size, shuffle, seed, drop_last, name)
        self.shape = tuple(nx.shape)

    def iterate(self, epoch: int, start: int) -> Iterator[Any]:
        for idx in self.index_batches(epoch, start):
            yield _tree_map(lambda t, i=idx: t[i], self.x), _tree_map(lambda t, i=idx: t[i], self.y)

    def describe(self) -> str:
        return f"arrays: {self.n} samples, x shape {list(self.shape)}"


class _DatasetSource(_Permuted):
    kind = "dataset"

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        shuffle: bool,
        seed: int,
        drop_last: bool,
        num_workers: int,
        pin_memory: bool,
        name: str,
    ):
        self.dataset = dataset
        self.num_workers, self.pin_memory = num_workers, pin_memory
        super().__init__(len(dataset), batch_size, shuffle, seed, drop_last, name)  # type: ignore[arg-type]

    def iterate(self, epoch: int, start: int) -> Iterator[Any]:
        batches = [idx.tolist() for idx in self.index_batches(epoch, start)]
        if not batches:
            return iter(())
        # A dedicated generator: creating the loader's iterator must not draw from
        # torch's global RNG, or a resumed run (which creates it mid-epoch) would drift.
        loader = DataLoader(
            self.dataset,
            batch_sampler=batches,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            generator=_generator(_derive_seed(self.seed, _SEED_LOADER, epoch)),
        )
        return iter(loader)

    def describe(self) -> str:
        return f"map-style dataset {type(self.dataset).__qualname__}: {self.n} samples"


class _StreamSource(_Source):
    kind = "stream"

    def __init__(self, stream: Any, seed: int):
        self.stream, self.seed = stream, seed

    def __len__(self) -> int:
        return len(self.stream)

    def iterate(self, epoch: int, start: int) -> Iterator[Any]:
        return iter(self.stream.batches(epoch=epoch, start=start, seed=self.seed))

    def describe(self) -> str:
        n = self.n_batches()
        per = f"{n} batches per epoch" if n is not None else "unbounded"
        return f"resumable stream {type(self.stream).__qualname__} ({per})"


class _IterableSource(_Source):
    kind = "iterable"
    resumable = False
    owns_iterator = False  # iter(a generator) is the generator: it goes on in the next epoch

    def __init__(self, iterable: Iterable[Any]):
        self.iterable = iterable

    def __len__(self) -> int:
        return len(self.iterable)  # type: ignore[arg-type]

    def iterate(self, epoch: int, start: int) -> Iterator[Any]:
        return iter(self.iterable)

    def describe(self) -> str:
        return f"plain iterable {type(self.iterable).__qualname__} (not resumable)"


def _is_array(obj: Any) -> bool:
    return isinstance(obj, np.ndarray | torch.Tensor)


def _is_inputs(obj: Any) -> bool:
    """Tell whether ``obj`` is an array or a tuple/list/dict of arrays (a multi-input x)."""
    if _is_array(obj):
        return True
    values = (
        obj.values() if isinstance(obj, Mapping) else obj if isinstance(obj, list | tuple) else ()
    )
    values = list(values)
    return bool(values) and all(_is_array(v) for v in values)


# ----------------------------------------------------------------------------------
# The trainer
# ----------------------------------------------------------------------------------


@dataclass
class _State:
    epochs_done: int = 0
    step: int = 0  # batches done in epoch epochs_done + 1
    global_step: int = 0
    loss_sum: float = 0.0  # running training loss of the epoch in progress
    loss_count: int = 0
    epoch_seconds: float = 0.0
    best_value: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Fit a torch network, with atomic checkpoints and exact resume.

    Parameters
    ----------
    model : torch.nn.Module
        The network; moved to ``device``. Its initial weights are the caller's
        (seed before building it for a reproducible initialisation).
    loss : callable or str
        ``loss(pred, target) -> scalar tensor`` (an ``nn.Module`` or a
        function), or a name: ``"cross_entropy"``, ``"mse"``, ``"mae"``
        (``"l1"``), ``"huber"`` (delta 0.1, GaSNet-II's). A loss with
        parameters is moved to the device but not trained.
    optimizer : str, Optimizer class or callable, default "adam"
        ``"adagrad"``, ``"adam"``, ``"adamw"``, ``"sgd"``, or a
        ``torch.optim.Optimizer`` subclass (built as ``cls(params, lr=lr,
        **optimizer_kwargs)``), or a factory ``f(params) -> Optimizer`` that
        sets its own hyper-parameters (then ``lr`` and ``optimizer_kwargs``
        must be left out). An optimizer *instance* is refused: the Trainer
        builds it after moving the model.
    lr : float, optional
        Learning rate; None takes torch's default for the optimiser.
    optimizer_kwargs : dict, optional
        More keyword arguments of the optimiser (``momentum``, ``weight_decay``...).
    schedule : None, str or callable
        ``"halve_every_5"`` (any ``"halve_every_<N>"``: the learning rate is
        halved every N epochs, GaSNet-II's schedule), ``"cosine"`` (cosine
        annealing from ``lr`` to lr/50 over the run's epochs, or its steps
        with ``schedule_interval="step"``), or a factory
        ``f(optimizer) -> LRScheduler``. Stepped after each epoch (or each
        batch, with ``schedule_interval="step"``);
        ``ReduceLROnPlateau`` is stepped with the monitored metric (else the
        training loss).
    schedule_interval : {"epoch", "step"}
        When the scheduler steps.
    epochs : int
        Epochs to train (>= 1). Can be raised when resuming a finished run.
    batch_size : int
        Samples per batch for arrays and datasets (>= 1); streams and
        iterables bring their own batches.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
        ``"auto"``: CUDA when torch sees a GPU, else the CPU.
    seed : int or None
        Run seed (0 <= seed < 2**63): data order, streams, and the global RNGs
        seeded at the start of a fresh run. None draws one from the OS (it is
        logged and stored in ``run.json`` and the checkpoint, like any seed).
    out_dir : path-like, optional
        Where checkpoints, ``best.pt``, ``history.json`` and ``run.json`` go
        (created). Without it nothing is written and ``resume`` is refused.
    early_stopping : tuple, optional
        ``(metric, patience)`` or ``(metric, patience, mode)``, mode ``"min"``
        (default) or ``"max"``: stop when the metric has not improved for
        ``patience`` epochs. ``metric`` is a history key (``"val_loss"``,
        ``"val_acc"``, ``"train_loss"``) or a name of ``metrics`` (``"acc"``
        means ``"val_acc"``; ``"loss"`` means ``"val_loss"``).
    metrics : dict, optional
        ``{name: fn(pred, target) -> scalar}`` evaluated on the whole
        validation set (predictions and targets of all batches concatenated
        on the CPU, so medians and quantiles are exact), recorded as
        ``val_<name>``.
    amp : bool or {"float16", "bfloat16"}
        Mixed precision on CUDA (``True`` = float16 with a gradient scaler).
        On the CPU it is **ignored with a logged warning** (the run trains in
        full precision), so one script runs on both.
    compile : bool or dict
        ``torch.compile`` the model (a dict gives its keyword arguments, e.g.
        ``{"backend": "eager"}``). Checkpoints hold the plain model's weights.
    progress : bool
        Show a tqdm bar per epoch (on stderr).
    log_every : int or None
        Log the running loss every this many batches (None or 0: only epochs).
    steps_per_epoch : int, optional
        Batches per epoch: required for infinite streams; for arrays and
        datasets it shortens the epoch (must not exceed one pass).
    checkpoint_every : int, optional
        Also checkpoint every this many batches inside an epoch.
    val_batch_size : int, optional
        Batch size of validation arrays/datasets (default ``batch_size``).
    val_steps : int, optional
        Batches of validation per epoch (needed for an infinite validation stream).
    grad_clip : float, optional
        Clip the gradient norm to this value.
    num_workers : int
        ``DataLoader`` workers for map-style datasets (0: in the main
        process; exact resume needs deterministic ``__getitem__`` otherwise).
    drop_last : bool
        Drop the last incomplete training batch of arrays/datasets.
    restore_best : bool
        At the end of ``fit`` load the ``best.pt`` weights into the model.
    deterministic : bool
        Call ``torch.use_deterministic_algorithms(True)`` and disable cuDNN
        benchmarking (global settings, left set) -- needed for bitwise exact
        resume on GPU.

    Raises
    ------
    ValueError
        Unknown optimizer, loss or schedule name, ``epochs < 1``,
        ``batch_size < 1``, bad ``early_stopping``, unknown metric, CUDA asked
        for but absent, ``checkpoint_every`` without ``out_dir``, ``lr`` given
        with an optimizer factory.
    TypeError
        A non-module model, a non-callable loss or metric, an optimizer instance.

    Notes
    -----
    Library code: it logs (logger ``deepz.training``) and never prints; the
    progress bar writes to stderr. It does not change torch's thread settings.
    See the module documentation for the files written, the stream protocol
    and the conditions of exact resume.

    Examples
    --------
    >>> import torch
    >>> from deepz.training import Trainer
    >>> x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    >>> model = torch.nn.Linear(8, 3)
    >>> trainer = Trainer(model, "cross_entropy", optimizer="adagrad", lr=0.05, epochs=2,
    ...                   batch_size=16, out_dir="runs/demo", progress=False)
    >>> result = trainer.fit((x, y), val=(x, y), resume=True)  # resumes if interrupted
    >>> [r["epoch"] for r in result.history]
    [1, 2]

    """

    def __init__(
        self,
        model: nn.Module,
        loss: Callable[..., torch.Tensor] | str,
        *,
        optimizer: str
        | type[torch.optim.Optimizer]
        | Callable[..., torch.optim.Optimizer] = "adam",
        lr: float | None = None,
        optimizer_kwargs: Mapping[str, Any] | None = None,
        schedule: str | Callable[[torch.optim.Optimizer], Any] | None = None,
        schedule_interval: str = "epoch",
        epochs: int = 10,
        batch_size: int = 64,
        device: str | torch.device = "auto",
        seed: int | None = 0,
        out_dir: str | os.PathLike[str] | None = None,
        early_stopping: tuple[Any, ...] | None = None,
        metrics: Mapping[str, Callable[[Any, Any], Any]] | None = None,
        amp: bool | str = False,
        compile: bool | Mapping[str, Any] = False,
        progress: bool = True,
        log_every: int | None = 50,
        steps_per_epoch: int | None = None,
        checkpoint_every: int | None = None,
        val_batch_size: int | None = None,
        val_steps: int | None = None,
        grad_clip: float | None = None,
        num_workers: int = 0,
        drop_last: bool = False,
        restore_best: bool = False,
        deterministic: bool = False,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        self.epochs = _positive_int(epochs, "epochs")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.val_batch_size = (
            _positive_int(val_batch_size, "val_batch_size", allow_none=True) or self.batch_size
        )
        self.val_steps = _positive_int(val_steps, "val_steps", allow_none=True)
        self.steps_per_epoch = _positive_int(steps_per_epoch, "steps_per_epoch", allow_none=True)
        self.checkpoint_every = _positive_int(checkpoint_every, "checkpoint_every", allow_none=True)
        self.log_every = _positive_int(log_every, "log_every", allow_none=True, minimum=0) or None
        self.num_workers = _positive_int(num_workers, "num_workers", minimum=0)
        self.grad_clip = _positive_float(grad_clip, "grad_clip")
        self.lr = _positive_float(lr, "lr")
        self.progress, self.drop_last, self.restore_best = (
            bool(progress),
            bool(drop_last),
            bool(restore_best),
        )
        self.deterministic = bool(deterministic)

        if seed is None:
            seed = secrets.randbelow(2**31)
            log.info("no seed given: drew seed %d", seed)
        self.seed = _positive_int(seed, "seed", minimum=0)
        if self.seed >= _SEED_MAX:
            raise ValueError(f"seed: must be < 2**63, got {seed}")

        self.out_dir = None if out_dir is None else Path(out_dir)
        if self.out_dir is None and self.checkpoint_every is not None:
            raise ValueError("checkpoint_every: checkpoints need an out_dir")

        self.device = _resolve_device(device)
        self.model = model.to(self.device)
        self._dtype = next(
            (p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32
        )

        self.loss = self._build_loss(loss)
        self.metrics = self._check_metrics(metrics)
        self.early_stopping = self._check_early_stopping(early_stopping)
        self.optimizer = self._build_optimizer(optimizer, optimizer_kwargs)
        if schedule_interval not in ("epoch", "step"):
            raise ValueError(
                f"schedule_interval: expected 'epoch' or 'step', got {schedule_interval!r}"
            )
        self.schedule_interval = schedule_interval
        self.scheduler = self._build_scheduler(schedule)

        self._amp_dtype = self._check_amp(amp)
        use_scaler = self._amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None

        if compile:
            kwargs = dict(compile) if isinstance(compile, Mapping) else {}
            self._module: Callable[..., Any] = torch.compile(model, **kwargs)
        else:
            self._module = model

        self.config: dict[str, Any] = {
            "model": type(model).__qualname__,
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
            "loss": _describe(loss),
            "optimizer": _describe(optimizer),
            "lr": self.lr,
            "optimizer_kwargs": {k: repr(v) for k, v in (optimizer_kwargs or {}).items()},
            "schedule": None if schedule is None else _describe(schedule),
            "schedule_interval": schedule_interval,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "device": str(self.device),
            "seed": self.seed,
            "early_stopping": None if self.early_stopping is None else list(self.early_stopping),
            "metrics": sorted(self.metrics),
            "amp": None if self._amp_dtype is None else str(self._amp_dtype).removeprefix("torch."),
            "compile": bool(compile),
            "steps_per_epoch": self.steps_per_epoch,
            "checkpoint_every": self.checkpoint_every,
            "val_batch_size": self.val_batch_size,
            "val_steps": self.val_steps,
            "grad_clip": self.grad_clip,
            "num_workers": self.num_workers,
            "drop_last": self.drop_last,
            "deterministic": self.deterministic,
            "torch_threads": torch.get_num_threads(),
        }

    # -- construction helpers ------------------------------------------------------

    def _build_loss(self, loss: Any) -> Callable[..., torch.Tensor]:
        if isinstance(loss, str):
            if loss not in _LOSSES:
                raise ValueError(
                    f"loss: unknown name {loss!r}; expected one of {sorted(_LOSSES)} or a callable"
                )
            loss = _LOSSES[loss]()
        if not callable(loss):
            raise TypeError(
                f"loss: expected a callable loss(pred, target) or a name, got {type(loss).__name__}"
            )
        if isinstance(loss, nn.Module):
            loss = loss.to(self.device)
        return loss

    @staticmethod
    def _check_metrics(metrics: Any) -> dict[str, Callable[[Any, Any], Any]]:
        if metrics is None:
            return {}
        if not isinstance(metrics, Mapping):
            raise TypeError(
                f"metrics: expected a dict {{name: fn(pred, target)}}, got {type(metrics).__name__}"
            )
        out = {}
        for name, fn in metrics.items():
            if not isinstance(name, str) or not name or name == "loss":
                raise ValueError(
                    f"metrics: bad metric name {name!r} (a non-empty string other than 'loss')"
                )
            if not callable(fn):
                raise TypeError(f"metrics: {name!r} is not callable")
            out[name] = fn
        return out

    def _check_early_stopping(self, spec: Any) -> tuple[str, int, str] | None:
        if spec is None:
            return None
        if isinstance(spec, str) or not isinstance(spec, tuple | list) or len(spec) not in (2, 3):
            raise ValueError(f"early_stopping: expected (metric, patience[, mode]), got {spec!r}")
        metric, patience = spec[0], spec[1]
        mode = spec[2] if len(spec) == 3 else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"early_stopping: mode must be 'min' or 'max', got {mode!r}")
        patience = _positive_int(patience, "early_stopping patience")
        valid = {"train_loss", "val_loss", *(f"val_{m}" for m in self.metrics)}
        if not isinstance(metric, str):
            raise ValueError(f"early_stopping: metric must be a name, got {metric!r}")
        key = metric if metric in valid else f"val_{metric}"
        if key not in valid:
            raise ValueError(
                f"early_stopping: unknown metric {metric!r}; expected one of {sorted(valid)}"
            )
        return key, patience, mode

    def _build_optimizer(
        self, optimizer: Any, kwargs: Mapping[str, Any] | None
    ) -> torch.optim.Optimizer:
        kwargs = dict(kwargs or {})
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model: has no trainable parameters")
        if isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                "optimizer: pass a name, an Optimizer class or a factory f(params), "
                "not an instance "
                "(the Trainer builds it once the model is on its device)"
            )
        if isinstance(optimizer, str):
            if optimizer.lower() not in _OPTIMIZERS:
                raise ValueError(
                    f"optimizer: unknown name {optimizer!r}; "
                    f"expected one of {sorted(_OPTIMIZERS)}, "
                    "an Optimizer class or a factory f(params)"
                )
            optimizer = _OPTIMIZERS[optimizer.lower()]
        if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
            if self.lr is not None:
                kwargs["lr"] = self.lr
            return optimizer(params, **kwargs)
        if callable(optimizer):
            if self.lr is not None or kwargs:
                raise ValueError(
                    "lr/optimizer_kwargs: an optimizer factory f(params) sets its own "
                    "hyper-parameters; "
                    "leave lr and optimizer_kwargs out or pass an Optimizer class"
                )
            opt = optimizer(params)
            if not isinstance(opt, torch.optim.Optimizer):
                raise TypeError(
                    f"optimizer: the factory returned {type(opt).__name__}, not a torch Optimizer"
                )
            return opt
        raise TypeError(
            f"optimizer: expected a name, an Optimizer class or a factory, got {optimizer!r}"
        )

    def _build_scheduler(self, schedule: Any) -> Any:
        if schedule is None:
            return None
        if schedule == "cosine":
            steps = self.epochs
            if self.schedule_interval == "step":
                if self.steps_per_epoch is None:
                    raise ValueError("schedule: 'cosine' per step needs steps_per_epoch")
                steps = self.epochs * self.steps_per_epoch
            base = self.optimizer.param_groups[0]["lr"]
            return torch.optim.lr_scheduler.CosineAnnealingLR(
                self.optimizer, T_max=steps, eta_min=base / 50.0
            )
        if isinstance(schedule, str):
            match = _HALVE.fullmatch(schedule)
            if match is None or int(match.group(1)) < 1:
                raise ValueError(
                    f"schedule: unknown name {schedule!r}; expected 'halve_every_<N>' (e.g. "
                    "'halve_every_5'), 'cosine', None or a factory f(optimizer) -> LRScheduler"
                )
            return torch.optim.lr_scheduler.StepLR(
                self.optimizer, step_size=int(match.group(1)), gamma=0.5
            )
        if callable(schedule):
            sched = schedule(self.optimizer)
            if not hasattr(sched, "step") or not hasattr(sched, "state_dict"):
                raise TypeError(
                    f"schedule: the factory returned {type(sched).__name__}, not an LR scheduler"
                )
            return sched
        raise TypeError(f"schedule: expected None, a name or a factory, got {schedule!r}")

    def _check_amp(self, amp: Any) -> torch.dtype | None:
        if amp is False or amp is None:
            return None
        choices = {True: torch.float16, "float16": torch.float16, "bfloat16": torch.bfloat16}
        if amp not in choices:
            raise ValueError(f"amp: expected True, False, 'float16' or 'bfloat16', got {amp!r}")
        if self.device.type != "cuda":
            log.warning(
                "amp=%r: mixed precision is for CUDA only; training in full precision on %s",
                amp,
                self.device,
            )
            return None
        return choices[amp]

    # -- data ----------------------------------------------------------------------

    def _source(self, data: Any, name: str, *, train: bool) -> _Source:
        batch_size = self.batch_size if train else self.val_batch_size
        drop_last = self.drop_last and train
        if (
            isinstance(data, tuple | list)
            and len(data) == 2
            and _is_inputs(data[0])
            and _is_array(data[1])
        ):
            return _ArraySource(data[0], data[1], batch_size, train, self.seed, drop_last, name)
        if callable(getattr(data, "batches", None)):
            seed = self.seed if train else _derive_seed(self.seed, _SEED_VAL_STREAM)
            return _StreamSource(data, seed)
        if (
            isinstance(data, Dataset)
            and not isinstance(data, IterableDataset)
            and hasattr(data, "__len__")
        ):
            return _DatasetSource(
                data,
                batch_size,
                train,
                self.seed,
                drop_last,
                self.num_workers,
                self.device.type == "cuda",
                name,
            )
        if _is_array(data):
            raise TypeError(
                f"{name}: pass arrays as a pair (x, y), got a single {type(data).__name__}"
            )
        if isinstance(data, Iterable):
            return _IterableSource(data)
        raise TypeError(
            f"{name}: expected (x, y) arrays, a map-style Dataset, "
            "a stream with batches(epoch, start, seed) "
            f"or an iterable of (x, y) batches, got {type(data).__name__}"
        )

    def _epoch_steps(self, source: _Source, name: str) -> int | None:
        n = source.n_batches()
        if self.steps_per_epoch is None:
            return n
        if isinstance(source, _Permuted) and self.steps_per_epoch > len(source):
            raise ValueError(
                f"steps_per_epoch={self.steps_per_epoch} exceeds the {len(source)} batches "
                f"of one pass over {name}"
            )
        return self.steps_per_epoch if n is None else min(n, self.steps_per_epoch)

    def _move(self, obj: Any) -> Any:
        non_blocking = self.device.type == "cuda"

        def move(t: torch.Tensor) -> torch.Tensor:
            if t.is_floating_point() and t.dtype != self._dtype:
                t = t.to(self._dtype)
            return t.to(self.device, non_blocking=non_blocking)

        return _tree_map(move, obj)

    @staticmethod
    def _split(batch: Any, name: str) -> tuple[Any, Any]:
        if isinstance(batch, Mapping) or not isinstance(batch, tuple | list) or len(batch) != 2:
            raise TypeError(
                f"{name}: each batch must be an (x, y) pair, got {type(batch).__name__}"
            )
        return batch[0], batch[1]

    def _forward(self, x: Any) -> Any:
        if isinstance(x, Mapping):
            return self._module(**x)
        if isinstance(x, tuple | list):
            return self._module(*x)
        return self._module(x)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self._amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self._amp_dtype)

    # -- one step, one validation ---------------------------------------------------

    def _train_step(self, x: Any, y: Any) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            pred = self._forward(x)
            loss = self.loss(pred, y)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if self.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if self.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
        if self.scheduler is not None and self.schedule_interval == "step":
            self.scheduler.step()
        return loss.detach()

    @torch.no_grad()
    def _validate(self, source: _Source) -> dict[str, float]:
        self.model.eval()
        loss_sum, count = 0.0, 0
        preds: list[Any] = []
        targets: list[Any] = []
        try:
            for k, batch in enumerate(source.iterate(0, 0)):
                if self.val_steps is not None and k >= self.val_steps:
                    break
                x, y = self._split(batch, "val")
                x, y = self._move(x), self._move(y)
                with self._autocast():
                    pred = self._forward(x)
                    loss = self.loss(pred, y)
                n = _batch_len(y, x)
                loss_sum += float(loss) * n
                count += n
                if self.metrics:
                    preds.append(
                        _tree_map(
                            lambda t: (
                                t.detach().float().cpu()
                                if t.dtype in (torch.float16, torch.bfloat16)
                                else t.detach().cpu()
                            ),
                            pred,
                        )
                    )
                    targets.append(_tree_map(lambda t: t.detach().cpu(), y))
        finally:
            self.model.train()
        if count == 0:
            raise ValueError(
                "val: yielded no batches (a generator is consumed after one pass; pass arrays, "
                "a Dataset, a stream or a list of batches)"
            )
        out = {"val_loss": loss_sum / count}
        if self.metrics:
            pred_all, target_all = _cat(preds), _cat(targets)
            for name, fn in self.metrics.items():
                out[f"val_{name}"] = _as_float(fn(pred_all, target_all), name)
        return out

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    # -- files -----------------------------------------------------------------------

    def _paths(self) -> dict[str, Path | None]:
        d = self.out_dir
        names = {
            "checkpoint": CHECKPOINT_FILE,
            "best": BEST_FILE,
            "history": HISTORY_FILE,
            "run": RUN_FILE,
        }
        return {k: None if d is None else d / v for k, v in names.items()}

    def _save_checkpoint(self, state: _State, monitor: tuple[str, str] | None) -> None:
        path = self._paths()["checkpoint"]
        if path is None:
            return
        ckpt = {
            "format": _FORMAT,
            "deepz_version": _core.__version__,
            "torch_version": str(torch.__version__),
            "time": _now(),
            "seed": self.seed,
            "config": self.config,
            "model_class": type(self.model).__qualname__,
            "model": self.model.state_dict(),
            "optimizer_class": type(self.optimizer).__qualname__,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "epochs_done": state.epochs_done,
            "step": state.step,
            "global_step": state.global_step,
            "train_loss_sum": state.loss_sum,
            "train_loss_count": state.loss_count,
            "epoch_seconds": state.epoch_seconds,
            "best": {
                "metric": None if monitor is None else monitor[0],
                "mode": None if monitor is None else monitor[1],
                "value": state.best_value,
                "epoch": state.best_epoch,
            },
            "bad_epochs": state.bad_epochs,
            "stopped": state.stopped,
            "history": state.history,
            "rng": _rng_state(self.device.type == "cuda"),
            "data_order_seed": _derive_seed(self.seed, _SEED_DATA, state.epochs_done),
        }
        atomic_write(path, lambda f: torch.save(ckpt, f))
        log.debug("checkpoint: epoch %d step %d -> %s", state.epochs_done + 1, state.step, path)

    def _save_best(self, state: _State, monitor: tuple[str, str]) -> None:
        path = self._paths()["best"]
        if path is None:
            return
        best = {
            "model": self.model.state_dict(),
            "epoch": state.best_epoch,
            "metric": monitor[0],
            "value": state.best_value,
            "seed": self.seed,
            "deepz_version": _core.__version__,
        }
        atomic_write(path, lambda f: torch.save(best, f))

    def _write_history(self, state: _State) -> None:
        path = self._paths()["history"]
        if path is not None:
            _write_json(path, state.history)

    def _write_run(self, run: dict[str, Any]) -> None:
        path = self._paths()["run"]
        if path is not None:
            _write_json(path, run)

    def _clean_stale_temporaries(self) -> None:
        assert self.out_dir is not None
        for tmp in self.out_dir.glob(f"{_TMP_PREFIX}*"):
            log.info("removing %s, left by an interrupted write", tmp.name)
            with contextlib.suppress(OSError):
                tmp.unlink()

    # -- resume ------------------------------------------------------------------------

    def _check_compatible(self, ckpt: Mapping[str, Any], path: Path) -> None:
        theirs = ckpt["model"]
        ours = self.model.state_dict()
        missing = [k for k in ours if k not in theirs]
        unexpected = [k for k in theirs if k not in ours]
        shapes = [
            f"{k!r} has shape {tuple(theirs[k].shape)} there and {tuple(v.shape)} here"
            for k, v in ours.items()
            if k in theirs and tuple(theirs[k].shape) != tuple(v.shape)
        ]
        if missing or unexpected or shapes:
            parts = []
            if shapes:
                parts.append("; ".join(shapes[:5]) + (" ..." if len(shapes) > 5 else ""))
            if missing:
                parts.append(f"parameters missing from the checkpoint: {missing[:5]}")
            if unexpected:
                parts.append(f"parameters absent from this model: {unexpected[:5]}")
            raise ValueError(
                f"resume=True: {path} was written for a different model "
                f"({ckpt.get('model_class')}, this is {type(self.model).__qualname__}): "
                + "; ".join(parts)
            )
        if ckpt.get("model_class") != type(self.model).__qualname__:
            log.warning(
                "resume: the checkpoint's model class is %s, this model is %s (same parameters)",
                ckpt.get("model_class"),
                type(self.model).__qualname__,
            )
        if ckpt.get("optimizer_class") != type(self.optimizer).__qualname__:
            raise ValueError(
                f"resume=True: {path} holds a {ckpt.get('optimizer_class')} state, "
                f"this Trainer uses {type(self.optimizer).__qualname__}"
            )
        if ckpt.get("seed") != self.seed:
            raise ValueError(
                f"resume=True: {path} was written with seed={ckpt.get('seed')}, "
                f"this Trainer has seed={self.seed}"
            )
        theirs_bs = ckpt.get("config", {}).get("batch_size")
        if theirs_bs != self.batch_size:
            raise ValueError(
                f"resume=True: {path} was written with batch_size={theirs_bs}, this Trainer has "
                f"batch_size={self.batch_size} (the data positions would not match)"
            )
        if (ckpt.get("scheduler") is None) != (self.scheduler is None):
            log.warning(
                "resume: the checkpoint %s a scheduler state but this Trainer %s a schedule",
                "holds" if ckpt.get("scheduler") is not None else "holds no",
                "has" if self.scheduler is not None else "has no",
            )

    def _restore(self, ckpt: Mapping[str, Any], monitor: tuple[str, str] | None) -> _State:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None and ckpt.get("scheduler") is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.scaler is not None and ckpt.get("scaler") is not None:
            self.scaler.load_state_dict(ckpt["scaler"])
        best = ckpt["best"]
        state = _State(
            epochs_done=int(ckpt["epochs_done"]),
            step=int(ckpt["step"]),
            global_step=int(ckpt["global_step"]),
            loss_sum=float(ckpt["train_loss_sum"]),
            loss_count=int(ckpt["train_loss_count"]),
            epoch_seconds=float(ckpt["epoch_seconds"]),
            bad_epochs=int(ckpt["bad_epochs"]),
            stopped=bool(ckpt["stopped"]),
            history=list(ckpt["history"]),
        )
        if (
            monitor is not None
            and best.get("metric") == monitor[0]
            and best.get("mode") == monitor[1]
        ):
            state.best_value, state.best_epoch = best["value"], best["epoch"]
        elif monitor is not None and state.history:
            # The monitored metric changed: rebuild the best from the history.
            values = [(r.get(monitor[0]), r["epoch"]) for r in state.history]
            values = [(v, e) for v, e in values if v is not None and math.isfinite(v)]
            if values:
                pick = min if monitor[1] == "min" else max
                state.best_value, state.best_epoch = pick(values, key=lambda ve: ve[0])
            state.bad_epochs = 0
            log.warning(
                "resume: monitoring %s now (the checkpoint monitored %s)",
                monitor[0],
                best.get("metric"),
            )
        _set_rng_state(ckpt["rng"], self.device.type == "cuda")
        return state

    # -- the loop ----------------------------------------------------------------------

    def _monitor(self, has_val: bool) -> tuple[str, str] | None:
        if self.early_stopping is not None:
            key, _, mode = self.early_stopping
            if key.startswith("val_") and not has_val:
                raise ValueError(f"early_stopping: monitors {key!r} but fit() got no val data")
            return key, mode
        return ("val_loss", "min") if has_val else None

    def _seed_globals(self) -> None:
        torch.manual_seed(self.seed)  # CPU and every CUDA device
        numpy_seed = _derive_seed(self.seed, _SEED_NUMPY, bits=32)
        np.random.seed(numpy_seed)  # noqa: NPY002 - documented global seeding
        random.seed(self.seed)

    def fit(self, train: Any, val: Any = None, *, resume: bool = False) -> TrainResult:
        """Train the model; checkpoint, validate and early-stop along the way.

        Parameters
        ----------
        train : (x, y) arrays, Dataset, stream or iterable of batches
            Training data (see the module notes for each kind).
        val : same kinds, optional
            Validation data, evaluated at the end of every epoch in a fixed
            order (never shuffled), in ``eval()`` mode without gradients.
        resume : bool
            Continue from ``out_dir/checkpoint.pt``. If there is none, a fresh
            run starts (logged at INFO): ``resume=True`` is safe to pass
            always, e.g. in a job that may be preempted and restarted. A run
            that already finished (all epochs, or stopped early) returns at
            once; raising ``epochs`` continues it. With ``resume=False`` an
            existing checkpoint is overwritten (logged as a warning).

        Returns
        -------
        TrainResult
            History, best metric, value and epoch, and the paths of the files.

        Notes
        -----
        Each call is a run (seeded afresh unless resuming). Calling ``fit``
        again on the same Trainer goes on from the current weights, optimiser
        and scheduler states; build a new Trainer (and model) for an
        independent run.

        Raises
        ------
        ValueError
            ``resume=True`` without ``out_dir``; a checkpoint written for a
            different model (parameter names or shapes differ), optimiser,
            seed or batch size; empty data; an early-stopping metric on
            validation without ``val``; ``steps_per_epoch`` larger than a pass.
        TypeError
            Data of an unsupported kind, or batches that are not ``(x, y)`` pairs.

        """
        if resume and self.out_dir is None:
            raise ValueError("resume=True: needs the out_dir of the run to resume")
        source = self._source(train, "train", train=True)
        val_source = None if val is None else self._source(val, "val", train=False)
        if (
            isinstance(val_source, _StreamSource)
            and self.val_steps is None
            and val_source.n_batches() is None
        ):
            log.info(
                "val stream has no __len__ and val_steps is not set: validation runs until it ends"
            )
        monitor = self._monitor(val is not None)
        steps_total = self._epoch_steps(source, "train")
        paths = self._paths()

        ckpt = None
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._clean_stale_temporaries()
            ckpt_path = paths["checkpoint"]
            assert ckpt_path is not None
            if resume and ckpt_path.exists():
                ckpt = load_checkpoint(ckpt_path)
                self._check_compatible(ckpt, ckpt_path)
            elif resume:
                log.info("resume=True: no checkpoint in %s, starting a fresh run", self.out_dir)
            elif ckpt_path.exists():
                log.warning(
                    "%s holds a checkpoint; resume=False starts a fresh run that overwrites it",
                    self.out_dir,
                )

        if self.deterministic:
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False

        run: dict[str, Any]
        if ckpt is not None:
            state = self._restore(ckpt, monitor)
            run = self._read_run() or {"seed": self.seed, "start_time": ckpt.get("time")}
            run.setdefault("resumes", []).append(
                {"time": _now(), "epochs_done": state.epochs_done, "step": state.step}
            )
            log.info(
                "resuming %s: seed %d, epoch %d, step %d (%d steps done)",
                self.out_dir,
                self.seed,
                state.epochs_done + 1,
                state.step,
                state.global_step,
            )
            if not source.resumable:
                self._warn_not_resumable(source, state)
        else:
            state = _State()
            stale_best = paths["best"]
            if stale_best is not None and stale_best.exists():
                log.info("removing %s of an earlier run", stale_best)
                stale_best.unlink()
            self._seed_globals()
            run = {"seed": self.seed, "start_time": _now(), "resumes": []}
            log.info(
                "training %s on %s: seed %d, %d epochs%s",
                type(self.model).__qualname__,
                self.device,
                self.seed,
                self.epochs,
                f", out_dir {self.out_dir}" if self.out_dir else "",
            )
        run.update(
            {
                "seed": self.seed,
                "config": self.config,
                "data": {
                    "train": source.describe(),
                    "val": None if val_source is None else val_source.describe(),
                },
                "deepz_version": _core.__version__,
                "torch_version": str(torch.__version__),
                "python_version": platform.python_version(),
                "end_time": None,
                "status": "running",
            }
        )
        self._write_run(run)
        self._write_history(state)

        self.model.train()
        try:
            self._loop(source, val_source, steps_total, state, monitor)
        except BaseException:
            run["status"] = "interrupted"
            with contextlib.suppress(Exception):
                self._write_run(run)
            raise

        run["end_time"] = _now()
        run["status"] = "stopped_early" if state.stopped else "completed"
        run["epochs_run"] = state.epochs_done
        self._write_run(run)

        best_path = paths["best"]
        if best_path is not None and not (best_path.exists() and state.best_epoch is not None):
            best_path = None
        if self.restore_best and best_path is not None:
            self.model.load_state_dict(
                torch.load(best_path, map_location="cpu", weights_only=True)["model"]
            )
            log.info(
                "restored the weights of epoch %d (best %s)",
                state.best_epoch,
                None if monitor is None else monitor[0],
            )
        return TrainResult(
            history=list(state.history),
            best_metric=None if monitor is None else monitor[0],
            best_value=state.best_value,
            best_epoch=state.best_epoch,
            epochs_run=state.epochs_done,
            stopped_early=state.stopped,
            seed=self.seed,
            out_dir=self.out_dir,
            checkpoint_path=paths["checkpoint"],
            best_path=best_path,
            history_path=paths["history"],
            run_path=paths["run"],
        )

    def _read_run(self) -> dict[str, Any] | None:
        path = self._paths()["run"]
        if path is None or not path.exists():
            return None
        try:
            run = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return run if isinstance(run, dict) else None

    @staticmethod
    def _warn_not_resumable(source: _Source, state: _State) -> None:
        what = source.describe()
        if state.step > 0:
            log.warning(
                "resume: train is a %s without batches(epoch, start, seed), so it cannot be "
                "positioned: epoch %d restarts from its first batch with a fresh iterator "
                "(the %d batches done before "
                "the interruption are trained on again); the run will not be bit-identical to an "
                "uninterrupted one",
                what,
                state.epochs_done + 1,
                state.step,
            )
            state.step, state.loss_sum, state.loss_count = 0, 0.0, 0
        else:
            log.warning(
                "resume: train is a %s without batches(epoch, start, seed): epoch %d starts "
                "from a fresh iterator; the run is bit-identical to an uninterrupted one only "
                "if that iterator yields "
                "the batches the interrupted run would have seen",
                what,
                state.epochs_done + 1,
            )

    def _loop(
        self,
        source: _Source,
        val_source: _Source | None,
        steps_total: int | None,
        state: _State,
        monitor: tuple[str, str] | None,
    ) -> None:
        from tqdm.auto import tqdm

        if state.stopped or state.epochs_done >= self.epochs:
            log.info(
                "the run in %s is already finished (%d epochs%s)",
                self.out_dir,
                state.epochs_done,
                ", stopped early" if state.stopped else "",
            )
            return
        for epoch in range(state.epochs_done, self.epochs):
            t0 = time.perf_counter() - state.epoch_seconds
            loss_sum = torch.tensor(state.loss_sum, dtype=torch.float64, device=self.device)
            bar = tqdm(
                total=steps_total,
                initial=state.step,
                desc=f"epoch {epoch + 1}/{self.epochs}",
                unit="batch",
                disable=not self.progress,
                leave=False,
                dynamic_ncols=True,
            )
            batches = source.iterate(epoch, state.step)
            try:
                while steps_total is None or state.step < steps_total:
                    try:
                        batch = next(batches)
                    except StopIteration:
                        break
                    x, y = self._split(batch, "train")
                    x, y = self._move(x), self._move(y)
                    loss = self._train_step(x, y)
                    n = _batch_len(y, x)
                    loss_sum += loss.double() * n
                    state.loss_count += n
                    state.step += 1
                    state.global_step += 1
                    bar.update(1)
                    if self.log_every is not None and state.step % self.log_every == 0:
                        running = float(loss_sum) / state.loss_count
                        bar.set_postfix(loss=f"{running:.4g}", refresh=False)
                        log.info(
                            "epoch %d/%d step %d%s: loss %.6g, lr %.3g",
                            epoch + 1,
                            self.epochs,
                            state.step,
                            "" if steps_total is None else f"/{steps_total}",
                            running,
                            self._lr(),
                        )
                    if (
                        self.checkpoint_every is not None
                        and state.step % self.checkpoint_every == 0
                        and (steps_total is None or state.step < steps_total)
                    ):
                        state.loss_sum = float(loss_sum)
                        state.epoch_seconds = time.perf_counter() - t0
                        self._save_checkpoint(state, monitor)
            finally:
                bar.close()
                close = getattr(batches, "close", None)
                if close is not None and source.owns_iterator:  # a generator we started
                    close()
            if state.step == 0:
                raise ValueError(
                    f"train: yielded no batches in epoch {epoch + 1} (a generator is consumed "
                    "after one pass: give steps_per_epoch, or a re-iterable dataset or stream)"
                )
            self._end_epoch(epoch, float(loss_sum), val_source, state, monitor, t0)
            if state.stopped:
                break

    def _end_epoch(
        self,
        epoch: int,
        loss_sum: float,
        val_source: _Source | None,
        state: _State,
        monitor: tuple[str, str] | None,
        t0: float,
    ) -> None:
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "steps": state.step,
            "train_loss": loss_sum / max(state.loss_count, 1),
        }
        if val_source is not None:
            record.update(self._validate(val_source))
        record["lr"] = self._lr()  # the rate this epoch trained with (before the scheduler steps)
        if self.scheduler is not None and self.schedule_interval == "epoch":
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(
                    record[monitor[0]] if monitor is not None else record["train_loss"]
                )
            else:
                self.scheduler.step()
        record["seconds"] = time.perf_counter() - t0
        state.history.append(record)

        improved = False
        if monitor is not None:
            value = record[monitor[0]]
            key, mode = monitor
            if math.isfinite(value) and (
                state.best_value is None
                or (value < state.best_value if mode == "min" else value > state.best_value)
            ):
                state.best_value, state.best_epoch, state.bad_epochs = value, epoch + 1, 0
                improved = True
            else:
                state.bad_epochs += 1
            if self.early_stopping is not None and state.bad_epochs >= self.early_stopping[1]:
                state.stopped = True

        state.epochs_done, state.step = epoch + 1, 0
        state.loss_sum, state.loss_count, state.epoch_seconds = 0.0, 0, 0.0
        if improved and monitor is not None:
            self._save_best(state, monitor)
        self._save_checkpoint(state, monitor)
        self._write_history(state)

        shown = ", ".join(
            f"{k} {v:.6g}" for k, v in record.items() if k not in ("epoch", "steps", "seconds")
        )
        log.info(
            "epoch %d/%d: %s (%d batches, %.1f s)%s",
            epoch + 1,
            self.epochs,
            shown,
            record["steps"],
            record["seconds"],
            f"; best {monitor[0]} so far" if improved and monitor else "",
        )
        if state.stopped and monitor is not None:
            log.info(
                "early stopping: %s has not improved for %d epochs (best %.6g at epoch %d)",
                monitor[0],
                state.bad_epochs,
                state.best_value,
                state.best_epoch,
            )
