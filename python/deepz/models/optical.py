"""deepz's own optical network: object class and a redshift PDF from one spectrum.

The shipped default model (:mod:`deepz.default`) is this network. It reads
a spectrum and its inverse variance on one log-lambda grid (3600-9800 A,
step 4e-4 in log10, 1088 pixels: :func:`deepz.grids.preset` ``"optical"``)
and returns two sets of logits: over the object subclasses
(``GALAXY:PASSIVE`` ... ``QSO:BROADLINE`` ... ``STAR:M``; the class is the
sum of its subclasses) and over redshift bins equally spaced in
ln(1 + z) from z = -0.004 (stars' radial velocities) to z = 4.5.

Why this design (and not a GaSNet-II classifier plus per-class regressor
ensembles): on a log-lambda grid a redshift is a shift, so bins equal in
ln(1 + z) are equal in pixels and the PDF has the same resolution at every
z (Stivaktakis et al. classify redshift; Pasquet et al. show that a softmax
over bins gives usable PDFs). One network with two heads costs one forward
pass where GaSNet-II runs a classifier and ten regressors, its PDF gives
z_err and multi-modality directly (an ensemble's spread is not calibrated:
GaSNet-II's median |pull| is 0.44), and the shared trunk lets the class
and the redshift inform each other. Two input channels carry what the
survey pipeline knows: the flux, and the per-pixel S/N scale
sqrt(ivar) x s, so that masked pixels and noisy regions (sky lines, arm
edges) are visible to the network.

The input normalisation happens inside ``forward`` (it is part of the
TorchScript file): s = mean |flux| over the good pixels, x0 = flux / s
(clipped to +-50), x1 = log1p(sqrt(ivar) s); masked pixels (ivar <= 0 or
non-finite) are 0 in both channels. Both channels are invariant to the
flux unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._base import DeepzModel, check, int_tuple, positive_int, probability, register_model

__all__ = ["OPTICAL_SUBCLASSES", "OpticalCNN", "OpticalCNNConfig", "log_bins"]

#: Subclasses of deepz's simulators (``SimulatedBatch.subclass_names``), in their order.
OPTICAL_SUBCLASSES = (
    "GALAXY:AGN",
    "GALAXY:PASSIVE",
    "GALAXY:POSTSTARBURST",
    "GALAXY:STARBURST",
    "GALAXY:STARFORMING",
    "QSO:BROADLINE",
    "STAR:A",
    "STAR:F",
    "STAR:G",
    "STAR:K",
    "STAR:M",
)


def log_bins(z_min: float, z_max: float, n_bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges (K+1,) and centres (K,) of ``n_bins`` bins equal in ln(1 + z), float64.

    The centre of a bin is the z of the middle of its ln(1 + z) interval.
    """
    if not n_bins >= 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins!r}")
    if not (z_max > z_min > -1):
        raise ValueError(f"need -1 < z_min < z_max, got z_min={z_min!r}, z_max={z_max!r}")
    u = torch.linspace(math.log1p(z_min), math.log1p(z_max), n_bins + 1, dtype=torch.float64)
    edges = torch.expm1(u)
    centres = torch.expm1(0.5 * (u[1:] + u[:-1]))
    return edges, centres


@dataclass
class OpticalCNNConfig:
    """Configuration of :class:`OpticalCNN` (defaults: the shipped model)."""

    input_length: int = 1088
    channels: tuple[int, ...] = (32, 32, 64, 64, 96, 96)
    kernels: tuple[int, ...] = (9, 5, 5, 5, 5, 3)
    hidden: int = 384
    dropout: float = 0.2
    n_classes: int = len(OPTICAL_SUBCLASSES)
    class_names: tuple[str, ...] = OPTICAL_SUBCLASSES
    z_min: float = -0.004
    z_max: float = 4.5
    n_z_bins: int = 929  # 0.00184 in ln(1 + z): two input pixels

    def __post_init__(self) -> None:
        int_tuple(self, "channels")
        int_tuple(self, "kernels")
        check(
            len(self.kernels) == len(self.channels),
            self,
            "kernels",
            f"one kernel size per layer ({len(self.channels)})",
            self.kernels,
        )
        positive_int(self, "hidden")
        positive_int(self, "n_classes", minimum=2)
        positive_int(self, "n_z_bins", minimum=2)
        probability(self, "dropout")
        if isinstance(self.class_names, list):
            self.class_names = tuple(self.class_names)
        check(
            len(self.class_names) == self.n_classes,
            self,
            "class_names",
            f"{self.n_classes} names",
            self.class_names,
        )
        check(-1 < self.z_min < self.z_max, self, "z_max", f"> z_min={self.z_min} > -1", self.z_max)
        positive_int(self, "input_length", minimum=2 ** len(self.channels))

    @property
    def feature_length(self) -> int:
        """Length of the last feature map (every layer after the first halves it)."""
        n = self.input_length
        for _ in self.channels[1:]:
            n = (n + 1) // 2
        return n


