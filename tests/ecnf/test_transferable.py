"""Transferable ECNF++ (spec flows 4.8-4.10): the conditioning of real peptides, padded batches that leave
real atoms' outputs unchanged, equivariance and zero CoM over real atoms, the masked flow-matching loss,
the paper parameter count, and the method trained on an in-memory corpus through the ProposalMethod
contract (one shared model for every task)."""

from __future__ import annotations

import pytest
import torch

from baselines.ecnf import ECNFTransferable
from baselines.ecnf.config import TRANSFERABLE_PAPER, TRANSFERABLE_QUICK
from baselines.ecnf.features import transferable_features, transferable_width
from baselines.ecnf.ode import mean_free_log_prob
from baselines.ecnf.transferable import build_transferable_field, corpus_loss, peptide_features
from baselines.toolkit.coordinates import centre, pad_encodings, pad_positions
from baselines.toolkit.data import PaddedBatch
from benchmark.adapter import RunContext
from benchmark.errors import BgbenchError
from benchmark.registry import find_method
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec
from benchmark.systems.encodings import atom_encodings
from benchmark.tasks import get_task
from benchmark.weights import WeightsStore
from tests.ecnf.helpers import lively, random_rotation
from tests.robin.conftest import FakeCorpus

SEQUENCES = ("AG", "KAE")


@pytest.fixture(scope="module")
def peptides():
    return [SystemSpec(s, s, ZWITTERION, AMBER14_OBC1).build() for s in SEQUENCES]


@pytest.fixture(scope="module")
def field():
    torch.manual_seed(0)
    return lively(build_transferable_field(TRANSFERABLE_QUICK), std=0.3).double()


def padded(peptides, extra: int = 5):
    """A padded batch of the peptides (junk coordinates on padding), and each peptide's unpadded inputs."""
    gen = torch.Generator().manual_seed(3)
    xs = [torch.randn(p.n_atoms, 3, generator=gen, dtype=torch.float64) for p in peptides]
    length = max(p.n_atoms for p in peptides) + extra
    x, mask = pad_positions(xs, length)
    x = x.double() + (~mask)[..., None] * torch.randn(x.shape, generator=gen, dtype=torch.float64)  # junk padding
    enc = pad_encodings([atom_encodings(p) for p in peptides], length)
    feats = transferable_features(enc, mask, 2, 4).double()
    singles = [(xi[None], peptide_features(p, TRANSFERABLE_QUICK).double()) for xi, p in zip(xs, peptides)]
    return x, mask, feats, singles


def test_features_are_the_four_one_hots_and_zero_on_padding(peptides):
    assert transferable_width(2, 4) + 1 == 82  # spec 4.8: 54 + 4 + 20 + 3 + t
    _, mask, feats, _ = padded(peptides)
    ag, kae = (atom_encodings(p) for p in peptides)
    assert torch.equal(feats.sum(-1), 4.0 * mask)  # atom type, residue position, residue type, length
    row = feats[1, : kae.n_atoms]
    assert torch.equal(row[:, :54].argmax(-1), torch.as_tensor(kae.atom_type) - 1)
    assert torch.equal(row[:, 54:58].argmax(-1), torch.as_tensor(kae.aa_pos) - 1)
    assert torch.equal(row[:, 58:78].argmax(-1), torch.as_tensor(kae.aa_type) - 1)
    assert torch.equal(row[:, 78:].argmax(-1), torch.full((kae.n_atoms,), 3 - 2))
    assert torch.equal(feats[0, : ag.n_atoms, 78:].argmax(-1), torch.zeros(ag.n_atoms, dtype=torch.long))
    with pytest.raises(BgbenchError, match="2 to 4 residues"):
        peptide_features(SystemSpec("AGKLE", "AGKLE", ZWITTERION, AMBER14_OBC1).build(), TRANSFERABLE_QUICK)


