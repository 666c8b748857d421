"""The TarFlow network: a stack of transformer autoregressive affine blocks with exact log-determinants.

Conventions (specs/flows-and-protocol.md 4.1, 4.2). ``forward`` maps data x to latent z and returns
log|det dz/dx|; ``reverse`` maps z to x and returns log|det dx/dz| (the negative of the former at the
same point). The prior is a standard normal over every coordinate, so
log q(x) = log N(z; 0, I) + logdet_fwd, and a sample x = reverse(z) has log q = log N(z) - logdet_rev.

One MetaBlock, data -> latent:
  1. put the tokens (B, T, c) in the block's order (its ``TokenPermutation``) together with the
     learned position table, so a position embedding stays tied to its coordinate/atom;
  2. h = proj_in(x) + positions, then causal pre-norm transformer layers (toolkit parts);
  3. (a, b) = proj_out(h) shifted by one token: token t is transformed by what tokens 0..t-1 say,
     token 0 passes through unchanged (a = b = 0);
  4. z_t = (x_t - b_t) exp(-a_t); the Jacobian is triangular, so log|det| = -sum a exactly.
Reverse inverts token by token with a KV cache: x_{t+1} = z_{t+1} exp(a_{t+1}) + b_{t+1}, where
(a, b) come from the already inverted x_0..x_t.

``proj_out`` starts with zero weights (its bias keeps PyTorch's init), so an untrained block is a
constant affine map. Module names follow the published state dict (spec 5.3) where the toolkit
allows; ``baselines/tarflow/published.py`` maps the rest.

Seams for the transferable models (baselines/prose extends this core; forward and reverse are shared):
``forward``/``reverse`` take an optional per-batch ``context`` (None here) that only the seams read.
``order(context)`` is the call's ``TokenPermutation`` (Prose: per-peptide atom orderings);
``token_inputs(order, context)`` is what the layers read per token besides x, in block order, and
``window(inputs, t)`` its slice for one reverse step (here: the position table; Prose: sinusoidal
positions, block conditioning, padding mask); ``embed`` is where inputs enter, ``trunk`` runs the
layers (Prose: adaptive norms, padding masks) and ``masked`` zeroes the shifted outputs of padding
tokens (here: nothing to zero). Neither conditioning nor masks are built here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from baselines.toolkit.nn import KVCache, LearnedPositions, TransformerBlock

LOG_2PI = math.log(2 * math.pi)


def normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over every dimension but the first (the batch)."""
    return -0.5 * (z.pow(2) + LOG_2PI).flatten(1).sum(1)


