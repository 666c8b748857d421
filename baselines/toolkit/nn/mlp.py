"""Feed-forward layers: the SwiGLU of ARBG, the fused SwiGLU transition of Prose, and the GELU MLP of
TarFlow / the conditioning embedders."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SwiGLU(nn.Module):
    """W3(SiLU(W1 x) * W2 x); W1 (gate), W2 (value) without bias, W3 with bias (spec autoregressive 3.2).

    Hidden width floor(2 * expansion * C / 3) unless ``hidden`` is given; dropout after the gated
    product and after W3, as in ARBG.
    """

    def __init__(self, channels: int, expansion: int = 4, dropout: float = 0.0, hidden: int | None = None):
        super().__init__()
        hidden = hidden or int(2 * expansion * channels / 3)
        self.w1 = nn.Linear(channels, hidden, bias=False)
        self.w2 = nn.Linear(channels, hidden, bias=False)
        self.w3 = nn.Linear(hidden, channels, bias=True)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.w3(self.drop(F.silu(self.w1(x)) * self.w2(x))))


class FusedSwiGLU(nn.Module):
    """Prose's transition (spec flows 4.3.2): W_out(SiLU(q) * p) with [p | q] = W_in x, no biases.

    One fused input projection C -> 2 * expansion * C whose first half is the value p and second
    half the gate q, as the published state dict stores it (``w_in`` = ``swish_linear.0``,
    ``w_out`` = ``linear_out``). Unlike ``SwiGLU`` the hidden width is expansion * C exactly and the
    output has no bias.
    """

    def __init__(self, channels: int, expansion: int = 4):
        super().__init__()
        self.w_in = nn.Linear(channels, 2 * expansion * channels, bias=False)
        self.w_out = nn.Linear(expansion * channels, channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, q = self.w_in(x).chunk(2, dim=-1)
        return self.w_out(F.silu(q) * p)


class GELUMLP(nn.Module):
    """Linear(C, hidden) -> GELU -> Dropout -> Linear(hidden, out), biases on both (TarFlow, embedders)."""

    def __init__(self, channels: int, hidden: int | None = None, out: int | None = None, dropout: float = 0.0,
                 expansion: int = 4):
        super().__init__()
        hidden = hidden or expansion * channels
        self.main = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, out or channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


def make_mlp(kind: str, channels: int, expansion: int = 4, dropout: float = 0.0) -> nn.Module:
    """"swiglu" (ARBG) or "gelu" (TarFlow)."""
    if kind == "swiglu":
        return SwiGLU(channels, expansion, dropout)
    if kind == "gelu":
        return GELUMLP(channels, expansion=expansion, dropout=dropout)
    raise ValueError(f"mlp must be 'swiglu' or 'gelu', not {kind!r}")


__all__ = ["FusedSwiGLU", "GELUMLP", "SwiGLU", "make_mlp"]