def test_padding_never_changes_real_atoms_outputs(field, peptides):
    x, mask, feats, singles = padded(peptides)
    t = torch.tensor([0.2, 0.7], dtype=torch.float64)
    v = field(t, x, feats, mask)
    assert v.abs().max() > 1e-2
    for i, (xi, fi) in enumerate(singles):
        n = xi.shape[1]
        alone = field(t[i : i + 1], xi, fi)
        assert torch.allclose(v[i, :n], alone[0], atol=1e-10)
        assert torch.equal(v[i, n:], torch.zeros_like(v[i, n:]))
        # the same row with all-true mask of its own length: the masked code path equals the unmasked one
        masked = field(t[i : i + 1], xi, fi, torch.ones(1, n, dtype=torch.bool))
        assert torch.allclose(masked, alone, atol=1e-12)
    # junk moved elsewhere on the padding changes nothing
    moved = x + (~mask)[..., None] * 7.0
    assert torch.equal(field(t, moved, feats, mask), v)


def test_padded_field_is_equivariant_with_zero_com_over_real_atoms(field, peptides):
    x, mask, feats, _ = padded(peptides)
    t = torch.tensor([0.4, 0.9], dtype=torch.float64)
    v = field(t, x, feats, mask)
    rot, shift = random_rotation(2), torch.tensor([1.5, -0.3, 0.8], dtype=torch.float64)
    m = mask[..., None].double()
    moved = (x @ rot.T + shift) * m + x * (1 - m)  # move the real atoms only; padding keeps its junk
    assert torch.allclose(field(t, moved, feats, mask), v @ rot.T, atol=1e-5)
    com = (v * m).sum(1) / m.sum(1)
    assert torch.allclose(com, torch.zeros_like(com), atol=1e-12)


def test_masked_loss_is_the_mean_of_each_peptides_own_loss(field, peptides):
    """Direct computation with the same random numbers: z and t as the loss draws them, each row unpadded."""
    x, mask, feats, singles = padded(peptides)
    x1 = centre(x * mask[..., None], mask)
    enc = pad_encodings([atom_encodings(p) for p in peptides], x.shape[1])
    batch = PaddedBatch(x1, mask, enc)
    torch.manual_seed(11)
    loss = corpus_loss(TRANSFERABLE_QUICK)(field, batch)
    torch.manual_seed(11)
    noise, t = torch.randn(x1.shape, dtype=x1.dtype), torch.rand(len(x1), dtype=x1.dtype)  # the loss's draws
    per = []
    for i, (_, fi) in enumerate(singles):
        n = fi.shape[1]
        z = centre(noise[i : i + 1, :n])  # mean-free over the real atoms
        target = x1[i : i + 1, :n]
        xt = (1 - t[i]) * z + t[i] * target
        per.append(((field(t[i : i + 1], xt, fi) - (target - z)) ** 2).sum() / (3 * n))
    assert torch.allclose(loss, torch.stack(per).mean(), atol=1e-10)


def test_paper_config_has_the_published_parameter_count():
    net = build_transferable_field(TRANSFERABLE_PAPER)  # spec 4.7: 4 191 835 parameters, 121 state-dict entries
    assert sum(p.numel() for p in net.parameters()) == 4_191_835 and len(net.state_dict()) == 121
    assert (TRANSFERABLE_PAPER.channels, TRANSFERABLE_PAPER.layers, TRANSFERABLE_PAPER.ema_decay) == (256, 9, 0.999)


# --- the method on an in-memory corpus -----------------------------------------------------------------
TINY = dict(channels=8, layers=1, steps=4, batch_size=4, sample_batch_size=2, checkpoint_every=2, lr=1e-3,
            ema_decay=0.5, solver="rk4", step_size=0.25)
RUN_SYSTEMS = (SystemSpec("GA", "GA", ZWITTERION, AMBER14_OBC1), SystemSpec("PAK", "PAK", ZWITTERION, AMBER14_OBC1))


class CorpusContext(RunContext):
    corpus = None

    def training_corpus(self):
        return CorpusContext.corpus

    def training_data_hash(self, system_name=None):
        return CorpusContext.corpus.content_hash


