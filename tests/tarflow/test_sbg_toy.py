"""SMC with SBG's published ALDP settings (ESS 0.5, multinomial, K 100, 10 kT cut-off, 0.2 % log-weight filter)
on a toy whose answer is known in closed form, and the budget accounting of those settings.

The toy is one 'atom' in 3-D: target u = |x - mu|^2 / (2 sigma^2) (so exp(-u) is N(mu, sigma^2 I) and u is in
kT, like the cut-off), proposal N(mu + 2.5 sigma e_x, (2.5 sigma)^2 I) with its exact log q. Only the Langevin
step differs from the published row: eps and the coordinate scale are the toy's (nm-sized steps), since the
published eps is for standardized peptide coordinates.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.energy import BudgetedEnergy
from benchmark.errors import InvalidSamplesError
from benchmark.sampling import make_sampler
from benchmark.sampling.sbg import SBG_SMC
from tests.sampling.toys import GaussianProposal, GaussianTarget, ToySystem, context

MU = np.array([0.2, 0.0, -0.1])
SIGMA = 0.1
TOY_STEP = {"init_eps": 0.03, "coordinate_scale": 1.0}


def run(budget: int, seed: int = 0, **settings):
    sampler = make_sampler("smc", **{**SBG_SMC["ALDP"], **TOY_STEP, **settings})
    energy = BudgetedEnergy(GaussianTarget(MU, SIGMA), budget=budget)
    proposal = GaussianProposal(MU + [2.5 * SIGMA, 0.0, 0.0], 2.5 * SIGMA)
    return sampler.run(proposal, ToySystem(), energy, context(seed, budget)), energy


def u(x: torch.Tensor) -> np.ndarray:
    """The toy's reduced energy, computed here rather than by the target class."""
    return ((x[:, 0].double().numpy() - MU) ** 2).sum(1) / (2 * SIGMA**2)


def test_sbg_settings_recover_the_known_target_moments():
    s, _ = run(budget=2000 * 99)
    x = s.positions[:, 0].double().numpy()
    x0 = s.proposal[:, 0].double().numpy()
    # the proposal is far off: its mean is 2.5 sigma away and E|x - mu|^2 is (2.5^2 + 3 * 2.5^2) sigma^2 = 8.3x 3 sigma^2
    assert abs(x0[:, 0].mean() - MU[0]) > 2 * SIGMA
    # exact answer: mean mu, E|x - mu|^2 = 3 sigma^2 (the 10 kT cut-off removes P(chi2_3 > 20) < 2e-4 of the target)
    assert np.abs(x.mean(0) - MU).max() < 0.25 * SIGMA, x.mean(0) - MU
    second = ((x - MU) ** 2).sum(1).mean() / (3 * SIGMA**2)
    assert 0.8 < second < 1.2, second
    # ESS threshold 0.5: resampled only when the ESS fell below it, and always at the last step
    steps = s.diagnostics["steps"]
    assert steps[-1]["resampled"]
    assert all(st["resampled"] == (st["ess"] < 0.5) for st in steps[:-1])
    assert 0 < s.diagnostics["n_resamplings"] < 100


def test_sbg_budget_accounting_and_the_energy_cut_off():
    """A quick-tier budget of 10^4 affords 10^4 // (K - 1) = 101 proposals; those kept start below 10 kT."""
    budget = 10_000
    s, energy = run(budget)
    d = s.diagnostics
    assert d["sampler"]["evaluations_per_particle"] == 99
    assert d["n_proposals"] == len(s.proposal) == budget // 99 == 101
    below = int((u(s.proposal) < 10.0).sum())
    assert 0 < below < 101  # the cut-off really filters this proposal
    # the 0.2 % log-weight filter removes at most one of ~50 survivors
    assert below - 1 <= d["n_particles"] <= below and d["n_filtered"] == 101 - d["n_particles"]
    assert len(s.positions) == d["n_particles"]
    # every proposal is evaluated once; only the survivors are moved (and charged) at the K - 2 later evaluations,
    # so a strict cut-off leaves part of the budget unspent
    assert energy.used == d["energy_evaluations"] == 101 + d["n_particles"] * 98 < budget


def test_a_cut_off_no_proposal_meets_is_a_clear_error_with_the_log_weight_filter_on():
    """u >= 0 everywhere, so nothing is below -1 kT; the 0.2 % filter must not be asked about an empty set."""
    with pytest.raises(InvalidSamplesError, match="No proposal passed the SMC filters"):
        run(budget=20 * 99, energy_cutoff=-1.0)


def test_a_cut_off_that_is_not_a_number_is_refused_before_any_work():
    """`--sampler-option energy_cutoff=None` reaches the sampler as the string 'None' (YAML's none is null)."""
    from benchmark.sampling import SamplerError

    with pytest.raises(SamplerError, match="energy_cutoff must be a number of kT or null"):
        make_sampler("smc", **{**SBG_SMC["ALDP"], "energy_cutoff": "None"})
