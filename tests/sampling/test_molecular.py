"""The samplers on a real peptide energy (OpenMM, AAA): shapes, budget, and SMC lowering energies."""

import math

import pytest
import torch

from benchmark.adapter import ProposalMethod, RunContext
from benchmark.energy import BudgetedEnergy, OpenMMEnergy
from benchmark.sampling import make_sampler
from benchmark.tasks import get_task

pytestmark = pytest.mark.slow


class JitteredMinimum(ProposalMethod):
    """Isotropic Gaussian around the minimised structure: a deliberately poor proposal."""

    name = "jittered-minimum"

    def __init__(self, center, std: float):
        super().__init__()
        self.center = torch.as_tensor(center, dtype=torch.float32)
        self.std = std

    def propose(self, system, n, ctx):
        x = self.center + self.std * torch.randn(n, *self.center.shape, generator=ctx.generator)
        return x, self.log_q(system, x, ctx).detach()

    def log_q(self, system, positions, ctx):
        d = positions - self.center
        dim = d[0].numel()
        return -(d**2).sum((1, 2)) / (2 * self.std**2) - 0.5 * dim * math.log(2 * math.pi * self.std**2)


@pytest.fixture(scope="module")
def aaa():
    system = get_task("AL3").systems_for("quick")[0].build()
    return system, OpenMMEnergy(system)


@pytest.mark.parametrize("preset", ["snis", "smc", "smc-mala"])
def test_sampler_on_peptide(aaa, preset):
    system, target = aaa
    budget = 1500
    energy = BudgetedEnergy(target, budget)
    method = JitteredMinimum(system.minimized_positions, 0.01)
    s = make_sampler(preset).run(method, system, energy, RunContext(seed=0, tier="quick", budget=budget))
    s.validate(system.n_atoms)
    assert energy.used <= budget
    u_prop = target.energy(s.proposal).median()
    u_final = target.energy(s.positions).median()
    assert u_final < u_prop, (float(u_final), float(u_prop))
