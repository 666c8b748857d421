"""Systems built from sequence: atom counts, order, metadata and invalid input."""

from __future__ import annotations

import random

import mdtraj
import numpy as np
import pytest

from benchmark.errors import InvalidSequenceError
from benchmark.systems import AMBER14_OBC1, AMBER99SBILDN_OBC, CAPPED, ZWITTERION, SystemSpec
from benchmark.tasks import TASKS, get_task
from benchmark.tasks.sequences import TEST_SEQUENCES, VAL_SEQUENCES

# Atoms of each residue inside a chain (backbone N-H ... C=O), counted by hand from the Amber
# templates: Asp/Glu deprotonated, Lys/Arg protonated, His as HIE, Pro without amide H.
RESIDUE_ATOMS = {
    "A": 10, "R": 24, "N": 14, "D": 12, "C": 11, "Q": 17, "E": 15, "G": 7, "H": 17, "I": 19,
    "L": 19, "K": 22, "M": 17, "F": 20, "P": 14, "S": 11, "T": 14, "W": 24, "Y": 21, "V": 16,
}


def expected_atoms(sequence: str, termini: str) -> int:
    """Zwitterion: two extra N-terminal H and OXT. Capped: ACE and NME, 6 atoms each."""
    body = sum(RESIDUE_ATOMS[c] for c in sequence)
    return body + (3 if termini == ZWITTERION else 12)


def zwitterion(seq: str) -> SystemSpec:
    return SystemSpec(seq, seq, ZWITTERION, AMBER14_OBC1)


def test_known_atom_counts():
    assert expected_atoms("AA", ZWITTERION) == 23
    assert expected_atoms("A", CAPPED) == 22
    assert expected_atoms("GYDPETGTWG", ZWITTERION) == 138
    assert zwitterion("AA").build().n_atoms == 23
    assert SystemSpec("aldp", "A", CAPPED, AMBER99SBILDN_OBC).build().n_atoms == 22
    assert zwitterion("GYDPETGTWG").build().n_atoms == 138


def test_spec_atom_counts_need_no_build_and_match_the_built_topology():
    for table in (TEST_SEQUENCES, VAL_SEQUENCES):
        for seqs in table.values():
            for seq in seqs:
                assert zwitterion(seq).n_atoms == expected_atoms(seq, ZWITTERION), seq
    for seq in ("PG", "GP", "PAP", "GAG"):  # proline and glycine at either terminus
        assert zwitterion(seq).n_atoms == zwitterion(seq).build().n_atoms == expected_atoms(seq, ZWITTERION)
    capped = SystemSpec("capped-PG", "PG", CAPPED, AMBER99SBILDN_OBC)
    assert capped.n_atoms == capped.build().n_atoms == expected_atoms("PG", CAPPED)


@pytest.mark.parametrize("task_name", list(TASKS))
def test_task_systems_have_expected_atom_counts(task_name):
    task = get_task(task_name)
    for spec in task.systems_for("quick") + task.systems[:3]:
        assert spec.build().n_atoms == expected_atoms(spec.sequence, spec.termini), spec.name


def test_every_residue_type_builds_with_expected_count():
    seq = "ARNDCQEGHI"
    assert zwitterion(seq).build().n_atoms == expected_atoms(seq, ZWITTERION)
    seq = "LKMFPSTWYV"
    assert zwitterion(seq).build().n_atoms == expected_atoms(seq, ZWITTERION)


def test_amber_template_order_for_alanine_dipeptide_zwitterion():
    system = zwitterion("AA").build()
    assert system.atom_names == (
        "N", "H", "H2", "H3", "CA", "HA", "CB", "HB1", "HB2", "HB3", "C", "O",
        "N", "H", "CA", "HA", "CB", "HB1", "HB2", "HB3", "C", "O", "OXT",
    )


def test_capped_order_and_types():
    system = SystemSpec("aldp", "A", CAPPED, AMBER99SBILDN_OBC).build()
    assert system.atom_names[:6] == ("H1", "CH3", "H2", "H3", "C", "O")
    assert system.residue_names[0] == "ACE" and system.residue_names[-1] == "NME"
    assert system.amber_types[1] == "CT" and system.amber_types[4] == "C" and system.amber_types[6] == "N"


