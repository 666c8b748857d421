"""Per-atom integer encodings that transferable models condition on (ROBIN, Prose, ECNF++).

The published transferable models all read the same four encodings of a zwitterionic peptide
(specs/flows-and-protocol.md 4.5, specs/autoregressive.md 3.4), with 0 reserved for padding:

* ``atom_type``: the atom name, standardized, looked up in a 54-name vocabulary (1..54);
* ``aa_type``: the residue type, ALA 1 ... VAL 20 (alphabetical by three-letter code);
* ``aa_pos``: the 1-based residue index of the atom;
* ``seq_len``: the number of residues (one value per peptide);

plus ``atom_index`` (0..N-1 along the topology order), which ROBIN embeds. Caps (ACE/NME) have
no residue type in the vocabulary: the published transferable models never see them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The standardized atom-name vocabulary, ids 1..54 in this (alphabetical) order.
ATOM_TYPES: tuple[str, ...] = (
    "C", "CA", "CB", "CD", "CD1", "CD2", "CE", "CE1", "CE2", "CE3", "CG", "CG1", "CG2", "CH2", "CZ", "CZ2", "CZ3",
    "H", "HA", "HB", "HD", "HD1", "HD2", "HE", "HE1", "HE2", "HE3", "HG", "HG1", "HG2", "HH", "HH1", "HH2", "HZ",
    "HZ2", "HZ3", "N", "ND1", "ND2", "NE", "NE1", "NE2", "NH1", "NH2", "NZ", "O", "OD", "OE", "OG", "OG1", "OH",
    "OXT", "SD", "SG",
)
ATOM_TYPE_ID: dict[str, int] = {name: i + 1 for i, name in enumerate(ATOM_TYPES)}

#: Residue types, ids 1..20 in this order.
RESIDUE_TYPES: tuple[str, ...] = (
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
    "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL",
)
RESIDUE_TYPE_ID: dict[str, int] = {name: i + 1 for i, name in enumerate(RESIDUE_TYPES)}
#: Residues whose ring hydrogens keep their digit (aromatic positions are not interchangeable).
AROMATIC = frozenset({"HIS", "HIE", "PHE", "TRP", "TYR"})


def standard_atom_name(name: str, residue: str) -> str:
    """The vocabulary name of an atom: HB2 -> HB, HG21 -> HG2, H2/H3 -> H, OD1 -> OD; Trp HE1 stays."""
    keep_digit = residue in AROMATIC and name[:2] in ("HE", "HD", "HZ", "HH")
    if name.startswith("H") and name[-1] in "123" and not keep_digit:
        name = name[:-1]
    if name.startswith(("OD", "OE")):
        name = name[:-1]
    return name


@dataclass(frozen=True)
class AtomEncodings:
    """Integer encodings of one peptide's atoms (topology order), all int64 arrays of length N."""

    atom_type: np.ndarray
    aa_type: np.ndarray
    aa_pos: np.ndarray
    atom_index: np.ndarray
    seq_len: int

    @property
    def n_atoms(self) -> int:
        return len(self.atom_type)


def atom_encodings(system) -> AtomEncodings:
    """The encodings of a built zwitterionic ``System``; ValueError for capped peptides or unknown names."""
    atom_type, aa_type, aa_pos = [], [], []
    residues = list(system.topology.residues())
    for residue in residues:
        if residue.name not in RESIDUE_TYPE_ID:
            raise ValueError(f"Residue {residue.name} of {system.name} has no transferable encoding "
                             "(capped peptides are not in the published vocabulary).")
        for atom in residue.atoms():
            name = standard_atom_name(atom.name, residue.name)
            if name not in ATOM_TYPE_ID:
                raise ValueError(f"Atom {atom.name} ({residue.name}) of {system.name} is not in the atom-type vocabulary.")
            atom_type.append(ATOM_TYPE_ID[name])
            aa_type.append(RESIDUE_TYPE_ID[residue.name])
            aa_pos.append(residue.index + 1)
    n = len(atom_type)
    return AtomEncodings(np.array(atom_type, dtype=np.int64), np.array(aa_type, dtype=np.int64),
                         np.array(aa_pos, dtype=np.int64), np.arange(n, dtype=np.int64), len(residues))


__all__ = ["ATOM_TYPES", "AtomEncodings", "RESIDUE_TYPES", "atom_encodings", "standard_atom_name"]
