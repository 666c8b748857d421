"""Features against mdtraj (an independent implementation) and the published feature counts."""

from __future__ import annotations

import itertools

import mdtraj as md
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from benchmark.metrics import dihedral_sincos, tica_feature_dim, tica_features, torus_angles
from benchmark.systems import AMBER14_OBC1, AMBER99SBILDN_OBC, CAPPED, ZWITTERION, SystemSpec


def _system(seq: str, termini: str = ZWITTERION):
    return SystemSpec(seq, seq, termini, AMBER14_OBC1 if termini == ZWITTERION else AMBER99SBILDN_OBC).build()


def _noisy(system, n: int, scale: float = 0.02, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return system.initial_positions[None] + rng.normal(scale=scale, size=(n, system.n_atoms, 3))


def _traj(system, x):
    return md.Trajectory(x.astype(np.float32), system.mdtraj_topology)


@pytest.mark.parametrize("seq,termini", [("AA", ZWITTERION), ("KCW", ZWITTERION), ("A", CAPPED)])
def test_torus_angles_match_mdtraj(seq, termini):
    system = _system(seq, termini)
    x = _noisy(system, 7, scale=0.05)
    traj = _traj(system, x)
    expected = np.concatenate([md.compute_phi(traj)[1], md.compute_psi(traj)[1]], axis=1)
    np.testing.assert_allclose(torus_angles(x, system), expected, atol=2e-4)


def test_tica_features_match_independent_mdtraj_computation():
    system = _system("KCW")
    x = _noisy(system, 5, scale=0.05)
    traj = _traj(system, x)
    sliced = traj.atom_slice(traj.topology.select("symbol == C or symbol == N or symbol == S"))
    pairs = list(itertools.combinations(range(sliced.n_atoms), 2))
    dihedrals = []
    for fn in (md.compute_phi, md.compute_psi, md.compute_omega):
        angles = fn(sliced)[1]
        dihedrals += [np.sin(angles), np.cos(angles)]
    expected = np.concatenate([md.compute_distances(sliced, pairs), *dihedrals], axis=1)
    np.testing.assert_allclose(tica_features(x, system), expected, atol=2e-4)


@pytest.mark.parametrize("seq", ["AA", "KCW", "ARIP", "GYDPETGT"])
def test_tica_feature_dim_follows_published_count(seq):
    system = _system(seq)
    # count independently: C/N/S atoms from mdtraj's selection language, (n_res - 1) dihedrals of each kind
    n_cns = len(system.mdtraj_topology.select("symbol == C or symbol == N or symbol == S"))
    expected = n_cns * (n_cns - 1) // 2 + 6 * (len(seq) - 1)
    assert tica_feature_dim(system) == expected
    assert tica_features(system.initial_positions[None], system).shape == (1, expected)
    if seq == "AA":
        assert expected == 34
    if seq == "ARIP":
        assert expected == 369  # published example (specs/flows-and-protocol.md 1.2.8)


def test_features_invariant_to_rotation_and_translation():
    system = _system("KCW")
    x = _noisy(system, 4)
    rot = Rotation.random(random_state=3).as_matrix()
    moved = x @ rot.T + np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(tica_features(moved, system), tica_features(x, system), atol=1e-10)
    np.testing.assert_allclose(torus_angles(moved, system), torus_angles(x, system), atol=1e-10)
    np.testing.assert_allclose(dihedral_sincos(moved, system), dihedral_sincos(x, system), atol=1e-10)
