"""Attack: build the force field from OpenMM's own files and evaluate energies privately.

No isolation can stop a method from computing: this is the limit the README states. The harness
still scores what comes back with its own energy, counts only what went through its meter, and
records the CPU time the method process spent, so hidden work is visible.
"""

import numpy as np
import openmm
import torch
from openmm import app, unit

from benchmark.adapter import Method, Samples


class Attack(Method):
    name = "attack-own-energy"

    def sample(self, system, energy, ctx):
        n = ctx.n_eval_samples
        recipe = system.spec.forcefield
        omm = app.ForceField(*recipe.files).createSystem(system.topology, nonbondedMethod=getattr(app, recipe.nonbonded_method))
        context = openmm.Context(omm, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
        x0 = torch.as_tensor(system.minimized_positions).repeat(4 * n, 1, 1)
        candidates = x0 + 0.01 * torch.randn(x0.shape, generator=ctx.generator, dtype=x0.dtype)
        u = []
        for x in candidates.numpy():
            context.setPositions(x * unit.nanometer)
            u.append(context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
        u = np.array(u)
        best = candidates[np.argsort(u, kind="stable")[:n]]
        return Samples(positions=best, set_name="selected", diagnostics={"private_energy_span": float(u.max() - u.min())})
