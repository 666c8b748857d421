"""ARBG through the ProposalMethod contract on a real system (ALDP), with a tiny model and the weights store."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import baselines.arbg.method as arbg_method
from baselines.arbg import ARBG
from baselines.arbg.binning import UniformBinning, clip_census
from benchmark.adapter import RunContext
from benchmark.errors import BgbenchError
from benchmark.tasks import get_task
from benchmark.weights import WeightsEntry, WeightsStore

TINY = dict(num_bins=64, channels=16, layers=1, heads=2, head_dim=8, steps=6, batch_size=8, sample_batch_size=5,
            checkpoint_every=3, pose="haar")


class FakeContext(RunContext):
    """A RunContext whose training data are jittered copies of the minimized structure."""

    calls = 0

    def training_positions(self, system_name):
        FakeContext.calls += 1
        x0 = self.task.system(system_name).build().minimized_positions
        rng = np.random.default_rng(0)
        return x0[None] + 0.01 * rng.standard_normal((16, *x0.shape))

    def training_data_hash(self, system_name=None):
        return "fake-jittered-minimum"


def make(work, **overrides) -> tuple[ARBG, FakeContext]:
    task = get_task("ALDP")
    ctx = FakeContext(seed=0, tier="quick", budget=100, task=task, systems=task.systems, work_dir=work,
                      weights=WeightsStore(work / "weights"))
    method = ARBG(**{**TINY, **overrides})
    method.configure(task, "quick")
    return method, ctx


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("arbg")
    method, ctx = make(work)
    torch.manual_seed(0)
    method.setup(ctx.task, ctx)
    return ctx.task, ctx, method, ctx.task.systems[0].build()


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


def test_the_record_facts_come_from_the_weights_store(trained):
    task, ctx, method, system = trained
    entry = ctx.weights.entry(ctx.weights_key(method, system.name))
    assert entry.complete and entry.manifest["step"] == 6 and entry.info["pose"] == "haar"
    assert method.parameter_count() == sum(p.numel() for p in method.models[system.name][0].net.parameters())
    assert set(method.training_seconds()) == {system.name}
    facts = method.source_facts(system, ctx)
    assert facts.com == "absolute" and facts.coordinate_scale_nm == pytest.approx(entry.info["sigma"])
    diag = method.diagnostics(system, ctx)
    assert diag["pose"] == "haar" and "Haar" in diag["pose_note"] and diag["census_frames"] == 16
    assert 0 <= diag["clipped_frame_fraction"] <= 1


def test_setup_reuses_finished_weights_without_training_data(trained):
    task, ctx, method, system = trained
    before = FakeContext.calls
    again, _ = make(ctx.work_dir)
    again.setup(task, ctx)
    assert FakeContext.calls == before  # no training data needed: loaded from the store
    assert again.training_seconds() == {} and again.info[system.name]["sigma"] == method.info[system.name]["sigma"]
    x = method.propose(system, 3, ctx)[0]
    lq = method.log_q(system, x, ctx)
    assert torch.isfinite(lq).all() and torch.equal(again.log_q(system, x, ctx), lq)


def test_a_killed_training_resumes_to_the_same_weights(trained, tmp_path, monkeypatch):
    task, _, method, system = trained
    killed, ctx = make(tmp_path)
    original = WeightsEntry.save_checkpoint

    def save_then_die(self, state, step, total):
        original(self, state, step, total)
        if step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(WeightsEntry, "save_checkpoint", save_then_die)
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        killed.setup(task, ctx)
    monkeypatch.setattr(WeightsEntry, "save_checkpoint", original)
    steps = []
    loss = arbg_method.bin_loss
    monkeypatch.setattr(arbg_method, "bin_loss", lambda net, bins: steps.append(1) or loss(net, bins))
    resumed, _ = make(tmp_path)
    torch.manual_seed(0)  # the runner reseeds before setup; the model is built, then the checkpoint loaded
    resumed.setup(task, ctx)
    assert len(steps) == 3  # steps 4-6 only: it resumed rather than starting again
    ours, theirs = resumed.models[system.name][0].net.state_dict(), method.models[system.name][0].net.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_transferable_tasks_and_unknown_keys_are_clear_errors(tmp_path):
    with pytest.raises(BgbenchError, match="single-system"):
        ARBG(**TINY).configure(get_task("4AA"), "quick")
    with pytest.raises(BgbenchError, match="Unknown ARBGConfig key"):
        ARBG(num_binz=3).configure(get_task("ALDP"), "quick")


def test_changing_only_the_sampling_temperature_keeps_the_weights(trained):
    task, ctx, method, system = trained
    before = FakeContext.calls
    hot, _ = make(ctx.work_dir, temperature=1.5)
    hot.setup(task, ctx)
    assert FakeContext.calls == before
    x = method.propose(system, 3, ctx)[0]
    cold_lq, hot_lq = method.log_q(system, x, ctx), hot.log_q(system, x, ctx)
    assert torch.isfinite(hot_lq).all() and not torch.allclose(hot_lq, cold_lq)


def test_aligned_training_is_labelled_biased_and_keyed_apart(trained):
    task, ctx, method, system = trained
    aligned, _ = make(ctx.work_dir, pose="aligned")
    assert ctx.weights_key(aligned, system.name).digest != ctx.weights_key(method, system.name).digest
    aligned.setup(task, ctx)
    assert aligned.diagnostics(system, ctx)["pose_note"].startswith("BIASED")


def test_clip_census_counts_values_beyond_the_bin_range():
    binning = UniformBinning(8, -1.0, 1.0)
    frames = torch.tensor([[[0.0, 0.5, -1.5]], [[0.2, 0.1, 0.0]], [[2.0, -3.0, 1.0]]])  # (3 frames, 1 atom, 3)
    census = clip_census(binning, lambda x, g: x.flatten(1), frames, torch.Generator(), chunk=2)
    assert census == {"clipped_coordinates": 3, "clipped_coordinate_fraction": 3 / 9, "clipped_frames": 2,
                      "clipped_frame_fraction": 2 / 3, "census_frames": 3}


@pytest.mark.slow  # ~30 s: local MD, training, SNIS and evaluation
def test_a_run_records_the_method_diagnostics_and_parameters(tmp_path):
    """End to end through the runner on a tiny local ALDP protocol: the record carries pose and clipping."""
    import dataclasses

    from benchmark.data import generate
    from benchmark.runner import RunConfig, Runner
    from benchmark.tasks.protocol import LocalMD

    base = get_task("ALDP")
    md = LocalMD(replicas=(2, 1, 1), frames_per_replica=120, frame_interval_steps=10, warmup_steps=200)
    quick = dataclasses.replace(base.protocol("quick"), n_eval_samples=40, budgets=(60,), local_md=md)
    task = dataclasses.replace(base, name="TINYARBG", protocols={**base.protocols, "quick": quick})
    generate.prepare_task(task, "quick", root=tmp_path / "data", progress=False)
    record = Runner(RunConfig(method="arbg", task=task, tier="quick", data_dir=tmp_path / "data", work_dir=tmp_path / "work",
                              out=tmp_path / "rec.json", method_config=TINY)).run()
    result = record.systems["Ace-A-Nme"]
    assert result.status == "ok", result.error
    assert result.diagnostics["method"]["pose"] == "haar" and result.diagnostics["method"]["census_frames"] > 0
    assert result.diagnostics["source_facts"]["com"] == "absolute"
    assert record.method["parameters"] > 0 and set(record.method["training_seconds"]) == {"Ace-A-Nme"}
