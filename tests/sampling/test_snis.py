"""SNIS on a Gaussian toy target with a Gaussian proposal (closed-form expectations)."""

import math

import numpy as np
import pytest
import torch

from benchmark.energy import BudgetedEnergy
from benchmark.errors import BudgetExceeded
from benchmark.sampling import make_sampler

from .toys import GaussianProposal, GaussianTarget, ToySystem, context

MU = np.array([0.5, -0.2, 0.1])
SIGMA = 0.3


def run_snis(n, seed=0, inf_above=None, **settings):
    energy = BudgetedEnergy(GaussianTarget(MU, SIGMA, inf_above=inf_above), budget=n)
    method = GaussianProposal([0.3, 0.0, 0.0], 0.5)
    samples = make_sampler("snis", **settings).run(method, ToySystem(), energy, context(seed, n))
    return samples, energy


def test_snis_recovers_target_moments_within_statistical_error():
    n = 20_000
    s, energy = run_snis(n, logw_quantile_filter=None)
    assert energy.used == n and s.set_name == "resampled"
    w = torch.softmax(s.log_weights, 0).numpy()
    prop = s.proposal[:, 0].double().numpy()
    ess_abs = s.diagnostics["ess"] * n
    assert ess_abs > 1000  # the proposal is reasonable, so the errors below are meaningful
    # weighted estimate: error ~ sigma / sqrt(ESS)
    weighted_mean = (w[:, None] * prop).sum(0)
    assert np.all(np.abs(weighted_mean - MU) < 4 * SIGMA / math.sqrt(ess_abs))
    # resampled set adds multinomial noise ~ sigma / sqrt(M)
    res = s.positions[:, 0].double().numpy()
    se_mean = SIGMA * math.sqrt(1 / ess_abs + 1 / len(res))
    assert np.all(np.abs(res.mean(0) - MU) < 4 * se_mean)
    second = MU**2 + SIGMA**2
    se_second = np.sqrt(4 * MU**2 * SIGMA**2 + 2 * SIGMA**4) * math.sqrt(1 / ess_abs + 1 / len(res))
    assert np.all(np.abs((res**2).mean(0) - second) < 4 * se_second)
    # and it is far from the proposal's own mean, so the test can fail
    assert np.abs(prop.mean(0) - MU).max() > 10 * se_mean


def test_default_filter_removes_published_fraction_and_keeps_proposal_order():
    n = 10_000
    s, energy = run_snis(n)
    assert s.diagnostics["n_filtered"] == 20 and s.diagnostics["sampler"]["logw_quantile_filter"] == 0.002
    assert len(s.log_weights) == len(s.positions) == 9_980 and len(s.proposal) == n
    # independent log-weights from the closed-form densities
    x = s.proposal[:, 0].double().numpy()
    u = ((x - MU) ** 2).sum(1) / (2 * SIGMA**2)
    log_q = -((x - [0.3, 0.0, 0.0]) ** 2).sum(1) / (2 * 0.25) - 1.5 * math.log(2 * math.pi * 0.25)
    logw = -u - log_q
    kept = logw[logw <= np.quantile(logw, 0.998)]
    assert np.allclose(s.log_weights.numpy(), kept, atol=1e-5)
    assert energy.used <= energy.budget


def test_budget_is_never_exceeded():
    energy = BudgetedEnergy(GaussianTarget(MU, SIGMA), budget=500)
    method = GaussianProposal([0.3, 0.0, 0.0], 0.5)
    with pytest.raises(BudgetExceeded):
        make_sampler("snis", n_proposals=501).run(method, ToySystem(), energy, context(0, 500))
    assert energy.used == 0
    s = make_sampler("snis", chunk_size=64).run(method, ToySystem(), energy, context(0, 500))
    assert energy.used == 500 and len(s.proposal) == 500


def test_nonfinite_energies_get_zero_weight():
    s, _ = run_snis(4_000, inf_above=0.6)
    assert s.diagnostics["n_nonfinite"] > 0
    assert torch.isinf(s.log_weights).sum() == s.diagnostics["n_nonfinite"]
    assert (s.positions[:, 0, 0] <= 0.6).all()
    s.validate(1)


def test_same_seed_same_samples():
    a, _ = run_snis(2_000, seed=7)
    b, _ = run_snis(2_000, seed=7)
    c, _ = run_snis(2_000, seed=8)
    assert torch.equal(a.positions, b.positions) and torch.equal(a.log_weights, b.log_weights)
    assert not torch.equal(a.positions, c.positions)


def test_com_adjustment_enters_the_log_weights():
    import scipy.stats

    s, _ = run_snis(1_000, logw_quantile_filter=None, com_adjustment=True, coordinate_scale=0.4)
    x = s.proposal[:, 0].double().numpy()
    u = ((x - MU) ** 2).sum(1) / (2 * SIGMA**2)
    log_q = -((x - [0.3, 0.0, 0.0]) ** 2).sum(1) / (2 * 0.25) - 1.5 * math.log(2 * math.pi * 0.25)
    expected = -u - log_q + scipy.stats.chi.logpdf(np.linalg.norm(x, axis=1), 3, scale=0.4)  # one atom: CoM = x
    assert np.allclose(s.log_weights.numpy(), expected, atol=1e-4)
