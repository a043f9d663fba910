"""Self-describing model files: the meta a deepz network carries, :func:`save` and :func:`load`.

A saved model carries, beside the network, its *meta* -- the JSON description
of what the network expects and what it returns -- so that
``deepz predict --model model.pt spectra.fits`` resamples each input onto its
grid itself. :func:`load` returns a ready :class:`deepz.inference.Predictor`.

Model files must not run code. deepz's own format (``fmt="weights"``, the
default of :func:`save`) holds tensors and plain containers only and is read
with ``torch.load(weights_only=True)``, the architecture rebuilt from
:mod:`deepz.models`' registry. TorchScript and ``torch.export`` files are
programs (``torch.export.load`` unpickles payloads with ``weights_only=False``):
:func:`load` refuses them unless ``trust=True``. :func:`file_format` and
:func:`read_meta` only read the zip directory and the meta, whatever the file.

The meta (``format_version`` 1) holds::

    format            "deepz-model"
    format_version    1
    deepz_version     version that wrote it
    serialization     how the network is stored (see :func:`save`)
    model             {"name", "class", "task", "config", "input_shape"}
    input             {"wave": [...] (Angstrom, pixel centres),
                       "normalisation": {"kind": "xmax"|"max"|"l2"|"none",
                                         "divisor": float (xmax)},
                       "min_coverage": fraction of the grid the input must cover}
    z_bins            bin centres (classifiers over redshift), or null
    z_range           [z_min, z_max] of the bins, or null
    class_names       object classes (classifiers), or null
    spectype          SPECTYPE written for redshift models (default "GALAXY")
    training          {"seed", "data", ...} free-form description of the training run
"""

from __future__ import annotations

import io as _pyio
import json
import logging
import math
import os
import warnings
import zipfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from .inference import Predictor

log = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "FORMAT_VERSION",
    "META_FILE",
    "build_meta",
    "file_format",
    "load",
    "read_meta",
    "save",
]

#: Version of the saved-model meta layout this deepz writes and reads.
FORMAT_VERSION = 1
#: Name of the extra file that carries the meta in saved models.
META_FILE = "deepz_meta.json"

_TASKS = ("pdf", "regression", "classification", "ensemble", "spectro")
_NORMS = ("xmax", "max", "l2", "none")


def _version() -> str:
    from . import __version__

    return __version__


def _quiet_jit():
    """Context silencing TorchScript's deprecation warnings (deepz tests both paths)."""
    cm = warnings.catch_warnings()
    cm.__enter__()
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit.*")
    warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit.*")
    return cm


# -- meta ---------------------------------------------------------------------------


def _registry_name(model: Any) -> str | None:
    from . import models

    cfg = getattr(model, "config", None)
    for name in models.list_models():
        entry = models.get_entry(name)
        if cfg is not None and type(cfg) is entry.config_cls:
            return name
    return None


def build_meta(
    model: torch.nn.Module,
    wave,
    *,
    normalisation: Mapping[str, Any] | str = "none",
    name: str | None = None,
    training: Mapping[str, Any] | None = None,
    min_coverage: float = 0.9,
    spectype: str = "GALAXY",
    **extra: Any,
) -> dict[str, Any]:
    """Build the meta of a deepz network (see the module notes for the layout).

    Parameters
    ----------
    model : DeepzModel
        The network (its ``describe()`` gives task, config, bins and classes).
    wave : array_like (P,)
        Pixel centres (Angstrom) of the input grid the network was trained on.
    normalisation : str or mapping
        ``"max"``, ``"l2"``, ``"none"`` or ``{"kind": "xmax", "divisor": d}``.
    name : str, optional
        Registry name (default: looked up from the config's class).
    training : mapping, optional
        Seed, data description, steps... (free-form, JSON-able).
    min_coverage : float
        Fraction of the grid an input must cover not to be flagged OUT_OF_RANGE.
    spectype : str
        SPECTYPE of redshift models' predictions.
    **extra
        More JSON-able keys stored as they are.

    Returns
    -------
    dict

    """
    desc = model.describe() if hasattr(model, "describe") else {}
    norm = {"kind": normalisation} if isinstance(normalisation, str) else dict(normalisation)
    cfg = desc.get("config", {})
    z_range = None
    if desc.get("z_bins") is not None and "z_min" in cfg and desc.get("z_edges") is None:
        z_range = [float(cfg["z_min"]), float(cfg["z_max"])]
    meta = {
        "format": "deepz-model",
        "format_version": FORMAT_VERSION,
        "deepz_version": _version(),
        "model": {
            "name": name or _registry_name(model) or desc.get("class", type(model).__name__),
            "class": desc.get("class", type(model).__name__),
            "task": desc.get("task", "classification"),
            "config": cfg,
            "input_shape": desc.get("input_shape"),
        },
        "input": {
            "wave": [float(w) for w in np.asarray(wave, dtype=np.float64).reshape(-1)],
            "normalisation": norm,
            "min_coverage": float(min_coverage),
        },
        "z_bins": desc.get("z_bins"),
        "z_range": z_range,
        "z_edges": desc.get("z_edges"),
        "class_names": desc.get("class_names"),
        "spectype": spectype,
        "training": dict(training or {}),
    }
    meta.update(extra)
    return _check_meta(json.loads(json.dumps(meta)), "meta")


