"""SMC from a deliberately poor proposal on a Gaussian toy target: measured improvement."""

import math

import numpy as np
import pytest
import torch

from benchmark.energy import BudgetedEnergy
from benchmark.errors import BudgetExceeded, InvalidSamplesError
from benchmark.sampling import SamplerError, make_sampler

from .toys import GaussianProposal, GaussianTarget, ToySystem, context

MU = np.array([0.2, 0.0, -0.1])
SIGMA = 0.1
K = 40
# toy settings: nm-space steps (coordinate_scale 1), no published molecular-energy filters
TOY = dict(num_annealing_steps=K, coordinate_scale=1.0, energy_cutoff=None, logw_quantile_filter=None)


def gaussian_w2(x: np.ndarray) -> float:
    """W2 between N(mean(x), var I) fitted to x and the isotropic target (closed form)."""
    s = math.sqrt(x.var(0).mean())
    return math.sqrt(((x.mean(0) - MU) ** 2).sum() + 3 * (s - SIGMA) ** 2)


def run_smc(preset, n_particles=1000, seed=0, **settings):
    sampler = make_sampler(preset, **{**TOY, **settings})
    budget = n_particles * sampler.evaluations_per_particle()
    energy = BudgetedEnergy(GaussianTarget(MU, SIGMA), budget=budget)
    method = GaussianProposal(MU + [0.25, 0.0, 0.0], 0.25)  # shifted by 2.5 sigma and 2.5x too wide
    return sampler.run(method, ToySystem(), energy, context(seed, budget)), energy


@pytest.mark.parametrize("preset, eps", [("smc", 0.03), ("smc-mala", 0.01)])
def test_smc_moves_a_poor_proposal_towards_the_target(preset, eps):
    s, energy = run_smc(preset, init_eps=eps)
    assert energy.used == energy.budget  # n_particles = budget // evaluations per particle
    assert s.set_name == "smc" and len(s.positions) == 1000 and torch.all(s.log_weights == 0)
    x = s.positions[:, 0].double().numpy()
    x0 = s.proposal[:, 0].double().numpy()
    w2_smc, w2_prop = gaussian_w2(x), gaussian_w2(x0)
    assert w2_prop > 0.3  # the proposal really is poor
    assert w2_smc < 0.3 * w2_prop, (w2_smc, w2_prop)
    assert np.abs(x.mean(0) - MU).max() < 0.3 * np.abs(x0.mean(0) - MU).max()


def test_mala_acceptance_and_published_step_zero():
    s, _ = run_smc("smc-mala", init_eps=0.01)
    acc = s.diagnostics["acceptance"]
    assert acc[0] == 0.0  # step 0 has h = 0: published NaN ratio, every move rejected
    assert all(0.0 <= a <= 1.0 for a in acc) and np.mean(acc[1:]) > 0.3
    steps = s.diagnostics["steps"]
    assert steps[1]["eps"] < 0.01 or acc[1] > 0.55  # eps shrank after step 0 unless step 1 accepted
    assert steps[0]["resampled"] is False
    # ESS threshold 1.0: resampling at every step j >= 1
    assert s.diagnostics["n_resamplings"] == K - 1


def test_ula_uses_published_grid_and_budget_rule():
    s, energy = run_smc("smc", n_particles=200, init_eps=0.03)
    assert energy.used == 200 * (K - 1)
    ts = [st["t"] for st in s.diagnostics["steps"]]
    assert ts == [j / K for j in range(K)]
    assert all(a is None for a in s.diagnostics["acceptance"])


def test_smc_refuses_runs_past_the_budget():
    sampler = make_sampler("smc", **TOY, n_particles=100)
    energy = BudgetedEnergy(GaussianTarget(MU, SIGMA), budget=100 * sampler.evaluations_per_particle() - 1)
    with pytest.raises(BudgetExceeded):
        sampler.run(GaussianProposal(MU, 0.2), ToySystem(), energy, context(0, energy.budget))
    assert energy.used == 0


