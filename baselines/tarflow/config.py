"""TarFlow configurations: the five published single-system models (paper tier) and small quick ones.

Paper tier (specs/flows-and-protocol.md 4.2, 4.6, 4.7, 4.10), as in the reference configs:

    task       sequence      tokens            channels  heads  blocks x layers  parameters
    ALDP       Ace-A-Nme     66 (per coord.)   256       4      4 x 4            12 707 848
    AL3        AAA           33 (per atom)     256       4      6 x 6            28 497 444
    AL4        Ace-AAA-Nme   42                256       4      6 x 6            28 511 268
    AL6        AAAAAA        63                384       6      6 x 6            64 048 932
    CHIGNOLIN  GYDPETGTWG    138               384       6      8 x 8           114 020 400

head_dim 64, MLP expansion 4, dropout 0; AdamW lr 1e-4, betas (0.9, 0.95), weight decay 4e-4,
batch 512, 1000 epochs, one-cycle schedule (5 % warm-up, div 500), gradient clipping 1.0, EMA
0.999; augmentation: standardize, Haar rotation, CoM noise N(0, I/N). (ARBG's Table A.4 lists AL4
with 384 channels and 64 M parameters; the reference config, which spec 4.7 instantiated, has 256.)

Quick tier: bgbench's own small models, sized so that training plus a quick-tier evaluation of
ALDP or AL3 fits about 15 minutes on 2 shared CPU cores (measurements in the comment above
``_QUICK_BASE``). Same tokenization, augmentation and optimizer as the paper; fewer, narrower blocks, a
larger learning rate and a shorter EMA, because a few thousand steps are all the time allows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from baselines.toolkit.config import TrainingConfig
from benchmark.config import preset


@dataclass(frozen=True)
class TarFlowConfig(TrainingConfig):
    """Network, augmentation and sampling of a single-system TarFlow (training fields: TrainingConfig).

    ``tokens``: "coordinate" (one token per x, y or z; ALDP) or "atom" (one token of 3 features).
    ``weights``: "trained" (train here, or load from the weights store) or "published" (load
    ``tarflow_{SEQ}_{seed}.pth`` of the run's seed from the weights store; ``bgbench weights import``).
    """

    tokens: Literal["coordinate", "atom"] = "atom"
    channels: int = 256
    blocks: int = 6
    layers_per_block: int = 6
    head_dim: int = 64
    expansion: int = 4
    dropout: float = 0.0
    rotate: bool = True
    com_augmentation: bool = True
    weights: Literal["trained", "published"] = "trained"
    sample_batch_size: int = 2048

    SAMPLING_ONLY: ClassVar[frozenset[str]] = TrainingConfig.SAMPLING_ONLY | frozenset({"sample_batch_size"})

    @property
    def in_channels(self) -> int:
        return 1 if self.tokens == "coordinate" else 3


_PAPER_BASE = TarFlowConfig(optimizer="adamw", lr=1e-4, weight_decay=4e-4, betas=(0.9, 0.95), batch_size=512,
                            epochs=1000, warmup_fraction=0.05, grad_clip=1.0, ema_decay=0.999)
PAPER_CONFIGS: dict[str, TarFlowConfig] = {
    "ALDP": replace(_PAPER_BASE, tokens="coordinate", channels=256, blocks=4, layers_per_block=4),
    "AL3": replace(_PAPER_BASE, channels=256, blocks=6, layers_per_block=6),
    "AL4": replace(_PAPER_BASE, channels=256, blocks=6, layers_per_block=6),
    "AL6": replace(_PAPER_BASE, channels=384, blocks=6, layers_per_block=6),
    "CHIGNOLIN": replace(_PAPER_BASE, channels=384, blocks=8, layers_per_block=8),
}

# Quick sizes, measured on the shared 2-core machine under a load of ~9 (tests/benchmarks/test_tarflow_sampling.py
# gives the same figures): ALDP (66 tokens) at 32 channels, 4 x 1 layers, batch 64 takes ~0.5 s per training step
# and samples ~150 conformations/s, so 800 steps plus a 10^4-proposal SNIS run and an SBG run fit ~12 minutes.
# The earlier 64-channel, 4 x 2, batch 256 size took ~7 s per step there. Quick models are code-path checks.
_QUICK_BASE = replace(_PAPER_BASE, channels=32, blocks=4, layers_per_block=1, head_dim=16, lr=1e-3, batch_size=64,
                      epochs=None, steps=800, ema_decay=0.99, checkpoint_every=100, sample_batch_size=2000)
QUICK_CONFIGS: dict[str, TarFlowConfig] = {
    "ALDP": replace(_QUICK_BASE, tokens="coordinate"),
    "AL3": _QUICK_BASE,
    "AL4": _QUICK_BASE,
    "AL6": _QUICK_BASE,
    "CHIGNOLIN": _QUICK_BASE,
}


def default_config(task_name: str, tier: str) -> TarFlowConfig:
    """The preset of (task, tier); tasks without one get the tier's base config (a token per atom)."""
    if tier == "paper":
        return preset(PAPER_CONFIGS, task_name, _PAPER_BASE)
    return preset(QUICK_CONFIGS, task_name, _QUICK_BASE)


__all__ = ["PAPER_CONFIGS", "QUICK_CONFIGS", "TarFlowConfig", "default_config"]
