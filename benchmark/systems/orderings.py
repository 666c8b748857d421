"""Atom orderings (permutations) that methods use to turn a molecule into a token sequence.

A permutation ``perm`` of length N means: token k is atom ``perm[k]`` (gather with
``x[..., perm, :]``); ``np.argsort(perm)`` undoes it. Keys follow the published naming
``{n2c|c2n}_{residue-by-residue|backbone-first}_{standard|variant}``, plus ``_flip`` for the
reversed vector (specs/flows-and-protocol.md section 4.4).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.systems.residues import BACKBONE_AFTER, BACKBONE_BEFORE, CAP_ATOMS, side_chain

# Residues are described as (residue name, {atom name: atom index}).
ResidueAtoms = tuple[str, dict[str, int]]

_C2N_BEFORE = ("OXT", "C", "O", "CA", "HA", "HA2", "HA3")
_C2N_AFTER = ("N", "H", "H2", "H3")


def _groups(residue: ResidueAtoms, direction: str, variant: str) -> tuple[list[int], list[int], list[int]]:
    """(before-backbone, side chain, after-backbone) atom indices of one residue."""
    name, atoms = residue
    if name in CAP_ATOMS:
        order = [atoms[a] for a in CAP_ATOMS[name] if a in atoms]
        return (order if direction == "n2c" else order[::-1]), [], []
    before_names, after_names = (BACKBONE_BEFORE, BACKBONE_AFTER) if direction == "n2c" else (_C2N_BEFORE, _C2N_AFTER)
    before = [atoms[a] for a in before_names if a in atoms]
    after = [atoms[a] for a in after_names if a in atoms]
    chain = [atoms[a] for a in side_chain(name, variant) if a in atoms]
    if len(before) + len(chain) + len(after) != len(atoms):
        placed = set(before_names) | set(after_names) | set(side_chain(name, variant))
        missing = sorted(set(atoms) - placed)
        raise ValueError(f"Atoms {missing} of residue {name} have no place in the ordering tables.")
    return before, chain, after


def permutation(
    residues: Sequence[ResidueAtoms], elements: Sequence[str], direction: str, layout: str, variant: str
) -> np.ndarray:
    """One ordering of all atoms; ``elements`` tells hydrogens apart for backbone-first."""
    res_order = list(residues) if direction == "n2c" else list(residues)[::-1]
    groups = [_groups(r, direction, variant) for r in res_order]
    if layout == "residue-by-residue":
        perm = [i for before, chain, after in groups for i in (*before, *chain, *after)]
    elif layout == "backbone-first":
        is_h = [e == "H" for e in elements]
        heavy = [i for before, _, after in groups for i in (*before, *after) if not is_h[i]]
        rest = [
            i
            for before, chain, after in groups
            for i in (*[j for j in before if is_h[j]], *chain, *[j for j in after if is_h[j]])
        ]
        perm = heavy + rest
    else:
        raise ValueError(f"layout must be 'residue-by-residue' or 'backbone-first', not {layout!r}")
    perm_arr = np.asarray(perm, dtype=np.int64)
    n = len(elements)
    if len(perm_arr) != n or not np.array_equal(np.sort(perm_arr), np.arange(n)):
        raise ValueError("ordering is not a permutation of all atoms")
    return perm_arr


def all_permutations(residues: Sequence[ResidueAtoms], elements: Sequence[str]) -> dict[str, np.ndarray]:
    """The 16 published orderings (8 plus their flips)."""
    out: dict[str, np.ndarray] = {}
    for direction in ("n2c", "c2n"):
        for layout in ("residue-by-residue", "backbone-first"):
            for variant in ("standard", "variant"):
                key = f"{direction}_{layout}_{variant}"
                perm = permutation(residues, elements, direction, layout, variant)
                out[key] = perm
                out[key + "_flip"] = perm[::-1].copy()
    return out
