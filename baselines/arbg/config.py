"""ARBG configurations: the published single-system settings (paper tier) and small quick ones.

Paper tier (specs/autoregressive.md 2.1, 3.3, 5, 6): the values in force in the reference
configs, not the paper's Table A.5 where they disagree (bins per the configs, range +-3 sigma,
Muon at the composed peak lr 5e-4 with AdamW ratio 0.1, wd 0.01, batch per system, 1000 epochs,
tuned sampling temperature per system, Haar rotations and CoM noise). Quick tier: bgbench's own
small models, sized so that training plus a 1e4-proposal SNIS fits about 15 minutes on 2 CPU
cores. The quick tier uses AdamW: in 50-step trials on ALDP it lowered the loss faster than Muon
at lr 0.01-0.03 (the reference configs also fall back to AdamW unless launched through the
script, spec 5.1).

Training pose (``pose``): "haar" rotates every training frame by a Haar-random rotation, as the
paper and its code do; "aligned" Kabsch-aligns the frames to the first one and does not rotate.
Aligned training learns a lower loss faster, but its proposal puts almost no mass on rotated
copies, so SNIS weights carry a per-conformation rotational-volume factor: the reweighted
ensemble is biased (spec 11). The record says which pose a model was trained with
(method diagnostics). "none" (centred only) exists for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from baselines.toolkit.config import TrainingConfig
from benchmark.config import preset


@dataclass(frozen=True)
class ARConfig(TrainingConfig):
    """What every head on ARBG's backbone shares: network, training data, sampling batch (heads.py)."""

    sample_batch_size: int = 2_000
    use_kv_cache: bool = True
    # network
    channels: int = 256
    layers: int = 8
    heads: int = 8
    head_dim: int = 32
    expansion: int = 4
    dropout: float = 0.0
    # training data (the shared optimizer/schedule fields come from TrainingConfig)
    pose: Literal["haar", "aligned", "none"] = "haar"
    com_augmentation: bool = True

    SAMPLING_ONLY: ClassVar[frozenset[str]] = TrainingConfig.SAMPLING_ONLY | frozenset(
        {"sample_batch_size", "use_kv_cache"}
    )


@dataclass(frozen=True)
class BinnedConfig(ARConfig):
    """The binning and de-quantization of a binned head (ARBG, the PixelCNN++ mixtures); binning.py."""

    num_bins: int = 4096
    bin_lo: float = -3.0
    bin_hi: float = 3.0
    bin_width: Literal["grid", "range"] = "grid"  # "grid": bins tile the box, exact density everywhere; "range": reference
    dequantization: Literal["uniform", "centre", "empirical"] = "uniform"  # only "uniform" gives an exact log q

    SAMPLING_ONLY: ClassVar[frozenset[str]] = ARConfig.SAMPLING_ONLY | frozenset({"dequantization", "bin_width"})


@dataclass(frozen=True)
class ARBGConfig(BinnedConfig):
    temperature: float = 1.0  # divides the bin logits when sampling and scoring

    SAMPLING_ONLY: ClassVar[frozenset[str]] = BinnedConfig.SAMPLING_ONLY | frozenset({"temperature"})


_PAPER_BASE = ARBGConfig(optimizer="muon", lr=5e-4, weight_decay=0.01, adamw_lr_ratio=0.1, batch_size=512, epochs=1000)
PAPER_CONFIGS: dict[str, ARBGConfig] = {
    "ALDP": replace(_PAPER_BASE, num_bins=4096, temperature=1.03, batch_size=512),
    "AL3": replace(_PAPER_BASE, num_bins=4096, temperature=0.99, batch_size=1024),
    "AL4": replace(_PAPER_BASE, num_bins=4096, temperature=1.02, batch_size=1024),
    "AL6": replace(_PAPER_BASE, num_bins=8192, temperature=0.98, batch_size=512),
    "CHIGNOLIN": replace(_PAPER_BASE, num_bins=8192, temperature=0.88, batch_size=512, channels=512, layers=12, heads=8,
                         head_dim=64),
}

_QUICK_BASE = ARBGConfig(
    num_bins=1024, channels=96, layers=3, heads=4, head_dim=24, optimizer="adamw", lr=3e-3, batch_size=64,
    epochs=None, steps=800, pose="haar", temperature=1.0, sample_batch_size=2_000, checkpoint_every=50,
)
# Steps sized to the 15-minute budget of a quick run on 2 idle cores: ALDP at 3000 steps took
# 8.7 min end to end; AL3 has 1.5x the tokens per conformation, hence fewer steps.
QUICK_CONFIGS: dict[str, ARBGConfig] = {
    "ALDP": replace(_QUICK_BASE, steps=3000),
    "AL3": replace(_QUICK_BASE, steps=2400),
    "AL4": _QUICK_BASE,
    "AL6": _QUICK_BASE,
    "CHIGNOLIN": _QUICK_BASE,
}


def default_config(task_name: str, tier: str) -> ARBGConfig:
    """The preset of (task, tier); tasks without one get the tier's base config."""
    if tier == "paper":
        return preset(PAPER_CONFIGS, task_name, _PAPER_BASE)
    return preset(QUICK_CONFIGS, task_name, _QUICK_BASE)


__all__ = ["ARBGConfig", "ARConfig", "BinnedConfig", "PAPER_CONFIGS", "QUICK_CONFIGS", "default_config"]
