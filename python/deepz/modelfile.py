"""Self-describing model files: the meta a deepz network carries, :func:`save` and :func:`load`.

A saved model carries, beside the network, its *meta* -- the JSON description
of what the network expects and what it returns -- so that
``deepz predict --model model.pt spectra.fits`` resamples each input onto its
grid itself. :func:`load` returns a ready :class:`deepz.inference.Predictor`.

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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from .inference import Predictor

log = logging.getLogger(__name__)

__all__ = ["FORMAT_VERSION", "META_FILE", "build_meta", "load", "read_meta", "save"]

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


def save(
    model: torch.nn.Module,
    path,
    meta: Mapping[str, Any],
    *,
    fmt: str = "torchscript",
    overwrite: bool = True,
) -> str:
    """Write a self-describing model file: the network plus its meta (atomically).

    Parameters
    ----------
    model : DeepzModel
        The network (eager; it is scripted or exported here, in eval mode).
    path : str or os.PathLike
        Output file (conventionally ``.pt`` for TorchScript, ``.pt2`` for export).
    meta : mapping
        From :func:`build_meta` (validated; ``serialization`` is set here).
    fmt : {"torchscript", "export"}
        ``torch.jit.script`` + ``torch.jit.save`` with the meta as the extra
        file ``deepz_meta.json``, or ``torch.export.export`` (dynamic batch
        axis) + ``torch.export.save`` with the same extra file.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        Bad meta or ``fmt``.
    FileExistsError
        ``path`` exists and not ``overwrite``.

    """
    if fmt not in ("torchscript", "export"):
        raise ValueError(f"fmt must be 'torchscript' or 'export', got {fmt!r}")
    meta = _check_meta(dict(meta), "meta")
    meta["serialization"] = fmt
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists (pass overwrite=True)")
    was_training = model.training
    model = model.eval().cpu()
    extra = {META_FILE: json.dumps(meta)}
    buf = _pyio.BytesIO()
    try:
        if fmt == "torchscript":
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


def read_meta(path) -> dict[str, Any]:
    """Read the meta of a saved model without building the Predictor (ValueError if absent)."""
    _, meta = _load(path, meta_only=True)
    return meta


def _load(path, meta_only: bool = False):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such model file")
    extra = {META_FILE: ""}
    module = None
    errors = []
    cm = _quiet_jit()
    try:
        try:
            module = torch.jit.load(path, map_location="cpu", _extra_files=extra)
            kind = "torchscript"
        except Exception as exc:  # noqa: BLE001 - try the other format
            errors.append(f"TorchScript: {exc}".splitlines()[0])
            extra = {META_FILE: ""}
            try:
                with open(path, "rb") as fh:
                    program = torch.export.load(_pyio.BytesIO(fh.read()), extra_files=extra)
                module = program.module()
                kind = "export"
            except Exception as exc2:  # noqa: BLE001
                errors.append(f"torch.export: {exc2}".splitlines()[0])
    finally:
        cm.__exit__(None, None, None)
    if module is None:
        raise ValueError(
            f"{path}: not a TorchScript or torch.export model file ({'; '.join(errors)})"
        )
    text = extra.get(META_FILE) or ""
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
    meta = _check_meta(meta, path)
    return module, meta


def load(
    path, *, device: Any = "auto", batch_size: int = 1024, threads: int | None = None
) -> Predictor:
    """Load a model saved by :func:`save` and return a ready :class:`Predictor`.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a model file; no deepz meta in it; a newer ``format_version``; a
        grid, normalisation or bins it cannot honour (the message names the file).

    """
    module, meta = _load(path)
    if meta["model"]["task"] == "pdf":
        n_out = len(meta["z_bins"])
        probe = torch.zeros(
            1, *[int(s) for s in (meta["model"].get("input_shape") or [len(meta["input"]["wave"])])]
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
