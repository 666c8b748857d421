"""Helpers of the Prose tests: tiny networks on real peptides (their encodings and orderings)."""

from __future__ import annotations

import torch

from baselines.prose.flow import PROSE_ORDERS, TARFLOW_ORDERS, TransferableFlow
from baselines.toolkit.coordinates import pad_encodings
from benchmark.data.corpus import corpus_spec
from benchmark.systems.encodings import atom_encodings


def tiny(architecture: str = "prose", max_tokens: int = 178, blocks: int = 3, seed: int = 0) -> TransferableFlow:
    """A small network with non-zero outputs everywhere (proj_out and gates start at zero weight)."""
    torch.manual_seed(seed)
    prose = architecture == "prose"
    net = TransferableFlow(32, blocks, 2, 16, max_tokens=max_tokens, adaptive=prose, lookahead=prose,
                           orders=PROSE_ORDERS if prose else TARFLOW_ORDERS)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "proj_out.weight" in name or "to_adaln_zero_gamma.0.weight" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.03)
            if name.endswith("pos_embed.scale"):
                p.fill_(0.5)
    return net.double().eval()


def peptides(*sequences: str):
    """Built zwitterionic systems of ``sequences``."""
    return [corpus_spec(s).build() for s in sequences]


def batch_inputs(systems, length: int | None = None):
    """Padded encodings (B, L), orderings and mask of one row per system."""
    encs = [atom_encodings(s) for s in systems]
    length = length or max(e.n_atoms for e in encs)
    enc = pad_encodings(encs, length)
    mask = torch.zeros(len(systems), length, dtype=torch.bool)
    for i, e in enumerate(encs):
        mask[i, : e.n_atoms] = True
    return enc, [s.orderings for s in systems], mask
