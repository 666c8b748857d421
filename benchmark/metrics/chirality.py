"""Chirality: find the chiral centres, detect samples whose handedness differs from the reference, mirror them.

Centres (as published): atoms in exactly four bonds with more than two non-hydrogen neighbours; each
keeps its first three neighbours in bond-list order. A sample is "changed" if any centre's signed
volume differs in sign from the reference frame; the published fix mirrors the whole sample (x -> -x),
which flips every centre, so samples with mixed handedness stay changed ("uncorrectable").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def chiral_centres(system) -> np.ndarray:
    """(k, 4) int array: centre atom and its first three bonded neighbours in bond-list order."""
    neighbours: dict[int, list[int]] = {}
    for a, b in np.asarray(system.bonds).tolist():
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    is_h = [name[:1] == "H" for name in system.atom_names]
    rows = [
        [atom, *nbrs[:3]]
        for atom, nbrs in sorted(neighbours.items())
        if len(nbrs) == 4 and sum(not is_h[n] for n in nbrs) > 2
    ]
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def chirality_signs(positions: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(B, k) sign of (x_a - x_c) . ((x_b - x_c) x (x_d - x_c)) for every centre."""
    x = np.asarray(positions, dtype=np.float64)
    c = x[:, centres[:, 0]]
    va, vb, vd = (x[:, centres[:, i]] - c for i in (1, 2, 3))
    return np.sign(np.einsum("bkd,bkd->bk", va, np.cross(vb, vd)))


@dataclass(frozen=True)
class ChiralityResult:
    positions: np.ndarray  # (B, N, 3) after the fix (or unchanged when fixing is off)
    changed: np.ndarray  # (B,) bool: handedness differed from the reference before the fix
    uncorrectable: np.ndarray  # (B,) bool: still differs after mirroring

    @property
    def correct_rate(self) -> float:
        return float(1.0 - self.changed.mean())

    @property
    def uncorrectable_rate(self) -> float:
        return float(self.uncorrectable.mean())


def apply_chirality_fix(
    positions: np.ndarray, reference_signs: np.ndarray, centres: np.ndarray, fix: bool = True
) -> ChiralityResult:
    """Detect changed samples; if ``fix``, mirror them. Uncorrectable = still changed after mirroring."""
    x = np.asarray(positions, dtype=np.float64)
    if len(centres) == 0:
        none = np.zeros(len(x), dtype=bool)
        return ChiralityResult(x, none, none)
    changed = (chirality_signs(x, centres) != reference_signs[None]).any(axis=1)
    mirrored = np.where(changed[:, None, None], -x, x)
    uncorrectable = (chirality_signs(mirrored, centres) != reference_signs[None]).any(axis=1)
    return ChiralityResult(mirrored if fix else x, changed, uncorrectable)


__all__ = ["ChiralityResult", "apply_chirality_fix", "chiral_centres", "chirality_signs"]
