"""The causal transformer of ARBG (specs/autoregressive.md 3.1-3.3), single-system variant.

Input position p holds the bin of coordinate p-1 (position 0: start token 0) and predicts the bin
of coordinate p. Embeddings: bin token + fixed sinusoidal position + axis (p mod 3) + learned atom
index (p // 3). Pre-norm blocks with RMSNorm, fused-QKV causal attention and a SwiGLU FFN; final
RMSNorm and a bias-free head over the bins. Sampling uses a preallocated KV cache.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(...)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return pe


class KVCache:
    """Keys and values of every layer for the positions generated so far (preallocated)."""

    def __init__(self, n_layers: int, batch: int, heads: int, max_len: int, head_dim: int, device, dtype):
        shape = (batch, heads, max_len, head_dim)
        self.k = [torch.empty(shape, device=device, dtype=dtype) for _ in range(n_layers)]
        self.v = [torch.empty(shape, device=device, dtype=dtype) for _ in range(n_layers)]
        self.length = 0


class CausalSelfAttention(nn.Module):
    def __init__(self, channels: int, heads: int, head_dim: int, dropout: float):
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, head_dim, dropout
        self.qkv = nn.Linear(channels, 3 * heads * head_dim, bias=False)
        self.out_proj = nn.Linear(heads * head_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        b, s, _ = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        else:
            t0 = cache.length
            cache.k[layer][:, :, t0 : t0 + s] = k
            cache.v[layer][:, :, t0 : t0 + s] = v
            k_all, v_all = cache.k[layer][:, :, : t0 + s], cache.v[layer][:, :, : t0 + s]
            if s == 1:  # the newest token may attend to every cached position
                y = F.scaled_dot_product_attention(q, k_all, v_all)
            else:
                mask = torch.ones(s, t0 + s, dtype=torch.bool, device=x.device).tril(t0)
                y = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask)
        return self.out_proj(y.transpose(1, 2).reshape(b, s, -1))


class SwiGLU(nn.Module):
    """W3(SiLU(W1 x) * W2 x), hidden width floor(2 * expansion * C / 3)."""

    def __init__(self, channels: int, expansion: int, dropout: float):
        super().__init__()
        hidden = int(2 * expansion * channels / 3)
        self.w1 = nn.Linear(channels, hidden, bias=False)
        self.w2 = nn.Linear(channels, hidden, bias=False)
        self.w3 = nn.Linear(hidden, channels, bias=True)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.w3(self.drop(F.silu(self.w1(x)) * self.w2(x))))


class Block(nn.Module):
    def __init__(self, channels: int, heads: int, head_dim: int, expansion: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = RMSNorm(channels), RMSNorm(channels)
        self.attn = CausalSelfAttention(channels, heads, head_dim, dropout)
        self.ff = SwiGLU(channels, expansion, dropout)

    def forward(self, h: torch.Tensor, cache: KVCache | None, layer: int) -> torch.Tensor:
        h = h + self.attn(self.norm1(h), cache, layer)
        return h + self.ff(self.norm2(h))


class CausalTransformer(nn.Module):
    """Logits over ``num_bins`` for each of ``seq_len`` = 3N coordinates."""

    def __init__(
        self,
        num_bins: int,
        seq_len: int,
        channels: int = 256,
        layers: int = 8,
        heads: int = 8,
        head_dim: int = 32,
        expansion: int = 4,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.num_bins, self.seq_len, self.heads, self.head_dim = num_bins, seq_len, heads, head_dim
        self.token_embed = nn.Embedding(num_bins, channels)
        self.register_buffer("pos_embed", sinusoidal_table(seq_len, channels), persistent=False)
        self.coord_dim_embed = nn.Embedding(3, channels)
        self.atom_pos_embed = nn.Embedding((seq_len + 2) // 3, channels)
        self.blocks = nn.ModuleList(Block(channels, heads, head_dim, expansion, dropout) for _ in range(layers))
        self.final_norm = RMSNorm(channels)
        self.output_proj = nn.Linear(channels, num_bins, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def new_cache(self, batch: int, device=None, dtype=torch.float32) -> KVCache:
        device = device or self.token_embed.weight.device
        return KVCache(len(self.blocks), batch, self.heads, self.seq_len, self.head_dim, device, dtype)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (batch, S, num_bins) for input tokens (batch, S) at positions offset..offset+S-1.

        With a cache, offset = cache.length and the cache is extended by S positions.
        """
        offset = cache.length if cache is not None else 0
        s = tokens.shape[1]
        pos = torch.arange(offset, offset + s, device=tokens.device)
        h = self.token_embed(tokens) + self.pos_embed[pos] + self.coord_dim_embed(pos % 3) + self.atom_pos_embed(pos // 3)
        for i, block in enumerate(self.blocks):
            h = block(h, cache, i)
        if cache is not None:
            cache.length += s
        return self.output_proj(self.final_norm(h))
