"""ROBIN configurations: the released model (paper tier) and a small one trained on the quick corpus.

ROBIN is ARBG's network with conditioning, so its config is ARBG's plus the padded capacity
``max_atoms`` and where the weights come from (``weights``: "published" loads the released
checkpoint through the weights store, "train" trains on the tier's corpus).

Paper tier (specs/autoregressive.md 2.1, 3.3, 3.4, 5.3, 6, 9.3): the configuration the released
checkpoint was evaluated with: 8192 bins over +-4.5 sigma with sigma = 0.35 nm, C 768, 16 layers,
12 heads x 64 (not the paper's 8, spec 10.1), SwiGLU x4, dropout 0.1, 178 atoms, T 0.95; training
as the launch script (Muon at the composed lr 5e-4, wd 0.01, batch 448, 10^6 steps, Haar rotations,
no CoM noise). Training it is for a GPU cluster; by default the paper tier loads the release.

Quick tier: bgbench's own small model trained on the quick corpus in minutes on 2 CPU cores. It
checks the code path (conditioning, padding, twisted SMC); it says nothing about ROBIN's quality.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from baselines.arbg.config import ARBGConfig

#: The published transferable standardization scale (spec 1.2: ``precomputed_std`` of up_to_8aa).
PUBLISHED_SIGMA_NM = 0.35


@dataclass(frozen=True)
class RobinConfig(ARBGConfig):
    max_atoms: int = 178  # padded capacity: 3 x max_atoms token positions
    weights: Literal["train", "published"] = "train"


PAPER_CONFIG = RobinConfig(
    num_bins=8192, bin_lo=-4.5, bin_hi=4.5, temperature=0.95, channels=768, layers=16, heads=12, head_dim=64,
    expansion=4, dropout=0.1, max_atoms=178, optimizer="muon", lr=5e-4, weight_decay=0.01, adamw_lr_ratio=0.1,
    batch_size=448, epochs=None, steps=1_000_000, pose="haar", com_augmentation=False, sample_batch_size=1000,
    weights="published",
)

QUICK_CONFIG = replace(
    PAPER_CONFIG, num_bins=512, temperature=1.0, channels=64, layers=2, heads=4, head_dim=16, dropout=0.0,
    max_atoms=178, optimizer="adamw", lr=3e-3, batch_size=16, steps=1000, sample_batch_size=2000,
    checkpoint_every=100, weights="train",
)


def default_config(tier: str) -> RobinConfig:
    """One model serves every transferable task of a tier (the released model covers 2AA to 8AA)."""
    return PAPER_CONFIG if tier == "paper" else QUICK_CONFIG


__all__ = ["PAPER_CONFIG", "PUBLISHED_SIGMA_NM", "QUICK_CONFIG", "RobinConfig", "default_config"]
