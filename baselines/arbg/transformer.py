"""ARBG's causal transformer (specs/autoregressive.md 3.1-3.3), assembled from toolkit parts.

Input position p holds the bin of coordinate p-1 (position 0: start token 0) and predicts the bin
of coordinate p. Embeddings: bin token + fixed sinusoidal position (base 10000) + axis (p mod 3) +
learned atom index (p // 3). Pre-norm blocks (RMSNorm, fused-QKV causal attention without biases,
SwiGLU); final RMSNorm; a bias-free output projection. ``features`` is the backbone output;
sampling uses the toolkit's KV cache.

The head seam (heads.py): ARBG embeds bin tokens and projects to one logit per bin. Other heads on
the same backbone swap only the two ends: ``token_embed`` (GIVT embeds the previous coordinate's
real value) and the width of ``output_proj`` (3K + 2 mixture parameters per step).
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.toolkit.nn import KVCache, RMSNorm, SinusoidalPositions, TransformerBlock, init_normal


class CausalTransformer(nn.Module):
    """Logits over ``num_bins`` for each of ``seq_len`` = 3N coordinates (or ``out_features`` head parameters).

    ``num_bins`` sizes the default bin-token embedding and projection; a head that passes its own
    ``token_embed`` and ``out_features`` may give 0.
    """

    def __init__(self, num_bins: int, seq_len: int, channels: int = 256, layers: int = 8, heads: int = 8,
                 head_dim: int = 32, expansion: int = 4, dropout: float = 0.0, token_embed: nn.Module | None = None,
                 out_features: int | None = None):
        super().__init__()
        self.num_bins, self.seq_len, self.heads, self.head_dim = num_bins, seq_len, heads, head_dim
        # default: one learned vector per bin token; any module mapping (batch, S) inputs to (batch, S, C) fits
        self.token_embed = token_embed if token_embed is not None else nn.Embedding(num_bins, channels)
        self.pos_embed = SinusoidalPositions(seq_len, channels, base=10000.0)
        self.coord_dim_embed = nn.Embedding(3, channels)
        self.atom_pos_embed = nn.Embedding((seq_len + 2) // 3, channels)
        self.blocks = nn.ModuleList(
            TransformerBlock(channels, heads, head_dim, expansion, dropout, norm="rms", mlp="swiglu", causal=True)
            for _ in range(layers)
        )
        self.final_norm = RMSNorm(channels)
        self.output_proj = nn.Linear(channels, out_features or num_bins, bias=False)
        self.apply(init_normal)

    @property
    def device(self) -> torch.device:
        return self.final_norm.weight.device

    def new_cache(self, batch: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> KVCache:
        device = device or self.device
        return KVCache(len(self.blocks), batch, self.heads, self.seq_len, self.head_dim, device, dtype)

    def features(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Backbone output (batch, S, C) for input tokens (batch, S) at positions offset .. offset+S-1.

        With a cache, offset = cache.length and the cache is advanced by S positions.
        """
        offset = cache.length if cache is not None else 0
        s = tokens.shape[1]
        pos = torch.arange(offset, offset + s, device=tokens.device)
        h = self.token_embed(tokens) + self.pos_embed(pos) + self.coord_dim_embed(pos % 3) + self.atom_pos_embed(pos // 3)
        for i, block in enumerate(self.blocks):
            h = block(h, cache, i)
        if cache is not None:
            cache.advance(s)
        return self.final_norm(h)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The output projection (batch, S, out_features): ARBG's bin logits, or a head's parameters."""
        return self.output_proj(self.features(tokens, cache))
