"""The torch-float64 replica-MD backend: repeatable bytes, resumable, the LangevinMiddle step of OpenMM, the right ensemble.

The energy itself equals OpenMM Reference (tests/test_torch_energy.py); these tests check what
the backend adds: the integrator step, the per-replica seeding and the segment contract of
replica_md.Backend (a pure function of its arguments).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import openmm
import pytest
import torch
from openmm import unit

from benchmark.data import replica_md, torch_md
from benchmark.data.replica_md import ReplicaPlan, States, get_backend, maxwell_boltzmann, simulate_replicas
from benchmark.errors import DataError
from benchmark.tasks import get_task
from benchmark.tasks.protocol import LocalMD

BACKEND = "torch-float64"


def _al3():
    return get_task("AL3").systems[0]


def _thermal_states(spec, n_replicas: int, seed: int = 0) -> States:
    """Minimised positions (plus a little seeded noise per replica) and Maxwell-Boltzmann velocities."""
    system = spec.build()
    omm = system.create_openmm_system()
    masses = np.array([omm.getParticleMass(i)._value for i in range(omm.getNumParticles())])
    rng = np.random.default_rng(seed)
    x = np.asarray(system.minimized_positions, dtype=np.float64)[None] + 0.002 * rng.standard_normal((n_replicas, system.n_atoms, 3))
    v = np.stack([maxwell_boltzmann(masses, system.kT_kJ_per_mol, rng) for _ in range(n_replicas)])
    return States(x, v)


def test_registered_backend_minimises_on_reference():
    backend = get_backend(BACKEND)
    assert backend.name == BACKEND and isinstance(backend.minimizer, replica_md.OpenMMReference)


def test_same_seeds_give_the_same_bytes_and_other_seeds_do_not():
    spec, states = _al3(), _thermal_states(_al3(), 3)
    backend = get_backend(BACKEND)
    a = backend.run(spec, states, [11, 12, 13], 4, 5)
    torch_md._energy_and_masses.cache_clear()  # as in a fresh process
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the caller's thread count must not matter
    try:
        b = get_backend(BACKEND).run(spec, states, [11, 12, 13], 4, 5)
    finally:
        torch.set_num_threads(before)
    assert torch.get_num_threads() == before
    for x, y in [(a[0], b[0]), (a[1], b[1]), (a[2].positions, b[2].positions), (a[2].velocities, b[2].velocities)]:
        assert x.tobytes() == y.tobytes()
    assert a[0].shape == (3, 4, spec.build().n_atoms, 3) and a[0].dtype == np.float32 and a[1].shape == (3, 4)
    c = backend.run(spec, states, [11, 12, 14], 4, 5)
    assert not np.array_equal(c[0][2], a[0][2])
    assert np.array_equal(c[0][:2], a[0][:2])  # each replica has its own noise stream: only replica 2's seed changed
    assert not np.array_equal(states.positions, a[2].positions)  # the input states are not modified in place...
    assert np.array_equal(states.positions, _thermal_states(_al3(), 3).positions)  # ...and still the originals


def _plan(backend: str = BACKEND) -> ReplicaPlan:
    md = LocalMD(replicas=(2, 1, 0), frames_per_replica=12, frame_interval_steps=4, warmup_steps=20, backend=backend)
    return dataclasses.replace(ReplicaPlan.for_splits(md, 3, 7, "torch-md-test"), frames_per_segment=4,
                               start_minimize_iterations=20)


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    spec, plan = _al3(), _plan()
    with pytest.raises(DataError, match="resume"):
        simulate_replicas(spec, plan, tmp_path / "cut", get_backend(BACKEND), progress=False, stop_after_segments=2)
    assert sorted(p.name for p in (tmp_path / "cut").glob("segment_*.npz")) == ["segment_0000.npz", "segment_0001.npz"]
    torch_md._energy_and_masses.cache_clear()
    resumed = simulate_replicas(spec, plan, tmp_path / "cut", get_backend(BACKEND), progress=False)
    whole = simulate_replicas(spec, plan, tmp_path / "whole", get_backend(BACKEND), progress=False)
    assert resumed[0].shape == (3, 12, 33, 3)
    assert resumed[0].tobytes() == whole[0].tobytes() and resumed[1].tobytes() == whole[1].tobytes()
    for k in range(4):
        name = f"segment_{k:04d}.npz"
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def _reference_forces_and_energy(omm_system, x: np.ndarray) -> tuple[np.ndarray, float]:
    context = openmm.Context(omm_system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(x * unit.nanometer)
    state = context.getState(getForces=True, getEnergy=True)
    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    return np.asarray(forces, dtype=np.float64), state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


@pytest.mark.parametrize("friction", [None, 5.0])
def test_one_step_is_the_langevin_middle_update_with_openmm_forces(friction):
    """x, v after one step from the OpenMM Reference force and the replica's documented noise draw.

    LangevinMiddle (OpenMM's splitting): v += dt F / m; x += dt/2 v; v = a v + sqrt((1 - a^2) kT / m) xi;
    x += dt/2 v, with a = exp(-gamma dt); xi is the (N, 3) standard-normal draw of
    ``numpy.random.default_rng(seed)`` of that replica. The recorded frame's energy is OpenMM's at the new x.
    """
    spec = _al3()
    states, seeds = _thermal_states(spec, 2, seed=3), [101, 202]
    frames, energies, after = get_backend(BACKEND).run(spec, states, seeds, 1, 1, friction)

    omm = spec.build().create_openmm_system()
    m = np.array([omm.getParticleMass(i).value_in_unit(unit.dalton) for i in range(omm.getNumParticles())])[:, None]
    ff = spec.forcefield
    kT = (unit.MOLAR_GAS_CONSTANT_R * ff.temperature_K * unit.kelvin).value_in_unit(unit.kilojoule_per_mole)
    gamma = ff.friction_per_ps if friction is None else friction
    dt = (ff.timestep_fs * unit.femtosecond).value_in_unit(unit.picosecond)
    a = np.exp(-gamma * dt)
    for r, seed in enumerate(seeds):
        force, _ = _reference_forces_and_energy(omm, states.positions[r])
        xi = np.random.default_rng(seed).standard_normal(m.shape[:1] + (3,))
        v = states.velocities[r] + dt * force / m
        x = states.positions[r] + 0.5 * dt * v
        v = a * v + np.sqrt((1 - a * a) * kT / m) * xi
        x = x + 0.5 * dt * v
        np.testing.assert_allclose(after.velocities[r], v, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(after.positions[r], x, rtol=1e-12, atol=1e-14)
        assert np.abs(after.velocities[r] - (states.velocities[r] + dt * force / m)).max() > 1e-3  # the bath acted
        _, u_new = _reference_forces_and_energy(omm, after.positions[r])
        assert energies[r, 0] == pytest.approx(u_new, rel=1e-10)
        np.testing.assert_array_equal(frames[r, 0], after.positions[r].astype(np.float32))


@pytest.mark.slow
@pytest.mark.parametrize("task_name", ["ALDP", "AL3"])
def test_mean_potential_energy_agrees_with_the_reference_backend(task_name):
    """<U> of torch-float64 and openmm-reference replicas from the same starts agree within 4 standard errors.

    The errors come from the spread of the per-replica means (independent replicas), so time
    correlation inside a replica needs no model. Last run (kJ/mol): ALDP diff 1.33 +- 3.65, AL3
    2.42 +- 5.55; 5 ps per replica resolves gross integrator errors, not percent-level ones.
    """
    spec = get_task(task_name).systems[0]
    n_replicas, warmup, frames, interval = 6, 2_000, 100, 50  # 2 ps at 5 / ps, then 5 ps per replica
    start = _thermal_states(spec, n_replicas, seed=1)
    means = {}
    for name, offset in [(BACKEND, 0), ("openmm-reference", 1000)]:
        backend = get_backend(name)
        seeds = [offset + r for r in range(n_replicas)]
        _, _, warm = backend.run(spec, start, seeds, 1, warmup, 5.0)
        _, energies, _ = backend.run(spec, warm, [s + 500 for s in seeds], frames, interval)
        means[name] = energies.mean(axis=1)
    diff = means[BACKEND].mean() - means["openmm-reference"].mean()
    se = np.sqrt(sum(v.var(ddof=1) / len(v) for v in means.values()))
    print(f"{task_name}: <U> torch {means[BACKEND].mean():.2f}, reference {means['openmm-reference'].mean():.2f}, "
          f"diff {diff:.2f} +- {se:.2f} kJ/mol")
    assert abs(diff) < 4 * se
