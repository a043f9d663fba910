"""A mixture of observers on one grid: several surveys (resolutions, noise, masks) in one stream.

Sample ``i`` of a :class:`Mixture` of ``m`` observers is sample ``i // m`` of
observer ``i % m``, simulated with the seed ``derive_seed(seed, j)`` of its
observer ``j``; so a mixture keeps the simulators' contract: sample ``i`` of
seed ``s`` depends only on (config, s, i), whatever the batch split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from . import _common as cm
from ._seeding import derive_seed
from .batch import SimulatedBatch

__all__ = ["Mixture", "mixture"]

#: Purpose key of the per-observer seeds (after :data:`._seeding.STREAM`'s 1-5).
_MIX_STREAM = 6


@dataclass(frozen=True)
class Mixture:
    """Interleave spectroscopic observers that deliver spectra on the same grid.

    Parameters
    ----------
    observers : tuple of observers
        At least one; all with the same ``wave`` (e.g. every survey with
        ``grid="optical"``), the same class and subclass names and the same
        normalisation.
    name : str
        Label of the mixture.

    Raises
    ------
    ValueError
        No observer, or observers on different grids.

    """

    kind: ClassVar[str] = "mixture"

    observers: tuple[Any, ...] = ()
    name: str = "mixture"

    def __post_init__(self) -> None:
        obs = tuple(self.observers)
        object.__setattr__(self, "observers", obs)
        if not obs:
            raise ValueError("observers must hold at least one observer")
        w0 = np.asarray(obs[0].wave)
        for j, o in enumerate(obs[1:], start=1):
            if not np.array_equal(np.asarray(o.wave), w0):
                raise ValueError(
                    f"observers[{j}] ({getattr(o, 'name', '?')}) delivers another grid than "
                    f"observers[0]; give every observer the same grid= preset"
                )

    @property
    def wave(self) -> np.ndarray:
        """The common pixel centres (A)."""
        return np.asarray(self.observers[0].wave)

    @property
    def n_pixels(self) -> int:
        """Pixels per spectrum."""
        return int(self.wave.size)

    def config(self) -> dict[str, Any]:
        """JSON-able configuration: the observers' configs in order."""
        return {
            "kind": self.kind,
            "name": self.name,
            "observers": [o.config() for o in self.observers],
        }

    def simulate(
        self, n: int, seed: int, offset: int = 0, *, dtype=np.float32, threads: int | None = None
    ) -> SimulatedBatch:
        """Simulate samples ``offset .. offset + n - 1`` (see the module notes).

        Returns a :class:`SimulatedBatch` like the observers'; ``extra``
        gains ``observer`` (index into :attr:`observers` of each sample).
        """
        n, seed, offset = cm.check_call(n, seed, offset)
        m = len(self.observers)
        gidx = np.arange(offset, offset + n, dtype=np.int64)
        parts: list[SimulatedBatch | None] = []
        for j, o in enumerate(self.observers):
            first = -(-(offset - j) // m)  # ceil((offset - j) / m): first local index >= offset
            last = (offset + n - 1 - j) // m
            count = last - first + 1
            parts.append(
                None
                if count <= 0
                else o.simulate(
                    count,
                    derive_seed(seed, _MIX_STREAM, j),
                    offset=max(first, 0),
                    dtype=dtype,
                    threads=threads,
                )
            )
        which = gidx % m
        local = gidx // m
        ref = next(p for p in parts if p is not None)
        p_ = ref.flux.shape[1]
        flux = np.empty((n, p_), dtype=ref.flux.dtype)
        ivar = np.empty((n, p_), dtype=ref.ivar.dtype)
        per: dict[str, np.ndarray] = {}
        keys = ("z", "template", "label", "subclass", "norm")
        extra_keys = set.intersection(*(set(p.extra) for p in parts if p is not None))
        for j, part in enumerate(parts):
            if part is None:
                continue
            if part.subclass_names != ref.subclass_names or part.class_names != ref.class_names:
                raise ValueError(
                    f"observers[{j}] has other class or subclass names than the "
                    "first observer; use one template library configuration"
                )
            rows = np.flatnonzero(which == j)
            pos = local[rows] - part.offset
            flux[rows] = part.flux[pos]
            ivar[rows] = part.ivar[pos]
            for k in keys:
                v = getattr(part, k)
                per.setdefault(k, np.empty(n, dtype=v.dtype))[rows] = v[pos]
            for k in extra_keys:
                v = part.extra[k]
                per.setdefault("x_" + k, np.empty((n, *v.shape[1:]), dtype=v.dtype))[rows] = v[pos]
        extra = {k[2:]: v for k, v in per.items() if k.startswith("x_")}
        extra["observer"] = which
        return replace(
            ref,
            flux=flux,
            ivar=ivar,
            z=per["z"],
            template=per["template"],
            label=per["label"],
            subclass=per["subclass"],
            norm=per["norm"],
            z_class=None,
            seed=seed,
            offset=offset,
            observer=self.name,
            config=self.config(),
            extra=extra,
            meta={"observers": [getattr(o, "name", "?") for o in self.observers]},
        )


def mixture(observers, name: str = "mixture") -> Mixture:
    """Build a :class:`Mixture` from observers or ``{"name": preset, **fields}`` specs."""
    from . import OBSERVERS

    built = []
    for i, o in enumerate(observers):
        if isinstance(o, dict):
            spec = dict(o)
            preset = spec.pop("preset", spec.get("name"))
            if preset is None:
                raise ValueError(f"observers[{i}]: a spec needs 'preset' (or 'name'): a preset")
            if preset not in OBSERVERS or preset == "mixture":
                raise ValueError(f"observers[{i}]: unknown preset {preset!r}")
            built.append(OBSERVERS[preset](**spec))
        else:
            built.append(o)
    return Mixture(tuple(built), name=name)
