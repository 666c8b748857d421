"""ROBIN through the ProposalMethod contract, trained on an in-memory corpus with the duck type of
``benchmark.data.open_training_corpus``: positions and log q, one model for every transferable task,
the corpus std as the scale, shipped weights, the per-token interface of the twisted SMC."""

from __future__ import annotations

import math

import pytest
import torch

from baselines.robin import Robin
from benchmark.adapter import AutoregressiveProposal, RunContext
from benchmark.errors import BgbenchError
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec
from benchmark.tasks import get_task
from benchmark.weights import ShippedEntry, WeightsStore, ship

TINY = dict(num_bins=64, channels=16, layers=1, heads=2, head_dim=8, max_atoms=60, steps=4, batch_size=4,
            sample_batch_size=5, checkpoint_every=2)
SYSTEMS = (SystemSpec("GA", "GA", ZWITTERION, AMBER14_OBC1), SystemSpec("PAK", "PAK", ZWITTERION, AMBER14_OBC1))


class CorpusContext(RunContext):
    """A RunContext whose training corpus is the in-memory fake (counted, so loading can be told from training)."""

    corpus = None
    reads = 0

    def training_corpus(self):
        CorpusContext.reads += 1
        return CorpusContext.corpus

    def training_data_hash(self, system_name=None):
        return CorpusContext.corpus.content_hash


def make(work, task: str = "4AA", shipped=None, **overrides) -> tuple[Robin, CorpusContext]:
    t = get_task(task)
    ctx = CorpusContext(seed=0, tier="quick", budget=100, task=t, systems=SYSTEMS, work_dir=work,
                        weights=WeightsStore(work / "weights", shipped=shipped))
    method = Robin(**{**TINY, **overrides})
    method.configure(t, "quick")
    return method, ctx


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fake_corpus):
    CorpusContext.corpus = fake_corpus
    method, ctx = make(tmp_path_factory.mktemp("robin"))
    torch.manual_seed(0)
    method.setup(ctx.task, ctx)
    return method, ctx


def test_propose_gives_nm_positions_with_their_teacher_forced_log_q(trained):
    method, ctx = trained
    for spec in SYSTEMS:
        system = spec.build()
        x, lq = method.propose(system, 7, ctx)
        assert x.shape == (7, system.n_atoms, 3) and torch.isfinite(lq).all()
        with torch.no_grad():
            again = method.log_q(system, x, ctx)
        assert torch.allclose(again, lq, atol=2e-4, rtol=0)
        density, std = method.models[spec.name]
        assert density.dim == 3 * system.n_atoms and std.sigma == method.sigma


def test_the_scale_is_the_corpus_std_and_the_density_is_absolute(trained, fake_corpus):
    method, ctx = trained
    facts = method.source_facts(SYSTEMS[0].build(), ctx)
    assert facts.coordinate_scale_nm == pytest.approx(fake_corpus.std_nm) and facts.com == "absolute"
    diag = method.diagnostics(SYSTEMS[0].build(), ctx)
    assert diag["weights"] == "trained" and diag["pose"] == "haar" and diag["corpus_sequences"] == 3
    assert diag["census_frames"] == 36 and 0 <= diag["clipped_frame_fraction"] <= 1
    assert method.parameter_count() == sum(p.numel() for p in method.net.parameters())
    assert set(method.training_seconds()) == {"corpus"}


def test_one_model_serves_every_transferable_task(trained):
    method, ctx = trained
    reads = CorpusContext.reads
    other, octx = make(ctx.work_dir, task="8AA")
    other.setup(octx.task, octx)  # 8AA reuses the model trained for 4AA: nothing is trained
    assert other.training_seconds() == {} and other.weights_info["weights"] == "loaded"
    assert CorpusContext.reads == reads  # no training data was read
    system = SYSTEMS[1].build()
    x = method.propose(system, 3, ctx)[0]
    with torch.no_grad():
        assert torch.equal(other.log_q(system, x, octx), method.log_q(system, x, ctx))


def test_a_shipped_model_is_used_by_a_fresh_store(trained, tmp_path):
    method, ctx = trained
    assert ctx.weights_key(method, "corpus").task == "transferable"
    ship(ctx.weights.entry(ctx.weights_key(method, "corpus")), tmp_path / "shipped")
    fresh, fctx = make(tmp_path / "fresh", task="8AA", shipped=tmp_path / "shipped")
    fresh.setup(fctx.task, fctx)
    assert fresh.weights_info["shipped"] is True and fresh.training_seconds() == {}
    assert isinstance(fctx.weights.entry(fctx.weights_key(fresh, "corpus")), ShippedEntry)
    system = SYSTEMS[0].build()
    x = method.propose(system, 3, ctx)[0]
    with torch.no_grad():
        assert torch.equal(fresh.log_q(system, x, fctx), method.log_q(system, x, ctx))


