"""Start conformations of MD replicas: the built structure with its backbone dihedrals set to basin centres.

Why: one trajectory from one start samples the basin it starts in for much of a short run (the
old quick ALDP data had an alpha_R population of 0.44 in its training block and 0.66 in its test
block). Independent replicas started in different basins, with a warm-up discarded, let the
training and evaluation splits see the same mixture.

Replica ``i`` of a split (counted within the split) gets, for residue ``j``, the basin
``starts[(i + j * (i // n)) % n]`` with ``n = len(starts)``: the first ``n`` replicas start with
every residue in the same basin (all alpha_R, all beta, ...), later rounds shift the pattern
along the chain, and every residue visits each start basin equally often in any ``n``
consecutive replicas. Each split uses the same pattern, so no split is favoured.
"""

from __future__ import annotations

import numpy as np

from benchmark.data.basins import CENTRES, backbone_residues
from benchmark.metrics.features import dihedral_angles


def start_basins(i: int, n_residues: int, starts: tuple[str, ...]) -> list[str]:
    """Start basin of each residue of replica ``i`` of a split (see the module docstring)."""
    n = len(starts)
    return [starts[(i + j * (i // n)) % n] for j in range(n_residues)]


def _moving_side(adjacency: list[list[int]], b: int, c: int) -> np.ndarray | None:
    """Atoms on c's side of the bond b-c, or None if the bond is in a ring (proline's N-CA)."""
    seen, stack = {c}, [c]
    while stack:
        u = stack.pop()
        for w in adjacency[u]:
            if (u == c and w == b) or w in seen:
                continue
            seen.add(w)
            stack.append(w)
    return None if b in seen else np.array(sorted(seen))


def _rotate_dihedral(x: np.ndarray, quad: tuple[int, ...], target_deg: float, adjacency: list[list[int]]) -> np.ndarray:
    a, b, c, d = quad
    side = _moving_side(adjacency, b, c)
    if side is None:
        return x
    current = dihedral_angles(x[None], np.array([quad]))[0, 0]
    angle = np.radians(target_deg) - current
    axis = (x[c] - x[b]) / np.linalg.norm(x[c] - x[b])
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    rot = np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)  # Rodrigues
    out = x.copy()
    out[side] = (x[side] - x[c]) @ rot.T + x[c]
    return out


def set_backbone(system, positions: np.ndarray, basins: list[str]) -> np.ndarray:
    """``positions`` with each residue's phi / psi set to the centre of its basin (N to C; the C-terminal side moves).

    Proline's phi is left as it is (its ring holds it near -65 degrees).
    """
    adjacency: list[list[int]] = [[] for _ in range(system.n_atoms)]
    for i, j in system.bonds:
        adjacency[i].append(int(j))
        adjacency[j].append(int(i))
    x = np.array(positions, dtype=np.float64)
    for residue, basin in zip(backbone_residues(system), basins, strict=True):
        phi, psi = CENTRES[basin]
        if residue.phi is not None:
            x = _rotate_dihedral(x, residue.phi, phi, adjacency)
        if residue.psi is not None:
            x = _rotate_dihedral(x, residue.psi, psi, adjacency)
    return x


__all__ = ["set_backbone", "start_basins"]
