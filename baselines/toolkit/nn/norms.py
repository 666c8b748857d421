"""Normalizations: RMSNorm (ARBG), LayerNorm computed in float32 (TarFlow/Prose), adaptive LayerNorm
and the sigmoid output gate of Prose (specs/flows-and-protocol.md 4.3.2).

Why float32 LayerNorm: the flow references normalize in float32 even under reduced precision, and a
log-density is only as good as its worst rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * w, learned gain w (init 1), no bias (spec autoregressive 3.2)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LayerNorm32(nn.LayerNorm):
    """nn.LayerNorm evaluated in float32 and cast back to the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = None if self.weight is None else self.weight.float()
        b = None if self.bias is None else self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)


def _masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return x if mask is None else x * mask[..., None].to(x.dtype)


class AdaLN(nn.Module):
    """Adaptive LayerNorm: LN(h) * sigmoid(W_g LN_c(c) + b_g) + W_b LN_c(c), times the mask.

    ``norm`` has no parameters; ``norm_cond`` (affine) normalizes the condition; ``to_beta`` has no
    bias. Module names follow the published Prose state dict (spec flows 5.1).
    """

    def __init__(self, channels: int, cond_channels: int | None = None):
        super().__init__()
        cond_channels = cond_channels or channels
        self.norm = LayerNorm32(channels, elementwise_affine=False)
        self.norm_cond = LayerNorm32(cond_channels)
        self.to_gamma = nn.Sequential(nn.Linear(cond_channels, channels), nn.Sigmoid())
        self.to_beta = nn.Linear(cond_channels, channels, bias=False)

    def forward(self, h: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        c = self.norm_cond(cond)
        return _masked(self.norm(h) * self.to_gamma(c) + self.to_beta(c), mask)


class OutputGate(nn.Module):
    """g(c) * x with g(c) = sigmoid(W c + b) on the raw condition; W = 0, b = -2 at init (gate ~0.12)."""

    def __init__(self, channels: int, cond_channels: int | None = None, bias_init: float = -2.0):
        super().__init__()
        cond_channels = cond_channels or channels
        self.to_adaln_zero_gamma = nn.Sequential(nn.Linear(cond_channels, channels), nn.Sigmoid())
        nn.init.zeros_(self.to_adaln_zero_gamma[0].weight)
        nn.init.constant_(self.to_adaln_zero_gamma[0].bias, bias_init)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return _masked(self.to_adaln_zero_gamma(cond) * x, mask)


def make_norm(kind: str, dim: int) -> nn.Module:
    """"rms" (RMSNorm, eps 1e-6) or "layer" (float32 LayerNorm with affine parameters)."""
    if kind == "rms":
        return RMSNorm(dim)
    if kind == "layer":
        return LayerNorm32(dim)
    raise ValueError(f"norm must be 'rms' or 'layer', not {kind!r}")


__all__ = ["AdaLN", "LayerNorm32", "OutputGate", "RMSNorm", "make_norm"]
