"""ECNF++ configurations: the published single-system and transferable ones (paper tier) and small quick ones.

Paper tier (specs/flows-and-protocol.md 4.8-4.10, 3.5): EGNN with C = 256 channels and 5 layers;
AdamW lr 5e-4, betas (0.9, 0.999), weight decay 1e-4, batch 512, 1000 epochs, gradient clipping
1.0, one-cycle schedule (5 % warm-up, start and end at lr/500), EMA 0.999 after every step; Haar
rotations and no CoM noise (mean-free prior), sigma = 0 on the OT path; sampling with dopri5 at
atol = rtol = 1e-4 and the exact divergence, proposal batches of 64 / 48 / 32 / 32 (ALDP / AL3 /
AL4 / AL6, the published sample batch sizes). Parameters: 2 316 827 (ALDP) ... 2 338 373 (AL6).
Transferable up_to_4aa: the same training settings with 9 layers, peptides of 2 to 4 residues,
500 x 1000 steps, the precomputed scale 0.28 nm, proposal batches of 6 (spec 1.2.2, 3.5, 4.10);
4 191 835 parameters. That training is for a GPU cluster, so the paper tier loads the published
weights by default (``weights=published``), as Prose does.

Quick tier: a code-path check, not a reproduction. The exact divergence costs 3N reverse passes
per field evaluation (66 for ALDP), which on the shared 2-core CPU of this project is far beyond a
quick run at the quick budget (10 000 proposals): see the README for the measured cost. The quick
preset is therefore a tiny EGNN (C 32, 3 layers) trained briefly, sampled with the published
solver at a looser tolerance (1e-3), and the README says which divergence and budget a quick
record used. The transferable quick preset is as small (C 32, 3 layers, batch 16, 300 steps on the
2-4 residue peptides of the quick corpus: 0.7 s a step at 84 atoms on the loaded shared CPU, ~4 min).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from baselines.toolkit.config import TrainingConfig
from benchmark.config import preset


@dataclass(frozen=True)
class FieldConfig(TrainingConfig):
    """Network, weights source and ODE settings shared by both ECNF++ variants (training fields: TrainingConfig).

    ``weights``: "trained" (train here or load from the weights store) or "published" (the
    published checkpoint from the weights store; ``bgbench weights import``).
    ``divergence``: "exact" (published) or "hutchinson" (one probe per sample; log q is then an
    unbiased but noisy estimate and the record says the density is not exact).
    ``solver``: a torchdiffeq method; ``step_size`` only for fixed-grid ones (rk4, euler, midpoint).
    """

    channels: int = 256
    layers: int = 5
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


@dataclass(frozen=True)
class ECNFConfig(FieldConfig):
    """A single-system ECNF++: ``atom_classes`` "published" (the index groups of the published models,
    needed to load them) or "topology" (methyl/ammonium hydrogen triples from the system's bonds),
    features.py. Published weights are ``ecnfpp_{SEQ}_{seed}``."""

    atom_classes: Literal["published", "topology"] = "published"


@dataclass(frozen=True)
class TransferableConfig(FieldConfig):
    """A transferable ECNF++ for peptides of ``num_aa_min`` to ``num_aa_max`` residues (the one-hot widths of
    the residue position and length encodings depend on them; corpus peptides outside are not trained on).
    ``sigma_nm``: the standardization scale; None takes the training corpus's (``TrainingCorpus.std_nm``).
    Published weights are ``ecnfpp_up_to_4aa`` (2-4 residues, 0.28 nm)."""

    num_aa_min: int = 2
    num_aa_max: int = 4
    sigma_nm: float | None = None


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


#: up_to_4aa (spec 4.10, 1.2.2, 3.5): one model for every 2-4 residue peptide, loaded from the published file
TRANSFERABLE_PAPER = TransferableConfig(
    optimizer="adamw", lr=5e-4, betas=(0.9, 0.999), weight_decay=1e-4, batch_size=512, epochs=None, steps=500_000,
    warmup_fraction=0.05, grad_clip=1.0, ema_decay=0.999, channels=256, layers=9, num_aa_min=2, num_aa_max=4,
    sigma_nm=0.28, weights="published", sample_batch_size=6)
TRANSFERABLE_QUICK = replace(
    TRANSFERABLE_PAPER, channels=32, layers=3, lr=2e-3, batch_size=16, steps=300, ema_decay=0.99, sigma_nm=None,
    weights="trained", atol=1e-3, rtol=1e-3, sample_batch_size=250, checkpoint_every=100)


def transferable_config(tier: str) -> TransferableConfig:
    """One model serves every transferable task of a tier (the published one covers 2 to 4 residues)."""
    return TRANSFERABLE_PAPER if tier == "paper" else TRANSFERABLE_QUICK


__all__ = ["ECNFConfig", "FieldConfig", "PAPER_CONFIGS", "QUICK_CONFIGS", "TRANSFERABLE_PAPER", "TRANSFERABLE_QUICK",
           "TransferableConfig", "default_config", "transferable_config"]
