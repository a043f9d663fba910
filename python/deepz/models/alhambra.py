"""Dense networks on narrow-band photometry (the ALHAMBRA thesis) and their slope correction.

ALHAMBRA measured 20 medium bands (3500-9700 A) plus J, H, Ks: 23
magnitudes per object. A multilayer perceptron maps them to

- the redshift (regression, ``alhambra_redshift``),
- star / galaxy (2 classes, ``alhambra_star_galaxy``),
- the spectral type (classes, ``alhambra_spectral_type``; default the three
  BPZ families early / spiral / starburst),
- the stellar mass log10(M*/Msun) (regression, ``alhambra_stellar_mass``).

The catalogue's sentinels are handled inside the module by
:class:`MagnitudeTransform` (so the TorchScript file carries it):

- ``m <= -90`` (ALHAMBRA's -99: saturated) -> ``mag_bright``;
- ``m >= 90`` (99: not detected) or NaN -> ``mag_faint`` (a faint limit);
- every other magnitude is clipped to [mag_bright, mag_faint];
- then scaled linearly to [-1, 1];
- with ``append_flags`` a 0/1 flag per band (1 where a sentinel or NaN was
  replaced) is appended, doubling the network's input width.

With ``inputs="flux"`` the features are asinh(f / flux_softening) instead,
non-finite fluxes becoming 0 (and flagged).

A dense network's predicted redshifts regress towards the mean (the slope of
z_pred against z_true is below 1); the thesis corrects this with a
polynomial fitted on validation data: :class:`PolynomialCorrection` fits
z_true ~ P(z_pred) (degree k, :mod:`numpy.polynomial`) and applies it;
:meth:`PolynomialCorrection.to_module` gives a scriptable module with the
same coefficients.

Decisions where the slides leave room: three hidden layers of 64 ReLU units,
no dropout; the clipping range 14-27 mag; mean squared error for the
regressions and cross-entropy for the classes; Adam (1e-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.polynomial import Polynomial
from torch import nn

from ._base import DeepzModel, check, int_tuple, positive_int, probability, register_model

__all__ = [
    "AlhambraConfig",
    "AlhambraNet",
    "MagnitudeTransform",
    "PolynomialCorrection",
    "PolynomialCorrectionModule",
]

TASKS = ("redshift", "star_galaxy", "spectral_type", "stellar_mass")
REGRESSION_TASKS = ("redshift", "stellar_mass")
DEFAULT_CLASS_NAMES = {
    "star_galaxy": ("star", "galaxy"),
    "spectral_type": ("early", "spiral", "starburst"),
}

SATURATED = -99.0  # ALHAMBRA sentinels (anything beyond +-90 is treated as one)
UNDETECTED = 99.0


@dataclass
class AlhambraConfig:
    """Configuration of :class:`AlhambraNet`."""

    task: str = "redshift"  # "redshift", "star_galaxy", "spectral_type", "stellar_mass"
    n_inputs: int = 23  # 20 medium bands + J, H, Ks
    hidden: tuple[int, ...] = (64, 64, 64)
    dropout: float = 0.0
    class_names: tuple[str, ...] = ()  # classification tasks; () -> the task's default
    inputs: str = "magnitude"  # "magnitude" or "flux"
    mag_bright: float = 14.0  # saturated (-99) and brighter -> this
    mag_faint: float = 27.0  # undetected (99), NaN and fainter -> this
    flux_softening: float = 1.0  # inputs="flux": features asinh(f / flux_softening)
    append_flags: bool = False  # append a 0/1 "replaced" flag per band
    loss: str = "mse"  # regression tasks: "mse", "l1" or "huber"

    def __post_init__(self) -> None:
        check(self.task in TASKS, self, "task", f"one of {TASKS}", self.task)
        positive_int(self, "n_inputs")
        int_tuple(self, "hidden", allow_empty=True)
        probability(self, "dropout")
        check(
            self.inputs in ("magnitude", "flux"),
            self,
            "inputs",
            "'magnitude' or 'flux'",
            self.inputs,
        )
        check(
            math.isfinite(self.mag_bright)
            and math.isfinite(self.mag_faint)
            and self.mag_faint > self.mag_bright,
            self,
            "mag_faint",
            f"finite and > mag_bright={self.mag_bright}",
            self.mag_faint,
        )
        check(self.flux_softening > 0, self, "flux_softening", "> 0", self.flux_softening)
        check(
            self.loss in ("mse", "l1", "huber"), self, "loss", "'mse', 'l1' or 'huber'", self.loss
        )
        if isinstance(self.class_names, list):
            self.class_names = tuple(self.class_names)
        if self.task in REGRESSION_TASKS:
            check(
                self.class_names == (),
                self,
                "class_names",
                f"empty for task {self.task!r}",
                self.class_names,
            )
        else:
            if self.class_names == ():
                self.class_names = DEFAULT_CLASS_NAMES[self.task]
            check(
                len(self.class_names) >= 2 and len(set(self.class_names)) == len(self.class_names),
                self,
                "class_names",
                "at least 2 distinct names",
                self.class_names,
            )

    @property
    def n_outputs(self) -> int:
        """1 for the regressions, the number of classes otherwise."""
        return 1 if self.task in REGRESSION_TASKS else len(self.class_names)


class MagnitudeTransform(nn.Module):
    """ALHAMBRA magnitudes (or fluxes) (B, F) -> network features (B, F) or (B, 2 F).

    See the module docstring for the sentinel rules. Scriptable and exportable.
    """

    def __init__(
        self,
        n_inputs: int,
        inputs: str = "magnitude",
        mag_bright: float = 14.0,
        mag_faint: float = 27.0,
        flux_softening: float = 1.0,
        append_flags: bool = False,
    ) -> None:
        super().__init__()
        self.n_inputs = n_inputs
        self.use_flux = inputs == "flux"
        self.bright = float(mag_bright)
        self.faint = float(mag_faint)
        self.softening = float(flux_softening)
        self.append_flags = append_flags
        self.out_features = 2 * n_inputs if append_flags else n_inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, F) magnitudes or fluxes to (B, F) (or (B, 2F)) features."""
        if x.dim() != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(
                f"AlhambraNet: expected photometry of shape (B, {self.n_inputs}), "
                f"got {list(x.shape)}"
            )
        if self.use_flux:
            bad = ~torch.isfinite(x)  # (B, F)
            h = torch.asinh(torch.where(bad, torch.zeros_like(x), x) / self.softening)
        else:
            saturated = x <= -90.0  # (B, F) the -99 sentinel
            undetected = (x >= 90.0) | torch.isnan(x)  # (B, F) the 99 sentinel, NaN
            bad = saturated | undetected
            m = torch.clamp(x, self.bright, self.faint)  # NaN stays NaN here...
            m = torch.where(undetected, torch.full_like(x, self.faint), m)  # ...and goes here
            m = torch.where(saturated, torch.full_like(x, self.bright), m)
            mid = 0.5 * (self.bright + self.faint)
            half = 0.5 * (self.faint - self.bright)
            h = (m - mid) / half  # (B, F) in [-1, 1]
        if self.append_flags:
            h = torch.cat([h, bad.to(h.dtype)], dim=1)  # (B, 2F)
        return h


