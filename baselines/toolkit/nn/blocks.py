"""The pre-norm residual transformer block: h + Attn(Norm(h)), then h + MLP(Norm(h)).

ARBG: RMSNorm, causal attention without biases, SwiGLU. TarFlow: float32 LayerNorm, attention with
biases (and q/k norm for the transferable model), GELU MLP. Prose wraps attention blocks in AdaLN
and output gates (nn/norms.py) in its own family code.
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.toolkit.nn.attention import KVCache, MultiHeadAttention
from baselines.toolkit.nn.mlp import make_mlp
from baselines.toolkit.nn.norms import make_norm


class TransformerBlock(nn.Module):
    """Pre-norm block; ``norm`` "rms" | "layer", ``mlp`` "swiglu" | "gelu"; attention options as MultiHeadAttention."""

    def __init__(self, channels: int, heads: int, head_dim: int, expansion: int = 4, dropout: float = 0.0,
                 norm: str = "rms", mlp: str = "swiglu", **attention: object):
        super().__init__()
        self.norm1, self.norm2 = make_norm(norm, channels), make_norm(norm, channels)
        self.attn = MultiHeadAttention(channels, heads, head_dim, dropout=dropout, **attention)  # type: ignore[arg-type]
        self.ff = make_mlp(mlp, channels, expansion, dropout)

    def forward(self, h: torch.Tensor, cache: KVCache | None = None, layer: int = 0,
                key_mask: torch.Tensor | None = None, query_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = h + self.attn(self.norm1(h), cache, layer, key_mask, query_mask)
        return h + self.ff(self.norm2(h))


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """ARBG's init (spec autoregressive 3.2): Linear and Embedding weights N(0, std^2), Linear biases 0.

    Use as ``model.apply(init_normal)``.
    """
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=std)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


__all__ = ["TransformerBlock", "init_normal"]
