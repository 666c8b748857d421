"""Position and conditioning embeddings: sinusoids with a configurable base, rotary embeddings, learned
positions, and the per-atom ``ConditionalEmbedder`` of the transferable models.

Sinusoid convention (spec autoregressive 3.1, flows 4.3.1): for i = 0 .. C/2 - 1,
w_i = exp(-2i ln(base) / C), entry 2i = sin(v w_i), entry 2i + 1 = cos(v w_i). ARBG/ROBIN use
base 10000; the Prose/TarFlow embedder uses base 1000 for residue position and sequence length.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn


def sinusoid(values: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features (..., dim) of real values (...), computed in float32."""
    freq = torch.exp(-math.log(base) * torch.arange(0, dim, 2, dtype=torch.float32, device=values.device) / dim)
    arg = values.to(torch.float32)[..., None] * freq
    out = torch.zeros(*values.shape, dim, device=values.device)
    out[..., 0::2] = torch.sin(arg)
    out[..., 1::2] = torch.cos(arg)[..., : dim // 2]
    return out


def sinusoidal_table(length: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """(length, dim) table of ``sinusoid`` at positions 0 .. length - 1."""
    return sinusoid(torch.arange(length, dtype=torch.float32), dim, base)


class SinusoidalPositions(nn.Module):
    """Fixed sinusoidal position table (a non-persistent buffer: never saved, always recomputed).

    ``learnable_scale`` multiplies the table by a learned scalar (Prose: init 0.01); None: no scale.
    """

    def __init__(self, max_len: int, dim: int, base: float = 10000.0, learnable_scale: float | None = None):
        super().__init__()
        self.register_buffer("pe", sinusoidal_table(max_len, dim, base), persistent=False)
        self.scale = nn.Parameter(torch.tensor([float(learnable_scale)])) if learnable_scale is not None else None

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        out = self.pe[positions]
        return out if self.scale is None else out * self.scale


class LearnedPositions(nn.Module):
    """A learned (max_len, dim) table, initialised N(0, init_std^2) (TarFlow single-system: 0.01)."""

    def __init__(self, max_len: int, dim: int, init_std: float = 0.02):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, dim) * init_std)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return self.weight[positions]


class RotaryEmbedding(nn.Module):
    """Rotary position embedding of queries and keys (half-split pairs: feature i rotates with i + d/2).

    Rotating q at position m and k at position n makes q.k depend on m - n only.
    """

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError("rotary embeddings need an even head dimension")
        inv = torch.exp(-math.log(base) * torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Rotate x (..., S, head_dim) at integer positions (S,)."""
        angle = positions.to(torch.float32)[:, None] * self.inv_freq  # (S, d/2)
        cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
        a, b = x.chunk(2, dim=-1)
        return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


#: The features a ``ConditionalEmbedder`` can concatenate (benchmark.systems.encodings).
FEATURES = ("atom_type", "aa_type", "aa_pos", "seq_len", "atom_index")


class ConditionalEmbedder(nn.Module):
    """Per-atom conditioning vectors from integer encodings: concat of features -> Linear -> GELU -> Linear.

    ``atom_type`` and ``aa_type`` go through tables (0 = padding); ``aa_pos``, ``seq_len`` (one value
    per peptide, broadcast) and ``atom_index`` through parameter-free sinusoids of ``base``.
    ROBIN: all five features, tables 64/32, base 10000 (5C -> C). Prose/TarFlow: the first four,
    tables 128/64, base 1000, output multiplied by the atom mask (4C -> C). See ROBIN/PROSE below.
    """

    def __init__(self, channels: int, features: Sequence[str] = FEATURES[:4], atom_vocab: int = 128,
                 residue_vocab: int = 64, base: float = 1000.0, hidden: int | None = None, out: int | None = None,
                 mask_output: bool = True):
        super().__init__()
        unknown = set(features) - set(FEATURES)
        if unknown or not features:
            raise ValueError(f"features must be a non-empty subset of {FEATURES}, got {tuple(features)}")
        self.features, self.channels, self.base, self.mask_output = tuple(features), channels, base, mask_output
        self.atom_embed = nn.Embedding(atom_vocab, channels) if "atom_type" in features else None
        self.residue_embed = nn.Embedding(residue_vocab, channels) if "aa_type" in features else None
        hidden = hidden or channels
        self.mlp = nn.Sequential(nn.Linear(len(features) * channels, hidden), nn.GELU(), nn.Linear(hidden, out or channels))

    def _feature(self, name: str, enc: Mapping[str, torch.Tensor], shape: torch.Size) -> torch.Tensor:
        v = enc[name]
        if name == "atom_type":
            return self.atom_embed(v)
        if name == "aa_type":
            return self.residue_embed(v)
        if name == "seq_len":  # one value per peptide: (B,) or (B, 1) -> every atom
            v = v.reshape(shape[0], 1).expand(shape)
        return sinusoid(v, self.channels, self.base)

    def forward(self, enc: Mapping[str, torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, out) conditioning from encodings (B, N) (``seq_len`` (B,)); mask (B, N) True = real atom."""
        shape = enc["atom_type" if "atom_type" in enc else "aa_pos"].shape
        h = self.mlp(torch.cat([self._feature(f, enc, shape) for f in self.features], dim=-1))
        if self.mask_output and mask is not None:
            h = h * mask[..., None].to(h.dtype)
        return h


#: Published embedder settings (spec autoregressive 3.4 and flows 4.3.1).
ROBIN_EMBEDDER = dict(features=FEATURES, atom_vocab=64, residue_vocab=32, base=10000.0, mask_output=False)
PROSE_EMBEDDER = dict(features=FEATURES[:4], atom_vocab=128, residue_vocab=64, base=1000.0, mask_output=True)


__all__ = ["ConditionalEmbedder", "FEATURES", "LearnedPositions", "PROSE_EMBEDDER", "ROBIN_EMBEDDER", "RotaryEmbedding",
           "SinusoidalPositions", "sinusoid", "sinusoidal_table"]
