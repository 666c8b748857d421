"""GIVT and the PixelCNN++ heads through the ProposalMethod contract on ALDP: tiny models, the weights store."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from baselines.ar_heads import GIVT, GMMPixelCNN, MoLPixelCNN
from baselines.ar_heads.config import QUICK_STEPS, MixtureConfig, PixelCNNConfig
from baselines.arbg import ARBG
from baselines.arbg.config import default_config as arbg_config
from baselines.arbg.method import AutoregressiveMethod
from benchmark.adapter import AutoregressiveProposal, RunContext
from benchmark.config import ConfigError
from benchmark.registry import BUILTIN_METHODS, find_method
from benchmark.tasks import get_task
from benchmark.weights import WeightsStore
from tests.ar_session_checks import check_resampled_session_continues_ancestors

TINY = dict(channels=16, layers=1, heads=2, head_dim=8, components=3, steps=6, batch_size=8, sample_batch_size=5,
            checkpoint_every=3, pose="haar")
CLASSES = {"givt": GIVT, "mol-pixelcnn": MoLPixelCNN, "gmm-pixelcnn": GMMPixelCNN}


class FakeContext(RunContext):
    """Training data: jittered copies of the minimized structure."""

    calls = 0

    def training_positions(self, system_name):
        FakeContext.calls += 1
        x0 = self.task.system(system_name).build().minimized_positions
        return x0[None] + 0.01 * np.random.default_rng(0).standard_normal((16, *x0.shape))

    def training_data_hash(self, system_name=None):
        return "fake-jittered-minimum"


def make(name: str, work, **overrides) -> tuple[AutoregressiveMethod, FakeContext]:
    task = get_task("ALDP")
    ctx = FakeContext(seed=0, tier="quick", budget=100, task=task, systems=task.systems, work_dir=work,
                      weights=WeightsStore(work / "weights"))
    extra = {"num_bins": 64} if name != "givt" else {}
    method = CLASSES[name](**{**TINY, **extra, **overrides})
    method.configure(task, "quick")
    return method, ctx


@pytest.fixture(scope="module", params=list(CLASSES))
def trained(request, tmp_path_factory):
    method, ctx = make(request.param, tmp_path_factory.mktemp(request.param))
    torch.manual_seed(0)
    method.setup(ctx.task, ctx)
    return ctx, method, ctx.task.systems[0].build()


def test_propose_returns_nm_positions_with_the_exact_log_q(trained):
    ctx, method, system = trained
    x, lq = method.propose(system, 12, ctx)  # not a multiple of the batch size
    assert x.shape == (12, system.n_atoms, 3) and torch.isfinite(lq).all()
    assert torch.allclose(method.log_q(system, x, ctx), lq, atol=1e-3, rtol=0)
    density, std = method.models[system.name]
    direct = density.log_prob(std.to_model(x)).detach() - 3 * system.n_atoms * math.log(std.sigma)  # nm Jacobian
    assert torch.allclose(direct, lq, atol=1e-3)
    facts = method.source_facts(system, ctx)
    assert facts.exact_density and facts.com == "absolute" and facts.coordinate_scale_nm == pytest.approx(std.sigma)


def test_proposals_are_seeded_by_the_context_generator(trained):
    _, method, system = trained
    a = method.propose(system, 4, RunContext(seed=5, tier="quick", budget=4))[0]
    b = method.propose(system, 4, RunContext(seed=5, tier="quick", budget=4))[0]
    c = method.propose(system, 4, RunContext(seed=6, tier="quick", budget=4))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_weights_come_back_from_the_store_and_the_record_says_what_it_needs(trained):
    ctx, method, system = trained
    before = FakeContext.calls
    again, _ = make(method.name, ctx.work_dir)
    again.setup(ctx.task, ctx)
    assert FakeContext.calls == before  # loaded, no training data read
    x = method.propose(system, 3, ctx)[0]
    assert torch.equal(again.log_q(system, x, ctx), method.log_q(system, x, ctx))
    head = method.models[system.name][0].head
    assert method.models[system.name][0].net.output_proj.out_features == head.out_features() == 3 * 3 + 2
    diag = method.diagnostics(system, ctx)
    assert diag["pose"] == "haar" and diag["census_frames" if head.binned else "sigma"] is not None
    assert ("clipped_frames" in diag) == head.binned  # GIVT has no bins to clip into
    assert set(method.training_seconds()) == {system.name} and method.parameter_count() > 0


def test_per_token_generation_is_the_proposal_generated_in_steps(trained):
    """The AR interface (--sampler ar-smc): extending coordinate by coordinate reproduces propose's draws
    and its log q, in the generation order; any split into steps gives terms summing to log q."""
    ctx, method, system = trained
    assert isinstance(method, AutoregressiveProposal)
    d, order = 3 * system.n_atoms, method.generation_order(system, ctx)
    assert sorted(order) == list(range(system.n_atoms))
    ctx.generator.manual_seed(11)
    x, lq = method.propose(system, 5, ctx)  # one sampling batch (sample_batch_size 5)
    ctx.generator.manual_seed(11)
    session = method.begin_generation(system, 5, ctx)
    terms = session.extend(d)
    assert session.length == d and terms.shape == (5, d)
    assert torch.allclose(terms.sum(1), lq, atol=1e-9, rtol=0) and torch.equal(session.positions(), x[:, order])
    stepwise = method.begin_generation(system, 5, ctx)
    parts = [stepwise.extend(k) for k in (10, 31, d)]  # the last is cut to what is left
    assert sum(p.shape[1] for p in parts) == d
    x_nm = stepwise.positions()[:, np.argsort(order)]  # back to topology order
    with torch.no_grad():
        assert torch.allclose(torch.cat(parts, 1).sum(1), method.log_q(system, x_nm, ctx), atol=1e-3, rtol=0)


@pytest.mark.parametrize("chunk", [2, 100])
def test_resampled_sessions_continue_their_ancestors(trained, chunk):
    ctx, method, system = trained
    check_resampled_session_continues_ancestors(method, system, ctx, chunk, atol=1e-3)


def test_twisted_smc_runs_on_every_head_and_telescopes_with_real_energies(trained):
    """--sampler ar-smc on ALDP: the lineage weight of each particle is its SNIS weight -E/kT - log q."""
    from benchmark.energy import BudgetedEnergy, OpenMMEnergy
    from benchmark.energy.budget import EnergyMeter
    from benchmark.sampling.ar_smc import ARSMCSampler
    from benchmark.systems.prefix import prefix_systems

    ctx, method, system = trained
    meter = EnergyMeter(40)
    energy = BudgetedEnergy(OpenMMEnergy(system), meter=meter)
    prefix = lambda p: BudgetedEnergy(OpenMMEnergy(p), meter=meter, kind="partial")  # noqa: E731
    result = ARSMCSampler(chunk_size=7).twist(method, system, energy, ctx, prefix)
    k = len(prefix_systems(system)) + 1
    assert len(result.positions) == 40 // k and meter.report()["partial"] == (k - 1) * (40 // k)
    with torch.no_grad():
        snis = -OpenMMEnergy(system).energy(result.positions) - method.log_q(system, result.positions, ctx)
    assert torch.allclose(result.lineage_log_weights, snis.double(), rtol=1e-9, atol=1e-3)


def test_each_head_is_keyed_apart_in_the_weights_store(tmp_path):
    task = get_task("ALDP")
    ctx = FakeContext(seed=0, tier="quick", budget=1, task=task, systems=task.systems, weights=WeightsStore(tmp_path))
    digests = set()
    for cls in (ARBG, GIVT, MoLPixelCNN, GMMPixelCNN):
        method = cls()
        method.configure(task, "quick")
        digests.add(ctx.weights_key(method, "Ace-A-Nme").digest)
    assert len(digests) == 4


@pytest.mark.parametrize("tier", ["paper", "quick"])
@pytest.mark.parametrize("task", ["ALDP", "AL3", "AL4", "AL6", "CHIGNOLIN"])
def test_everything_but_the_head_is_arbgs_config(task, tier):
    """The paper trains the mixtures "identically to ARBG": same network, optimizer, schedule, data, range."""
    arbg = arbg_config(task, tier).to_dict()
    for cls, head_fields in ((GIVT, {"components", "scale_transform", "min_log_scale", "dependency"}),
                             (MoLPixelCNN, {"components", "scale_transform", "min_log_scale", "dependency", "num_bins"})):
        method = cls()
        method.configure(get_task(task), tier)
        mine = method.config
        shared = set(mine) - head_fields - ({"steps"} if tier == "quick" else set())
        assert {k: mine[k] for k in shared} == {k: arbg[k] for k in shared}
        if tier == "quick":  # fewer steps where measured (config.QUICK_STEPS), else ARBG's
            assert mine["steps"] == QUICK_STEPS.get(task, arbg["steps"])
        assert "temperature" not in mine  # the paper's mixture rows are at T = 1
    assert MoLPixelCNN().default_config(get_task(task), tier).num_bins == 2048  # all single peptides (paper §E.3)
    assert not {"num_bins", "bin_lo", "dequantization"} & set(GIVT().default_config(get_task(task), tier).to_dict())


def test_the_adapter_is_shared_not_copied():
    for cls in CLASSES.values():
        assert issubclass(cls, AutoregressiveMethod)
        for attr in ("setup", "propose", "log_q", "source_facts", "diagnostics"):
            assert getattr(cls, attr) is getattr(ARBG, attr)


def test_registered_as_builtins_with_matching_facts():
    for name, cls in CLASSES.items():
        spec = find_method(name)
        assert spec.source == "builtin" and spec.load() is cls
        facts = BUILTIN_METHODS[name]
        assert (facts.family, facts.applies_to, facts.requires_gpu) == (cls.family, cls.applies_to, cls.requires_gpu)


def test_unknown_keys_and_bad_values_are_clear_errors():
    with pytest.raises(ConfigError, match="Unknown MixtureConfig key"):
        GIVT(num_bins=3).configure(get_task("ALDP"), "quick")
    with pytest.raises(ConfigError, match="dependency"):
        GMMPixelCNN(dependency="diagonal").configure(get_task("ALDP"), "quick")
    assert dataclasses.fields(PixelCNNConfig) and issubclass(PixelCNNConfig, MixtureConfig)


@pytest.mark.slow  # ~1 min: local MD, training, SNIS and evaluation
@pytest.mark.parametrize("name", list(CLASSES))
def test_a_run_through_the_runner_records_a_result(tmp_path, name):
    from benchmark.data import generate
    from benchmark.runner import RunConfig, Runner
    from benchmark.tasks.protocol import LocalMD

    base = get_task("ALDP")
    md = LocalMD(replicas=(2, 1, 1), frames_per_replica=120, frame_interval_steps=10, warmup_steps=200)
    quick = dataclasses.replace(base.protocol("quick"), n_eval_samples=40, budgets=(60,), local_md=md)
    task = dataclasses.replace(base, name="TINYHEADS", protocols={**base.protocols, "quick": quick})
    generate.prepare_task(task, "quick", root=tmp_path / "data", progress=False)
    config = {**TINY, **({"num_bins": 64} if name != "givt" else {})}
    record = Runner(RunConfig(method=name, task=task, tier="quick", data_dir=tmp_path / "data", work_dir=tmp_path / "work",
                              out=tmp_path / "rec.json", method_config=config)).run()
    result = record.systems["Ace-A-Nme"]
    assert result.status == "ok", result.error
    assert result.diagnostics["source_facts"]["exact_density"] is True
    assert record.method["config"]["components"] == 3 and record.method["parameters"] > 0