def make(work, task: str = "2AA", **overrides):
    t = get_task(task)
    ctx = CorpusContext(seed=0, tier="quick", budget=100, task=t, systems=RUN_SYSTEMS, work_dir=work,
                        weights=WeightsStore(work / "weights"))
    method = ECNFTransferable(**{**TINY, **overrides})
    method.configure(t, "quick")
    return method, ctx


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    CorpusContext.corpus = FakeCorpus(("AG", "GPA", "KAE", "AGKLE"), frames=6)  # AGKLE: 5 residues, skipped
    work = tmp_path_factory.mktemp("ecnf-transferable")
    method, ctx = make(work)
    torch.manual_seed(0)
    method.setup(ctx.task, ctx)
    lively(method.net, std=0.01)  # 4 steps barely move the near-zero coordinate heads (15 / 1 layer: keep it gentle)
    return method, ctx, work


def test_registry_finds_the_builtin():
    assert find_method("ecnf-transferable").load() is ECNFTransferable


def test_one_shared_model_serves_each_peptide_with_its_own_conditioning(trained):
    method, ctx, _ = trained
    diag = method.diagnostics(RUN_SYSTEMS[0].build(), ctx)
    assert diag["weights"] == "trained" and diag["corpus_sequences"] == 3 and diag["skipped_sequences"] == 1
    assert diag["total_steps"] == 4 and diag["sigma"] == pytest.approx(CorpusContext.corpus.std_nm)
    assert method.parameter_count() == sum(p.numel() for p in method.net.parameters())  # counted once
    assert all(m.net is method.net for m in method.models.values())
    facts = method.source_facts(RUN_SYSTEMS[1].build(), ctx)
    assert facts.com == "mean-free" and facts.exact_density
    assert facts.coordinate_scale_nm == pytest.approx(CorpusContext.corpus.std_nm)


def test_proposals_are_centred_nm_positions_whose_log_q_integrates_back(trained):
    method, ctx, _ = trained
    system = RUN_SYSTEMS[0].build()
    x, lq = method.propose(system, 3, ctx)  # not a multiple of the sample batch size
    assert x.shape == (3, system.n_atoms, 3) and torch.isfinite(lq).all()
    assert x.mean(1).abs().max() < 1e-6
    back = method.log_q(system, x, ctx).detach()
    # rk4 with 4 steps each way: equal up to the truncation error of the two solves
    assert torch.allclose(back, lq, rtol=1e-3, atol=1e-2)
    model = method.models[system.name]  # and the flow is not the identity: log q is not the prior's density
    prior = mean_free_log_prob(x / model.sigma) + model.log_abs_det()
    assert (back - prior).abs().max() > 0.1
    cost = method.diagnostics(system, ctx)["cost"]
    assert cost["proposals"] == 3 and cost["proposal_evaluations"] > 0 and cost["seconds_per_likelihood"] > 0


def test_a_4aa_run_loads_the_2aa_corpus_model_and_its_exact_log_q_is_the_direct_one(trained):
    method, ctx, work = trained
    exact, ctx4 = make(work, task="4AA", divergence="exact", solver="euler", step_size=1.0)
    exact.setup(ctx4.task, ctx4)
    assert exact.weights_info["weights"] == "loaded"  # the 2AA run's corpus model: sampling-only fields differ
    system = RUN_SYSTEMS[1].build()
    x = 0.2 * torch.randn(2, system.n_atoms, 3)
    lq = exact.log_q(system, x, ctx4)
    # one Euler step from t = 1: z = x - v(1, x), log q = log N(z) - div v(1, x), here by brute-force Jacobian
    model = exact.models[system.name]
    xh = centre(x) / model.sigma
    for i in range(2):
        jac = torch.autograd.functional.jacobian(lambda y: model.field(torch.tensor(1.0), y[None])[0], xh[i])
        z = xh[i] - model.field(torch.tensor(1.0), xh[i][None])[0]
        d = 3 * (system.n_atoms - 1)
        direct = (-0.5 * (z * z).sum() - 0.5 * d * torch.log(torch.tensor(2 * torch.pi))
                  - torch.einsum("iaia->", jac) - d * torch.log(torch.tensor(model.sigma)))
        assert torch.allclose(lq[i].detach(), direct, rtol=1e-4, atol=1e-3)
