"""The shared batched LangevinMiddle: right distribution, repeatable, and charged per replica per step."""

from __future__ import annotations

import numpy as np
import torch

from benchmark.dynamics import LangevinMiddle
from benchmark.energy import BudgetedEnergy, TorchEnergy
from benchmark.energy.base import TargetEnergy, batch_size_of
from benchmark.tasks import get_task


class Harmonic(TargetEnergy):
    """u(x) = k |x|^2 / (2 kT) for independent particles; torch in, torch out."""

    def __init__(self, k: float, kT: float, n_atoms: int = 1):
        self.n_atoms, self.k, self.kT_kJ_per_mol = n_atoms, k, kT

    def energy(self, x):
        batch_size_of(x, self.n_atoms)
        return 0.5 * self.k * (x**2).sum((1, 2)) / self.kT_kJ_per_mol

    def energy_and_forces(self, x):
        return self.energy(x), -self.k * x / self.kT_kJ_per_mol


def test_replicas_sample_the_harmonic_distribution():
    kT, k, mass, replicas = 2.5, 500.0, 12.0, 256
    integrator = LangevinMiddle(np.full(2, mass), kT, friction_per_ps=5.0, timestep_ps=0.002)
    gen = torch.Generator().manual_seed(0)
    state = integrator.initial_state(np.zeros((2, 3)), replicas, gen)
    energy = Harmonic(k, kT, 2)
    integrator.run(energy, state, 500, gen)  # burn-in: 5 friction times
    frames, temps = [], []
    for _ in range(40):
        frames.append(integrator.run(energy, state, 50, gen, record_steps=[50]))
        temps.append(integrator.kinetic_temperature(state.v))
    # Closed forms: each coordinate has variance kT / k, and <KE> = 3 N kT / 2. Samples are 0.1 ps
    # apart (about one correlation time): 256 replicas x 40 x 6 dof, standard error ~1 % each.
    var = torch.cat(frames).var(dim=(0, 1)).mean().item()
    assert abs(var / (kT / k) - 1) < 0.04
    assert abs(torch.stack(temps).mean().item() - 1) < 0.04


def test_molecular_kinetic_temperature_with_the_torch_energy():
    system = get_task("ALDP").systems[0].build()
    omm = system.create_openmm_system()
    masses = [omm.getParticleMass(i)._value for i in range(system.n_atoms)]
    integrator = LangevinMiddle(masses, system.kT_kJ_per_mol, friction_per_ps=10.0, timestep_ps=0.001)
    gen = torch.Generator().manual_seed(1)
    state = integrator.initial_state(system.initial_positions, 16, gen)
    energy = TorchEnergy(system)
    integrator.run(energy, state, 200, gen)  # 2 friction times
    temps = []
    for _ in range(20):
        integrator.run(energy, state, 20, gen)
        temps.append(integrator.kinetic_temperature(state.v))
    # 16 replicas x 66 dof x 20 samples 0.2 friction times apart: standard error ~2 %.
    assert abs(torch.stack(temps).mean().item() - 1) < 0.06


def test_same_seed_same_trajectory_and_one_evaluation_per_replica_per_step():
    system = get_task("AL3").systems[0].build()
    energy = TorchEnergy(system)
    masses = np.full(system.n_atoms, 12.0)
    runs = []
    for _ in range(2):
        metered = BudgetedEnergy(energy, budget=40)
        integrator = LangevinMiddle(masses, system.kT_kJ_per_mol, 1.0, 0.001)
        gen = torch.Generator().manual_seed(7)
        state = integrator.initial_state(system.initial_positions, 4, gen)
        frames = integrator.run(metered, state, 10, gen, record_steps=[5, 10])
        assert metered.used == 40 and metered.force_evaluations == 40
        runs.append(frames)
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0][:, 0], runs[0][:, 1])  # replicas are independent
