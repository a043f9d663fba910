"""The Euclid redshift classifier of Stivaktakis et al. (IEEE Trans. Big Data 2019).

Spectra of Euclid's NISP window (11000-20000 A in 1800 bins of 5 A, or 900,
450, 225 bins after merging) normalised by X/(2 Xmax) go through 1-3 Conv1d
layers (16 filters of width 8, stride 1, no padding, no pooling, ReLU,
optional BatchNorm after the ReLU), are flattened, dropped out (0.5) and
mapped by one dense layer to 800 (or 1600) logits: the redshift slots of
0.001 (0.0005) over [1, 1.8). Trained with cross-entropy and Adagrad.

Decisions where the paper summary leaves room (see the registry docs):

- no padding ("valid" convolutions), so the flattened length is
  16 (L - n_conv (8 - 1));
- ``hidden=0``: the dense layer after dropout is the softmax layer itself;
  ``hidden > 0`` inserts a ReLU dense layer of that width (followed by the
  same dropout) for experiments;
- the default depth is 3 convolutional layers without BatchNorm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._base import DeepzModel, check, positive_int, probability, register_model
from .heads import PDFHead, PDFOutput, as_spectra

__all__ = ["EuclidCNN", "EuclidCNNConfig"]


@dataclass
class EuclidCNNConfig:
    """Configuration of :class:`EuclidCNN` (defaults: the paper's 1800-bin, 800-class set-up)."""

    input_length: int = 1800  # bins of 5 A over 11000-20000 A (900/450/225 after merging)
    n_classes: int = 800  # redshift slots of (z_max - z_min)/n_classes (0.001; 1600 -> 0.0005)
    z_min: float = 1.0
    z_max: float = 1.8
    n_conv: int = 3  # 1, 2 or 3 convolutional layers
    n_filters: int = 16
    kernel_size: int = 8
    batch_norm: bool = False  # BatchNorm1d after each ReLU
    dropout: float = 0.5  # before the dense layer
    hidden: int = 0  # 0: the paper's single dense (softmax) layer; > 0: an extra ReLU layer

    def __post_init__(self) -> None:
        check(self.n_conv in (1, 2, 3), self, "n_conv", "1, 2 or 3", self.n_conv)
        for name in ("n_classes", "n_filters", "kernel_size"):
            positive_int(self, name)
        positive_int(self, "n_classes", minimum=2)
        positive_int(self, "hidden", minimum=0)
        probability(self, "dropout")
        check(isinstance(self.batch_norm, bool), self, "batch_norm", "a bool", self.batch_norm)
        check(self.z_max > self.z_min, self, "z_max", f"> z_min={self.z_min}", self.z_max)
        positive_int(self, "input_length", minimum=self.n_conv * (self.kernel_size - 1) + 1)

    @property
    def conv_length(self) -> int:
        """Length of the feature maps after the valid convolutions."""
        return self.input_length - self.n_conv * (self.kernel_size - 1)


class EuclidCNN(DeepzModel):
    """1-3 layer 1-D CNN classifying a spectrum into redshift slots (Stivaktakis et al. 2019).

    ``forward(x)``: x (B, L) or (B, 1, L) -> logits (B, K) (train with
    cross-entropy against the slot index). ``predict_proba(x)`` -> P (B, K);
    ``predict(x)`` -> :class:`~deepz.models.heads.PDFOutput` (P and
    z = sum_k z_k P_k); ``z_bins`` (K,) holds the slot centres.
    """

    task = "pdf"
    optimizer_name = "Adagrad"
    optimizer_kwargs = {"lr": 0.01}

    def __init__(self, config: EuclidCNNConfig) -> None:
        super().__init__(config)
        c = config
        self.input_length = c.input_length
        self.n_classes = c.n_classes
        self.input_shape = (1, c.input_length)
        layers: list[nn.Module] = []
        in_ch = 1
        for _ in range(c.n_conv):
            layers += [nn.Conv1d(in_ch, c.n_filters, c.kernel_size, stride=1), nn.ReLU()]
            if c.batch_norm:
                layers.append(nn.BatchNorm1d(c.n_filters))
            in_ch = c.n_filters
        self.features = nn.Sequential(*layers)
        n_flat = c.n_filters * c.conv_length
        head: list[nn.Module] = [nn.Flatten(), nn.Dropout(c.dropout)]
        if c.hidden > 0:
            head += [nn.Linear(n_flat, c.hidden), nn.ReLU(), nn.Dropout(c.dropout)]
            n_flat = c.hidden
        head.append(nn.Linear(n_flat, c.n_classes))
        self.classifier = nn.Sequential(*head)
        self.pdf = PDFHead(c.z_min, c.z_max, c.n_classes)

    @property
    def z_bins(self) -> torch.Tensor:
        """Centres of the redshift slots (K,)."""
        return self.pdf.z_bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map spectra (B, L) or (B, 1, L) to slot logits (B, K)."""
        x = as_spectra(x, self.input_length, "EuclidCNN")  # (B, 1, L)
        h = self.features(x)  # (B, F, L - n_conv (k - 1))
        return self.classifier(h)  # (B, K) logits

    @torch.jit.export
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities over the redshift slots, (B, K)."""
        return F.softmax(self.forward(x), dim=1)

    @torch.jit.export
    def predict(self, x: torch.Tensor) -> PDFOutput:
        """P(z) over the slots and its mean z = sum_k z_k P_k."""
        return self.pdf(self.forward(x))

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the logits against slot indices (B,) (long)."""
        return F.cross_entropy(output, target)

    def example_inputs(self, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random spectra (B, 1, L) in [0, 0.5] like the paper's X/(2 Xmax)."""
        g = torch.Generator().manual_seed(seed)
        return (0.5 * torch.rand(batch, 1, self.input_length, generator=g),)

    def example_target(self, batch: int = 2, seed: int = 0) -> torch.Tensor:
        """Random slot indices (B,)."""
        g = torch.Generator().manual_seed(seed + 1)
        return torch.randint(0, self.n_classes, (batch,), generator=g)


@register_model(
    "euclid_cnn",
    config=EuclidCNNConfig,
    tiny={"input_length": 64, "n_classes": 16, "n_conv": 2, "n_filters": 4, "batch_norm": True},
)
def euclid_cnn(config: EuclidCNNConfig) -> EuclidCNN:
    """Stivaktakis et al. 2019: 1-3 Conv1d (16x8) layers, dropout, softmax over 800 z slots."""
    return EuclidCNN(config)
