"""Basin starts and populations: start geometry checked with mdtraj, populations and errors by hand,
and the training and evaluation splits of generated data agree on their basin populations."""

from __future__ import annotations

import mdtraj as md
import numpy as np
import pytest

from benchmark.data import basins, load_reference
from benchmark.data.basins import CENTRES, Population, agreement, backbone_residues, populations, residue_states
from benchmark.data.generate import prepare_system
from benchmark.data.starts import set_backbone, start_basins
from benchmark.tasks import get_task


def _mdtraj_phi_psi(system, x):
    traj = md.Trajectory(np.asarray(x, np.float32)[None], system.mdtraj_topology)
    return np.degrees(md.compute_phi(traj)[1][0]), np.degrees(md.compute_psi(traj)[1][0])


@pytest.mark.parametrize("basin", ["alpha_R", "beta", "PII", "alpha_L"])
def test_set_backbone_puts_aldp_in_each_basin(basin):
    system = get_task("ALDP").systems[0].build()
    x = set_backbone(system, system.initial_positions, [basin])
    phi, psi = _mdtraj_phi_psi(system, x)  # independent dihedral code
    np.testing.assert_allclose([phi[0], psi[0]], CENTRES[basin], atol=1e-3)  # mdtraj works in float32
    (residue,) = backbone_residues(system)
    assert residue.label == "A1" and residue.states[residue_states(x[None], residue)[0]] == basin
    # bond lengths are untouched by the rotations
    d = lambda y: np.linalg.norm(y[system.bonds[:, 0]] - y[system.bonds[:, 1]], axis=1)  # noqa: E731
    np.testing.assert_allclose(d(x), d(system.initial_positions), atol=1e-12)


def test_set_backbone_on_a_zwitterion_with_proline():
    system = get_task("2AA").system("PY").build()  # P1 has psi only, Y2 phi only
    residues = backbone_residues(system)
    assert [(r.label, r.phi is None, r.psi is None) for r in residues] == [("P1", True, False), ("Y2", False, True)]
    x = set_backbone(system, system.initial_positions, ["alpha_R", "beta"])
    phi, psi = _mdtraj_phi_psi(system, x)
    np.testing.assert_allclose([psi[0], phi[0]], [CENTRES["alpha_R"][1], CENTRES["beta"][0]], atol=1e-3)
    assert residues[0].states == ("psi_alpha", "psi_ext") and residues[1].states == ("phi_neg", "phi_pos")


def test_start_pattern_is_balanced_in_every_round():
    starts = ("alpha_R", "beta", "PII")
    assert [start_basins(i, 2, starts) for i in range(3)] == [["alpha_R"] * 2, ["beta"] * 2, ["PII"] * 2]
    for first in (0, 3, 6):
        rows = [start_basins(i, 4, starts) for i in range(first, first + 3)]
        for j in range(4):  # every residue starts once in every basin per round of 3 replicas
            assert sorted(r[j] for r in rows) == sorted(starts)


def test_populations_and_errors_by_hand(monkeypatch):
    system = get_task("ALDP").systems[0].build()
    # three "replicas" whose frames are labelled by hand through a stand-in for residue_states
    labels = [np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0]), np.array([2, 2, 2, 3])]
    trajs = [np.full((4, system.n_atoms, 3), float(k)) for k in range(3)]
    monkeypatch.setattr(basins, "residue_states", lambda x, residue: labels[int(x[0, 0, 0])])
    pops = populations(trajs, system)["A1"]
    per_replica = np.array([[0.5, 0.5, 0, 0], [1, 0, 0, 0], [0, 0, 0.75, 0.25]])
    for k, state in enumerate(basins.BASINS):
        assert pops[state].mean == pytest.approx(per_replica[:, k].mean())
        assert pops[state].se == pytest.approx(per_replica[:, k].std(ddof=1) / np.sqrt(3))
        assert pops[state].n_blocks == 3
    z = agreement({"A1": {"beta": Population(0.5, 0.03, 9)}}, {"A1": {"beta": Population(0.4, 0.04, 9)}})
    assert z["A1"]["beta"] == pytest.approx(0.1 / 0.05)


def _split_populations(ref, system):
    ranges = ref.manifest["replica_ranges"]
    train = ref.train_positions().reshape(ranges["train"][1] - ranges["train"][0], -1, system.n_atoms, 3)
    return populations(list(train), system), populations(ref.test_trajectories, system)


def test_train_and_test_splits_agree_on_a_small_generated_set(tmp_path, tiny_task):
    """Disjoint replica sets with the same start pattern sample the same basin mixture (within errors)."""
    task = tiny_task(replicas=(6, 0, 6), frames=40, interval=100, warmup=1000)
    spec = task.systems[0]
    prepare_system(task, "quick", spec, tmp_path, seed=0, progress=False)
    ref = load_reference(task, "quick", spec, tmp_path)
    train, test = _split_populations(ref, spec.build())
    z = agreement(train, test)["A1"]
    assert all(abs(v) < 3.5 for v in z.values()), (z, train, test)
    assert ref.manifest["basin_populations"]["test"]["A1"]["alpha_R"][0] == pytest.approx(test["A1"]["alpha_R"].mean, abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("task_name", ["ALDP", "AL3", "2AA"])
def test_quick_reference_splits_agree_on_basin_populations(task_name, tmp_path):
    """The real quick data (generated here if $BGBENCH_DATA has no current copy): train and test agree within 3 sigma."""
    task = get_task(task_name)
    for spec in task.systems_for("quick"):
        prepare_system(task, "quick", spec, progress=False)
        ref = load_reference(task, "quick", spec)
        train, test = _split_populations(ref, spec.build())
        for res, states in agreement(train, test).items():
            for state, z in states.items():
                assert abs(z) < 3.0, (spec.name, res, state, train[res][state], test[res][state])
