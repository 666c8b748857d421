"""The MD baseline's integrator samples the right distribution and charges every step."""

from __future__ import annotations

import numpy as np
import torch

from baselines.md.langevin import run_langevin
from benchmark.energy import BudgetedEnergy
from benchmark.energy.base import TargetEnergy, as_positions


class Harmonic(TargetEnergy):
    """u(x) = k |x|^2 / (2 kT) for one particle; forces in kT/nm."""

    def __init__(self, k: float, kT: float):
        self.n_atoms, self.k, self.kT_kJ_per_mol = 1, k, kT

    def energy(self, x):
        x = as_positions(x, 1)
        return torch.from_numpy(0.5 * self.k * (x**2).sum((1, 2)) / self.kT_kJ_per_mol)

    def energy_and_forces(self, x):
        x = as_positions(x, 1)
        return self.energy(x), torch.from_numpy(-self.k * x / self.kT_kJ_per_mol)


def test_equipartition_and_budget():
    kT, k, mass = 2.5, 500.0, 12.0  # kJ/mol, kJ/mol/nm^2, amu
    n_steps = 40_000
    energy = BudgetedEnergy(Harmonic(k, kT), budget=n_steps)
    record = np.arange(100, n_steps + 1, 10)
    frames = run_langevin(
        energy, np.zeros((1, 3)), np.array([mass]), n_steps, record, kT=kT,
        friction_per_ps=5.0, timestep_ps=0.002, rng=np.random.default_rng(0), progress=False,
    )
    assert energy.used == n_steps and energy.force_evaluations == n_steps
    # Closed form: each coordinate has variance kT / k.
    var = frames[:, 0, :].var(axis=0).mean()
    assert abs(var / (kT / k) - 1) < 0.08
