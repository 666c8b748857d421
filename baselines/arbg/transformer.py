"""ARBG's causal transformer (specs/autoregressive.md 3.1-3.4), assembled from toolkit parts.

Input position p holds the bin of coordinate p-1 (position 0: start token 0) and predicts the bin
of coordinate p. Embeddings: bin token + fixed sinusoidal position (base 10000) + axis (p mod 3) +
learned atom index (p // 3). Pre-norm blocks (RMSNorm, fused-QKV causal attention without biases,
SwiGLU); final RMSNorm; a bias-free head over the bins. ``features`` is the backbone output that
other output heads (mixtures) can read; sampling uses the toolkit's KV cache.

``conditioned=True`` adds ROBIN's conditioning (spec 3.4), so ROBIN is this network, not a copy:
per-atom vectors ``cond`` from the ``ConditionalEmbedder`` (ROBIN preset: atom type, residue type,
residue position, sequence length, atom index) are added at every position (cond[p // 3], the atom
whose coordinate is predicted there), then one non-causal multi-head attention layer
(``global_cond_attn``: query = the summed input embedding, keys/values = the conditioning vectors
of the whole peptide, padded atoms masked as keys) adds its output, once, before the blocks. The
module names are the published ones (spec 9.3), so published weights map onto them by a few renames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from baselines.toolkit.nn import (
    ROBIN_EMBEDDER, ConditionalEmbedder, KVCache, RMSNorm, SinusoidalPositions, TransformerBlock, init_normal,
)


@dataclass(frozen=True)
class Conditioning:
    """The conditioning of a batch of peptides: vectors (B or 1, N, C) and the atom mask (B or 1, N), True = real.

    Computed once per peptide by ``CausalTransformer.condition`` (it does not depend on the tokens);
    a leading dimension of 1 is broadcast over the batch (one peptide, many samples).
    """

    vectors: torch.Tensor
    mask: torch.Tensor | None = None


class CausalTransformer(nn.Module):
    """Logits over ``num_bins`` for each of ``seq_len`` = 3N coordinates (3 N_max for a conditioned model)."""

    def __init__(self, num_bins: int, seq_len: int, channels: int = 256, layers: int = 8, heads: int = 8,
                 head_dim: int = 32, expansion: int = 4, dropout: float = 0.0, conditioned: bool = False):
        super().__init__()
        self.num_bins, self.seq_len, self.heads, self.head_dim = num_bins, seq_len, heads, head_dim
        self.token_embed = nn.Embedding(num_bins, channels)
        self.pos_embed = SinusoidalPositions(seq_len, channels, base=10000.0)
        self.coord_dim_embed = nn.Embedding(3, channels)
        self.atom_pos_embed = nn.Embedding((seq_len + 2) // 3, channels)
        self.conditioned = conditioned
        if conditioned:  # created only here, so an unconditioned model's parameters and init are unchanged
            self.cond_embed = ConditionalEmbedder(channels, **ROBIN_EMBEDDER)
            self.global_cond_attn = nn.MultiheadAttention(channels, heads, dropout=dropout, batch_first=True)
        self.blocks = nn.ModuleList(
            TransformerBlock(channels, heads, head_dim, expansion, dropout, norm="rms", mlp="swiglu", causal=True)
            for _ in range(layers)
        )
        self.final_norm = RMSNorm(channels)
        self.output_proj = nn.Linear(channels, num_bins, bias=False)
        self.apply(init_normal)  # the MHA's packed in-projection keeps PyTorch's Xavier init (spec 3.2)

    @property
    def max_atoms(self) -> int:
        return self.atom_pos_embed.num_embeddings

    def condition(self, encodings: dict[str, torch.Tensor], mask: torch.Tensor | None = None) -> Conditioning:
        """Conditioning vectors of peptides from their encodings (B, N) (``seq_len`` (B,)); mask (B, N)."""
        if not self.conditioned:
            raise ValueError("this CausalTransformer was built without conditioning")
        return Conditioning(self.cond_embed(encodings, mask), mask)

    def new_cache(self, batch: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32,
                  max_len: int | None = None) -> KVCache:
        """An empty KV cache for ``batch`` sequences of up to ``max_len`` positions (default: the model's)."""
        device = device or self.token_embed.weight.device
        return KVCache(len(self.blocks), batch, self.heads, max_len or self.seq_len, self.head_dim, device, dtype)

    def _add_conditioning(self, h: torch.Tensor, pos: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        vectors = cond.vectors.expand(h.shape[0], -1, -1)
        h = h + vectors[:, pos // 3]
        key_padding = None if cond.mask is None else ~cond.mask.expand(h.shape[0], -1)
        attended, _ = self.global_cond_attn(h, vectors, vectors, key_padding_mask=key_padding, need_weights=False)
        return h + attended

    def features(self, tokens: torch.Tensor, cache: KVCache | None = None, cond: Conditioning | None = None) -> torch.Tensor:
        """Backbone output (batch, S, C) for input tokens (batch, S) at positions offset .. offset+S-1.

        With a cache, offset = cache.length and the cache is advanced by S positions. A conditioned
        model needs ``cond``. Padding atoms sit after every real atom, so causal attention never lets
        a real position see them: only the global conditioning attention needs the mask.
        """
        if self.conditioned and cond is None:
            raise ValueError("a conditioned CausalTransformer needs the peptide's conditioning (cond=...)")
        offset = cache.length if cache is not None else 0
        s = tokens.shape[1]
        pos = torch.arange(offset, offset + s, device=tokens.device)
        h = self.token_embed(tokens) + self.pos_embed(pos) + self.coord_dim_embed(pos % 3) + self.atom_pos_embed(pos // 3)
        if cond is not None:
            h = self._add_conditioning(h, pos, cond)
        for i, block in enumerate(self.blocks):
            h = block(h, cache, i)
        if cache is not None:
            cache.advance(s)
        return self.final_norm(h)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None, cond: Conditioning | None = None) -> torch.Tensor:
        """Bin logits (batch, S, num_bins)."""
        return self.output_proj(self.features(tokens, cache, cond))
