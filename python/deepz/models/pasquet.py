"""The photo-z inception CNN of Pasquet et al. (A&A 621, A26, 2019).

Input: 64x64 ugriz stamps (B, 5, 64, 64) plus the Galactic reddening
E(B-V) (B, 1). The network:

    conv 5x5 (64) + PReLU -> average pooling 2x2/2                    (64 -> 32 px)
    inception (48, 64) -> inception (64, 92) -> average pooling 2x2/2  (32 -> 16 px)
    inception (92, 128) -> inception (92, 128) -> average pooling 2x2/2 (16 -> 8 px)
    inception (92, 128) without its 5x5 branch
    flatten, concatenate E(B-V)
    dense 1024 + PReLU -> dense 1024 + PReLU -> dense 180 (logits)

An inception block with reduction width n1 and output width n2 runs four
branches on its input, each convolution followed by a PReLU and 'same'
padding: 1x1 (n2); 1x1 (n1) -> 3x3 (n2); 1x1 (n1) -> 5x5 (n2);
1x1 (n1) -> average pooling 2x2 stride 1; and concatenates them
(3 n2 + n1 channels, 2 n2 + n1 without the 5x5 branch).

The 180 logits are the redshift classes over [0, 0.4) (bins of 0.4/180);
softmax gives P(z) and z = sum_k z_k P_k (:class:`~deepz.models.heads.PDFHead`).
Cross-entropy loss, Adam.

Decisions where the paper leaves room: dense layers of 1024 units as the
paper states (public re-implementations use 1096); PReLU with one slope per
channel (per unit in the dense layers); the pooling branch's 2x2 stride-1
average pools over the window clipped to the image (TensorFlow 'same':
replicate-padding the last row and column gives exactly that); weights
Xavier-uniform and biases 0.1 as in the authors' code (``init="paper"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._base import DeepzModel, check, int_tuple, positive_int, register_model
from .heads import PDFHead, PDFOutput

__all__ = ["InceptionBlock2D", "PasquetConfig", "PasquetInception"]


def same_avg_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling, stride 1, TensorFlow 'same': (B, C, H, W) -> (B, C, H, W).

    The window at (i, j) covers rows i, i+1 and columns j, j+1 clipped to the
    image, and averages only the pixels inside. Replicate-padding the last row
    and column gives exactly that mean.
    """
    return F.avg_pool2d(F.pad(x, (0, 1, 0, 1), mode="replicate"), 2, stride=1)


class ConvPReLU(nn.Module):
    """Conv2d ('same' padding, odd kernel) followed by a per-channel PReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2)
        self.act = nn.PReLU(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve and activate."""
        return self.act(self.conv(x))  # (B, C_out, H, W)


