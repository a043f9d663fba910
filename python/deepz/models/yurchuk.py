"""The redshift regressors of Yurchuk & Skyruta (CNN with emission-line correction).

SDSS starburst spectra on a 4000-9000 A grid of 1 A (5001 pixels), wavelet
denoised, continuum subtracted and divided by their maximum, go through

- :class:`YurchukCNN`: one Conv1d of 64 filters of width 150 (ReLU), average
  pooling by 2, flatten, one dense unit: z. Trained with the mean absolute
  error (L1) and Adam;
- :class:`YurchukInception`: their Inception-1D variant: parallel Conv1d
  branches of different widths (each ReLU, 'same' padding) concatenated along
  channels, average pooling by 2, repeated ``n_blocks`` times, then flatten and
  one dense unit.

The line-search correction that follows the network is ``deepz.line_search``
(a kernel, outside TorchScript).

Decisions where the paper leaves room: the branch widths of the Inception
variant (3, 15, 51, 151 pixels; odd so 'same' padding is symmetric; the
widest matches the CNN's 150), 16 filters per branch (64 channels in all, as
the CNN), one block by default; blocks after the first reduce their input to
``reduce`` channels by a 1x1 convolution before each wide branch (GoogLeNet);
ReLU after each convolution; the optimiser (Adam, 1e-3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._base import DeepzModel, check, int_tuple, positive_int, register_model
from .heads import as_spectra

__all__ = [
    "InceptionBlock1D",
    "YurchukCNN",
    "YurchukCNNConfig",
    "YurchukInception",
    "YurchukInceptionConfig",
]


class _Regressor1D(DeepzModel):
    """Shared helpers of the spectrum -> z regressors of this module."""

    task = "regression"

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean absolute error (the paper's MAE loss) of z (B,) against target (B,)."""
        return F.l1_loss(output, target)

    def example_inputs(self, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random spectra (B, 1, L) in [-1, 1] (continuum subtracted, divided by the max)."""
        g = torch.Generator().manual_seed(seed)
        return (2.0 * torch.rand(batch, 1, self.input_length, generator=g) - 1.0,)

    def example_target(self, batch: int = 2, seed: int = 0) -> torch.Tensor:
        """Random redshifts in [0, 0.3) (B,)."""
        g = torch.Generator().manual_seed(seed + 1)
        return 0.3 * torch.rand(batch, generator=g)


# -- the one-layer CNN ------------------------------------------------------------------


@dataclass
class YurchukCNNConfig:
    """Configuration of :class:`YurchukCNN` (defaults: the paper's)."""

    input_length: int = 5001  # 4000-9000 A at 1 A
    n_filters: int = 64
    kernel_size: int = 150
    pool: int = 2  # average pooling factor

    def __post_init__(self) -> None:
        for name in ("n_filters", "kernel_size", "pool"):
            positive_int(self, name)
        positive_int(self, "input_length", minimum=self.kernel_size + self.pool - 1)

    @property
    def pooled_length(self) -> int:
        """Length after the valid convolution and the pooling."""
        return (self.input_length - self.kernel_size + 1) // self.pool


class YurchukCNN(_Regressor1D):
    """One Conv1d (64 x 150) + ReLU, average pooling 2, dense -> z (Yurchuk & Skyruta).

    ``forward(x)``: x (B, L) or (B, 1, L) -> z (B,).
    """

    def __init__(self, config: YurchukCNNConfig) -> None:
        super().__init__(config)
        c = config
        self.input_length = c.input_length
        self.input_shape = (1, c.input_length)
        self.conv = nn.Conv1d(1, c.n_filters, c.kernel_size)
        self.pool = nn.AvgPool1d(c.pool)
        self.dense = nn.Linear(c.n_filters * c.pooled_length, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map spectra (B, L) or (B, 1, L) to redshifts (B,)."""
        x = as_spectra(x, self.input_length, "YurchukCNN")  # (B, 1, L)
        h = F.relu(self.conv(x))  # (B, 64, L - 149)
        h = self.pool(h)  # (B, 64, (L - 149) // 2)
        return self.dense(h.flatten(1)).squeeze(1)  # (B,)


# -- the Inception-1D variant -----------------------------------------------------------


class InceptionBlock1D(nn.Module):
    """Parallel Conv1d branches of different widths ('same' padding, ReLU), concatenated.

    Input (B, C_in, L) -> output (B, len(widths) * filters, L). When
    ``reduce > 0`` and C_in > reduce, each branch wider than 1 first maps its
    input to ``reduce`` channels by a 1x1 convolution + ReLU.
    """

    def __init__(self, in_channels: int, widths: tuple[int, ...], filters: int, reduce: int):
        super().__init__()
        branches = []
        for w in widths:
            layers: list[nn.Module] = []
            c_in = in_channels
            if reduce > 0 and in_channels > reduce and w > 1:
                layers += [nn.Conv1d(in_channels, reduce, 1), nn.ReLU()]
                c_in = reduce
            layers += [nn.Conv1d(c_in, filters, w, padding=w // 2), nn.ReLU()]
            branches.append(nn.Sequential(*layers))
        self.branches = nn.ModuleList(branches)
        self.out_channels = len(widths) * filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the branches and concatenate them along channels."""
        outs = [branch(x) for branch in self.branches]  # each (B, filters, L)
        return torch.cat(outs, dim=1)  # (B, n_branches * filters, L)


@dataclass
class YurchukInceptionConfig:
    """Configuration of :class:`YurchukInception`."""

    input_length: int = 5001
    widths: tuple[int, ...] = (3, 15, 51, 151)  # odd branch widths (pixels)
    filters: int = 16  # per branch
    n_blocks: int = 1  # inception block + average pooling, repeated
    reduce: int = 16  # 1x1 reduction before wide branches of blocks after the first (0: none)
    pool: int = 2

    def __post_init__(self) -> None:
        int_tuple(self, "widths")
        check(all(w % 2 == 1 for w in self.widths), self, "widths", "odd widths", self.widths)
        for name in ("filters", "n_blocks", "pool"):
            positive_int(self, name)
        positive_int(self, "reduce", minimum=0)
        positive_int(self, "input_length", minimum=self.pool**self.n_blocks)

    @property
    def pooled_length(self) -> int:
        """Length after the ``n_blocks`` poolings."""
        length = self.input_length
        for _ in range(self.n_blocks):
            length //= self.pool
        return length


class YurchukInception(_Regressor1D):
    """Inception-1D regressor (Yurchuk & Skyruta): inception blocks + pooling, dense -> z.

    ``forward(x)``: x (B, L) or (B, 1, L) -> z (B,).
    """

    def __init__(self, config: YurchukInceptionConfig) -> None:
        super().__init__(config)
        c = config
        self.input_length = c.input_length
        self.input_shape = (1, c.input_length)
        blocks: list[nn.Module] = []
        in_ch = 1
        for _ in range(c.n_blocks):
            block = InceptionBlock1D(in_ch, c.widths, c.filters, c.reduce)
            blocks += [block, nn.AvgPool1d(c.pool)]
            in_ch = block.out_channels
        self.blocks = nn.Sequential(*blocks)
        self.dense = nn.Linear(in_ch * c.pooled_length, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map spectra (B, L) or (B, 1, L) to redshifts (B,)."""
        x = as_spectra(x, self.input_length, "YurchukInception")  # (B, 1, L)
        h = self.blocks(x)  # (B, n_branches * filters, L // pool**n_blocks)
        return self.dense(h.flatten(1)).squeeze(1)  # (B,)


@register_model(
    "yurchuk_cnn",
    config=YurchukCNNConfig,
    tiny={"input_length": 64, "n_filters": 4, "kernel_size": 9},
)
def yurchuk_cnn(config: YurchukCNNConfig) -> YurchukCNN:
    """Yurchuk & Skyruta: Conv1d 64x150, average pooling 2, dense -> z (MAE loss)."""
    return YurchukCNN(config)


@register_model(
    "yurchuk_inception",
    config=YurchukInceptionConfig,
    tiny={"input_length": 64, "widths": (1, 5, 9), "filters": 3, "n_blocks": 2, "reduce": 4},
)
def yurchuk_inception(config: YurchukInceptionConfig) -> YurchukInception:
    """Yurchuk & Skyruta: Inception-1D (parallel Conv1d widths, concatenated) -> z."""
    return YurchukInception(config)