def test_shipped_weights_need_no_corpus_where_the_card_records_it(trained, tmp_path, monkeypatch):
    """A fresh machine without the quick corpus names the shipped model by the corpus card's hash and never
    makes the corpus; without such weights it still needs the corpus (and says how to make it)."""
    from benchmark.data import cards
    from benchmark.errors import DataError

    method, ctx = trained
    ship(ctx.weights.entry(ctx.weights_key(method, "corpus")), tmp_path / "shipped")
    empty = tmp_path / "data"  # no corpus here: open_training_corpus would refuse
    monkeypatch.setattr(cards, "card_corpus_hash", lambda: CorpusContext.corpus.content_hash)
    fresh = Robin(**TINY)
    fctx = RunContext(seed=0, tier="quick", budget=100, task=get_task("8AA"), systems=SYSTEMS, work_dir=tmp_path / "w",
                      data_dir=empty, weights=WeightsStore(tmp_path / "w" / "weights", shipped=tmp_path / "shipped"))
    fresh.setup(fctx.task, fctx)
    assert fresh.weights_info["shipped"] is True and fresh.training_seconds() == {}
    monkeypatch.setattr(cards, "card_corpus_hash", lambda: "0" * 64)  # the card names other data
    with pytest.raises(DataError, match="prepare-corpus"):
        Robin(**TINY).setup(fctx.task, fctx)


def test_per_token_generation_is_the_proposal_generated_in_steps(trained):
    """The AR interface: extending in residue-sized steps reproduces propose's draws and its log q."""
    method, ctx = trained
    assert isinstance(method, AutoregressiveProposal)
    system = SYSTEMS[1].build()
    order = method.generation_order(system, ctx)
    assert (order == list(range(system.n_atoms))).all()  # topology (Amber template) order, as the release
    ctx.generator.manual_seed(11)
    x, lq = method.propose(system, 5, ctx)
    ctx.generator.manual_seed(11)
    session = method.begin_generation(system, 5, ctx)
    terms = session.extend(3 * system.n_atoms)
    assert session.length == 3 * system.n_atoms and terms.shape == (5, 3 * system.n_atoms)
    assert torch.allclose(terms.sum(1), lq, atol=1e-6) and torch.equal(session.positions(), x)
    stepwise = method.begin_generation(system, 5, ctx)
    parts = [stepwise.extend(k) for k in (10, 31, 3 * system.n_atoms)]  # the last is cut to what is left
    assert stepwise.length == 3 * system.n_atoms and sum(p.shape[1] for p in parts) == 3 * system.n_atoms
    with torch.no_grad():
        assert torch.allclose(torch.cat(parts, 1).sum(1), method.log_q(system, stepwise.positions(), ctx), atol=2e-4)


@pytest.mark.parametrize("chunk", [2, 100])
def test_resampled_sessions_continue_their_ancestors(trained, chunk):
    """select() keeps the chosen prefixes (cache re-indexed with one chunk, rebuilt with several)."""
    method, ctx = trained
    system = SYSTEMS[1].build()
    density, std = method.models[system.name]
    from baselines.arbg.session import DensitySession

    session = DensitySession(density, std.sigma, 6, torch.Generator().manual_seed(0), chunk_size=chunk)
    first = session.extend(30)
    idx = torch.tensor([5, 5, 0, 2, 2, 2])
    before = session.positions()[idx]
    session.select(idx)
    rest = session.extend(3 * system.n_atoms)
    x = session.positions()
    assert torch.equal(x[:, :10], before)
    with torch.no_grad():
        assert torch.allclose(first[idx].sum(1) + rest.sum(1), method.log_q(system, x, ctx), atol=2e-4)


def test_errors_say_what_to_do(trained, tmp_path):
    method, ctx = trained
    with pytest.raises(BgbenchError, match="transferable method"):
        Robin().configure(get_task("ALDP"), "quick")
    big = SystemSpec("WWWWW", "WWWWW", ZWITTERION, AMBER14_OBC1).build()
    with pytest.raises(BgbenchError, match="max_atoms"):
        method.peptide_density(big)
    small, sctx = make(tmp_path, max_atoms=20)
    with pytest.raises(BgbenchError, match="max_atoms"):
        small.setup(sctx.task, sctx)


def test_log_q_is_in_nm(trained):
    """Scaling by sigma: log q(nm) = log q(model units) - 3N log sigma."""
    method, ctx = trained
    system = SYSTEMS[0].build()
    density, std = method.models[system.name]
    x = method.propose(system, 4, ctx)[0]
    with torch.no_grad():
        direct = density.log_prob(std.to_model(x)) - 3 * system.n_atoms * math.log(std.sigma)
        assert torch.allclose(method.log_q(system, x, ctx), direct, atol=1e-6)
