"""Prose and transferable TarFlow configurations: the published models (paper tier) and small quick ones.

Paper tier (specs/flows-and-protocol.md 4.3, 4.7, 4.10): C 384, 8 blocks x 8 layers, head_dim 64,
178 tokens; Prose 288 117 560 parameters ("285 M"), transferable TarFlow 115 689 272; AdamW lr 1e-4,
betas (0.9, 0.95), weight decay 4e-4, batch 512, 500 000 steps, one-cycle (5 % warm-up, div 500),
clipping 1.0, EMA 0.999; augmentation: standardize (0.35 nm), Haar rotation, CoM noise. Training
that is for a GPU cluster: by default the paper tier loads the published weights.

Quick tier: bgbench's own small models (C 32, 4 blocks x 1 layer, batch 16, 300 steps: about 150 k
parameters and ~10 minutes for Prose on a shared 2-core machine, ~1.7 s a step) on the quick corpus. They
check the code path (conditioning, padding, orderings, exact log q, the samplers); they say nothing
about Prose's quality, and the quick corpus is far too small for any transferable model to learn
peptides it has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from baselines.tarflow.config import TarFlowConfig


@dataclass(frozen=True)
class ProseConfig(TarFlowConfig):
    """TarFlow's fields plus the transferable ones: ``architecture`` "prose" (adaptive LayerNorm, gates,
    SwiGLU transitions, look-ahead conditioning, eight orderings) or "tarflow" (additive conditioning,
    two alternating orderings); ``max_tokens`` the padded capacity (published 178)."""

    architecture: Literal["prose", "tarflow"] = "prose"
    max_tokens: int = 178


PAPER_CONFIGS: dict[str, ProseConfig] = {
    "prose": ProseConfig(channels=384, blocks=8, layers_per_block=8, head_dim=64, optimizer="adamw", lr=1e-4,
                         weight_decay=4e-4, betas=(0.9, 0.95), batch_size=512, epochs=None, steps=500_000,
                         warmup_fraction=0.05, grad_clip=1.0, ema_decay=0.999, weights="published",
                         sample_batch_size=512),
}
PAPER_CONFIGS["tarflow-transferable"] = replace(PAPER_CONFIGS["prose"], architecture="tarflow", sample_batch_size=5000)

QUICK_CONFIGS: dict[str, ProseConfig] = {
    name: replace(cfg, channels=32, blocks=4, layers_per_block=1, head_dim=16, lr=2e-3, batch_size=16, steps=300,
                  ema_decay=0.98, checkpoint_every=50, weights="trained", sample_batch_size=1000)
    for name, cfg in PAPER_CONFIGS.items()
}


def default_config(method: str, tier: str) -> ProseConfig:
    """One model serves every transferable task of a tier (the published ones cover 2 to 8 residues)."""
    return (PAPER_CONFIGS if tier == "paper" else QUICK_CONFIGS)[method]


__all__ = ["PAPER_CONFIGS", "QUICK_CONFIGS", "ProseConfig", "default_config"]
