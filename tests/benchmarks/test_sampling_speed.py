"""Sampler overhead on toy energies (the molecular energy dominates real runs).

Run: .venv/bin/python -m pytest tests/benchmarks/test_sampling_speed.py -m benchmark --benchmark-enable
"""

import pytest
import torch

from benchmark.energy import BudgetedEnergy
from benchmark.sampling import make_sampler
from benchmark.sampling.weights import multinomial_indices, systematic_indices
from tests.sampling.toys import GaussianProposal, GaussianTarget, ToySystem, context

pytestmark = pytest.mark.benchmark


def test_systematic_resampling_1e6(benchmark):
    logw = torch.randn(1_000_000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    benchmark(systematic_indices, logw, torch.Generator().manual_seed(1))


def test_multinomial_resampling_1e6(benchmark):
    logw = torch.randn(1_000_000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    benchmark(multinomial_indices, logw, 1_000_000, torch.Generator().manual_seed(1))


def test_snis_toy_1e5(benchmark):
    def run():
        energy = BudgetedEnergy(GaussianTarget([0.0, 0.0, 0.0], 0.3), budget=100_000)
        return make_sampler("snis").run(GaussianProposal([0.1, 0.0, 0.0], 0.5), ToySystem(), energy, context(0))

    benchmark.pedantic(run, rounds=3)


def test_smc_ula_toy_1000_particles_100_steps(benchmark):
    sampler = make_sampler("smc", coordinate_scale=1.0, init_eps=0.03, n_particles=1000)

    def run():
        energy = BudgetedEnergy(GaussianTarget([0.0, 0.0, 0.0], 0.1), budget=1000 * sampler.evaluations_per_particle())
        return sampler.run(GaussianProposal([0.1, 0.0, 0.0], 0.25), ToySystem(), energy, context(0))

    benchmark.pedantic(run, rounds=3)
