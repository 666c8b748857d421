"""TarFlow through the ProposalMethod contract on a real system (ALDP) with a tiny model and the weights store."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import baselines.tarflow.method as tarflow_method
from baselines.tarflow import TarFlow
from baselines.tarflow.flow import TarFlowNet, nll_per_dim
from baselines.toolkit.config import TrainingConfig
from baselines.toolkit.data import FrameBatches
from baselines.toolkit.training import train
from benchmark.adapter import RunContext
from benchmark.registry import find_method
from benchmark.tasks import get_task
from benchmark.weights import WeightsStore
from tests.tarflow.helpers import randomize_outputs

TINY = dict(channels=32, blocks=2, layers_per_block=1, head_dim=16, steps=6, batch_size=8, sample_batch_size=5,
            checkpoint_every=3, lr=1e-3, ema_decay=0.0)


class FakeContext(RunContext):
    """A RunContext whose training data are jittered copies of the minimized structure."""

    calls = 0

    def training_positions(self, system_name):
        FakeContext.calls += 1
        x0 = self.task.system(system_name).build().minimized_positions
        return x0[None] + 0.02 * np.random.default_rng(0).standard_normal((16, *x0.shape))

    def training_data_hash(self, system_name=None):
        return "fake-jittered-minimum"


def make(work, method_cls=TarFlow, seed: int = 0, **overrides) -> tuple[TarFlow, FakeContext]:
    task = get_task("ALDP")
    ctx = FakeContext(seed=seed, tier="quick", budget=100, task=task, systems=task.systems, work_dir=work,
                      weights=WeightsStore(work / "weights"))
    method = method_cls(**{**TINY, **overrides})
    method.configure(task, "quick")
    return method, ctx


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("tarflow")
    method, ctx = make(work)
    torch.manual_seed(0)
    method.setup(ctx.task, ctx)
    system = ctx.task.systems[0].build()
    net, _ = method.models[system.name]
    randomize_outputs(net, std=0.02)  # 6 steps barely move the zero-initialized outputs: make log q non-trivial
    return ctx, method, system, work


def test_log_q_of_a_sample_from_the_reverse_pass_equals_the_forward_pass(trained):
    ctx, method, system, _ = trained
    x, lq = method.propose(system, 12, ctx)  # not a multiple of the sample batch size
    assert x.shape == (12, system.n_atoms, 3) and lq.shape == (12,) and torch.isfinite(lq).all()
    forward = method.log_q(system, x, ctx).detach()
    assert torch.allclose(forward, lq, atol=1e-3, rtol=1e-5)
    # nm density = standardized density - 3N log sigma, from the network directly
    net, std = method.models[system.name]
    with torch.no_grad():
        direct = net.log_prob(x.reshape(12, -1) / std.sigma) - 3 * system.n_atoms * math.log(std.sigma)
    assert torch.allclose(direct, lq, atol=1e-3, rtol=1e-5)
    assert lq.std() > 0.5


def test_log_q_is_differentiable_and_its_gradient_is_the_finite_difference(trained):
    ctx, method, system, _ = trained
    x = method.propose(system, 2, ctx)[0].double()
    x.requires_grad_(True)
    lq = method.log_q(system, x, ctx)
    (grad,) = torch.autograd.grad(lq.sum(), x)
    assert grad.dtype == torch.float64 and torch.isfinite(grad).all()
    step = torch.zeros_like(x)
    step[0, 3, 1] = 1e-3
    with torch.no_grad():
        fd = (method.log_q(system, x + step, ctx) - method.log_q(system, x - step, ctx))[0] / 2e-3
    assert fd.item() == pytest.approx(grad[0, 3, 1].item(), rel=2e-2, abs=0.5)


def test_source_facts_declare_com_noise_and_the_training_sigma(trained):
    ctx, method, system, work = trained
    facts = method.source_facts(system, ctx)
    frames = ctx.training_positions(system.name)
    centred = frames - frames.mean(axis=1, keepdims=True)
    assert facts.com == "com-noise" and facts.coordinate_scale_nm == pytest.approx(centred.std(ddof=1), rel=1e-5)
    assert facts.coordinate_scale_nm != 0.35 and facts.batch_size == 5
    entry = ctx.weights.entry(ctx.weights_key(method, system.name))
    assert entry.complete and entry.info["sigma"] == facts.coordinate_scale_nm
    assert method.diagnostics(system, ctx)["sigma"] == facts.coordinate_scale_nm
    assert method.diagnostics(system, ctx)["final_loss"] is not None
    off, _ = make(work, com_augmentation=False)  # trained without CoM noise: a density over absolute positions
    off.models, off.cfg = method.models, off.cfg
    assert off.source_facts(system, ctx).com == "absolute"


def test_proposals_are_seeded_by_the_context_generator(trained):
    _, method, system, _ = trained
    a = method.propose(system, 4, RunContext(seed=5, tier="quick", budget=4))[0]
    b = method.propose(system, 4, RunContext(seed=5, tier="quick", budget=4))[0]
    c = method.propose(system, 4, RunContext(seed=6, tier="quick", budget=4))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_sbg_recipe_shares_the_trained_weights(trained):
    """`sbg` is TarFlow under another name: same class, same config, same weights-store key, so it loads, never trains."""
    ctx, method, system, work = trained
    sbg_cls = find_method("sbg").load()
    assert sbg_cls is TarFlow
    sbg, ctx2 = make(work, sbg_cls)
    assert ctx2.weights_key(sbg, system.name) == ctx.weights_key(method, system.name)
    calls = FakeContext.calls
    sbg.setup(ctx2.task, ctx2)
    assert FakeContext.calls == calls  # loaded from the store: the training data were never read
    assert sbg.training_seconds() == {}


def test_training_batches_are_standardized_rotated_and_com_noised(tmp_path, monkeypatch):
    jobs = []
    real = tarflow_method.train_or_load

    def spy(entry, net, make_job, **kw):
        def recording():
            jobs.append(make_job())
            return jobs[-1]
        return real(entry, net, recording, **kw)

    monkeypatch.setattr(tarflow_method, "train_or_load", spy)
    method, ctx = make(tmp_path, steps=1)
    method.setup(ctx.task, ctx)
    job = jobs[0]
    n_atoms = 22
    sigma = job.info["sigma"]
    frames = torch.as_tensor(ctx.training_positions("Ace-A-Nme"), dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    batches = torch.cat([job.batches.batch(gen) for _ in range(200)]).reshape(-1, n_atoms, 3)
    com = batches.mean(1)
    assert (com.pow(2).sum(1).mean() * n_atoms).item() == pytest.approx(3.0, rel=0.1)  # CoM ~ N(0, I/N)
    assert com.mean(0).abs().max() < 0.03
    # rotations: every batch frame has the internal distances of some training frame, in units of sigma
    d_batch = torch.cdist(batches[:8], batches[:8])
    d_train = torch.cdist(frames, frames) / sigma
    for d in d_batch:
        assert torch.min((d_train - d).abs().flatten(1).max(1).values) < 1e-4
    assert batches[:, 0].std(0).min() > 0.3  # the first atom points everywhere: frames are rotated


def test_a_tiny_flow_overfits_a_handful_of_conformations():
    """With no augmentation, four conformations become much more likely than nearby unseen ones."""
    torch.manual_seed(0)
    task = get_task("ALDP")
    x0 = torch.as_tensor(task.systems[0].build().minimized_positions, dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    data = (x0 - x0.mean(0)) / 0.15 + 0.3 * torch.randn(4, 22, 3, generator=gen)
    held_out = (x0 - x0.mean(0)) / 0.15 + 0.3 * torch.randn(4, 22, 3, generator=gen)
    net = TarFlowNet(22, 3, channels=32, blocks=2, layers_per_block=1, head_dim=16)
    flat, flat_held = data.reshape(4, -1), held_out.reshape(4, -1)
    with torch.no_grad():
        before = nll_per_dim(net, flat).item()
    cfg = TrainingConfig(steps=150, batch_size=4, lr=3e-3, weight_decay=0.0, betas=(0.9, 0.95))
    result = train(net, nll_per_dim, FrameBatches(flat, 4), cfg, 150, seed=0, progress=False)
    with torch.no_grad():
        after = nll_per_dim(net, flat).item()
        gap = (net.log_prob(flat).min() - net.log_prob(flat_held).max()).item()
    assert result.skipped_steps == 0
    assert after < before - 1.2, (before, after)  # measured: 1.58 -> -0.23 nats per coordinate
    assert gap > 30  # nats (measured 82): every training conformation beats every held-out one by far
