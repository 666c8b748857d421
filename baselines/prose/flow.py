"""The transferable flows: Prose and the transferable TarFlow (specs/flows-and-protocol.md 4.3-4.5).

Both are the TarFlow core of ``baselines/tarflow/flow.py`` (MetaBlock's forward and reverse, the
one-token shift, exact log-dets, KV-cache reverse) with its seams filled for peptides of any
length. What a call carries is a ``PeptideContext``: the per-atom conditioning ``c`` of the
ConditionalEmbedder (spec 4.3.1, computed once per call from the encodings of spec 4.5), the
padding mask and each block's atom ordering (spec 4.4) per row. Per block:

* ``order``: the row's permutation for the block's key (padding tokens stay at the end);
* ``token_inputs``: positions = fixed sinusoid of the *permuted* position x a learned scale
  (``pos_embed_scale``); block conditioning ``proj_cond`` of c in block order, with look-ahead
  (token i reads [c_i, c_{i+1}]) for Prose; the permuted mask;
* ``trunk``: transferable TarFlow adds the conditioning before every layer (``AdditiveLayer``);
  Prose wraps attention and a SwiGLU transition in adaptive LayerNorm and sigmoid output gates
  (``ProseLayer``); padding queries are masked so real tokens never read padding;
* ``masked``: the shifted (a, b) of padding tokens are zero, so padding passes through unchanged
  and adds nothing to the log-det.

The prior is a standard normal over the real coordinates only (``masked_normal_log_prob``), so a
padded batch has the same log q on each row as the unpadded peptide. Generation is per peptide
without padding (``reverse`` refuses a padded context).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from baselines.tarflow.flow import LOG_2PI, BlockStack, MetaBlock, TokenPermutation
from baselines.toolkit.coordinates import pad_permutation
from baselines.toolkit.nn import (
    PROSE_EMBEDDER, AdaLN, ConditionalEmbedder, FusedSwiGLU, KVCache, OutputGate, SinusoidalPositions,
    TransformerBlock,
)

#: Block orderings of the published models (spec 4.3 table); block i uses key i mod len.
PROSE_ORDERS = (
    "n2c_backbone-first_standard", "n2c_residue-by-residue_standard_flip", "n2c_backbone-first_standard_flip",
    "n2c_residue-by-residue_standard", "n2c_backbone-first_variant", "n2c_residue-by-residue_variant_flip",
    "n2c_backbone-first_variant_flip", "n2c_residue-by-residue_variant",
)
TARFLOW_ORDERS = ("n2c_residue-by-residue_standard", "n2c_residue-by-residue_standard_flip")
POSITION_TABLE = 512  # rows of the fixed sinusoidal position table (positions 0..511)
POSITION_BASE = 10000.0


def _masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return x if mask is None else x * mask[..., None].to(x.dtype)


class GatherPermutation(TokenPermutation):
    """Per-row orderings: ``index`` (B, L) or (1, L), token k of row b is atom ``index[b, k]``."""

    def __init__(self, index: torch.Tensor):
        self.index = index
        self.inverse = torch.argsort(index, dim=-1)

    @staticmethod
    def _gather(x: torch.Tensor, index: torch.Tensor, dim: int) -> torch.Tensor:
        if dim != 1:
            raise ValueError("per-row orderings act on dim 1 (tokens) only")
        idx = index.reshape(*index.shape, *([1] * (x.dim() - 2)))
        return x.gather(1, idx.expand(max(x.shape[0], index.shape[0]), *x.shape[1:]))

    def apply(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        return self._gather(x, self.index, dim)

    def invert(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        return self._gather(x, self.inverse, dim)


@dataclass
class PeptideContext:
    """What one call of a transferable flow conditions on (rows = conformations, L tokens each).

    ``cond`` (B or 1, L, C): per-atom conditioning from the embedder, zero on padding; ``mask``
    (B, L) True on real atoms, or None when no row is padded; ``orders``: ordering key -> (B or 1, L)
    long index vectors (padding tokens at the end, mapping to themselves).
    """

    cond: torch.Tensor
    mask: torch.Tensor | None
    orders: dict[str, torch.Tensor]


def padded_orders(orderings: Sequence[Mapping[str, np.ndarray]], keys: Sequence[str], length: int,
                  device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
    """(B, length) index tensors of ``keys`` from each row's orderings (``System.orderings``), padded (spec 4.4)."""
    return {k: torch.as_tensor(np.stack([pad_permutation(o[k], length) for o in orderings]), device=device)
            for k in keys}


