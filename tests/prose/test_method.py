"""Prose and the transferable TarFlow through the ProposalMethod contract, trained on an in-memory corpus
(the duck type of ``benchmark.data.open_training_corpus``): one model for every peptide and task, positions
in nm with exact log q (reverse pass) equal to ``log_q`` (forward pass), the corpus std as the scale."""

from __future__ import annotations

import pytest
import torch

from baselines.prose import Prose, TransferableTarFlow
from benchmark.adapter import RunContext
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec
from benchmark.tasks import get_task
from benchmark.weights import WeightsStore
from tests.robin.conftest import FakeCorpus

TINY = dict(channels=16, head_dim=8, blocks=2, layers_per_block=1, steps=4, batch_size=4, sample_batch_size=5,
            checkpoint_every=2)
SYSTEMS = (SystemSpec("GA", "GA", ZWITTERION, AMBER14_OBC1), SystemSpec("PAK", "PAK", ZWITTERION, AMBER14_OBC1))
METHODS = {"prose": Prose, "tarflow-transferable": TransferableTarFlow}


class CorpusContext(RunContext):
    corpus = None

    def training_corpus(self):
        return CorpusContext.corpus

    def training_data_hash(self, system_name=None):
        return CorpusContext.corpus.content_hash


def make(cls, work, task: str = "2AA"):
    t = get_task(task)
    ctx = CorpusContext(seed=0, tier="quick", budget=100, task=t, systems=SYSTEMS, work_dir=work,
                        weights=WeightsStore(work / "weights"))
    method = cls(**TINY)
    method.configure(t, "quick")
    return method, ctx


@pytest.fixture(scope="module", params=list(METHODS))
def trained(request, tmp_path_factory):
    CorpusContext.corpus = FakeCorpus(("AG", "GPA", "KAE"), frames=8)
    work = tmp_path_factory.mktemp(request.param)
    method, ctx = make(METHODS[request.param], work)
    torch.manual_seed(0)
    method.setup(ctx.task, ctx)
    return method, ctx, work


def test_propose_gives_nm_positions_whose_log_q_the_forward_pass_reproduces(trained):
    method, ctx, _ = trained
    for spec in SYSTEMS:
        system = spec.build()
        x, lq = method.propose(system, 7, ctx)
        assert x.shape == (7, system.n_atoms, 3) and lq.shape == (7,)
        assert torch.isfinite(x).all() and torch.isfinite(lq).all()
        assert torch.allclose(method.log_q(system, x, ctx), lq, atol=1e-3, rtol=1e-5)


def test_the_scale_is_the_corpus_std_and_proposals_carry_com_noise(trained):
    method, ctx, _ = trained
    system = SYSTEMS[0].build()
    facts = method.source_facts(system, ctx)
    assert facts.coordinate_scale_nm == pytest.approx(CorpusContext.corpus.std_nm)
    assert facts.com == "com-noise"
    diag = method.diagnostics(system, ctx)
    assert diag["weights"] == "trained" and diag["corpus_sequences"] == 3 and diag["total_steps"] == 4


def test_one_model_serves_every_task_and_counts_its_parameters_once(trained):
    method, ctx, work = trained
    again, ctx8 = make(type(method), work, task="8AA")
    again.setup(ctx8.task, ctx8)
    assert again.weights_info["weights"] == "loaded"  # the 2AA run's corpus model, not a new one
    assert again.parameter_count() == sum(p.numel() for p in again.net.parameters())
    x = 0.3 * torch.randn(3, SYSTEMS[1].build().n_atoms, 3)
    system = SYSTEMS[1].build()
    assert torch.allclose(again.log_q(system, x, ctx8), method.log_q(system, x, ctx), atol=1e-5)


def test_self_improvement_on_one_system_charges_the_budget_and_keeps_log_q_exact(tmp_path):
    from baselines.toolkit.self_improve import SelfImproveConfig
    from benchmark.energy import make_target_energy
    from benchmark.energy.budget import BudgetedEnergy

    CorpusContext.corpus = FakeCorpus(("AG", "GPA"), frames=8)
    method, ctx = make(Prose, tmp_path)
    torch.manual_seed(0)
    method.setup(ctx.task, ctx)
    ga, pak = (s.build() for s in SYSTEMS)
    before = [p.detach().clone() for p in method.net.parameters()]
    energy = BudgetedEnergy(make_target_energy(ga), budget=100)
    cfg = SelfImproveConfig(rounds=2, proposals=12, logw_quantile_filter=None, steps_per_round=2, batch_size=4,
                            accumulate=1, lr=1e-2)
    reports = method.self_improve(ga, energy, ctx, cfg)
    assert [r["round"] for r in reports] == [0, 1, 2] and energy.used == 36 == reports[-1]["energy_evaluations_total"]
    changed = [not torch.equal(a, b) for a, b in zip(before, method.net.parameters())]
    assert any(changed) and changed[0]  # the conditioning embedder (first parameters) is fine-tuned too
    for system in (ga, pak):  # both peptides see the fine-tuned network, exactly
        x, lq = method.propose(system, 5, ctx)
        assert torch.allclose(method.log_q(system, x, ctx), lq, atol=1e-3, rtol=1e-5)
