"""The model registry and the base class every deepz network derives from.

Kept apart from ``__init__`` so that the family modules can import the
decorator while ``__init__`` imports the families (which fills the registry).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

__all__ = [
    "DeepzModel",
    "ModelEntry",
    "check",
    "create",
    "get_entry",
    "list_models",
    "register_model",
]


# -- config validation ----------------------------------------------------------------


def check(ok: bool, config: object, name: str, expected: str, got: object) -> None:
    """Raise ``ValueError`` naming ``<Config>.<name>`` unless ``ok``.

    Every config's ``__post_init__`` uses this, so a bad value is reported as
    ``EuclidCNNConfig.n_conv must be 1, 2 or 3, got 4``.
    """
    if not ok:
        raise ValueError(f"{type(config).__name__}.{name} must be {expected}, got {got!r}")


def positive_int(config: object, name: str, minimum: int = 1) -> None:
    """Check that the field ``name`` of ``config`` is an int >= ``minimum``."""
    value = getattr(config, name)
    check(
        isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
        config,
        name,
        f"an int >= {minimum}",
        value,
    )


def probability(config: object, name: str) -> None:
    """Check that the field ``name`` of ``config`` is a float in [0, 1)."""
    value = getattr(config, name)
    check(
        isinstance(value, (int, float)) and 0.0 <= value < 1.0,
        config,
        name,
        "a probability in [0, 1)",
        value,
    )


def int_tuple(config: object, name: str, minimum: int = 1, allow_empty: bool = False) -> None:
    """Check that the field ``name`` is a tuple of ints >= ``minimum`` (lists become tuples)."""
    value = getattr(config, name)
    if isinstance(value, list):
        value = tuple(value)
        object.__setattr__(config, name, value)
    check(
        isinstance(value, tuple)
        and (allow_empty or len(value) > 0)
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value),
        config,
        name,
        f"a {'' if allow_empty else 'non-empty '}tuple of ints >= {minimum}",
        value,
    )


# -- the base class -------------------------------------------------------------------


class DeepzModel(nn.Module):
    """Base class of the deepz networks (plain ``nn.Module`` plus Python-side helpers).

    ``forward`` and the methods marked ``@torch.jit.export`` are TorchScript;
    the helpers below (loss, optimiser, example inputs, description) are
    Python only and are not compiled. ``config`` (a dataclass) is excluded
    from TorchScript: the scripted module keeps the network only, and its
    self-description travels as extra files written by the Predictor from
    :meth:`describe`.

    Subclasses set ``task`` ("classification", "regression", "pdf" or
    "ensemble") and ``input_shape`` (the shape of one example, without the
    batch axis) and implement :meth:`loss` and :meth:`example_inputs`.
    """

    __jit_ignored_attributes__ = ["config"]

    #: optimiser of the paper: a name in torch.optim and its keyword arguments
    optimizer_name: str = "Adam"
    optimizer_kwargs: Mapping[str, Any] = {"lr": 1e-3}

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    # The helpers are Python-only: torch.jit.script compiles forward and the
    # @torch.jit.export methods, nothing else.
    def loss(self, output: Any, target: torch.Tensor) -> torch.Tensor:
        """Return the paper's training loss of ``forward``'s output against ``target``."""
        raise NotImplementedError

    def example_inputs(self, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Return random inputs of the right shape and dtype (float32), for tests and export."""
        raise NotImplementedError

    def example_target(self, batch: int = 2, seed: int = 0) -> torch.Tensor:
        """Return a random target that ``loss`` accepts (class indices or redshifts)."""
        raise NotImplementedError

    def default_optimizer(
        self, params: Iterable[torch.nn.Parameter] | None = None, **overrides: Any
    ) -> torch.optim.Optimizer:
        """Build the paper's optimiser over ``params`` (default: all parameters).

        ``overrides`` replace its keyword arguments (``lr=...``). Learning-rate
        schedules (GaSNet-II halves the rate every 5 epochs) belong to the
        Trainer.
        """
        kwargs = {**dict(self.optimizer_kwargs), **overrides}
        cls = getattr(torch.optim, self.optimizer_name)
        return cls(self.parameters() if params is None else params, **kwargs)

    def num_parameters(self, trainable_only: bool = True) -> int:
        """Count the (trainable) parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def describe(self) -> dict[str, Any]:
        """Describe the model (JSON-able): class, task, input shape, config, labels or bins."""
        out: dict[str, Any] = {
            "class": type(self).__name__,
            "task": self.task,
            "input_shape": list(self.input_shape),
            "config": dataclasses.asdict(self.config),
            "optimizer": {"name": self.optimizer_name, **dict(self.optimizer_kwargs)},
        }
        bins = getattr(self, "z_bins", None)
        if isinstance(bins, torch.Tensor):
            out["z_bins"] = bins.tolist()
        names = getattr(self, "class_names", None)
        if names is not None:
            out["class_names"] = list(names)
        return out


# -- the registry ---------------------------------------------------------------------


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its factory, config class, defaults and tiny test config."""

    name: str
    factory: Callable[[Any], DeepzModel]
    config_cls: type
    defaults: Mapping[str, Any] = field(default_factory=dict)
    tiny: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def make_config(self, **overrides: Any) -> Any:
        """Build the config of this entry: paper defaults, entry defaults, then ``overrides``."""
        known = {f.name for f in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"unknown config field(s) {unknown} for model {self.name!r}; "
                f"{self.config_cls.__name__} has {sorted(known)}"
            )
        return self.config_cls(**{**dict(self.defaults), **overrides})


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str | None = None,
    *,
    config: type,
    tiny: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> Callable[[Callable[[Any], DeepzModel]], Callable[[Any], DeepzModel]]:
    """Register a model factory ``fn(config) -> DeepzModel`` under ``name``.

    Parameters
    ----------
    name : str, optional
        Registry name (default: the function's name).
    config : type
        The dataclass holding the model's configuration (paper defaults).
    tiny : mapping, optional
        Overrides giving a tiny model for the tests (every registered model is
        scripted, exported and trained one step at this size).
    defaults : mapping, optional
        Overrides of ``config``'s defaults for this entry (e.g. the task of
        one of several models sharing a config class).

    Examples
    --------
    >>> @register_model(config=MyConfig, tiny={"width": 4})   # doctest: +SKIP
    ... def my_net(cfg: MyConfig) -> MyNet:
    ...     return MyNet(cfg)

    """

    def decorator(fn: Callable[[Any], DeepzModel]) -> Callable[[Any], DeepzModel]:
        key = name or fn.__name__
        if key in _REGISTRY:
            raise ValueError(f"model name {key!r} is already registered")
        _REGISTRY[key] = ModelEntry(
            name=key,
            factory=fn,
            config_cls=config,
            defaults=dict(defaults or {}),
            tiny=dict(tiny or {}),
            description=(fn.__doc__ or "").strip().split("\n")[0],
        )
        return fn

    return decorator


def get_entry(name: str) -> ModelEntry:
    """Return the registry entry of ``name`` (ValueError listing the known names otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered: {list_models()}") from None


def list_models() -> list[str]:
    """Sorted names of the registered models."""
    return sorted(_REGISTRY)


def create(name: str, **config: Any) -> DeepzModel:
    """Build the registered model ``name``, its config overridden by ``config``.

    Raises
    ------
    ValueError
        Unknown model name, unknown config field, or a bad config value (the
        message names the field).

    """
    entry = get_entry(name)
    cfg = entry.make_config(**config)
    model = entry.factory(cfg)
    log.debug("created %s: %d parameters", name, model.num_parameters())
    return model
