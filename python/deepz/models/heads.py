"""Pieces shared by the families: redshift bins and the PDF-over-bins head.

Redshift-as-classification (Stivaktakis et al. 2019, Pasquet et al. 2019)
cuts [z_min, z_max) into K equal bins; the network's K logits become a
probability distribution over the bins by a softmax, and the point estimate
of Pasquet et al. is its mean, z = sum_k z_k P_k, with z_k the bin centres.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EnsembleOutput", "PDFHead", "PDFOutput", "as_spectra", "bin_centres"]


class PDFOutput(NamedTuple):
    """P(z) over the bins and its mean."""

    prob: torch.Tensor  # (B, K), rows sum to 1
    z: torch.Tensor  # (B,), sum_k z_k P_k


class EnsembleOutput(NamedTuple):
    """An ensemble's mean, spread and member predictions."""

    z: torch.Tensor  # (B,) mean over members
    sigma_z: torch.Tensor  # (B,) standard deviation over members (ddof 0)
    members: torch.Tensor  # (B, N) each member's prediction


def bin_centres(z_min: float, z_max: float, n_bins: int) -> torch.Tensor:
    """Centres of ``n_bins`` equal bins over [z_min, z_max) (float64 arithmetic, float32 out).

    Bin k holds z in [z_min + k dz, z_min + (k+1) dz), dz = (z_max - z_min)/n_bins;
    its centre is z_min + (k + 1/2) dz. The class label of a redshift z is
    floor((z - z_min)/dz).
    """
    if not n_bins >= 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins!r}")
    if not z_max > z_min:
        raise ValueError(f"z_max must be > z_min, got z_min={z_min!r}, z_max={z_max!r}")
    dz = (z_max - z_min) / n_bins
    k = torch.arange(n_bins, dtype=torch.float64)
    return (z_min + (k + 0.5) * dz).to(torch.float32)


class PDFHead(nn.Module):
    """Softmax over redshift bins and the PDF mean z = sum_k z_k P_k.

    Holds the bin centres as a buffer (so they travel with the state dict and
    the TorchScript file). Input: logits (B, K); output: :class:`PDFOutput`.
    """

    def __init__(self, z_min: float, z_max: float, n_bins: int) -> None:
        super().__init__()
        self.n_bins = n_bins
        self.register_buffer("z_bins", bin_centres(z_min, z_max, n_bins))  # (K,)

    def forward(self, logits: torch.Tensor) -> PDFOutput:
        """Turn logits (B, K) into P(z) (B, K) and its mean z (B,)."""
        if logits.dim() != 2 or logits.shape[1] != self.n_bins:
            raise ValueError(
                f"PDFHead: logits must be (B, {self.n_bins}), got {list(logits.shape)}"
            )
        prob = F.softmax(logits, dim=1)  # (B, K)
        z = prob @ self.z_bins.to(prob.dtype)  # (B,)
        return PDFOutput(prob, z)


def as_spectra(x: torch.Tensor, length: int, model: str) -> torch.Tensor:
    """Check a batch of 1-D spectra and return it as (B, 1, L).

    Accepts (B, L) or (B, 1, L) with L == ``length``; anything else raises
    ValueError saying what was expected (TorchScript raises it as
    ``torch.jit.Error`` with the same message).
    """
    if x.dim() == 2:
        x = x.unsqueeze(1)  # (B, 1, L)
    if x.dim() != 3 or x.shape[1] != 1 or x.shape[2] != length:
        raise ValueError(
            f"{model}: expected spectra of shape (B, {length}) or (B, 1, {length}), "
            f"got {list(x.shape)}"
        )
    return x
