"""Published single-system TarFlow checkpoints (specs/flows-and-protocol.md 5.3) loaded into ``TarFlowNet``.

The files ``single_system/tarflow_{SEQ}_{seed}.pth`` of the hub repository
``transferable-samplers/model-weights`` are plain state dicts of the Lightning module, so every key
starts with ``net.``. Per block ``blocks.{b}``: ``pos_embed`` (T, C), ``attn_mask`` (T, T) (float
lower-triangular ones), ``proj_in``, ``attn_blocks.{l}.attention.{norm, qkv, proj}``,
``attn_blocks.{l}.mlp.{norm, main.0, main.3}`` and ``proj_out``. bgbench builds the same blocks from
toolkit parts, whose names differ only where the renames below say; the causal mask is computed,
not stored, so the published one is checked (it must be the causal mask) and then dropped.

Loading is strict: a key without the ``net.`` prefix, a missing or unused key, or a shape mismatch
is a WeightsError. What is not checked here (spec 7): that the published model's atom order is the
bgbench topology order of the system, and the standardization scale, which the published files do
not hold (the method computes it from the training split, as the reference does).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from baselines.tarflow.flow import BlockStack
from benchmark.weights import Layout, WeightsError, load_into, load_state_dict

PREFIX = "net."
MASK_KEY = re.compile(r"blocks\.\d+\.attn_mask")

LAYOUT = Layout(
    name="tarflow single-system (flows-and-protocol.md 5.3)",
    strip_prefix=PREFIX,
    renames=(
        (r"^(blocks\.\d+)\.pos_embed$", r"\1.pos_embed.weight"),
        (r"\.attention\.norm\.", ".norm1."),
        (r"\.attention\.qkv\.", ".attn.qkv."),
        (r"\.attention\.proj\.", ".attn.out_proj."),
        (r"\.mlp\.norm\.", ".norm2."),
        (r"\.mlp\.main\.", ".ff.main."),
    ),
    drop=(MASK_KEY.pattern,),
)


def published_name(sequence: str, seed: int) -> str:
    """bgbench's name of a published checkpoint (its file stem), e.g. ``tarflow_AAA_0``."""
    return f"tarflow_{sequence}_{int(seed)}"


def load_published_state(net: BlockStack, state: dict[str, torch.Tensor], layout: Layout = LAYOUT) -> None:
    """Load a published state dict into ``net`` strictly (WeightsError on any mismatch). Every block's
    stored ``attn_mask`` must be the causal mask of the model's token count (for the transferable
    models, their padded capacity). Shared by every TarFlow-family layout (baselines/prose)."""
    foreign = sorted(k for k in state if not k.startswith(PREFIX))
    if foreign:
        raise WeightsError(f"Published TarFlow keys must all start with {PREFIX!r}; found {foreign[:5]}"
                           f"{' ...' if len(foreign) > 5 else ''} (is this a file of the {layout.name}?).")
    masks = {k: v for k, v in state.items() if MASK_KEY.fullmatch(k[len(PREFIX):])}
    if len(masks) != len(net.blocks):
        raise WeightsError(f"Expected one {PREFIX}blocks.<b>.attn_mask per block ({len(net.blocks)}), found {len(masks)}.")
    tokens = net.blocks[0].tokens
    causal = torch.ones(tokens, tokens).tril()
    for key, mask in masks.items():
        if tuple(mask.shape) != tuple(causal.shape) or not torch.equal(mask.float(), causal):
            raise WeightsError(f"{key} is not the causal mask of {tokens} tokens that this model computes "
                               f"(shape {tuple(mask.shape)}).")
    load_into(net, state, layout)


def load_published_file(net: BlockStack, path: Path, layout: Layout = LAYOUT) -> None:
    """Read a published ``.pth`` without unpickling code (benchmark.weights.safe_load) and load it."""
    load_published_state(net, load_state_dict(path, container_key=None), layout)


__all__ = ["LAYOUT", "PREFIX", "load_published_file", "load_published_state", "published_name"]
