"""ARBG's causal transformer (specs/autoregressive.md 3.1-3.4), assembled from toolkit parts.

Input position p holds the bin of coordinate p-1 (position 0: start token 0) and predicts the bin
of coordinate p. Embeddings: bin token + fixed sinusoidal position (base 10000) + axis (p mod 3) +
learned atom index (p // 3). Pre-norm blocks (RMSNorm, fused-QKV causal attention without biases,
SwiGLU); final RMSNorm; a bias-free output projection. ``features`` is the backbone output;
sampling uses the toolkit's KV cache.

The head seam (heads.py): ARBG embeds bin tokens and projects to one logit per bin. Other heads on
the same backbone swap only the two ends: ``token_embed`` (GIVT embeds the previous coordinate's
real value) and the width of ``output_proj`` (3K + 2 mixture parameters per step).

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
import torch.nn.functional as F
from torch import nn

from baselines.toolkit.nn import (
    ROBIN_EMBEDDER, ConditionalEmbedder, KVCache, RMSNorm, SinusoidalPositions, TransformerBlock, init_normal,
)


@dataclass(frozen=True)
class Conditioning:
    """The conditioning of a batch of peptides, computed once by ``CausalTransformer.condition`` (it does
    not depend on the tokens): per-atom vectors (B, N, C), the global attention's keys and values
    (B, H, N, C/H), and the atom mask (B, N), True = real. B = 1 is broadcast over a batch of samples
    of one peptide, so sampling projects the peptide's keys and values once, not at every token.
    """

    vectors: torch.Tensor
    keys: torch.Tensor
    values: torch.Tensor
    mask: torch.Tensor | None = None


class CausalTransformer(nn.Module):
    """Logits over ``num_bins`` for each of ``seq_len`` = 3N coordinates (3 N_max for a conditioned model),
    or ``out_features`` head parameters.

    ``num_bins`` sizes the default bin-token embedding and projection; a head that passes its own
    ``token_embed`` and ``out_features`` may give 0.
    """

    def __init__(self, num_bins: int, seq_len: int, channels: int = 256, layers: int = 8, heads: int = 8,
                 head_dim: int = 32, expansion: int = 4, dropout: float = 0.0, conditioned: bool = False,
                 token_embed: nn.Module | None = None, out_features: int | None = None):
        super().__init__()
        self.num_bins, self.seq_len, self.heads, self.head_dim = num_bins, seq_len, heads, head_dim
        # default: one learned vector per bin token; any module mapping (batch, S) inputs to (batch, S, C) fits
        self.token_embed = token_embed if token_embed is not None else nn.Embedding(num_bins, channels)
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
        self.output_proj = nn.Linear(channels, out_features or num_bins, bias=False)
        self.apply(init_normal)  # the MHA's packed in-projection keeps PyTorch's Xavier init (spec 3.2)

    @property
    def device(self) -> torch.device:
        return self.final_norm.weight.device

    @property
    def max_atoms(self) -> int:
        return self.atom_pos_embed.num_embeddings

    def condition(self, encodings: dict[str, torch.Tensor], mask: torch.Tensor | None = None) -> Conditioning:
        """Conditioning of peptides from their encodings (B, N) (``seq_len`` (B,)); mask (B, N)."""
        if not self.conditioned:
            raise ValueError("this CausalTransformer was built without conditioning")
        vectors = self.cond_embed(encodings, mask)
        mha = self.global_cond_attn
        c = vectors.shape[-1]
        _, w_k, w_v = mha.in_proj_weight.split(c)
        _, b_k, b_v = mha.in_proj_bias.split(c)
        return Conditioning(vectors, self._heads(vectors @ w_k.T + b_k), self._heads(vectors @ w_v.T + b_v), mask)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, S, C) -> (B, H, S, C/H) with the global attention's heads."""
        h = self.global_cond_attn.num_heads
        return x.unflatten(-1, (h, x.shape[-1] // h)).transpose(1, 2)

    def new_cache(self, batch: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32,
                  max_len: int | None = None) -> KVCache:
        """An empty KV cache for ``batch`` sequences of up to ``max_len`` positions (default: the model's)."""
        device = device or self.device
        return KVCache(len(self.blocks), batch, self.heads, max_len or self.seq_len, self.head_dim, device, dtype)

    def _add_conditioning(self, h: torch.Tensor, pos: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        """h + cond[p // 3], then + the global attention: nn.MultiheadAttention's computation (query h,
        keys/values the conditioning, padded atoms masked) with the keys and values projected once."""
        b, s, c = h.shape
        h = h + cond.vectors.expand(b, -1, -1)[:, pos // 3]
        mha = self.global_cond_attn
        q = self._heads(h @ mha.in_proj_weight[:c].T + mha.in_proj_bias[:c])  # (B, H, S, c/H)
        p = mha.dropout if self.training else 0.0
        if cond.keys.shape[0] == 1 and b > 1:  # one peptide, many samples: every query row against one key set
            heads = q.shape[1]
            rows = q.transpose(0, 1).reshape(heads, b * s, -1)  # (H, B*S, c/H)
            mask = None if cond.mask is None else cond.mask[0][None, None, :]
            out = F.scaled_dot_product_attention(rows, cond.keys[0], cond.values[0], attn_mask=mask, dropout_p=p)
            attended = out.reshape(heads, b, s, -1).transpose(0, 1)
        else:
            mask = None if cond.mask is None else cond.mask[:, None, None, :]
            attended = F.scaled_dot_product_attention(q, cond.keys, cond.values, attn_mask=mask, dropout_p=p)
        return h + mha.out_proj(attended.transpose(1, 2).flatten(2))

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
        """The output projection (batch, S, out_features): ARBG's bin logits, or a head's parameters."""
        return self.output_proj(self.features(tokens, cache, cond))
