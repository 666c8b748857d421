"""Multi-head self-attention with a fused qkv projection, and the KV cache for incremental decoding.

One module covers the attention of every transformer family here:

* ARBG/ROBIN: causal, no biases, no q/k norm, padding via key masks;
* TarFlow/Prose: qkv and output biases, full-width q/k LayerNorm (applied before the head split),
  causal with Prose-style query-row masks (padding queries give zero output);
* bidirectional (non-causal) for conditioners;
* optional rotary position embedding of q and k.

The qkv output is laid out Q | K | V, each H heads x head_dim, head-major (both published layouts).
Incremental decoding appends keys and values to a ``KVCache``; ``cache.select(indices)`` re-indexes
the batch after resampling (autoregressive twisted SMC), ``grow``/``truncate`` resize or rewind it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baselines.toolkit.nn.embeddings import RotaryEmbedding
from baselines.toolkit.nn.norms import LayerNorm32


class KVCache:
    """Keys and values of every layer for the positions decoded so far, preallocated to ``max_len``.

    ``length`` counts the positions stored; the model advances it after a forward pass (``advance``).
    Appending past ``max_len`` grows the buffers (doubling), so ``max_len`` is a hint, not a limit.
    """

    def __init__(self, n_layers: int, batch: int, heads: int, max_len: int, head_dim: int,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32):
        shape = (batch, heads, max_len, head_dim)
        self.k = [torch.empty(shape, device=device, dtype=dtype) for _ in range(n_layers)]
        self.v = [torch.empty(shape, device=device, dtype=dtype) for _ in range(n_layers)]
        self.length = 0

    @property
    def batch(self) -> int:
        return self.k[0].shape[0]

    @property
    def max_len(self) -> int:
        return self.k[0].shape[2]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, H, s, hd) at positions length .. length+s-1; return keys/values of 0 .. length+s-1."""
        t0, s = self.length, k.shape[2]
        if t0 + s > self.max_len:
            self.grow(max(2 * self.max_len, t0 + s))
        self.k[layer][:, :, t0 : t0 + s] = k
        self.v[layer][:, :, t0 : t0 + s] = v
        return self.k[layer][:, :, : t0 + s], self.v[layer][:, :, : t0 + s]

    def advance(self, s: int) -> None:
        self.length += s

    def select(self, indices: torch.Tensor) -> "KVCache":
        """Keep batch rows ``indices`` (any length, repeats allowed): the cache of resampled particles."""
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.k[0].device)
        self.k = [k.index_select(0, idx) for k in self.k]
        self.v = [v.index_select(0, idx) for v in self.v]
        return self

    def grow(self, max_len: int) -> "KVCache":
        """Reallocate to hold ``max_len`` positions, keeping what is stored."""
        if max_len > self.max_len:
            def bigger(t: torch.Tensor) -> torch.Tensor:
                out = t.new_empty(t.shape[0], t.shape[1], max_len, t.shape[3])
                out[:, :, : self.length] = t[:, :, : self.length]
                return out

            self.k, self.v = [bigger(k) for k in self.k], [bigger(v) for v in self.v]
        return self

    def truncate(self, length: int) -> "KVCache":
        """Forget positions from ``length`` on (rewind; later appends overwrite them)."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a cache of length {self.length} to {length}")
        self.length = length
        return self


class MultiHeadAttention(nn.Module):
    """Self-attention: fused qkv -> (optional q/k norm, rotary) -> SDPA -> output projection.

    ``qk_norm="layer"`` applies a float32 LayerNorm to the full-width q and k before the head split.
    Masks (True = keep): ``key_mask`` (B, S) hides padding keys; ``query_mask`` (B, S) zeroes the
    attention output of padding queries (Prose). Rows with no visible key give zero output.
    """

    def __init__(self, channels: int, heads: int, head_dim: int, causal: bool = True, qkv_bias: bool = False,
                 out_bias: bool = False, qk_norm: str | None = None, dropout: float = 0.0,
                 rotary: RotaryEmbedding | None = None):
        super().__init__()
        self.heads, self.head_dim, self.causal, self.dropout = heads, head_dim, causal, dropout
        width = heads * head_dim
        self.qkv = nn.Linear(channels, 3 * width, bias=qkv_bias)
        self.out_proj = nn.Linear(width, channels, bias=out_bias)
        if qk_norm not in (None, "layer"):
            raise ValueError(f"qk_norm must be None or 'layer', not {qk_norm!r}")
        self.q_norm = LayerNorm32(width) if qk_norm else None
        self.k_norm = LayerNorm32(width) if qk_norm else None
        self.rotary = rotary

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, s, _ = x.shape
        qkv = self.qkv(x)
        if self.q_norm is None:
            q, k, v = qkv.view(b, s, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
            return q, k, v
        q, k, v = qkv.chunk(3, dim=-1)
        q, k = self.q_norm(q), self.k_norm(k)
        return tuple(t.view(b, s, self.heads, self.head_dim).transpose(1, 2) for t in (q, k, v))  # type: ignore[return-value]

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0,
                key_mask: torch.Tensor | None = None, query_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, S, C) at positions offset .. offset+S-1 (offset = cache.length, else 0) -> (B, S, C)."""
        b, s, _ = x.shape
        q, k, v = self._split(x)
        offset = cache.length if cache is not None else 0
        if self.rotary is not None:
            pos = torch.arange(offset, offset + s, device=x.device)
            q, k = self.rotary(q, pos), self.rotary(k, pos)
        p = self.dropout if self.training else 0.0
        if cache is not None:
            if key_mask is not None or query_mask is not None:
                raise ValueError("incremental decoding with a KV cache takes no padding masks")
            k_all, v_all = cache.append(layer, k, v)
            if s == 1 or not self.causal:  # the newest token may attend to every cached position
                y = F.scaled_dot_product_attention(q, k_all, v_all, dropout_p=p)
            else:
                mask = torch.ones(s, offset + s, dtype=torch.bool, device=x.device).tril(offset)
                y = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask, dropout_p=p)
        elif key_mask is None and query_mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal, dropout_p=p)
        else:
            y = self._masked_attention(q, k, v, key_mask, query_mask, p)
        return self.out_proj(y.transpose(1, 2).reshape(b, s, -1))

    def _masked_attention(self, q, k, v, key_mask, query_mask, p: float) -> torch.Tensor:
        b, s = q.shape[0], q.shape[2]
        allowed = torch.ones(b, s, s, dtype=torch.bool, device=q.device)
        if self.causal:
            allowed = allowed.tril()
        if key_mask is not None:
            allowed = allowed & key_mask.bool()[:, None, :]
        if query_mask is not None:
            allowed = allowed & query_mask.bool()[:, :, None]
        live = allowed.any(-1)  # (B, S): rows with at least one visible key
        safe = allowed | ~live[..., None]  # dead rows attend to everything, then are zeroed
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=safe[:, None], dropout_p=p)
        return y * live[:, None, :, None].to(y.dtype)


__all__ = ["KVCache", "MultiHeadAttention"]