def _check_meta(meta: Any, where: str) -> dict[str, Any]:
    """Validate a meta dict; ``ValueError`` naming ``where`` and the problem."""
    if not isinstance(meta, Mapping) or meta.get("format") != "deepz-model":
        raise ValueError(f"{where}: not a deepz model description (no 'format': 'deepz-model')")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{where}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{where}: written with model format version {version} (deepz "
            f"{meta.get('deepz_version', '?')}); this deepz {_version()} reads up to version "
            f"{FORMAT_VERSION} -- upgrade deepz"
        )
    model = meta.get("model")
    if not isinstance(model, Mapping) or model.get("task") not in _TASKS:
        raise ValueError(
            f"{where}: model.task must be one of {_TASKS}, got "
            f"{None if not isinstance(model, Mapping) else model.get('task')!r}"
        )
    inp = meta.get("input")
    if not isinstance(inp, Mapping) or "wave" not in inp:
        raise ValueError(f"{where}: input.wave (the model's wavelength grid) is missing")
    wave = np.asarray(inp["wave"], dtype=np.float64)
    if (
        wave.ndim != 1
        or wave.size < 2
        or not np.all(np.isfinite(wave))
        or not np.all(np.diff(wave) > 0)
    ):
        raise ValueError(
            f"{where}: input.wave must be a finite, strictly increasing grid of >= 2 "
            f"centres, got {wave.size} values"
        )
    norm = inp.get("normalisation", {"kind": "none"})
    if not isinstance(norm, Mapping) or norm.get("kind") not in _NORMS:
        raise ValueError(f"{where}: input.normalisation.kind must be one of {_NORMS}, got {norm!r}")
    if norm["kind"] == "xmax":
        d = norm.get("divisor")
        if not (isinstance(d, (int, float)) and math.isfinite(d) and d > 0):
            raise ValueError(f"{where}: input.normalisation 'xmax' needs a divisor > 0, got {d!r}")
    shape = model.get("input_shape")
    if shape and int(shape[-1]) != wave.size:
        raise ValueError(
            f"{where}: the network takes {shape[-1]} pixels but input.wave has {wave.size}"
        )
    if model["task"] in ("pdf", "spectro"):
        bins = meta.get("z_bins")
        if not bins:
            raise ValueError(f"{where}: a {model['task']!r} model needs z_bins")
        b = np.asarray(bins, dtype=np.float64)
        if b.ndim != 1 or not np.all(np.diff(b) > 0):
            raise ValueError(f"{where}: z_bins must be increasing bin centres")
        edges = meta.get("z_edges")
        if edges is not None:
            e = np.asarray(edges, dtype=np.float64)
            if (
                e.shape != (b.size + 1,)
                or not np.all(np.diff(e) > 0)
                or not np.all((e[:-1] < b) & (b < e[1:]))
            ):
                raise ValueError(
                    f"{where}: z_edges must be {b.size + 1} increasing edges around the z_bins"
                )
    if model["task"] == "spectro" and not meta.get("class_names"):
        raise ValueError(f"{where}: a 'spectro' model needs class_names")
    return dict(meta)


# -- save / load --------------------------------------------------------------------

#: How :func:`save` can store the network (``fmt``); ``"weights"`` is deepz's own format.
FORMATS = ("weights", "torchscript", "export")
#: ``fmt`` values whose files are programs: loading them can run code they carry.
PROGRAM_FORMATS = ("torchscript", "export")
_WEIGHTS_TAG = "deepz-weights"


