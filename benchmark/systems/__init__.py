"""Molecules built from sequence: topology, force-field recipe, metadata and orderings."""

from benchmark.systems.encodings import AtomEncodings, atom_encodings
from benchmark.systems.builder import CAPPED, MAX_RESIDUES, ZWITTERION, build_peptide, validate_sequence
from benchmark.systems.forcefields import AMBER14_OBC1, AMBER99SBILDN_OBC, RECIPES, ForceFieldRecipe
from benchmark.systems.system import System, SystemSpec, to_pdb_string

__all__ = [
    "AtomEncodings", "atom_encodings", "AMBER14_OBC1", "AMBER99SBILDN_OBC", "CAPPED", "MAX_RESIDUES", "RECIPES", "ZWITTERION",
    "ForceFieldRecipe", "System", "SystemSpec", "build_peptide", "to_pdb_string", "validate_sequence",
]
