"""Backbone dihedral basins: which basin each residue is in, and basin populations with honest errors.

Why: the quick tier's reference is only useful if its slow degrees of freedom (which basin each
residue is in) are sampled alike in the training and the evaluation split. This module measures
that, for the data cards and for the tests that check it.

Regions (degrees; phi and psi of the same residue, mdtraj's convention):

* ``alpha_R``: phi < 0 and -120 < psi <= 50;
* ``beta``: phi <= -90 and psi outside (-120, 50];
* ``PII``: -90 < phi < 0 and psi outside (-120, 50];
* ``alpha_L``: phi >= 0 (every positive-phi state: alpha_L, C7ax, ...).

A terminal residue of a zwitterion has only one of the two angles; it gets a two-state label
(``psi_alpha`` / ``psi_ext`` for the N-terminal psi, ``phi_neg`` / ``phi_pos`` for the C-terminal phi).

Errors: frames of one trajectory are correlated, so the error of a population is estimated from
independent blocks: one block per MD replica (replicas are independent by construction), or, for a
single trajectory, contiguous blocks of it (an underestimate when a block is shorter than the
slowest basin change).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.metrics.features import dihedral_angles

BASINS = ("alpha_R", "beta", "PII", "alpha_L")
PSI_ONLY = ("psi_alpha", "psi_ext")
PHI_ONLY = ("phi_neg", "phi_pos")
#: Centres (phi, psi) in degrees of the start conformations of each basin.
CENTRES: dict[str, tuple[float, float]] = {"alpha_R": (-63.0, -43.0), "beta": (-135.0, 135.0),
                                           "PII": (-75.0, 145.0), "alpha_L": (57.0, 47.0)}


@dataclass(frozen=True)
class Residue:
    """One residue's backbone dihedrals: its label, and its phi / psi atom quadruples (None if absent)."""

    label: str  # e.g. "A2": one-letter code and 1-based position in the sequence
    phi: tuple[int, int, int, int] | None
    psi: tuple[int, int, int, int] | None

    @property
    def states(self) -> tuple[str, ...]:
        if self.phi is not None and self.psi is not None:
            return BASINS
        return PSI_ONLY if self.phi is None else PHI_ONLY


def backbone_residues(system) -> list[Residue]:
    """Residues that have a phi or a psi, N to C, keyed by their CA atom."""
    phis = {int(q[2]): tuple(int(i) for i in q) for q in system.phi_indices}  # C(i-1) N CA C
    psis = {int(q[1]): tuple(int(i) for i in q) for q in system.psi_indices}  # N CA C N(i+1)
    offset = 0 if system.spec.termini == "capped" else 1
    out = []
    for ca in sorted(set(phis) | set(psis)):
        position = int(system.residue_index[ca]) + offset
        out.append(Residue(f"{system.spec.sequence[position - 1]}{position}", phis.get(ca), psis.get(ca)))
    return out


def _is_alpha_psi(psi: np.ndarray) -> np.ndarray:
    return (psi > -120.0) & (psi <= 50.0)


def residue_states(positions: np.ndarray, residue: Residue) -> np.ndarray:
    """Index into ``residue.states`` of every frame (B,)."""
    x = np.asarray(positions, dtype=np.float64)
    phi = np.degrees(dihedral_angles(x, np.array([residue.phi]))[:, 0]) if residue.phi is not None else None
    psi = np.degrees(dihedral_angles(x, np.array([residue.psi]))[:, 0]) if residue.psi is not None else None
    if phi is None:
        return np.where(_is_alpha_psi(psi), 0, 1)
    if psi is None:
        return np.where(phi < 0.0, 0, 1)
    out = np.where(phi <= -90.0, 1, 2)  # beta or PII unless below
    out = np.where(_is_alpha_psi(psi), 0, out)
    return np.where(phi >= 0.0, 3, out)


@dataclass(frozen=True)
class Population:
    """Population of one basin in one set of trajectories, with its standard error over blocks."""

    mean: float
    se: float
    n_blocks: int


def populations(trajectories: list[np.ndarray], system, min_blocks: int = 10) -> dict[str, dict[str, Population]]:
    """{residue label: {state: Population}} over ``trajectories`` (a list of (T, N, 3) arrays).

    Each trajectory is one block; a single trajectory is cut into ``min_blocks`` contiguous blocks.
    The mean weights blocks by their frame counts; the error is the standard error of the block means.
    """
    blocks = trajectories if len(trajectories) > 1 else np.array_split(trajectories[0], min_blocks)
    weights = np.array([len(b) for b in blocks], dtype=np.float64)
    out: dict[str, dict[str, Population]] = {}
    for residue in backbone_residues(system):
        per_block = np.array([np.bincount(residue_states(b, residue), minlength=len(residue.states)) / len(b)
                              for b in blocks])  # (n_blocks, n_states)
        mean = weights @ per_block / weights.sum()
        se = per_block.std(axis=0, ddof=1) / np.sqrt(len(blocks)) if len(blocks) > 1 else np.full(len(mean), np.nan)
        out[residue.label] = {s: Population(float(m), float(e), len(blocks)) for s, m, e in zip(residue.states, mean, se)}
    return out


def agreement(a: dict[str, dict[str, Population]], b: dict[str, dict[str, Population]]) -> dict[str, dict[str, float]]:
    """z-score (a - b) / sqrt(se_a^2 + se_b^2) of every basin; 0 where both are exactly equal."""
    out: dict[str, dict[str, float]] = {}
    for res, states in a.items():
        out[res] = {}
        for s, pa in states.items():
            pb = b[res][s]
            diff, err = pa.mean - pb.mean, float(np.hypot(pa.se, pb.se))
            out[res][s] = 0.0 if diff == 0 else (diff / err if err > 0 else float("inf"))
    return out


def as_table(pops: dict[str, dict[str, Population]]) -> dict[str, dict[str, list[float]]]:
    """Plain data for manifests and cards: {residue: {state: [mean, se]}} rounded to 4 digits (se None from one block)."""
    return {r: {s: [round(p.mean, 4), None if np.isnan(p.se) else round(p.se, 4)] for s, p in states.items()}
            for r, states in pops.items()}


__all__ = ["BASINS", "CENTRES", "Population", "Residue", "agreement", "as_table", "backbone_residues", "populations",
           "residue_states"]
