"""ARBG through the ProposalMethod contract on a real system (ALDP), with a tiny model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.arbg import ARBG
from benchmark.adapter import RunContext
from benchmark.errors import BgbenchError
from benchmark.tasks import get_task

TINY = dict(num_bins=64, channels=16, layers=1, heads=2, head_dim=8, steps=6, batch_size=8, sample_batch_size=5,
            checkpoint_every=3)


class FakeContext(RunContext):
    """A RunContext whose training data are jittered copies of the minimized structure."""

    calls = 0

    def training_positions(self, system_name):
        FakeContext.calls += 1
        x0 = self.task.system(system_name).build().minimized_positions
        rng = np.random.default_rng(0)
        return x0[None] + 0.01 * rng.standard_normal((16, *x0.shape))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    task = get_task("ALDP")
    ctx = FakeContext(seed=0, tier="quick", budget=100, task=task, systems=task.systems,
                      work_dir=tmp_path_factory.mktemp("arbg"))
    method = ARBG(**TINY)
    method.setup(task, ctx)
    return task, ctx, method, task.systems[0].build()


def test_propose_returns_nm_positions_in_topology_order_with_exact_log_q(trained):
    task, ctx, method, system = trained
    x, lq = method.propose(system, 12, ctx)  # not a multiple of the batch size
    assert x.shape == (12, system.n_atoms, 3) and lq.shape == (12,)
    assert torch.isfinite(lq).all()
    again = method.log_q(system, x, ctx)
    assert torch.allclose(again, lq, atol=1e-4, rtol=0)
    # log q in nm-space = model-space log q - 3N log sigma: check against the density directly
    density, std = method.models[system.name]
    x_hat = std.to_model(x)
    direct = density.log_prob(x_hat).detach() - 3 * system.n_atoms * math.log(std.sigma)
    assert torch.allclose(direct, lq, atol=1e-4)
    # atom order: token 0 must be topology atom perm[0]
    assert torch.allclose(x_hat[:, :3] * std.sigma, x[:, int(std.perm[0])], atol=1e-6)


def test_proposals_are_seeded_by_the_context_generator(trained):
    task, _, method, system = trained
    a = method.propose(system, 4, RunContext(seed=5, tier="quick", budget=4))[0]
    b = method.propose(system, 4, RunContext(seed=5, tier="quick", budget=4))[0]
    c = method.propose(system, 4, RunContext(seed=6, tier="quick", budget=4))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_setup_reuses_a_finished_checkpoint(trained):
    task, ctx, method, system = trained
    before = FakeContext.calls
    again = ARBG(**TINY)
    again.setup(task, ctx)
    assert FakeContext.calls == before  # no training data needed: loaded from the cache
    x = method.propose(system, 3, ctx)[0]
    lq = method.log_q(system, x, ctx)
    assert torch.isfinite(lq).all() and torch.allclose(again.log_q(system, x, ctx), lq)


def test_transferable_tasks_and_unknown_keys_are_clear_errors(tmp_path):
    task = get_task("ALDP")
    ctx = FakeContext(seed=0, tier="quick", budget=10, task=task, systems=task.systems, work_dir=tmp_path)
    with pytest.raises(BgbenchError, match="ROBIN"):
        ARBG(**TINY).setup(get_task("4AA"), ctx)
    with pytest.raises(BgbenchError, match="Unknown ARBG config keys"):
        ARBG(num_binz=3).setup(get_task("ALDP"), ctx)


def test_changing_only_the_sampling_temperature_keeps_the_checkpoint(trained):
    task, ctx, method, system = trained
    before = FakeContext.calls
    hot = ARBG(**{**TINY, "temperature": 1.5})
    hot.setup(task, ctx)
    assert FakeContext.calls == before
    x = method.propose(system, 3, ctx)[0]
    cold_lq, hot_lq = method.log_q(system, x, ctx), hot.log_q(system, x, ctx)
    assert torch.isfinite(hot_lq).all() and not torch.allclose(hot_lq, cold_lq)
