"""Build an all-atom peptide topology with hydrogens from a one-letter sequence, offline.

Recipe (the one that reproduces the check values of specs/openmm-energy.md section 7):

1. heavy atoms of an extended chain with PeptideBuilder (phi -120, psi 140, omega 180), the
   C-terminal OXT added for zwitterions; for capped peptides the first and last residues of an
   extended chain two residues longer are cut down to ACE (CH3, C, O) and NME (N, CH3);
2. the PDB text is read by OpenMM, which adds bonds from its residue templates;
3. ``Modeller.addHydrogens`` at pH 7 with the task's force field on the Reference platform;
4. atoms are reordered, residue by residue, into the Amber template order (the order tLEaP
   writes, and so the order of the ManyPeptidesMD PDB files).

Python's global ``random`` drives PeptideBuilder's rotamers and OpenMM's first hydrogen
placement. It is seeded with 0 for the build and restored afterwards, so building is
deterministic and has no side effect on the caller's random state.
"""

from __future__ import annotations

import io
import random
import warnings
from dataclasses import dataclass

import numpy as np
import openmm
from openmm import app, unit

from benchmark.errors import InvalidSequenceError
from benchmark.systems.forcefields import ForceFieldRecipe
from benchmark.systems.residues import ONE_TO_THREE, PROTONATION_VARIANT

MAX_RESIDUES = 10
ZWITTERION = "zwitterion"
CAPPED = "capped"
TERMINI = (ZWITTERION, CAPPED)


@dataclass(frozen=True)
class BuiltPeptide:
    """A topology in Amber template order, its positions (nm) and per-atom Amber atom classes."""

    topology: app.Topology
    positions: np.ndarray  # (N, 3) float64, nm
    amber_types: tuple[str, ...]


def validate_sequence(sequence: str, termini: str = ZWITTERION) -> str:
    """Return the sequence if it can be built, else raise InvalidSequenceError saying why."""
    if not isinstance(sequence, str) or not sequence:
        raise InvalidSequenceError("The sequence is empty; give one-letter residue codes, e.g. 'AAA'.")
    if termini not in TERMINI:
        raise InvalidSequenceError(f"Unknown termini {termini!r}; use one of {', '.join(TERMINI)}.")
    unknown = sorted({c for c in sequence if c not in ONE_TO_THREE})
    if unknown:
        raise InvalidSequenceError(
            f"Sequence {sequence!r} has letters {''.join(unknown)!r} that are not standard residues; "
            f"allowed: {''.join(sorted(ONE_TO_THREE))} (upper case)."
        )
    if len(sequence) > MAX_RESIDUES:
        raise InvalidSequenceError(
            f"Sequence {sequence!r} has {len(sequence)} residues; the builder supports at most {MAX_RESIDUES}."
        )
    if termini == ZWITTERION and len(sequence) < 2:
        raise InvalidSequenceError("A zwitterionic peptide needs at least 2 residues.")
    return sequence


def _pdb_atom_line(serial: int, name: str, resname: str, resseq: int, xyz_angstrom: np.ndarray, element: str) -> str:
    padded = name if len(name) == 4 else f" {name:<3s}"
    x, y, z = xyz_angstrom
    return (
        f"ATOM  {serial:5d} {padded} {resname:>3s} A{resseq:4d}    "
        f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {element:>2s}"
    )


def _heavy_atom_pdb(sequence: str, termini: str) -> str:
    """PDB text of the heavy atoms (PeptideBuilder geometry), with caps cut out for capped peptides."""
    import PeptideBuilder  # local: only needed when building

    if termini == ZWITTERION:
        structure = PeptideBuilder.make_extended_structure(sequence)
        PeptideBuilder.add_terminal_OXT(structure)
    else:
        structure = PeptideBuilder.make_extended_structure("A" + sequence + "A")
    residues = list(structure.get_residues())
    lines, serial = [], 1
    for k, residue in enumerate(residues):
        resname = residue.get_resname()
        keep = None
        rename = {}
        if termini == CAPPED and k == 0:
            resname, keep, rename = "ACE", ("CA", "C", "O"), {"CA": "CH3"}
        elif termini == CAPPED and k == len(residues) - 1:
            resname, keep, rename = "NME", ("N", "CA"), {"CA": "C"}
        for atom in residue.get_atoms():
            name = atom.get_name()
            if keep is not None and name not in keep:
                continue
            lines.append(_pdb_atom_line(serial, rename.get(name, name), resname, k + 1, atom.get_coord(), atom.element))
            serial += 1
    return "\n".join(lines + ["TER", "END", ""])


def _reorder_to_templates(modeller: app.Modeller, forcefield: app.ForceField) -> BuiltPeptide:
    """Reorder atoms of every residue into its force-field template order and read atom classes."""
    topology = modeller.topology
    positions = np.asarray(modeller.positions.value_in_unit(unit.nanometer), dtype=np.float64)
    # OpenMM has no public per-atom template match; this private helper is what createSystem uses.
    bonded = forcefield._buildBondedToAtomList(topology)
    order: list[int] = []
    types_by_atom: dict[int, str] = {}
    new_top = app.Topology()
    chain = new_top.addChain()
    old_to_new: dict[int, app.topology.Atom] = {}
    for residue in topology.residues():
        template, match = forcefield._getResidueTemplateMatches(residue, bonded)
        if match is None:
            raise InvalidSequenceError(f"No force-field template matches residue {residue.name}{residue.id}.")
        atoms = list(residue.atoms())
        ranked = sorted(range(len(atoms)), key=lambda i: match[i])
        new_res = new_top.addResidue(residue.name, chain, id=residue.id)
        for i in ranked:
            atom = atoms[i]
            old_to_new[atom.index] = new_top.addAtom(atom.name, atom.element, new_res)
            order.append(atom.index)
            type_name = template.atoms[match[i]].type
            types_by_atom[atom.index] = forcefield._atomTypes[type_name].atomClass
    for a, b in topology.bonds():
        new_top.addBond(old_to_new[a.index], old_to_new[b.index])
    return BuiltPeptide(
        topology=new_top,
        positions=positions[order],
        amber_types=tuple(types_by_atom[i] for i in order),
    )


def build_peptide(sequence: str, termini: str, recipe: ForceFieldRecipe) -> BuiltPeptide:
    """Build the peptide deterministically; see the module docstring for the recipe."""
    validate_sequence(sequence, termini)
    saved_state = random.getstate()
    try:
        random.seed(0)
        with warnings.catch_warnings():  # PeptideBuilder divides by zero-length vectors harmlessly
            warnings.simplefilter("ignore", RuntimeWarning)
            heavy_pdb = _heavy_atom_pdb(sequence, termini)
        pdb = app.PDBFile(io.StringIO(heavy_pdb))
        modeller = app.Modeller(pdb.topology, pdb.positions)
        variants = [PROTONATION_VARIANT.get(res.name) for res in modeller.topology.residues()]
        modeller.addHydrogens(
            recipe.forcefield, pH=7.0, variants=variants, platform=openmm.Platform.getPlatformByName("Reference")
        )
    finally:
        random.setstate(saved_state)
    return _reorder_to_templates(modeller, recipe.forcefield)
