"""Prefix peptides: the first residues of a system closed by a C-terminal carboxylate (the N -> OXT construction).

Autoregressive twisted SMC (specs/autoregressive.md 7.2) weights a partly generated peptide by the
energy of its completed residues. A force field scores only complete molecules, so the prefix
r_s = residues 1..s is closed as a C-terminal carboxylate: once the N atom of residue s+1 has been
generated, a synthetic OXT is put on the line from residue s's carbonyl C to that N, 0.125 nm from C,
and N(s+1) is dropped. The prefix is scored with the parent's force-field recipe.

* Zwitterions (AL3, AL6, chignolin, the transferable peptides): the prefix is itself a zwitterion
  (NH3+ ... COO-), exactly the molecule ``SystemSpec(sequence[:s], "zwitterion", recipe)`` builds
  (a test checks atoms and energies against it). A one-residue prefix is not scored: Amber has no
  template for a free amino acid, so the first prefix has two residues.
* ACE/NME-capped single systems (ALDP, AL4): bgbench's decision (the paper does not say, spec 10.2):
  the prefix is ACE + residues 1..s closed the same way, an ACE-capped peptide with a free carboxylate
  (net charge -1, Amber's C-terminal templates). It is a different molecule from any prefix of the
  capped peptide, but a twist need only be positive: the weights still telescope to the exact
  SNIS weight at the end (spec 7.1). ACE alone is not scored.

So for both: every prefix of at least two residues of the topology that stops before its last residue.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import openmm
import torch
from openmm import app

#: C-O bond length (nm) of the synthetic OXT (spec 7.2: "the optimal C-O bond length").
OXT_BOND_NM = 0.125


@dataclass(eq=False)
class PrefixSystem:
    """The first ``n_residues`` residues of ``parent`` (an ACE cap counts) with a synthetic C-terminal OXT.

    Duck-types the parts of ``System`` an energy needs (``name``, ``n_atoms``, ``kT_kJ_per_mol``,
    ``topology``, ``create_openmm_system``). Prefix atom i < n_atoms - 1 is parent atom
    ``source_atoms[i]``; the last atom is OXT, placed from parent atoms ``carbonyl_c`` and ``next_n``.
    """

    parent: object
    n_residues: int
    topology: app.Topology
    source_atoms: np.ndarray
    carbonyl_c: int
    next_n: int

    @property
    def name(self) -> str:
        return f"{self.parent.name}[:{self.n_residues}]"

    @property
    def n_atoms(self) -> int:
        return len(self.source_atoms) + 1

    @property
    def kT_kJ_per_mol(self) -> float:
        return self.parent.kT_kJ_per_mol

    @property
    def temperature_K(self) -> float:
        return self.parent.temperature_K

    @cached_property
    def needed_atoms(self) -> np.ndarray:
        """Parent atoms that must be generated before this prefix can be scored (its atoms and N of the next residue)."""
        return np.append(self.source_atoms, self.next_n)

    def create_openmm_system(self) -> openmm.System:
        return self.parent.spec.forcefield.create_system(self.topology)

    def positions(self, parent_positions: torch.Tensor) -> torch.Tensor:
        """Prefix positions (B, n_atoms, 3) nm from parent positions (B, N, 3) nm (only ``needed_atoms`` are read)."""
        c = parent_positions[:, self.carbonyl_c]
        bond = parent_positions[:, self.next_n] - c
        oxt = c + OXT_BOND_NM * bond / bond.norm(dim=-1, keepdim=True)
        return torch.cat([parent_positions[:, torch.as_tensor(self.source_atoms)], oxt[:, None]], dim=1)


def prefix_system(system, n_residues: int) -> PrefixSystem:
    """The prefix of ``system`` made of its first ``n_residues`` residues (2 <= n_residues < residues)."""
    residues = list(system.topology.residues())
    if not 2 <= n_residues < len(residues):
        raise ValueError(f"a prefix of {system.name} keeps 2 to {len(residues) - 1} residues, not {n_residues}")
    kept = residues[:n_residues]
    top = app.Topology()
    chain = top.addChain()
    new_atoms: dict[int, app.topology.Atom] = {}
    source: list[int] = []
    for residue in kept:
        new_res = top.addResidue(residue.name, chain, id=residue.id)
        for atom in residue.atoms():
            new_atoms[atom.index] = top.addAtom(atom.name, atom.element, new_res)
            source.append(atom.index)
    carbonyl = next(a for a in kept[-1].atoms() if a.name == "C")
    nitrogen = next(a for a in residues[n_residues].atoms() if a.name == "N")
    oxt = top.addAtom("OXT", app.element.oxygen, new_res)
    for a, b in system.topology.bonds():
        if a.index in new_atoms and b.index in new_atoms:
            top.addBond(new_atoms[a.index], new_atoms[b.index])
    top.addBond(new_atoms[carbonyl.index], oxt)
    return PrefixSystem(system, n_residues, top, np.asarray(source, dtype=np.int64), carbonyl.index, nitrogen.index)


def prefix_systems(system) -> list[PrefixSystem]:
    """Every scorable prefix of ``system``: 2 .. (residues - 1) residues, shortest first."""
    n = system.topology.getNumResidues()
    return [prefix_system(system, k) for k in range(2, n)]


__all__ = ["OXT_BOND_NM", "PrefixSystem", "prefix_system", "prefix_systems"]