class AlhambraNet(DeepzModel):
    """Dense network on ALHAMBRA photometry: (B, 23) -> z, M* (B,) or class logits (B, K).

    ``forward(x)``: magnitudes (or fluxes) (B, F), sentinels allowed ->
    (B,) for the regression tasks, logits (B, K) for the classification
    tasks (``predict_proba`` gives the softmax; ``class_names`` names them).
    ``transform`` is the input transform (:class:`MagnitudeTransform`).
    """

    optimizer_name = "Adam"
    optimizer_kwargs = {"lr": 1e-3}

    def __init__(self, config: AlhambraConfig) -> None:
        super().__init__(config)
        c = config
        self.task = "regression" if c.task in REGRESSION_TASKS else "classification"
        self.is_regression = c.task in REGRESSION_TASKS
        self.input_shape = (c.n_inputs,)
        self.class_names = tuple(c.class_names)
        self.transform = MagnitudeTransform(
            c.n_inputs, c.inputs, c.mag_bright, c.mag_faint, c.flux_softening, c.append_flags
        )
        layers: list[nn.Module] = []
        width = self.transform.out_features
        for h in c.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if c.dropout > 0:
                layers.append(nn.Dropout(c.dropout))
            width = h
        layers.append(nn.Linear(width, c.n_outputs))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict z or log M* (B,), or class logits (B, K), from photometry (B, F)."""
        h = self.transform(x)  # (B, F) or (B, 2F)
        out = self.mlp(h)  # (B, n_outputs)
        if self.is_regression:
            return out.squeeze(1)  # (B,)
        return out  # (B, K) logits

    @torch.jit.export
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, K) (classification tasks only)."""
        if self.is_regression:
            raise ValueError("AlhambraNet: predict_proba needs a classification task")
        return F.softmax(self.forward(x), dim=1)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy (classes) or the configured regression loss (z, log M*)."""
        if not self.is_regression:
            return F.cross_entropy(output, target)
        if self.config.loss == "l1":
            return F.l1_loss(output, target)
        if self.config.loss == "huber":
            return F.huber_loss(output, target)
        return F.mse_loss(output, target)

    def example_inputs(self, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random magnitudes 18-26 (B, F) with some -99 and 99 sentinels (fluxes: 0-10)."""
        g = torch.Generator().manual_seed(seed)
        n = self.config.n_inputs
        if self.config.inputs == "flux":
            return (10.0 * torch.rand(batch, n, generator=g),)
        x = 18.0 + 8.0 * torch.rand(batch, n, generator=g)
        u = torch.rand(batch, n, generator=g)
        x = torch.where(u < 0.05, torch.full_like(x, SATURATED), x)
        x = torch.where(u > 0.9, torch.full_like(x, UNDETECTED), x)
        return (x,)

    def example_target(self, batch: int = 2, seed: int = 0) -> torch.Tensor:
        """Random targets: z in [0, 1.5), log M* in [8, 12), or class indices."""
        g = torch.Generator().manual_seed(seed + 1)
        if self.config.task == "redshift":
            return 1.5 * torch.rand(batch, generator=g)
        if self.config.task == "stellar_mass":
            return 8.0 + 4.0 * torch.rand(batch, generator=g)
        return torch.randint(0, len(self.class_names), (batch,), generator=g)


