"""Attack: evaluate the energy with the system's own OpenMM System instead of the metered energy."""

import numpy as np
import openmm
import torch
from openmm import unit

from benchmark.adapter import Method, Samples


def private_energies(omm_system, positions: torch.Tensor) -> np.ndarray:
    context = openmm.Context(omm_system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    out = []
    for x in positions.numpy():
        context.setPositions(x * unit.nanometer)
        out.append(context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
    return np.array(out)


class Attack(Method):
    name = "attack-meter-bypass-openmm"

    def sample(self, system, energy, ctx):
        n = ctx.n_eval_samples
        x0 = torch.as_tensor(system.minimized_positions).repeat(4 * n, 1, 1)
        candidates = x0 + 0.01 * torch.randn(x0.shape, generator=ctx.generator, dtype=x0.dtype)
        u = private_energies(system.create_openmm_system(), candidates)
        best = candidates[np.argsort(u, kind="stable")[:n]]
        return Samples(positions=best, set_name="selected", diagnostics={"private_energy_span": float(u.max() - u.min())})
