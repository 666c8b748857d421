"""Geometric features of conformations: backbone dihedrals and the published TICA feature vector.

Everything is computed with numpy from the System's dihedral index lists (which match mdtraj's
compute_phi / compute_psi / compute_omega), in float64 and in frame chunks so that 10^4 frames of an
8-residue peptide never need more than a few tens of MB of temporaries.
"""

from __future__ import annotations

import numpy as np

#: Elements whose atoms enter the TICA pairwise distances (the published selection "symbol C, N or S").
TICA_ELEMENTS = frozenset({"C", "N", "S"})
#: Frames handled at once when building per-frame features.
FRAME_CHUNK = 1024


def dihedral_angles(positions: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Dihedral angles (B, k) in radians in (-pi, pi] for atom quadruples (k, 4), mdtraj's convention."""
    x = np.asarray(positions, dtype=np.float64)
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    b1 = x[:, quads[:, 1]] - x[:, quads[:, 0]]
    b2 = x[:, quads[:, 2]] - x[:, quads[:, 1]]
    b3 = x[:, quads[:, 3]] - x[:, quads[:, 2]]
    n1 = np.cross(b1, b2)
    n2 = np.cross(b2, b3)
    y = np.einsum("bkd,bkd->bk", np.cross(n1, n2), b2) / np.linalg.norm(b2, axis=-1)
    return np.arctan2(y, np.einsum("bkd,bkd->bk", n1, n2))


def torus_angles(positions: np.ndarray, system) -> np.ndarray:
    """Backbone angles [phi_1..phi_m, psi_1..psi_m] (B, 2m): the torus-W2 feature vector."""
    return np.concatenate(
        [dihedral_angles(positions, system.phi_indices), dihedral_angles(positions, system.psi_indices)], axis=1
    )


def dihedral_sincos(positions: np.ndarray, system) -> np.ndarray:
    """[sin phi, cos phi, sin psi, cos psi, sin omega, cos omega] blocks: the torus-k-JSD features."""
    blocks = []
    for quads in (system.phi_indices, system.psi_indices, system.omega_indices):
        angles = dihedral_angles(positions, quads)
        blocks += [np.sin(angles), np.cos(angles)]
    return np.concatenate(blocks, axis=1)


def tica_atom_indices(system, atom_order=None) -> np.ndarray:
    """Indices of all C, N and S atoms (side chains included), in topology order or in ``atom_order``.

    ``atom_order`` lists bgbench atom indices in another file's order (a published topology whose
    atoms are ordered differently); the selection then follows that order, as the published
    features did.
    """
    order = range(len(system.elements)) if atom_order is None else atom_order
    return np.array([i for i in order if system.elements[i] in TICA_ELEMENTS], dtype=np.int64)


def tica_feature_dim(system) -> int:
    """C(n_CNS, 2) + 6 * n_dihedrals_per_kind: the published feature count (len(tica_mean))."""
    n = len(tica_atom_indices(system))
    k = len(system.phi_indices) + len(system.psi_indices) + len(system.omega_indices)
    return n * (n - 1) // 2 + 2 * k


def tica_features(positions: np.ndarray, system, atom_order=None) -> np.ndarray:
    """Published TICA features (B, F): pairwise C/N/S distances (upper triangle, row-major), then sin/cos blocks.

    Positions are in bgbench's atom order; ``atom_order`` (see ``tica_atom_indices``) gives the atom
    order in which the distances are listed. Dihedrals on the C/N/S slice are the full-atom backbone
    dihedrals (all their atoms are C or N), listed by residue whatever the atom order.
    """
    x = np.asarray(positions, dtype=np.float64)
    sel = tica_atom_indices(system, atom_order)
    i, j = np.triu_indices(len(sel), k=1)
    ai, aj = sel[i], sel[j]
    out = np.empty((len(x), len(ai)), dtype=np.float64)
    for s in range(0, len(x), FRAME_CHUNK):
        chunk = x[s : s + FRAME_CHUNK]
        out[s : s + FRAME_CHUNK] = np.linalg.norm(chunk[:, ai] - chunk[:, aj], axis=-1)
    return np.concatenate([out, dihedral_sincos(x, system)], axis=1)


__all__ = [
    "TICA_ELEMENTS", "dihedral_angles", "dihedral_sincos", "tica_atom_indices", "tica_feature_dim",
    "tica_features", "torus_angles",
]
