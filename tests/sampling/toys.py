"""Toy target and proposal with closed forms: one 'atom' in 3-D, isotropic Gaussians."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.adapter import ProposalMethod, RunContext
from benchmark.energy import TargetEnergy
from benchmark.energy.base import as_positions


@dataclass
class ToySystem:
    """Anything with n_atoms is a system for the samplers."""

    n_atoms: int = 1


class GaussianTarget(TargetEnergy):
    """u(x) = |x - mean|^2 / (2 std^2); optionally +inf where x_0 > inf_above (a 'clash')."""

    def __init__(self, mean, std: float, inf_above: float | None = None):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = float(std)
        self.inf_above = inf_above
        self.n_atoms = 1
        self.kT_kJ_per_mol = 2.494

    def energy_and_forces(self, x):
        pos = as_positions(x, 1)
        d = pos - self.mean
        u = (d**2).sum(axis=(1, 2)) / (2 * self.std**2)
        f = -d / self.std**2
        if self.inf_above is not None:
            bad = pos[:, 0, 0] > self.inf_above
            u[bad] = np.inf
            f[bad] = 0.0
        return torch.from_numpy(u), torch.from_numpy(f)

    def energy(self, x):
        return self.energy_and_forces(x)[0]


class GaussianProposal(ProposalMethod):
    """q = N(mean, std^2 I_3) with its exact, differentiable log density."""

    name = "toy-gaussian"

    def __init__(self, mean, std: float):
        super().__init__()
        self.mean = torch.as_tensor(mean, dtype=torch.float32)
        self.std = float(std)

    def propose(self, system, n: int, ctx: RunContext):
        x = self.mean + self.std * torch.randn(n, 1, 3, generator=ctx.generator)
        return x, self.log_q(system, x, ctx).detach()

    def log_q(self, system, positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        d = positions - self.mean.to(positions.dtype)
        return -(d**2).sum((1, 2)) / (2 * self.std**2) - 1.5 * math.log(2 * math.pi * self.std**2)


def context(seed: int = 0, budget: int = 0) -> RunContext:
    return RunContext(seed=seed, tier="quick", budget=budget)
