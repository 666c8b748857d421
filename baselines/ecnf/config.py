"""ECNF++ configurations: the published single-system ones (paper tier) and a small quick one.

Paper tier (specs/flows-and-protocol.md 4.8-4.10, 3.5): EGNN with C = 256 channels and 5 layers;
AdamW lr 5e-4, betas (0.9, 0.999), weight decay 1e-4, batch 512, 1000 epochs, gradient clipping
1.0, one-cycle schedule (5 % warm-up, start and end at lr/500), EMA 0.999 after every step; Haar
rotations and no CoM noise (mean-free prior), sigma = 0 on the OT path; sampling with dopri5 at
atol = rtol = 1e-4 and the exact divergence, proposal batches of 64 / 48 / 32 / 32 (ALDP / AL3 /
AL4 / AL6, the published sample batch sizes). Parameters: 2 316 827 (ALDP) ... 2 338 373 (AL6).

Quick tier: a code-path check, not a reproduction. The exact divergence costs 3N reverse passes
per field evaluation (66 for ALDP), which on the shared 2-core CPU of this project is far beyond a
quick run at the quick budget (10 000 proposals): see the README for the measured cost. The quick
preset is therefore a tiny EGNN (C 32, 3 layers) trained briefly, sampled with the published
solver at a looser tolerance (1e-3), and the README says which divergence and budget a quick
record used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from baselines.toolkit.config import TrainingConfig
from benchmark.config import preset


@dataclass(frozen=True)
class ECNFConfig(TrainingConfig):
    """Network, weights source and ODE settings of a single-system ECNF++ (training fields: TrainingConfig).

    ``atom_classes``: "published" (the index groups of the published models, needed to load them)
    or "topology" (methyl/ammonium hydrogen triples from the system's bonds), features.py.
    ``weights``: "trained" (train here or load from the weights store) or "published"
    (``ecnfpp_{SEQ}_{seed}`` from the weights store; ``bgbench weights import``).
    ``divergence``: "exact" (published) or "hutchinson" (one probe per sample; log q is then an
    unbiased but noisy estimate and the record says the density is not exact).
    ``solver``: a torchdiffeq method; ``step_size`` only for fixed-grid ones (rk4, euler, midpoint).
    """

    channels: int = 256
    layers: int = 5
    atom_classes: Literal["published", "topology"] = "published"
    weights: Literal["trained", "published"] = "trained"
    divergence: Literal["exact", "hutchinson"] = "exact"
    solver: str = "dopri5"
    atol: float = 1e-4
    rtol: float = 1e-4
    step_size: float | None = None
    sample_batch_size: int = 64

    SAMPLING_ONLY: ClassVar[frozenset[str]] = TrainingConfig.SAMPLING_ONLY | frozenset(
        {"divergence", "solver", "atol", "rtol", "step_size", "sample_batch_size", "weights"}
    )


_PAPER_BASE = ECNFConfig(optimizer="adamw", lr=5e-4, betas=(0.9, 0.999), weight_decay=1e-4, batch_size=512,
                         epochs=1000, warmup_fraction=0.05, grad_clip=1.0, ema_decay=0.999, channels=256, layers=5)
PAPER_CONFIGS: dict[str, ECNFConfig] = {
    "ALDP": _PAPER_BASE,
    "AL3": replace(_PAPER_BASE, sample_batch_size=48),
    "AL4": replace(_PAPER_BASE, sample_batch_size=32),
    "AL6": replace(_PAPER_BASE, sample_batch_size=32),
}

_QUICK_BASE = replace(_PAPER_BASE, channels=32, layers=3, lr=2e-3, batch_size=64, epochs=None, steps=600,
                      ema_decay=0.99, atom_classes="topology", atol=1e-3, rtol=1e-3, sample_batch_size=500,
                      checkpoint_every=100)
QUICK_CONFIGS: dict[str, ECNFConfig] = {"ALDP": _QUICK_BASE, "AL3": _QUICK_BASE, "AL4": _QUICK_BASE, "AL6": _QUICK_BASE}


def default_config(task_name: str, tier: str) -> ECNFConfig:
    """The preset of (task, tier); tasks without one get the tier's base config."""
    if tier == "paper":
        return preset(PAPER_CONFIGS, task_name, _PAPER_BASE)
    return preset(QUICK_CONFIGS, task_name, _QUICK_BASE)


__all__ = ["ECNFConfig", "PAPER_CONFIGS", "QUICK_CONFIGS", "default_config"]
