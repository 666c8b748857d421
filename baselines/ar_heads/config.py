"""Configurations of the mixture heads: the paper settings (ARBG's, per the paper) and small quick ones.

Paper tier (ARBG §E.3 and specs/autoregressive.md §4): "all remaining training settings are identical
to the main model ARBG for single peptide systems", so every field but the head is ARBG's paper
config of the system (network of Table A.5 as ARBG's, Muon at lr 5e-4, wd 0.01, batch per system,
1000 epochs, Haar rotations, CoM noise, bin range +-3 sigma); the PixelCNN++ heads use B = 2048 bins
for every single peptide. There is no sampling temperature: the paper's mixture rows are at T = 1.
Quick tier: ARBG's quick recipe (its network, optimizer, batch and pose) with fewer training steps
(``QUICK_STEPS``), sized so that a whole quick run (training, 1e4 proposals, evaluation) took about
10 minutes on the shared, heavily loaded 2-core development machine (README.md: measured). Quick
numbers are code-path checks, not a measure of the heads.

The choices the paper leaves open (K, the scale transform, the dependency coupling) are fields
here; README.md gives each default with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar, Literal

from baselines.arbg.config import ARConfig, BinnedConfig
from baselines.arbg.config import default_config as arbg_config


@dataclass(frozen=True)
class MixtureConfig(ARConfig):
    """GIVT's config, and the mixture fields of the PixelCNN++ heads."""

    components: int = 10  # K; the output projection has 3K + 2 outputs
    scale_transform: Literal["exp", "softplus"] = "exp"
    min_log_scale: float = -7.0  # floor of log s_k in standardized units
    dependency: Literal["atom", "previous", "none"] = "atom"  # what the 2 dependency coefficients couple


@dataclass(frozen=True)
class PixelCNNConfig(MixtureConfig, BinnedConfig):
    """MoL-/GMM-PixelCNN++: a mixture head over ARBG's binning, 2048 bins."""

    num_bins: int = 2048

    SAMPLING_ONLY: ClassVar[frozenset[str]] = MixtureConfig.SAMPLING_ONLY | BinnedConfig.SAMPLING_ONLY


def from_arbg(cls: type[MixtureConfig], arbg: ARConfig, **changes: object) -> MixtureConfig:
    """``cls`` with every field ARBG's config ``arbg`` also has (training, network, data, binning range)."""
    names = {f.name for f in fields(cls)} - {"num_bins"}
    shared = {f.name: getattr(arbg, f.name) for f in fields(arbg) if f.name in names}
    return replace(cls(**shared), **changes)


#: Quick-tier training steps per task, where they differ from ARBG's quick preset (ALDP 3000, AL3 2400).
#: Measured on the loaded shared machine (~1.1 s per ALDP step, ~25 s per 2000 ALDP samples; README.md).
QUICK_STEPS: dict[str, int] = {"ALDP": 400, "AL3": 250}


def mixture_config(cls: type[MixtureConfig], task_name: str, tier: str) -> MixtureConfig:
    """The preset of (task, tier): ARBG's, with the head's fields at their defaults."""
    cfg = from_arbg(cls, arbg_config(task_name, tier))
    if tier != "paper" and task_name in QUICK_STEPS:
        cfg = replace(cfg, steps=QUICK_STEPS[task_name])
    return cfg


__all__ = ["MixtureConfig", "PixelCNNConfig", "QUICK_STEPS", "from_arbg", "mixture_config"]