# -- the polynomial slope correction ----------------------------------------------------


class PolynomialCorrectionModule(nn.Module):
    """z -> sum_j c_j z^j (Horner), scriptable: the fitted correction inside TorchScript."""

    def __init__(self, coef: np.ndarray | list[float]) -> None:
        super().__init__()
        self.register_buffer("coef", torch.as_tensor(np.asarray(coef, dtype=np.float64)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Apply the polynomial elementwise."""
        coef = self.coef.to(z.dtype)
        out = torch.zeros_like(z)
        for j in range(coef.shape[0] - 1, -1, -1):
            out = out * z + coef[j]
        return out


class PolynomialCorrection:
    """Degree-k polynomial mapping predicted to true redshift, fitted on validation data.

    ``fit(z_pred, z_true)`` least-squares fits z_true ~ P(z_pred) with
    :meth:`numpy.polynomial.Polynomial.fit` (well conditioned: it works on a
    scaled domain) and stores the coefficients in the power basis:
    P(z) = sum_j coef[j] z^j. ``apply(z_pred)`` (or calling the object)
    returns P(z_pred). A linear distortion z_pred = a z_true + b is undone
    exactly by degree 1 (coef = [-b/a, 1/a]).

    Parameters
    ----------
    degree : int
        Polynomial degree k >= 0 (the thesis corrects the slope: 1).

    Examples
    --------
    >>> corr = PolynomialCorrection(1).fit(z_val_pred, z_val_true)   # doctest: +SKIP
    >>> z_test_corrected = corr(z_test_pred)                          # doctest: +SKIP

    """

    def __init__(self, degree: int = 1) -> None:
        if not (
            isinstance(degree, (int, np.integer)) and not isinstance(degree, bool) and degree >= 0
        ):
            raise ValueError(f"degree must be an int >= 0, got {degree!r}")
        self.degree = int(degree)
        self.coef: np.ndarray | None = None

    def fit(self, z_pred: Any, z_true: Any) -> PolynomialCorrection:
        """Fit z_true ~ P(z_pred); NaNs are dropped. Returns ``self``."""
        zp = np.asarray(z_pred, dtype=np.float64).ravel()
        zt = np.asarray(z_true, dtype=np.float64).ravel()
        if zp.shape != zt.shape:
            raise ValueError(
                f"z_pred and z_true must have the same size, got {zp.size} and {zt.size}"
            )
        ok = np.isfinite(zp) & np.isfinite(zt)
        if np.count_nonzero(ok) < self.degree + 1:
            raise ValueError(
                f"z_pred: need at least degree + 1 = {self.degree + 1} finite pairs, "
                f"got {int(np.count_nonzero(ok))}"
            )
        if self.degree > 0 and np.ptp(zp[ok]) == 0:
            raise ValueError("z_pred: all predictions are equal, no slope to fit")
        poly = Polynomial.fit(zp[ok], zt[ok], self.degree)
        coef = poly.convert().coef  # power basis, may be shorter if leading terms vanish
        self.coef = np.zeros(self.degree + 1)
        self.coef[: coef.size] = coef
        return self

    def apply(self, z_pred: Any) -> np.ndarray:
        """P(z_pred), same shape as ``z_pred`` (float64)."""
        if self.coef is None:
            raise ValueError("PolynomialCorrection: call fit() before apply()")
        return np.polynomial.polynomial.polyval(np.asarray(z_pred, dtype=np.float64), self.coef)

    __call__ = apply

    def to_module(self) -> PolynomialCorrectionModule:
        """Return a scriptable module applying the fitted polynomial to a tensor."""
        if self.coef is None:
            raise ValueError("PolynomialCorrection: call fit() before to_module()")
        return PolynomialCorrectionModule(self.coef)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (degree and power-basis coefficients)."""
        return {"degree": self.degree, "coef": None if self.coef is None else self.coef.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> PolynomialCorrection:
        """Inverse of :meth:`to_dict`."""
        obj = cls(state["degree"])
        if state.get("coef") is not None:
            obj.coef = np.asarray(state["coef"], dtype=np.float64)
        return obj

    def __repr__(self) -> str:
        return f"PolynomialCorrection(degree={self.degree}, coef={self.coef})"


def _register(task: str, description: str) -> None:
    def factory(config: AlhambraConfig) -> AlhambraNet:
        return AlhambraNet(config)

    factory.__doc__ = description
    register_model(
        f"alhambra_{task}",
        config=AlhambraConfig,
        defaults={"task": task},
        tiny={"n_inputs": 6, "hidden": (8, 8)},
    )(factory)


_register("redshift", "ALHAMBRA dense net: 23 magnitudes -> photometric redshift.")
_register("star_galaxy", "ALHAMBRA dense net: 23 magnitudes -> star / galaxy.")
_register("spectral_type", "ALHAMBRA dense net: 23 magnitudes -> spectral type.")
_register("stellar_mass", "ALHAMBRA dense net: 23 magnitudes -> log10 stellar mass.")
