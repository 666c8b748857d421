"""Per-atom encodings against the examples written out in the specs (not computed by the code)."""

from __future__ import annotations

import pytest

from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec
from benchmark.systems.encodings import ATOM_TYPES, atom_encodings, standard_atom_name
from benchmark.tasks import get_task


def test_vocabulary_ids_from_the_spec_table():
    # specs/flows-and-protocol.md 4.5: C 1, CA 2, HA 19, N 37, O 46, OXT 52, SG 54
    ids = {name: i + 1 for i, name in enumerate(ATOM_TYPES)}
    assert (ids["C"], ids["CA"], ids["HA"], ids["N"], ids["O"], ids["OXT"], ids["SG"]) == (1, 2, 19, 37, 46, 52, 54)
    assert len(ATOM_TYPES) == 54


@pytest.mark.parametrize("name, residue, expected", [
    ("HB2", "ALA", "HB"), ("HG21", "THR", "HG2"), ("HD11", "LEU", "HD1"), ("HH11", "ARG", "HH1"),
    ("H2", "ALA", "H"), ("H3", "GLY", "H"), ("HA2", "GLY", "HA"), ("HG1", "THR", "HG"), ("OD1", "ASP", "OD"),
    ("OE2", "GLU", "OE"), ("HE1", "TRP", "HE1"), ("HD2", "PHE", "HD2"), ("HE2", "HIS", "HE2"),
])
def test_standard_names_follow_the_spec_examples(name, residue, expected):
    assert standard_atom_name(name, residue) == expected


def test_dialanine_encodings_equal_the_spec_example():
    # specs/flows-and-protocol.md 4.5, verified example for AA
    enc = atom_encodings(SystemSpec("AA", "AA", ZWITTERION, AMBER14_OBC1).build())
    assert enc.atom_type.tolist() == [37, 18, 18, 18, 2, 19, 3, 20, 20, 20, 1, 46, 37, 18, 2, 19, 3, 20, 20, 20, 1, 46, 52]
    assert enc.aa_pos.tolist() == [1] * 12 + [2] * 11
    assert enc.aa_type.tolist() == [1] * 23 and enc.seq_len == 2
    assert enc.atom_index.tolist() == list(range(23))


def test_every_published_test_peptide_encodes_and_caps_are_refused():
    for task in ("2AA", "4AA", "8AA"):
        for spec in get_task(task).systems[:5]:
            enc = atom_encodings(spec.build())
            assert enc.atom_type.min() >= 1 and enc.aa_type.max() <= 20 and enc.n_atoms == spec.build().n_atoms
    with pytest.raises(ValueError, match="capped"):
        atom_encodings(get_task("ALDP").systems[0].build())
