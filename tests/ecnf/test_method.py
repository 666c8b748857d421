"""ECNF++ through the ProposalMethod contract on a real system (ALDP) with a tiny model and the weights store."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.ecnf import ECNF
from baselines.ecnf.ode import SolverSettings, log_prob
from benchmark.adapter import RunContext
from benchmark.registry import find_method
from benchmark.tasks import get_task
from benchmark.weights import WeightsStore
from tests.ecnf.helpers import lively

# a fixed-grid solver keeps the test cheap and makes a sample's result independent of its batch mates
TINY = dict(channels=8, layers=1, steps=4, batch_size=8, sample_batch_size=4, checkpoint_every=2, lr=1e-3,
            ema_decay=0.0, solver="rk4", step_size=0.25, atom_classes="topology")


class FakeContext(RunContext):
    """A RunContext whose training data are jittered copies of the minimized structure."""

    def training_positions(self, system_name):
        x0 = self.task.system(system_name).build().minimized_positions
        return x0[None] + 0.02 * np.random.default_rng(0).standard_normal((16, *x0.shape))

    def training_data_hash(self, system_name=None):
        return "fake-jittered-minimum"


def make(work, **overrides) -> tuple[ECNF, FakeContext]:
    task = get_task("ALDP")
    ctx = FakeContext(seed=0, tier="quick", budget=100, task=task, systems=task.systems, work_dir=work,
                      weights=WeightsStore(work / "weights"))
    method = ECNF(**{**TINY, **overrides})
    method.configure(task, "quick")
    return method, ctx


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("ecnf")
    method, ctx = make(work)
    torch.manual_seed(0)
    method.setup(ctx.task, ctx)
    system = ctx.task.systems[0].build()
    lively(method.models[system.name].net, std=0.05)  # 4 steps barely move the near-zero coordinate heads
    return ctx, method, system, work


def test_registry_finds_the_builtin():
    assert find_method("ecnf").load() is ECNF


@pytest.mark.slow  # ~400 exact-trace backward passes: over a minute on the shared CPU
def test_proposals_are_centred_and_their_log_q_is_the_backward_integral(trained):
    ctx, method, system, _ = trained
    x, lq = method.propose(system, 5, ctx)  # not a multiple of the sample batch size
    assert x.shape == (5, 22, 3) and lq.shape == (5,) and torch.isfinite(lq).all()
    assert x.mean(1).abs().max() < 1e-6
    back = method.log_q(system, x, ctx).detach()
    assert (back - lq).abs().max() > 0 and torch.allclose(back, lq, atol=1e-2)  # rk4 with 4 steps each way
    # translation does not change a mean-free density
    shifted = method.log_q(system, x + torch.tensor([0.5, -0.2, 1.0]), ctx).detach()
    assert torch.allclose(shifted, back, atol=1e-4)
    # the nm density is the model-unit density minus (3N - 3) log sigma
    model = method.models[system.name]
    direct, _ = log_prob(model.field, x / model.sigma, SolverSettings(method="rk4", step_size=0.25))
    assert torch.allclose(back, direct - 63 * math.log(model.sigma), atol=1e-4)
    cost = method.diagnostics(system, ctx)["cost"]
    assert cost["proposals"] == 5 and cost["proposal_evaluations"] > 0 and cost["seconds_per_likelihood"] > 0


def test_source_facts_say_mean_free_and_whether_the_density_is_exact(trained):
    ctx, method, system, _ = trained
    facts = method.source_facts(system, ctx)
    assert facts.com == "mean-free" and facts.exact_density
    assert facts.coordinate_scale_nm == pytest.approx(method.info[system.name]["sigma"])
    hutch, _ = make(ctx.work_dir, divergence="hutchinson")
    hutch.models, hutch.cfg = method.models, hutch.cfg
    assert not hutch.source_facts(system, ctx).exact_density


def test_a_second_run_loads_the_stored_weights_without_training(trained):
    ctx, method, system, work = trained
    again, ctx2 = make(work, divergence="hutchinson")  # a sampling-only field: same weights-store key
    again.setup(ctx2.task, ctx2)
    assert again.training_seconds() == {} and method.training_seconds()
    stored = again.models[system.name].net.state_dict()
    assert all(k in stored for k in method.models[system.name].net.state_dict())