class TokenPermutation:
    """The order in which a block reads its tokens. ``apply`` puts tokens (along ``dim``) into the block's
    order, ``invert`` puts them back; ``invert(apply(x)) == x``."""

    def apply(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        raise NotImplementedError

    def invert(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        raise NotImplementedError


class Identity(TokenPermutation):
    def apply(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        return x

    def invert(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        return x


class Reversal(TokenPermutation):
    def apply(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        return x.flip(dim)

    def invert(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        return x.flip(dim)


def alternating(index: int) -> TokenPermutation:
    """The single-system schedule: identity for even blocks, reversal for odd ones."""
    return Identity() if index % 2 == 0 else Reversal()


def shift_right(o: torch.Tensor) -> torch.Tensor:
    """(B, T, k) -> output of position t-1 at position t, zeros at position 0 (the one-token shift)."""
    return torch.cat([torch.zeros_like(o[:, :1]), o[:, :-1]], dim=1)


class MetaBlock(nn.Module):
    """One autoregressive affine block over ``tokens`` tokens of ``in_channels`` features each."""

    def __init__(self, in_channels: int, channels: int, tokens: int, permutation: TokenPermutation | None, layers: int,
                 head_dim: int = 64, expansion: int = 4, dropout: float = 0.0,
                 make_layer: Callable[[], nn.Module] | None = None, pos_embed: nn.Module | None = None):
        """``make_layer`` and ``pos_embed`` replace the single-system layer and learned position table
        (a transferable block's seam); ``permutation`` None: the order comes from each call's context."""
        super().__init__()
        if channels % head_dim:
            raise ValueError(f"channels ({channels}) must be a multiple of head_dim ({head_dim})")
        self.in_channels, self.tokens, self.permutation = in_channels, tokens, permutation
        self.heads, self.head_dim = channels // head_dim, head_dim
        self.proj_in = nn.Linear(in_channels, channels)
        self.pos_embed = pos_embed if pos_embed is not None else LearnedPositions(tokens, channels, init_std=0.01)
        if make_layer is None:
            def make_layer() -> nn.Module:
                return TransformerBlock(channels, self.heads, head_dim, expansion, dropout, norm="layer", mlp="gelu",
                                        causal=True, qkv_bias=True, out_bias=True)
        self.attn_blocks = nn.ModuleList(make_layer() for _ in range(layers))
        self.proj_out = nn.Linear(channels, 2 * in_channels)
        nn.init.zeros_(self.proj_out.weight)

    # --- the parts a transferable block overrides -------------------------------------------------
    def order(self, context: object = None) -> TokenPermutation:
        """The token order of one call: the block's fixed permutation (the context is a transferable block's)."""
        return self.permutation

    def token_inputs(self, order: TokenPermutation, context: object = None) -> torch.Tensor:
        """What the layers read per token besides x, in block order: here the position table (T, C)."""
        return self.positions()

    def window(self, inputs: torch.Tensor, t: int) -> torch.Tensor:
        """``token_inputs`` of token t alone (one step of the reverse pass)."""
        return inputs[t : t + 1]

    def masked(self, o: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Shifted outputs (B, T, c) with padding tokens zeroed: a single system has no padding."""
        return o

    def positions(self) -> torch.Tensor:
        """(T, C) position embeddings in the block's token order."""
        return self.permutation.apply(self.pos_embed.weight, dim=0)

    def embed(self, x: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Transformer input (B, S, C) of tokens x (B, S, c) with their token inputs (here positions (S, C))."""
        return self.proj_in(x) + inputs

    def trunk(self, h: torch.Tensor, cache: KVCache | None = None, inputs: object = None) -> torch.Tensor:
        """The causal layers; with a cache, h holds the next positions and the cache is advanced.
        (``inputs``, the token inputs, matter only to a conditioned trunk.)"""
        for i, layer in enumerate(self.attn_blocks):
            h = layer(h, cache, i)
        if cache is not None:
            cache.advance(h.shape[1])
        return h

    def affine(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-scale a and shift b (B, S, c) from transformer output (B, S, C)."""
        a, b = self.proj_out(h).chunk(2, dim=-1)
        return a, b

    # --- the two directions ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor, context: object = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Data tokens (B, T, c) -> latent tokens (B, T, c) and log|det dz/dx| (B,)."""
        order = self.order(context)
        xp = order.apply(x)
        inputs = self.token_inputs(order, context)
        h = self.trunk(self.embed(xp, inputs), inputs=inputs)
        a, b = (self.masked(shift_right(o), inputs) for o in self.affine(h))
        z = (xp - b) * torch.exp(-a)
        return order.invert(z), -a.flatten(1).sum(1)

    def new_cache(self, batch: int, like: torch.Tensor) -> KVCache:
        return KVCache(len(self.attn_blocks), batch, self.heads, self.tokens, self.head_dim, like.device, like.dtype)

    def reverse(self, z: torch.Tensor, context: object = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent tokens (B, T, c) -> data tokens and log|det dx/dz| (B,), one token at a time (KV cache)."""
        order = self.order(context)
        zp = order.apply(z)
        inputs = self.token_inputs(order, context)
        cache = self.new_cache(zp.shape[0], zp)
        xs = [zp[:, 0]]
        logdet = zp.new_zeros(zp.shape[0])
        for t in range(zp.shape[1] - 1):
            step = self.window(inputs, t)
            a, b = self.affine(self.trunk(self.embed(xs[t][:, None], step), cache, inputs=step))
            xs.append(zp[:, t + 1] * torch.exp(a[:, 0]) + b[:, 0])
            logdet = logdet + a.flatten(1).sum(1)
        return order.invert(torch.stack(xs, dim=1)), logdet


class BlockStack(nn.Module):
    """A stack of MetaBlocks (``self.blocks``); ``blocks[0]`` acts first in the data -> latent direction.
    The per-call ``context`` (None for a single system) is handed to every block."""

    blocks: nn.ModuleList

    def run_forward(self, h: torch.Tensor, context: object = None) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = h.new_zeros(h.shape[0])
        for block in self.blocks:
            h, ld = block(h, context)
            logdet = logdet + ld
        return h, logdet

    def run_reverse(self, h: torch.Tensor, context: object = None) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = h.new_zeros(h.shape[0])
        for block in reversed(self.blocks):
            h, ld = block.reverse(h, context)
            logdet = logdet + ld
        return h, logdet


class TarFlowNet(BlockStack):
    """The single-system TarFlow over flat standardized coordinates (B, 3N), atom-major (x1, y1, z1, x2, ...).

    ``in_channels`` is the number of features per token: 1 (a token per coordinate, ALDP) or 3 (a
    token per atom). Block i reads the tokens in the order of ``permutations(i)`` (default: identity
    for even i, reversal for odd i); ``blocks[0]`` acts first in the data -> latent direction.
    """

    def __init__(self, n_atoms: int, in_channels: int = 3, channels: int = 256, blocks: int = 6,
                 layers_per_block: int = 6, head_dim: int = 64, expansion: int = 4, dropout: float = 0.0,
                 permutations=alternating):
        super().__init__()
        self.dim = 3 * n_atoms
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (a token per coordinate) or 3 (per atom), got {in_channels}")
        self.in_channels, self.tokens = in_channels, self.dim // in_channels
        self.blocks = nn.ModuleList(
            MetaBlock(in_channels, channels, self.tokens, permutations(i), layers_per_block, head_dim, expansion, dropout)
            for i in range(blocks)
        )

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], self.tokens, self.in_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 3N) -> z (B, 3N), log|det dz/dx| (B,)."""
        h, logdet = self.run_forward(self._tokens(x))
        return h.reshape(x.shape), logdet

    def reverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (B, 3N) -> x (B, 3N), log|det dx/dz| (B,)."""
        h, logdet = self.run_reverse(self._tokens(z))
        return h.reshape(z.shape), logdet

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log q(x) (B,) in standardized units: log N(z) + log|det dz/dx|."""
        z, logdet = self(x)
        return normal_log_prob(z) + logdet

    def sample(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x = reverse(z) and its log q = log N(z) - log|det dx/dz| (B,), for prior draws z (B, 3N)."""
        x, logdet = self.reverse(z)
        return x, normal_log_prob(z) - logdet


def nll_per_dim(model: TarFlowNet, x: torch.Tensor) -> torch.Tensor:
    """The training loss (spec 4.1): -log q(x) / (3N), averaged over the batch."""
    return -model.log_prob(x).mean() / x.shape[1]


__all__ = ["BlockStack", "Identity", "MetaBlock", "Reversal", "TarFlowNet", "TokenPermutation", "alternating", "nll_per_dim",
           "normal_log_prob", "shift_right"]
