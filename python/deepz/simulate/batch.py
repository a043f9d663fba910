"""The labelled output of every observer: :class:`SimulatedBatch`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = ["SimulatedBatch"]


@dataclass(frozen=True, eq=False)
class SimulatedBatch:
    """N simulated observations with their labels and provenance.

    Attributes
    ----------
    flux : ndarray, shape (N, P)
        The observations as the observer delivers them (after its
        normalisation): spectra in the observer's flux unit divided by
        ``norm``, or band fluxes (photometry, micro-Jansky).
    ivar : ndarray, shape (N, P)
        Inverse variance of ``flux`` (same units squared, inverted); 0 marks a
        masked pixel (its flux is set to 0).
    wave : ndarray, shape (P,)
        Observed pixel centres in Angstrom (vacuum); band pivot wavelengths
        for photometry.
    z : ndarray, shape (N,), float64
        True redshifts.
    template : ndarray, shape (N,), int64
        Index of the template (row of the observer's library) of each sample.
    label : ndarray, shape (N,), int64
        Object class, an index into ``class_names`` (``GALAXY``, ``STAR``, ``QSO``).
    subclass : ndarray, shape (N,), int64
        Index into ``subclass_names`` (``"GALAXY:PASSIVE"``, ``"STAR:K"`` ...).
    class_names, subclass_names : tuple of str
    z_class : ndarray of int64, shape (N,), or None
        Redshift slot of each sample for classifiers (Euclid: 800 slots of
        0.001 over [1, 1.8)); None where the observer defines no slots.
    norm : ndarray, shape (N,), float64
        The factor divided out by the normalisation: the physical flux is
        ``flux * norm[:, None]`` (1 when the observer does not normalise).
    seed, offset : int
        The run's seed and the global index of the first sample: sample ``n``
        of this batch is sample ``offset + n`` of the seed's stream.
    observer : str
        The observer's name.
    config : dict
        The observer's configuration (JSON-able; rebuild the observer with
        :func:`deepz.simulate.observer_from_config`).
    unit : str
        Unit of the physical flux.
    extra : dict of ndarray
        Observer-specific per-sample arrays (first axis N), e.g. ``snr``
        (the drawn target S/N), ``mag``/``mag_err`` (photometry), and
        ``arm_slices`` style metadata in ``meta``.
    meta : dict
        Observer-specific JSON-able metadata that is not per-sample (e.g. the
        pixel ranges of spectrograph arms, X_max).

    """

    flux: np.ndarray
    ivar: np.ndarray
    wave: np.ndarray
    z: np.ndarray
    template: np.ndarray
    label: np.ndarray
    subclass: np.ndarray
    class_names: tuple[str, ...]
    subclass_names: tuple[str, ...]
    z_class: np.ndarray | None
    norm: np.ndarray
    seed: int
    offset: int
    observer: str
    config: dict[str, Any]
    unit: str = ""
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.flux.shape[0])

    def __repr__(self) -> str:
        return (
            f"SimulatedBatch({self.observer}, N={len(self)}, P={self.flux.shape[1]}, "
            f"seed={self.seed}, offset={self.offset}, z {self.z.min():.3f}-{self.z.max():.3f})"
            if len(self)
            else f"SimulatedBatch({self.observer}, N=0)"
        )

    @property
    def index(self) -> np.ndarray:
        """Global sample indices ``offset .. offset + N - 1`` (int64)."""
        return np.arange(self.offset, self.offset + len(self), dtype=np.int64)

    @property
    def physical_flux(self) -> np.ndarray:
        """``flux * norm[:, None]``: the flux before normalisation, in :attr:`unit`."""
        return self.flux * self.norm[:, None].astype(self.flux.dtype)

    def per_sample(self) -> dict[str, np.ndarray]:
        """Return every per-sample array by name (flux, ivar, z, template, labels, norm, extras)."""
        out = {
            "flux": self.flux,
            "ivar": self.ivar,
            "z": self.z,
            "template": self.template,
            "label": self.label,
            "subclass": self.subclass,
            "norm": self.norm,
        }
        if self.z_class is not None:
            out["z_class"] = self.z_class
        out.update(self.extra)
        return out

    def __getitem__(self, item) -> SimulatedBatch:
        """Return a contiguous slice ``batch[a:b]``, with the offset moved to match."""
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("a SimulatedBatch can only be sliced contiguously: batch[a:b]")
        start, stop, _ = item.indices(len(self))
        stop = max(stop, start)
        sl = slice(start, stop)
        return replace(
            self,
            flux=self.flux[sl],
            ivar=self.ivar[sl],
            z=self.z[sl],
            template=self.template[sl],
            label=self.label[sl],
            subclass=self.subclass[sl],
            norm=self.norm[sl],
            z_class=None if self.z_class is None else self.z_class[sl],
            extra={k: v[sl] for k, v in self.extra.items()},
            offset=self.offset + start,
        )

    @staticmethod
    def concatenate(batches: Sequence[SimulatedBatch]) -> SimulatedBatch:
        """Join consecutive batches of one run (same observer, seed and grid; offsets contiguous).

        Raises
        ------
        ValueError
            No batch, different observers, seeds or grids, or offsets that do
            not follow each other.

        """
        parts = list(batches)
        if not parts:
            raise ValueError("batches must hold at least one SimulatedBatch")
        first = parts[0]
        at = first.offset
        for i, b in enumerate(parts):
            if b.config != first.config or b.seed != first.seed:
                raise ValueError(
                    f"batches[{i}] comes from another observer or seed than batches[0]"
                )
            if not np.array_equal(b.wave, first.wave):
                raise ValueError(f"batches[{i}] is on another wavelength grid than batches[0]")
            if b.offset != at:
                raise ValueError(f"batches[{i}] starts at sample {b.offset}, expected {at}")
            at += len(b)

        def cat(name):
            return np.concatenate([getattr(b, name) for b in parts])

        return replace(
            first,
            flux=cat("flux"),
            ivar=cat("ivar"),
            z=cat("z"),
            template=cat("template"),
            label=cat("label"),
            subclass=cat("subclass"),
            norm=cat("norm"),
            z_class=None if first.z_class is None else cat("z_class"),
            extra={k: np.concatenate([b.extra[k] for b in parts]) for k in first.extra},
        )