def save(
    model: torch.nn.Module,
    path,
    meta: Mapping[str, Any],
    *,
    fmt: str = "weights",
    overwrite: bool = True,
) -> str:
    """Write a self-describing model file: the network plus its meta (atomically).

    Parameters
    ----------
    model : DeepzModel
        The network (eager, a registered deepz model for ``fmt="weights"``).
    path : str or os.PathLike
        Output file (conventionally ``.pt``; ``.pt2`` for export).
    meta : mapping
        From :func:`build_meta` (validated; ``serialization`` is set here).
    fmt : {"weights", "torchscript", "export"}
        ``"weights"`` (the default, deepz's own format): ``torch.save`` of
        ``{"format": "deepz-weights", "meta": <JSON text>, "state_dict": ...}``
        -- tensors and plain containers only, read back with
        ``torch.load(weights_only=True)`` and the architecture rebuilt from
        the model registry (``meta["model"]["name"]`` and ``"config"``), so the
        file cannot run code. ``"torchscript"`` (``torch.jit.script`` +
        ``torch.jit.save``) and ``"export"`` (``torch.export.export`` with a
        dynamic batch axis + ``torch.export.save``) carry the meta as the extra
        file ``deepz_meta.json``; they are programs, for deployment without
        deepz, and :func:`load` reads them only with ``trust=True``.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        Bad meta or ``fmt``, or ``fmt="weights"`` for a network the model
        registry cannot rebuild from the meta.
    FileExistsError
        ``path`` exists and not ``overwrite``.

    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    meta = _check_meta(dict(meta), "meta")
    meta["serialization"] = fmt
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists (pass overwrite=True, or --overwrite)")
    was_training = model.training
    model = model.eval().cpu()
    extra = {META_FILE: json.dumps(meta)}
    buf = _pyio.BytesIO()
    try:
        if fmt == "weights":
            _rebuild(meta, "meta")  # refuse now what load() could not rebuild
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            torch.save({"format": _WEIGHTS_TAG, "meta": extra[META_FILE], "state_dict": state}, buf)
        elif fmt == "torchscript":
            cm = _quiet_jit()
            try:
                scripted = torch.jit.script(model)
                torch.jit.save(scripted, buf, _extra_files=extra)
            finally:
                cm.__exit__(None, None, None)
        else:
            inputs = (
                model.example_inputs(batch=2)
                if hasattr(model, "example_inputs")
                else (torch.zeros(2, *[int(s) for s in meta["model"]["input_shape"]]),)
            )
            batch = torch.export.Dim("batch", min=1, max=1 << 20)
            dynamic = tuple({0: batch} for _ in inputs)
            program = torch.export.export(model, tuple(inputs), dynamic_shapes=dynamic)
            torch.export.save(program, buf, extra_files=extra)
    finally:
        model.train(was_training)
    from .io._atomic import atomic_path

    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "wb") as fh:
        fh.write(buf.getvalue())
    log.info("saved %s model %s to %s", fmt, meta["model"]["name"], path)
    return path


def file_format(path) -> str:
    """Say how a model file stores its network, from its zip directory only (nothing is run).

    Parameters
    ----------
    path : str or os.PathLike
        A model file.

    Returns
    -------
    str
        ``"weights"`` (a ``torch.save`` archive: deepz's own format, or plain
        weights), ``"torchscript"`` or ``"export"``.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a zip archive written by torch (names the file).

    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(
            f"{path}: not a deepz model file (not a torch zip archive: {exc})"
        ) from None
    parts = [n.split("/", 1)[1] for n in names if "/" in n]
    if "archive_format" in parts or any(p.startswith("models/") for p in parts):
        return "export"
    if "constants.pkl" in parts or any(p.startswith("code/") for p in parts):
        return "torchscript"
    if "data.pkl" in parts:
        return "weights"
    raise ValueError(f"{path}: not a deepz model file (a zip archive torch did not write)")


def _extra_meta_text(path: str) -> str:
    """Read the ``extra/deepz_meta.json`` member of a TorchScript / export archive as data."""
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.endswith("/extra/" + META_FILE):
                return zf.read(name).decode()
    return ""


def _parse_meta(text: Any, path: str, kind: str) -> dict[str, Any]:
    if isinstance(text, bytes):
        text = text.decode()
    if not text:
        raise ValueError(
            f"{path}: the {kind} file carries no deepz meta ({META_FILE}): it does not say its "
            "input grid, normalisation or redshift bins; save it with deepz.save(model, path, meta)"
        )
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: {META_FILE} is not valid JSON ({exc})") from None
    return _check_meta(meta, path)


