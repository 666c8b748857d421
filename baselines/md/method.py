"""``md``: one OpenMM-force-field Langevin chain from the minimized structure, as long as the budget allows."""

from __future__ import annotations

import numpy as np
import torch

from dataclasses import dataclass

from baselines.md.langevin import run_langevin
from benchmark.adapter import Method, RunContext, Samples
from benchmark.config import MethodConfig


@dataclass(frozen=True)
class MDConfig(MethodConfig):
    """None means the task's published value (friction per ps, time step in fs)."""

    friction_per_ps: float | None = None
    timestep_fs: float | None = None


class MDBaseline(Method):
    """MD at equal budget: every step is one energy-and-force evaluation.

    The chain starts at the system's energy-minimized structure (minimization is part of the
    system, not charged), uses the task's published temperature, friction and time step, and
    is subsampled evenly to the run's number of evaluation samples. No warm-up is discarded:
    at small budgets the samples remember the start, which is the point of the comparison.
    """

    name = "md"
    version = "1"
    description = "Langevin MD at equal energy budget from the minimized structure"
    family = "molecular dynamics"
    config_class = MDConfig

    def sample(self, system, energy, ctx: RunContext) -> Samples:
        recipe = system.spec.forcefield
        n_steps = energy.remaining
        if n_steps < 1:
            raise ValueError("MD needs a budget of at least one evaluation")
        n_keep = min(ctx.n_eval_samples or n_steps, n_steps)
        # Evenly spaced steps ending at the last one: k * n_steps / n_keep for k = 1..n_keep.
        record = np.unique(np.ceil(np.arange(1, n_keep + 1) * n_steps / n_keep).astype(int))
        omm = system.create_openmm_system()
        masses = np.array([omm.getParticleMass(i)._value for i in range(omm.getNumParticles())])
        frames = run_langevin(
            energy,
            system.minimized_positions,
            masses,
            n_steps,
            record,
            kT=recipe.kT_kJ_per_mol,
            friction_per_ps=self.cfg.friction_per_ps or recipe.friction_per_ps,
            timestep_ps=(self.cfg.timestep_fs or recipe.timestep_fs) / 1000.0,
            rng=ctx.numpy_rng(),
        )
        return Samples(positions=torch.from_numpy(frames), set_name="md", diagnostics={"steps": n_steps})