class InceptionBlock2D(nn.Module):
    """Pasquet et al.'s inception block: (B, C_in, H, W) -> (B, 3 n2 + n1 (or 2 n2 + n1), H, W)."""

    def __init__(self, in_ch: int, n1: int, n2: int, with_5x5: bool = True) -> None:
        super().__init__()
        self.with_5x5 = with_5x5
        self.b1 = ConvPReLU(in_ch, n2, 1)
        self.b3 = nn.Sequential(ConvPReLU(in_ch, n1, 1), ConvPReLU(n1, n2, 3))
        # without the 5x5 branch, an identity keeps the attribute scriptable
        self.b5 = (
            nn.Sequential(ConvPReLU(in_ch, n1, 1), ConvPReLU(n1, n2, 5))
            if with_5x5
            else nn.Identity()
        )
        self.bp = ConvPReLU(in_ch, n1, 1)
        self.out_channels = n2 * (3 if with_5x5 else 2) + n1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the branches and concatenate them along channels."""
        p = self.bp(x)  # (B, n1, H, W)
        p = same_avg_pool_2x2(p)  # (B, n1, H, W)
        if self.with_5x5:
            return torch.cat([self.b1(x), self.b3(x), self.b5(x), p], dim=1)
        return torch.cat([self.b1(x), self.b3(x), p], dim=1)


@dataclass
class PasquetConfig:
    """Configuration of :class:`PasquetInception` (defaults: the paper's)."""

    image_size: int = 64  # H = W of the stamps
    in_channels: int = 5  # u, g, r, i, z
    stem_filters: int = 64  # first 5x5 convolution
    inception: tuple[tuple[int, int], ...] = ((48, 64), (64, 92), (92, 128), (92, 128), (92, 128))
    pool_after: tuple[int, ...] = (1, 3)  # average pooling 2x2/2 after these blocks (0-based)
    last_without_5x5: bool = True
    dense: int = 1024
    use_ebv: bool = True  # concatenate E(B-V) before the dense layers
    n_classes: int = 180
    z_min: float = 0.0
    z_max: float = 0.4
    init: str = "paper"  # "paper": Xavier-uniform weights, biases 0.1; "torch": torch defaults

    def __post_init__(self) -> None:
        for name in ("in_channels", "stem_filters", "dense"):
            positive_int(self, name)
        positive_int(self, "n_classes", minimum=2)
        if isinstance(self.inception, list):
            self.inception = tuple(tuple(b) for b in self.inception)
        check(
            isinstance(self.inception, tuple)
            and len(self.inception) >= 1
            and all(
                isinstance(b, tuple)
                and len(b) == 2
                and all(isinstance(v, int) and v >= 1 for v in b)
                for b in self.inception
            ),
            self,
            "inception",
            "a non-empty tuple of (n1, n2) pairs of positive ints",
            self.inception,
        )
        int_tuple(self, "pool_after", minimum=0, allow_empty=True)
        check(
            all(i < len(self.inception) for i in self.pool_after)
            and len(set(self.pool_after)) == len(self.pool_after),
            self,
            "pool_after",
            f"distinct block indices < {len(self.inception)}",
            self.pool_after,
        )
        factor = 2 ** (1 + len(self.pool_after))
        check(
            isinstance(self.image_size, int)
            and self.image_size >= factor
            and self.image_size % factor == 0,
            self,
            "image_size",
            f"a positive multiple of {factor} (one 2x2 pooling after the stem and after "
            f"each of the {len(self.pool_after)} blocks in pool_after)",
            self.image_size,
        )
        check(self.z_max > self.z_min, self, "z_max", f"> z_min={self.z_min}", self.z_max)
        check(self.init in ("paper", "torch"), self, "init", "'paper' or 'torch'", self.init)

    @property
    def final_size(self) -> int:
        """Side of the feature maps entering the dense layers."""
        return self.image_size // 2 ** (1 + len(self.pool_after))


class PasquetInception(DeepzModel):
    """Inception CNN on (B, 5, 64, 64) stamps + E(B-V) -> logits over 180 z classes.

    ``forward(x, ebv)``: x (B, C, H, W), ebv (B, 1) or (B,) (required when
    ``use_ebv``; ignored otherwise) -> logits (B, K). ``predict_proba`` ->
    P (B, K); ``predict`` -> :class:`~deepz.models.heads.PDFOutput` with
    z = sum_k z_k P_k; ``z_bins`` (K,) holds the class centres.
    """

    task = "pdf"
    optimizer_name = "Adam"
    optimizer_kwargs = {"lr": 1e-3}

    def __init__(self, config: PasquetConfig) -> None:
        super().__init__(config)
        c = config
        self.image_size = c.image_size
        self.in_channels = c.in_channels
        self.use_ebv = c.use_ebv
        self.input_shape = (c.in_channels, c.image_size, c.image_size)
        layers: list[nn.Module] = [
            ConvPReLU(c.in_channels, c.stem_filters, 5),
            nn.AvgPool2d(2, stride=2),
        ]
        in_ch = c.stem_filters
        for i, (n1, n2) in enumerate(c.inception):
            last = i == len(c.inception) - 1
            block = InceptionBlock2D(in_ch, n1, n2, with_5x5=not (last and c.last_without_5x5))
            layers.append(block)
            in_ch = block.out_channels
            if i in c.pool_after:
                layers.append(nn.AvgPool2d(2, stride=2))
        self.features = nn.Sequential(*layers)
        n_flat = in_ch * c.final_size**2 + (1 if c.use_ebv else 0)
        self.dense = nn.Sequential(
            nn.Linear(n_flat, c.dense),
            nn.PReLU(c.dense),
            nn.Linear(c.dense, c.dense),
            nn.PReLU(c.dense),
            nn.Linear(c.dense, c.n_classes),
        )
        self.pdf = PDFHead(c.z_min, c.z_max, c.n_classes)
        if c.init == "paper":
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.constant_(m.bias, 0.1)

    @property
    def z_bins(self) -> torch.Tensor:
        """Centres of the redshift classes (K,)."""
        return self.pdf.z_bins

    def forward(self, x: torch.Tensor, ebv: torch.Tensor | None = None) -> torch.Tensor:
        """Map stamps (B, C, H, W) and E(B-V) (B, 1) to class logits (B, K)."""
        if (
            x.dim() != 4
            or x.shape[1] != self.in_channels
            or x.shape[2] != self.image_size
            or x.shape[3] != self.image_size
        ):
            raise ValueError(
                f"PasquetInception: expected stamps of shape (B, {self.in_channels}, "
                f"{self.image_size}, {self.image_size}), got {list(x.shape)}"
            )
        h = self.features(x).flatten(1)  # (B, C_last * s * s)
        if self.use_ebv:
            if ebv is None:
                raise ValueError("PasquetInception: use_ebv is set, so ebv (B, 1) is required")
            if ebv.dim() == 1:
                ebv = ebv.unsqueeze(1)  # (B, 1)
            if ebv.dim() != 2 or ebv.shape[1] != 1 or ebv.shape[0] != x.shape[0]:
                raise ValueError(
                    f"PasquetInception: ebv must be (B, 1) or (B,) with B={x.shape[0]}, "
                    f"got {list(ebv.shape)}"
                )
            h = torch.cat([h, ebv.to(h.dtype)], dim=1)  # (B, C_last * s * s + 1)
        return self.dense(h)  # (B, K) logits

    @torch.jit.export
    def predict_proba(self, x: torch.Tensor, ebv: torch.Tensor | None = None) -> torch.Tensor:
        """Softmax probabilities over the redshift classes, (B, K)."""
        return F.softmax(self.forward(x, ebv), dim=1)

    @torch.jit.export
    def predict(self, x: torch.Tensor, ebv: torch.Tensor | None = None) -> PDFOutput:
        """P(z) over the classes and its mean z = sum_k z_k P_k."""
        return self.pdf(self.forward(x, ebv))

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the logits against class indices (B,)."""
        return F.cross_entropy(output, target)

    def example_inputs(self, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random stamps (B, C, H, W) and E(B-V) (B, 1) in [0, 0.1)."""
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(batch, self.in_channels, self.image_size, self.image_size, generator=g)
        return (x, 0.1 * torch.rand(batch, 1, generator=g))

    def example_target(self, batch: int = 2, seed: int = 0) -> torch.Tensor:
        """Random class indices (B,)."""
        g = torch.Generator().manual_seed(seed + 1)
        return torch.randint(0, self.config.n_classes, (batch,), generator=g)


@register_model(
    "pasquet_inception",
    config=PasquetConfig,
    tiny={
        "image_size": 8,
        "stem_filters": 4,
        "inception": ((3, 4), (3, 4)),
        "pool_after": (0,),
        "dense": 16,
        "n_classes": 12,
    },
)
def pasquet_inception(config: PasquetConfig) -> PasquetInception:
    """Pasquet et al. 2019: inception CNN on 64x64 ugriz stamps + E(B-V), 180 z classes."""
    return PasquetInception(config)