def _read_weights(path: str, mmap: bool = False) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` of a weights file, checked to be deepz's layout."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # any unpickling failure means a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"{path}: not a deepz model file: its pickle is refused by "
            f"torch.load(weights_only=True) ({first})"
        ) from None
    if not (
        isinstance(obj, Mapping)
        and obj.get("format") == _WEIGHTS_TAG
        and isinstance(obj.get("meta"), str)
        and isinstance(obj.get("state_dict"), Mapping)
    ):
        raise ValueError(
            f"{path}: a torch.save file but not a deepz model (no 'format': {_WEIGHTS_TAG!r} "
            "with 'meta' and 'state_dict'); save models with deepz.save(model, path, meta)"
        )
    return dict(obj)


def _rebuild(meta: Mapping[str, Any], where: str) -> torch.nn.Module:
    """Build the registered architecture the meta names, from its config."""
    from . import models

    name = meta["model"].get("name")
    if name not in models.list_models():
        raise ValueError(
            f"{where}: model.name {name!r} is not a registered deepz model "
            f"({', '.join(models.list_models())}); fmt='weights' needs one"
        )
    config = meta["model"].get("config") or {}
    try:
        return models.create(name, **config)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: cannot build {name!r} from model.config ({exc})") from None


def read_meta(path) -> dict[str, Any]:
    """Read the meta of a saved model without building the network or running anything.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a model file, or no valid deepz meta in it.

    """
    path = os.fspath(path)
    kind = file_format(path)
    if kind == "weights":
        return _parse_meta(_read_weights(path, mmap=True)["meta"], path, kind)
    return _parse_meta(_extra_meta_text(path), path, kind)


def _load(path, trust: bool = False):
    path = os.fspath(path)
    kind = file_format(path)
    if kind == "weights":
        obj = _read_weights(path)
        meta = _parse_meta(obj["meta"], path, kind)
        module = _rebuild(meta, path)
        try:
            module.load_state_dict(obj["state_dict"], strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ValueError(
                f"{path}: its weights do not fit {meta['model']['name']!r} ({first})"
            ) from None
        return module.eval(), meta
    if not trust:
        raise ValueError(
            f"{path} is a {kind} program: loading it can run code that the file carries "
            f"(torch.{'jit' if kind == 'torchscript' else 'export'}.load unpickles its "
            "payloads). Load it only if you trust where it came from: "
            "deepz.load(path, trust=True) or deepz predict --trust-model. deepz's own "
            "format (deepz.save(..., fmt='weights'), the default) holds no code."
        )
    extra = {META_FILE: ""}
    cm = _quiet_jit()
    try:
        if kind == "torchscript":
            module = torch.jit.load(path, map_location="cpu", _extra_files=extra)
        else:
            with open(path, "rb") as fh:
                program = torch.export.load(_pyio.BytesIO(fh.read()), extra_files=extra)
            module = program.module()
    except Exception as exc:  # a broken archive of a known kind
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: a {kind} file torch cannot load ({first})") from None
    finally:
        cm.__exit__(None, None, None)
    return module, _parse_meta(extra.get(META_FILE), path, kind)


def load(
    path,
    *,
    device: Any = "auto",
    batch_size: int = 1024,
    threads: int | None = None,
    trust: bool = False,
) -> Predictor:
    """Load a model saved by :func:`save` and return a ready :class:`~deepz.inference.Predictor`.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    device, batch_size, threads
        Passed to the :class:`~deepz.inference.Predictor`.
    trust : bool
        Also load TorchScript and ``torch.export`` files. Those are programs:
        ``torch.jit.load`` runs the TorchScript code they carry and
        ``torch.export.load`` unpickles their payloads with
        ``weights_only=False``, so a crafted file runs arbitrary code. Pass
        ``True`` only for files you trust. deepz's own format (the default of
        :func:`save`) is read with ``torch.load(weights_only=True)`` and the
        architecture rebuilt from the model registry: it cannot run code, and
        needs no ``trust``.

    Returns
    -------
    Predictor

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a model file; a program file without ``trust=True``; no deepz meta
        in it; a newer ``format_version``; a grid, normalisation or bins it
        cannot honour (the message names the file).

    """
    module, meta = _load(path, trust=trust)
    if meta["model"]["task"] == "pdf":
        n_out = len(meta["z_bins"])
        probe = torch.zeros(
            1,
            *[int(s) for s in (meta["model"].get("input_shape") or [len(meta["input"]["wave"])])],
        )
        with torch.inference_mode():
            out = module(probe)
        out = out[0] if isinstance(out, (tuple, list)) else out
        if out.shape[-1] != n_out:
            raise ValueError(
                f"{path}: the network gives {out.shape[-1]} outputs but the meta "
                f"has {n_out} redshift bins"
            )
    from .inference import Predictor

    return Predictor(module, meta, device=device, batch_size=batch_size, threads=threads)