class OpticalCNN(DeepzModel):
    """Strided 1-D CNN with a subclass head and a ln(1+z)-binned redshift head.

    ``forward(x)``: x (B, 2, L) = (flux, ivar) on the model grid -> a tuple
    (class logits (B, C), redshift logits (B, K)). ``z_bins`` (K,) and
    ``z_edges`` (K+1,) hold the bins; ``loss(output, {"subclass", "z"})`` is
    the sum of the two cross-entropies.
    """

    task = "spectro"
    optimizer_name = "AdamW"
    optimizer_kwargs = {"lr": 2e-3, "weight_decay": 1e-4}

    def __init__(self, config: OpticalCNNConfig) -> None:
        super().__init__(config)
        c = config
        self.input_length = c.input_length
        self.input_shape = (2, c.input_length)
        self.class_names = tuple(c.class_names)
        layers: list[nn.Module] = []
        in_ch = 2
        for i, (ch, k) in enumerate(zip(c.channels, c.kernels, strict=True)):
            stride = 1 if i == 0 else 2
            layers += [
                nn.Conv1d(in_ch, ch, k, stride=stride, padding=k // 2, bias=False),
                nn.BatchNorm1d(ch),
                nn.ReLU(),
            ]
            in_ch = ch
        self.features = nn.Sequential(*layers)
        self.trunk = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(c.dropout),
            nn.Linear(in_ch * c.feature_length, c.hidden),
            nn.ReLU(),
            nn.Dropout(c.dropout),
        )
        self.class_head = nn.Linear(c.hidden, c.n_classes)
        self.z_head = nn.Linear(c.hidden, c.n_z_bins)
        edges, centres = log_bins(c.z_min, c.z_max, c.n_z_bins)
        self.register_buffer("z_edges", edges.to(torch.float32))
        self.register_buffer("z_bins", centres.to(torch.float32))
        self._u_min = math.log1p(c.z_min)
        self._du = (math.log1p(c.z_max) - math.log1p(c.z_min)) / c.n_z_bins

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map (flux, ivar) (B, 2, L) to (class logits (B, C), redshift logits (B, K))."""
        if x.dim() != 3 or x.shape[1] != 2 or x.shape[2] != self.input_length:
            raise ValueError(
                f"OpticalCNN: expected (B, 2, {self.input_length}) = (flux, ivar), got "
                f"{list(x.shape)}"
            )
        flux = x[:, 0]
        ivar = x[:, 1]
        good = torch.isfinite(flux) & torch.isfinite(ivar) & (ivar > 0)
        f = torch.where(good, flux, torch.zeros_like(flux))
        n = good.sum(dim=1, keepdim=True).clamp(min=1).to(f.dtype)
        s = f.abs().sum(dim=1, keepdim=True) / n
        s = torch.where(s > 0, s, torch.ones_like(s))
        x0 = (f / s).clamp(-50.0, 50.0)
        iv = torch.where(good, ivar, torch.zeros_like(ivar))
        x1 = torch.log1p(torch.sqrt(iv) * s)
        h = self.features(torch.stack([x0, x1], dim=1))
        h = self.trunk(h)
        return self.class_head(h), self.z_head(h)

    def z_class(self, z: torch.Tensor) -> torch.Tensor:
        """Bin index of redshifts ``z`` (clipped into the range)."""
        k = torch.floor((torch.log1p(z.double()) - self._u_min) / self._du).long()
        return k.clamp(0, self.config.n_z_bins - 1)

    def loss(self, output, target) -> torch.Tensor:
        """Cross-entropy over subclasses plus cross-entropy over redshift bins."""
        cls_logits, z_logits = output
        return F.cross_entropy(cls_logits, target["subclass"].long()) + F.cross_entropy(
            z_logits, self.z_class(target["z"])
        )

    def example_inputs(self, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random positive spectra and ivars (B, 2, L)."""
        g = torch.Generator().manual_seed(seed)
        f = 1.0 + torch.rand(batch, 1, self.input_length, generator=g)
        iv = 4.0 * torch.rand(batch, 1, self.input_length, generator=g)
        return (torch.cat([f, iv], dim=1),)

    def example_target(self, batch: int = 2, seed: int = 0):
        """Random subclasses and redshifts in range."""
        g = torch.Generator().manual_seed(seed + 1)
        c = self.config
        return {
            "subclass": torch.randint(0, c.n_classes, (batch,), generator=g),
            "z": c.z_min + (c.z_max - c.z_min) * torch.rand(batch, generator=g).double(),
        }

    def describe(self) -> dict:
        """Describe the model; adds the ln(1+z) bin edges ``z_edges`` (float64)."""
        out = super().describe()
        out["z_edges"] = self.z_edges.double().tolist()
        out["z_bins"] = log_bins(self.config.z_min, self.config.z_max, self.config.n_z_bins)[
            1
        ].tolist()
        return out


@register_model(
    "optical_cnn",
    config=OpticalCNNConfig,
    tiny={
        "input_length": 64,
        "channels": (4, 4, 8),
        "kernels": (5, 3, 3),
        "hidden": 16,
        "n_z_bins": 32,
    },
)
def optical_cnn(config: OpticalCNNConfig) -> OpticalCNN:
    """Deepz's optical net: (flux, ivar) -> subclass logits and ln(1+z)-binned z logits."""
    return OpticalCNN(config)