def test_smc_same_seed_same_samples():
    a, _ = run_smc("smc-mala", n_particles=200, seed=3, init_eps=0.01)
    b, _ = run_smc("smc-mala", n_particles=200, seed=3, init_eps=0.01)
    assert torch.equal(a.positions, b.positions) and a.diagnostics["ess"] == b.diagnostics["ess"]


@pytest.mark.parametrize("use_metropolis, expected_std", [(False, math.sqrt(2) * SIGMA), (True, SIGMA)])
def test_langevin_kernel_bias_matches_closed_form(use_metropolis, expected_std):
    """Proposal = target, so weights stay equal and only the kernel acts. With h = sigma^2 an ULA
    step maps any x to mu + sqrt(2h) xi (std sqrt(2) sigma, the known discretisation bias);
    MALA's Metropolis test removes that bias, keeping std sigma."""
    n = 2000
    sampler = make_sampler("smc", **{**TOY, "init_eps": SIGMA**2 * K, "use_metropolis": use_metropolis, "n_particles": n})
    energy = BudgetedEnergy(GaussianTarget(MU, SIGMA), budget=n * sampler.evaluations_per_particle())
    s = sampler.run(GaussianProposal(MU, SIGMA), ToySystem(), energy, context(5, energy.budget))
    assert s.diagnostics["n_resamplings"] == 1  # only the final one: the weights never separate
    std = s.positions[:, 0].double().numpy().std(0).mean()
    se = expected_std / math.sqrt(2 * n * 3)
    assert abs(std - expected_std) < 5 * se, (std, expected_std)


def test_energy_cutoff_keeps_only_proposals_below_it():
    s, _ = run_smc("smc", n_particles=500, init_eps=0.03, energy_cutoff=3.0)
    x0 = s.proposal[:, 0].double().numpy()
    below = int((((x0 - MU) ** 2).sum(1) / (2 * SIGMA**2) < 3.0).sum())  # closed-form u
    assert s.diagnostics["n_particles"] == below == len(s.positions) and 0 < below < 500
    with pytest.raises(InvalidSamplesError):
        run_smc("smc", n_particles=50, energy_cutoff=-1.0)  # u >= 0 everywhere: nothing passes
    with pytest.raises(InvalidSamplesError, match="No proposal passed"):  # with the quantile filter on too
        run_smc("smc", n_particles=50, energy_cutoff=-1.0, logw_quantile_filter=0.002)


class NoLogQ(GaussianProposal):
    def propose(self, system, n, ctx):
        x = self.mean + self.std * torch.randn(n, 1, 3, generator=ctx.generator)
        return x, GaussianProposal.log_q(self, system, x, ctx)

    def log_q(self, system, positions, ctx):
        return super(GaussianProposal, self).log_q(system, positions, ctx)  # the base class: not implemented


class DetachedLogQ(GaussianProposal):
    def log_q(self, system, positions, ctx):
        return super().log_q(system, positions.detach(), ctx)


@pytest.mark.parametrize("method_cls", [NoLogQ, DetachedLogQ])
def test_smc_without_differentiable_log_q_fails_clearly_before_spending(method_cls):
    energy = BudgetedEnergy(GaussianTarget(MU, SIGMA), budget=10_000)
    with pytest.raises(SamplerError, match="SMC"):
        make_sampler("smc", **TOY).run(method_cls(MU, 0.2), ToySystem(), energy, context(0, 10_000))
    assert energy.used == 0


@pytest.mark.parametrize(
    "settings", [{"resampling": "stratified"}, {"logw_quantile_filter": 1.5}, {"adaptive_step_size": True}, {"num_annealing_steps": 0}]
)
def test_bad_settings_are_refused_at_construction(settings):
    with pytest.raises(SamplerError):
        make_sampler("smc", **settings)


def test_budget_below_one_particle_is_refused():
    energy = BudgetedEnergy(GaussianTarget(MU, SIGMA), budget=10)
    with pytest.raises(BudgetExceeded, match="per particle"):
        make_sampler("smc").run(GaussianProposal(MU, 0.2), ToySystem(), energy, context(0, 10))