def test_build_is_deterministic_and_leaves_global_random_alone():
    random.seed(123)
    before = random.random()
    random.seed(123)
    a = zwitterion("KHAP").build().initial_positions
    after = random.random()
    from benchmark.systems.builder import build_peptide

    b = build_peptide("KHAP", ZWITTERION, AMBER14_OBC1).positions
    np.testing.assert_array_equal(a, b)
    assert before == after


@pytest.mark.parametrize("seq", ["AA", "KHAP", "GYDPETGTWG", "CGSWHKQR"])
def test_dihedral_indices_match_mdtraj(seq):
    system = zwitterion(seq).build()
    traj = mdtraj.Trajectory(system.initial_positions[None], system.mdtraj_topology)
    np.testing.assert_array_equal(mdtraj.compute_phi(traj)[0], system.phi_indices)
    np.testing.assert_array_equal(mdtraj.compute_psi(traj)[0], system.psi_indices)
    np.testing.assert_array_equal(mdtraj.compute_omega(traj)[0], system.omega_indices)
    assert len(system.phi_indices) == len(seq) - 1


def test_metadata_shapes_and_backbone():
    system = zwitterion("GYDP").build()
    n = system.n_atoms
    assert len(system.elements) == len(system.amber_types) == len(system.residue_names) == n
    assert system.residue_index.shape == (n,) and system.residue_index.max() == 3
    backbone = [system.atom_names[i] for i in np.flatnonzero(system.backbone_mask)]
    assert backbone.count("CA") == 4 and backbone.count("N") == 4 and "OXT" in backbone
    assert all(system.elements[i] != "H" for i in np.flatnonzero(system.backbone_mask))


def test_orderings_worked_example_from_spec():
    """Permutations of the AA zwitterion listed in specs/flows-and-protocol.md section 4.4."""
    orders = zwitterion("AA").build().orderings
    assert orders["n2c_residue-by-residue_standard"].tolist() == list(range(23))
    assert orders["n2c_backbone-first_standard"].tolist() == [
        0, 4, 10, 11, 12, 14, 20, 21, 22, 1, 2, 3, 5, 6, 7, 8, 9, 13, 15, 16, 17, 18, 19
    ]
    assert orders["c2n_residue-by-residue_standard"].tolist() == [
        22, 20, 21, 14, 15, 16, 17, 18, 19, 12, 13, 10, 11, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3
    ]
    assert orders["n2c_backbone-first_standard_flip"].tolist() == orders["n2c_backbone-first_standard"].tolist()[::-1]
    assert len(orders) == 16


def test_proline_residue_by_residue_order_differs_from_template_order():
    system = zwitterion("AP").build()
    perm = system.residue_by_residue_order
    names = [system.atom_names[i] for i in perm if system.residue_index[i] == 1]
    assert names[:5] == ["N", "CA", "HA", "CB", "HB2"] and names[-3:] == ["C", "O", "OXT"]
    assert sorted(perm.tolist()) == list(range(system.n_atoms))


@pytest.mark.parametrize(
    "seq, termini, message",
    [
        ("", ZWITTERION, "empty"),
        ("AXA", ZWITTERION, "X"),
        ("aa", ZWITTERION, "upper case"),
        ("A" * 11, ZWITTERION, "at most 10"),
        ("A", ZWITTERION, "at least 2"),
        ("AA", "amidated", "termini"),
    ],
)
def test_invalid_sequences_are_refused_clearly(seq, termini, message):
    with pytest.raises(InvalidSequenceError, match=message):
        SystemSpec("x", seq, termini, AMBER14_OBC1)


@pytest.mark.slow
def test_every_published_sequence_builds_with_finite_minimized_energy():
    from benchmark.energy import OpenMMEnergy

    for table in (TEST_SEQUENCES, VAL_SEQUENCES):
        for seqs in table.values():
            for seq in seqs:
                system = zwitterion(seq).build()
                assert system.n_atoms == expected_atoms(seq, ZWITTERION)
                energy = OpenMMEnergy(system, platform="Reference").energy(system.minimized_positions[None])
                assert bool(energy.isfinite().all()), seq
