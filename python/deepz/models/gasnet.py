"""GaSNet-II (Zhong et al., MNRAS 2024): ResNet-1D classifier and redshift regressors.

Spectra on 4000-9000 A (5001 pixels), divided by their L2 norm (times
sqrt(N) in the authors' code), go through six ResNet-1D blocks and a dense
head. One network classifies into 13 classes (:data:`GASNET_CLASSES`:
7 star types, 4 galaxy types, 2 QSO types; cross-entropy); per
extragalactic class a regressor predicts z (Huber loss, delta 0.1), and each
regressor is an ensemble of N = 10 differently initialised networks (their
eq. 7-8, :class:`GaSNetEnsemble`):

    z       = (1/N) sum_i z_i
    sigma_z = sqrt((1/N) sum_i (z_i - z)^2)      (population std, ddof 0,
                                                  numpy.std in their code)

Trained with Adam (1e-3, halved every 5 epochs: the Trainer's schedule).

One block (``ResBlock1D``), as in the authors' released Keras code:

    x0 -> Conv(k=5, stride 1, 'same') -> BN -> ReLU
       -> Conv(k=5, stride 3, 'valid') -> BN -> ReLU -> MaxPool(5, stride 1, 'same') -> (+)
    x0 -> shortcut Conv(k=5, stride 3, 'valid') ----------------------------------------> (+)

with 16, 32, 64, 128, 256, 512 filters; then flatten, dropout 0.5,
dense 256 + ReLU, dense output; weights drawn from N(0, 1e-3), zero biases.

Decisions: the released code's shortcut is a k=5 stride-3 convolution (its
output lines up with the main path exactly); ``shortcut_kernel=1`` gives the
1x1 shortcut of the paper's description, applied at the centre of each
window and cropped to the main path's length. The 13 class names are those
of the authors' training table (SDSS class + subclass; a blank subclass is
the bare class name).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._base import DeepzModel, check, int_tuple, positive_int, probability, register_model
from .heads import EnsembleOutput, as_spectra

__all__ = [
    "GASNET_CLASSES",
    "GaSNetClassifier",
    "GaSNetClassifierConfig",
    "GaSNetConfig",
    "GaSNetEnsemble",
    "GaSNetEnsembleConfig",
    "GaSNetRegressor",
    "ResBlock1D",
]

#: The 13 classes of GaSNet-II: 7 star types, 4 galaxy types, 2 QSO types.
GASNET_CLASSES: tuple[str, ...] = (
    "STAR_A0",
    "STAR_F5",
    "STAR_F9",
    "STAR_G2",
    "STAR_K1",
    "STAR_K3",
    "STAR_K5",
    "GALAXY",
    "GALAXY_STARFORMING",
    "GALAXY_STARBURST",
    "GALAXY_AGN",
    "QSO",
    "QSO_BROADLINE",
)


@dataclass
class GaSNetConfig:
    """The ResNet-1D backbone and dense head (defaults: the paper's; also the regressor's)."""

    input_length: int = 5001  # 4000-9000 A
    channels: tuple[int, ...] = (16, 32, 64, 128, 256, 512)  # one ResNet block each
    kernel_size: int = 5
    stride: int = 3
    shortcut_kernel: int = 5  # released code: 5 (= kernel_size); 1: a 1x1 shortcut
    dense: int = 256
    dropout: float = 0.5
    init: str = "paper"  # "paper": weights ~ N(0, 1e-3), zero biases; "torch": torch defaults

    def __post_init__(self) -> None:
        int_tuple(self, "channels")
        for name in ("kernel_size", "stride", "shortcut_kernel", "dense"):
            positive_int(self, name)
        check(self.kernel_size % 2 == 1, self, "kernel_size", "odd", self.kernel_size)
        check(
            self.shortcut_kernel % 2 == 1 and self.shortcut_kernel <= self.kernel_size,
            self,
            "shortcut_kernel",
            f"odd and <= kernel_size={self.kernel_size}",
            self.shortcut_kernel,
        )
        probability(self, "dropout")
        check(self.init in ("paper", "torch"), self, "init", "'paper' or 'torch'", self.init)
        minimum = 1
        for _ in self.channels:  # invert L_out = (L - k) // s + 1 down to one pixel
            minimum = (minimum - 1) * self.stride + self.kernel_size
        positive_int(self, "input_length", minimum=minimum)

    @property
    def block_lengths(self) -> list[int]:
        """Feature-map length after each block."""
        lengths, length = [], self.input_length
        for _ in self.channels:
            length = (length - self.kernel_size) // self.stride + 1
            lengths.append(length)
        return lengths

    @property
    def n_flat(self) -> int:
        """Number of features entering the dense head."""
        return self.channels[-1] * self.block_lengths[-1]


@dataclass
class GaSNetClassifierConfig(GaSNetConfig):
    """:class:`GaSNetClassifier`: the backbone plus the class names (13 by default)."""

    class_names: tuple[str, ...] = GASNET_CLASSES

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.class_names, list):
            self.class_names = tuple(self.class_names)
        check(
            isinstance(self.class_names, tuple)
            and len(self.class_names) >= 2
            and len(set(self.class_names)) == len(self.class_names)
            and all(isinstance(n, str) and n for n in self.class_names),
            self,
            "class_names",
            "a tuple of >= 2 distinct non-empty strings",
            self.class_names,
        )


@dataclass
class GaSNetEnsembleConfig(GaSNetConfig):
    """:class:`GaSNetEnsemble`: N regressors, member i initialised with seed ``seed + i``."""

    n_members: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int(self, "n_members", minimum=2)
        check(
            isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0,
            self,
            "seed",
            "an int >= 0",
            self.seed,
        )


class ResBlock1D(nn.Module):
    """One GaSNet-II ResNet-1D block: (B, C_in, L) -> (B, C_out, (L - k) // s + 1)."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, stride: int, shortcut_kernel: int
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(in_ch, out_ch, kernel, padding=kernel // 2)  # 'same'
        self.bn1 = nn.BatchNorm1d(out_ch)
        self.conv2 = nn.Conv1d(out_ch, out_ch, kernel, stride=stride)  # 'valid'
        self.bn2 = nn.BatchNorm1d(out_ch)
        self.pool = nn.MaxPool1d(kernel, stride=1, padding=kernel // 2)  # 'same'
        self.shortcut = nn.Conv1d(in_ch, out_ch, shortcut_kernel, stride=stride)
        # centre of the shortcut's window on the centre of the main path's window
        self.offset = (kernel - shortcut_kernel) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, C_in, L) to (B, C_out, (L - k) // s + 1)."""
        h = F.relu(self.bn1(self.conv1(x)))  # (B, C_out, L)
        h = F.relu(self.bn2(self.conv2(h)))  # (B, C_out, L')
        h = self.pool(h)  # (B, C_out, L')
        s = self.shortcut(x[:, :, self.offset :])  # (B, C_out, >= L')
        return h + s[:, :, : h.shape[2]]  # (B, C_out, L')


class _GaSNetNet(DeepzModel):
    """Backbone + head with ``n_out`` outputs: (B, L) or (B, 1, L) -> (B, n_out)."""

    def __init__(self, config: GaSNetConfig, n_out: int) -> None:
        super().__init__(config)
        c = config
        self.input_length = c.input_length
        self.input_shape = (1, c.input_length)
        self.label: str = type(self).__name__  # for error messages (TorchScript-friendly)
        blocks, in_ch = [], 1
        for ch in c.channels:
            blocks.append(ResBlock1D(in_ch, ch, c.kernel_size, c.stride, c.shortcut_kernel))
            in_ch = ch
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(c.dropout),
            nn.Linear(c.n_flat, c.dense),
            nn.ReLU(),
            nn.Linear(c.dense, n_out),
        )
        if c.init == "paper":
            for m in self.modules():
                if isinstance(m, (nn.Conv1d, nn.Linear)):
                    nn.init.normal_(m.weight, mean=0.0, std=1e-3)
                    nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone + head: (B, L) or (B, 1, L) -> (B, n_out)."""
        x = as_spectra(x, self.input_length, self.label)  # (B, 1, L)
        h = self.blocks(x)  # (B, 512, L_6)
        return self.head(h)  # (B, n_out)

    def example_inputs(self, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random spectra (B, 1, L), unit L2 norm times sqrt(L) like the authors' inputs."""
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(batch, 1, self.input_length, generator=g)
        return (x / x.norm(dim=2, keepdim=True) * self.input_length**0.5,)


class GaSNetClassifier(_GaSNetNet):
    """GaSNet-II classifier: spectrum -> logits over 13 classes (cross-entropy).

    ``forward(x)``: x (B, L) or (B, 1, L) -> logits (B, n_classes);
    ``predict_proba(x)`` -> softmax (B, n_classes); ``class_names`` names them.
    """

    task = "classification"

    def __init__(self, config: GaSNetClassifierConfig) -> None:
        super().__init__(config, len(config.class_names))
        self.n_classes = len(config.class_names)
        self.class_names = tuple(config.class_names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map spectra (B, L) or (B, 1, L) to class logits (B, n_classes)."""
        return self.features(x)  # (B, n_classes) logits

    @torch.jit.export
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, n_classes)."""
        return F.softmax(self.forward(x), dim=1)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the logits against class indices (B,)."""
        return F.cross_entropy(output, target)

    def example_target(self, batch: int = 2, seed: int = 0) -> torch.Tensor:
        """Random class indices (B,)."""
        g = torch.Generator().manual_seed(seed + 1)
        return torch.randint(0, self.n_classes, (batch,), generator=g)


class GaSNetRegressor(_GaSNetNet):
    """One GaSNet-II redshift regressor: spectrum -> z (Huber loss, delta 0.1).

    ``forward(x)``: x (B, L) or (B, 1, L) -> z (B,).
    """

    task = "regression"
    huber_delta: float = 0.1

    def __init__(self, config: GaSNetConfig) -> None:
        super().__init__(config, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map spectra (B, L) or (B, 1, L) to redshifts (B,)."""
        return self.features(x).squeeze(1)  # (B,)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Huber loss (delta 0.1) of z (B,) against target (B,)."""
        return F.huber_loss(output, target, delta=self.huber_delta)

    def example_target(self, batch: int = 2, seed: int = 0) -> torch.Tensor:
        """Random redshifts in [0, 1) (B,)."""
        g = torch.Generator().manual_seed(seed + 1)
        return torch.rand(batch, generator=g)


class GaSNetEnsemble(DeepzModel):
    """N differently initialised GaSNet-II regressors in one module (their eq. 7-8).

    Member i is built under ``torch.manual_seed(seed + i)`` (the global RNG
    is left as it was). ``forward(x)``: x (B, L) or (B, 1, L) ->
    :class:`~deepz.models.heads.EnsembleOutput` with ``z`` (B,) the member
    mean, ``sigma_z`` (B,) the member standard deviation with divisor N
    (ddof 0, as numpy.std in the authors' code) and ``members`` (B, N).
    Training: every member regresses the same target (Huber, delta 0.1),
    the loss averaged over members, as the authors' concatenated outputs do.
    """

    task = "ensemble"

    def __init__(self, config: GaSNetEnsembleConfig) -> None:
        super().__init__(config)
        self.n_members = config.n_members
        self.input_length = config.input_length
        self.input_shape = (1, config.input_length)
        members = []
        for i in range(config.n_members):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed + i)
                members.append(GaSNetRegressor(config))
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> EnsembleOutput:
        """Map spectra (B, L) or (B, 1, L) to the members' mean, spread and predictions."""
        x = as_spectra(x, self.input_length, "GaSNetEnsemble")  # (B, 1, L)
        zs = [member(x) for member in self.members]  # N x (B,)
        z_all = torch.stack(zs, dim=1)  # (B, N)
        z = z_all.mean(dim=1)  # (B,)
        sigma = torch.sqrt(((z_all - z.unsqueeze(1)) ** 2).mean(dim=1))  # (B,) ddof 0
        return EnsembleOutput(z, sigma, z_all)

    def loss(self, output: EnsembleOutput, target: torch.Tensor) -> torch.Tensor:
        """Huber loss (delta 0.1) of every member against target (B,), averaged."""
        members = output.members
        return F.huber_loss(members, target.unsqueeze(1).expand_as(members), delta=0.1)

    def example_inputs(self, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random spectra (B, 1, L) as for one regressor."""
        return self.members[0].example_inputs(batch, seed)

    def example_target(self, batch: int = 2, seed: int = 0) -> torch.Tensor:
        """Random redshifts in [0, 1) (B,)."""
        return self.members[0].example_target(batch, seed)


_TINY = {"input_length": 64, "channels": (4, 8), "dense": 8}


@register_model("gasnet_classifier", config=GaSNetClassifierConfig, tiny=_TINY)
def gasnet_classifier(config: GaSNetClassifierConfig) -> GaSNetClassifier:
    """GaSNet-II: ResNet-1D classifier over 13 classes (7 star, 4 galaxy, 2 QSO types)."""
    return GaSNetClassifier(config)


@register_model("gasnet_regressor", config=GaSNetConfig, tiny=_TINY)
def gasnet_regressor(config: GaSNetConfig) -> GaSNetRegressor:
    """GaSNet-II: one ResNet-1D redshift regressor (Huber loss, delta 0.1)."""
    return GaSNetRegressor(config)


@register_model("gasnet_ensemble", config=GaSNetEnsembleConfig, tiny={**_TINY, "n_members": 3})
def gasnet_ensemble(config: GaSNetEnsembleConfig) -> GaSNetEnsemble:
    """GaSNet-II: ensemble of N (10) regressors giving z and sigma_z (eq. 7-8)."""
    return GaSNetEnsemble(config)