@dataclass
class TokenInputs:
    """A block's per-token inputs in its order: positions (L, C), block conditioning (B, L, C), mask (B, L)."""

    pos: torch.Tensor
    cond: torch.Tensor
    mask: torch.Tensor | None


class AdditiveLayer(TransformerBlock):
    """Transferable TarFlow layer: h + c, masked, then the pre-norm attention/GELU-MLP block, masked."""

    def forward(self, h: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None,  # type: ignore[override]
                cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        h = _masked(h + cond, mask)
        return _masked(super().forward(h, cache, layer, query_mask=mask), mask)


class AdaptiveSublayer(nn.Module):
    """h + g(c) * inner(AdaLN(h, c)), masked (spec 4.3.2); ``inner`` a SwiGLU transition here."""

    def __init__(self, channels: int, inner: nn.Module):
        super().__init__()
        self.adaln = AdaLN(channels)
        self.inner = inner
        self.scale_output = OutputGate(channels)

    def run_inner(self, u: torch.Tensor, mask: torch.Tensor | None, cache: KVCache | None, layer: int) -> torch.Tensor:
        return self.inner(u)

    def forward(self, h: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None,
                cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        u = self.run_inner(self.adaln(h, cond, mask), mask, cache, layer)
        return _masked(h + self.scale_output(u, cond, mask), mask)


class AdaptiveAttention(AdaptiveSublayer):
    """The attention sub-layer: inner = pre-norm attention + GELU MLP block without conditioning, masked."""

    def run_inner(self, u: torch.Tensor, mask: torch.Tensor | None, cache: KVCache | None, layer: int) -> torch.Tensor:
        return _masked(self.inner(u, cache, layer, query_mask=mask), mask)


class ProseLayer(nn.Module):
    """Prose's ``AdaptiveAttnAndTransition``: gated adaptive attention, then a gated adaptive SwiGLU transition."""

    def __init__(self, channels: int, heads: int, head_dim: int, expansion: int = 4, dropout: float = 0.0):
        super().__init__()
        self.mha = AdaptiveAttention(channels, _attention_block(channels, heads, head_dim, expansion, dropout))
        self.transition = AdaptiveSublayer(channels, FusedSwiGLU(channels, expansion))

    def forward(self, h: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None,
                cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        return self.transition(self.mha(h, cond, mask, cache, layer), cond, mask)


def _attention_block(channels: int, heads: int, head_dim: int, expansion: int, dropout: float,
                     cls: type[TransformerBlock] = TransformerBlock) -> TransformerBlock:
    """The transferable attention block: float32 LayerNorms, biases, full-width q/k LayerNorm, GELU MLP."""
    return cls(channels, heads, head_dim, expansion, dropout, norm="layer", mlp="gelu", causal=True, qkv_bias=True,
               out_bias=True, qk_norm="layer")


class ConditionedMetaBlock(MetaBlock):
    """A MetaBlock whose order, positions, conditioning and padding come from the call's ``PeptideContext``.

    ``adaptive``: Prose layers (else transferable TarFlow's additive ones); ``lookahead``: token i's
    block conditioning reads [c_i, c_{i+1}] through Linear(2C, C) -> GELU -> Linear(C, C) (else one
    Linear(C, C)). ``max_tokens`` is the padded capacity (published: 178).
    """

    def __init__(self, order_key: str, channels: int, max_tokens: int, layers: int, head_dim: int = 64,
                 expansion: int = 4, dropout: float = 0.0, adaptive: bool = True, lookahead: bool = True):
        heads = channels // head_dim
        if adaptive:
            def make_layer() -> nn.Module:
                return ProseLayer(channels, heads, head_dim, expansion, dropout)
        else:
            def make_layer() -> nn.Module:
                return _attention_block(channels, heads, head_dim, expansion, dropout, AdditiveLayer)
        if max_tokens > POSITION_TABLE:
            raise ValueError(f"max_tokens {max_tokens} exceeds the {POSITION_TABLE}-row position table")
        super().__init__(3, channels, max_tokens, None, layers, head_dim, expansion, dropout, make_layer=make_layer,
                         pos_embed=SinusoidalPositions(POSITION_TABLE, channels, POSITION_BASE, learnable_scale=0.01))
        self.order_key, self.lookahead = order_key, lookahead
        self.proj_cond: nn.Module = (nn.Sequential(nn.Linear(2 * channels, channels), nn.GELU(), nn.Linear(channels, channels))
                                     if lookahead else nn.Linear(channels, channels))

    def order(self, context: PeptideContext) -> TokenPermutation:  # type: ignore[override]
        return GatherPermutation(context.orders[self.order_key])

    def token_inputs(self, order: TokenPermutation, context: PeptideContext) -> TokenInputs:  # type: ignore[override]
        c = order.apply(context.cond)
        if self.lookahead:
            c = torch.cat([c, torch.cat([c[:, 1:], torch.zeros_like(c[:, :1])], dim=1)], dim=-1)
        length = c.shape[1]
        if length > self.tokens:
            raise ValueError(f"{length} tokens exceed the model's capacity of {self.tokens}")
        mask = None if context.mask is None else order.apply(context.mask)
        return TokenInputs(self.pos_embed(torch.arange(length, device=c.device)), self.proj_cond(c), mask)

    def window(self, inputs: TokenInputs, t: int) -> TokenInputs:  # type: ignore[override]
        return TokenInputs(inputs.pos[t : t + 1], inputs.cond[:, t : t + 1], None)

    def masked(self, o: torch.Tensor, inputs: TokenInputs) -> torch.Tensor:  # type: ignore[override]
        return _masked(o, inputs.mask)

    def embed(self, x: torch.Tensor, inputs: TokenInputs) -> torch.Tensor:  # type: ignore[override]
        return self.proj_in(x) + inputs.pos

    def trunk(self, h: torch.Tensor, cache: KVCache | None = None, inputs: TokenInputs | None = None) -> torch.Tensor:  # type: ignore[override]
        assert inputs is not None
        for i, layer in enumerate(self.attn_blocks):
            h = layer(h, inputs.cond, inputs.mask, cache, i)
        if cache is not None:
            cache.advance(h.shape[1])
        return h

    def reverse(self, z: torch.Tensor, context: PeptideContext) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        if context.mask is not None and not bool(context.mask.all()):
            raise ValueError("generation is per peptide without padding (spec 4.1); the context is padded")
        return super().reverse(z, PeptideContext(context.cond, None, context.orders))


def masked_normal_log_prob(z: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """log N(z; 0, I) over the real atoms of each row: z (B, L, 3), mask (B, L) or None."""
    terms = -0.5 * (z.pow(2) + LOG_2PI)
    return _masked(terms, mask).flatten(1).sum(1)


class TransferableFlow(BlockStack):
    """Prose (``adaptive=True, lookahead=True``) or the transferable TarFlow (both False) over (B, L, 3) atoms.

    Published shapes (spec 4.3, 4.7): C 384, 8 blocks x 8 layers, head_dim 64, 178 tokens; Prose has
    288 117 560 parameters, the transferable TarFlow 115 689 272.
    """

    def __init__(self, channels: int = 384, blocks: int = 8, layers_per_block: int = 8, head_dim: int = 64,
                 expansion: int = 4, dropout: float = 0.0, max_tokens: int = 178, adaptive: bool = True,
                 lookahead: bool = True, orders: Sequence[str] = PROSE_ORDERS):
        super().__init__()
        if channels % head_dim:
            raise ValueError(f"channels ({channels}) must be a multiple of head_dim ({head_dim})")
        self.max_tokens = max_tokens
        self.order_keys = tuple(orders[i % len(orders)] for i in range(blocks))
        self.cond_embed = ConditionalEmbedder(channels, **PROSE_EMBEDDER)
        self.blocks = nn.ModuleList(
            ConditionedMetaBlock(key, channels, max_tokens, layers_per_block, head_dim, expansion, dropout, adaptive,
                                 lookahead)
            for key in self.order_keys
        )

    def context(self, encodings: Mapping[str, torch.Tensor], orderings: Sequence[Mapping[str, np.ndarray]],
                mask: torch.Tensor | None = None) -> PeptideContext:
        """The context of a batch: padded encodings (B, L) (``pad_encodings``), each row's orderings, mask (B, L)."""
        length = encodings["atom_type"].shape[1]
        if length > self.max_tokens:
            raise ValueError(f"{length} atoms exceed the model's capacity of {self.max_tokens} tokens")
        device = encodings["atom_type"].device
        cond = self.cond_embed(encodings, mask)
        if mask is not None and bool(mask.all()):
            mask = None
        return PeptideContext(cond, mask, padded_orders(orderings, sorted(set(self.order_keys)), length, device))

    def forward(self, x: torch.Tensor, context: PeptideContext) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, L, 3) -> z (B, L, 3), log|det dz/dx| (B,); padding rows of x must be zero and stay zero."""
        return self.run_forward(x, context)

    def reverse(self, z: torch.Tensor, context: PeptideContext) -> tuple[torch.Tensor, torch.Tensor]:
        """z (B, N, 3) -> x (B, N, 3), log|det dx/dz| (B,) for one unpadded peptide (context of one row)."""
        return self.run_reverse(z, context)

    def log_prob(self, x: torch.Tensor, context: PeptideContext) -> torch.Tensor:
        """log q(x) (B,) in standardized units over the real atoms."""
        z, logdet = self(x, context)
        return masked_normal_log_prob(z, context.mask) + logdet

    def sample(self, z: torch.Tensor, context: PeptideContext) -> tuple[torch.Tensor, torch.Tensor]:
        """x = reverse(z) and log q = log N(z) - log|det dx/dz| (B,)."""
        x, logdet = self.reverse(z, context)
        return x, masked_normal_log_prob(z, None) - logdet


def padded_nll(net: TransferableFlow, x: torch.Tensor, context: PeptideContext) -> torch.Tensor:
    """The training loss (spec 4.1): -log q(x) / (3 N_real) per row, averaged over the batch."""
    n_real = (torch.full(x.shape[:1], x.shape[1], device=x.device) if context.mask is None
              else context.mask.sum(1))
    return (-net.log_prob(x, context) / (3 * n_real.to(x.dtype))).mean()


class PeptideFlow(nn.Module):
    """One peptide's density from the shared network: flat (B, 3N) standardized coordinates in topology
    order, the interface of the single-system ``TarFlowNet`` (``dim``, ``sample``, ``log_prob``), so
    the TarFlow method's sampling code serves every peptide.

    The conditioning is computed once and cached in eval mode; in train mode (fine-tuning) it is
    recomputed every call so the embedder learns too. Switching mode drops the cache.
    """

    def __init__(self, net: TransferableFlow, encodings: Mapping[str, torch.Tensor],
                 orderings: Mapping[str, np.ndarray], n_atoms: int):
        super().__init__()
        self.net, self.encodings, self.orderings = net, dict(encodings), orderings
        self.n_atoms, self.dim = n_atoms, 3 * n_atoms
        self._cached: PeptideContext | None = None

    def train(self, mode: bool = True) -> "PeptideFlow":
        self._cached = None
        return super().train(mode)

    @property
    def context(self) -> PeptideContext:
        if self.training:
            return self.net.context(self.encodings, [self.orderings])
        if self._cached is None:
            with torch.no_grad():
                self._cached = self.net.context(self.encodings, [self.orderings])
        return self._cached

    def sample(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, lq = self.net.sample(z.reshape(-1, self.n_atoms, 3), self.context)
        return x.flatten(1), lq

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.log_prob(x.reshape(-1, self.n_atoms, 3), self.context)


__all__ = ["AdaptiveAttention", "AdaptiveSublayer", "AdditiveLayer", "ConditionedMetaBlock", "GatherPermutation",
           "PROSE_ORDERS", "PeptideContext", "PeptideFlow", "ProseLayer", "TARFLOW_ORDERS", "TokenInputs",
           "TransferableFlow", "masked_normal_log_prob", "padded_nll", "padded_orders"]
