"""ROBIN's network and density: exact log q with conditioning, the conditioning itself, padding, size."""

from __future__ import annotations

import math

import pytest
import torch

from baselines.arbg.binning import UniformBinning
from baselines.arbg.density import ARDensity, bin_loss
from baselines.arbg.transformer import CausalTransformer
from baselines.robin import Robin
from baselines.robin.config import PAPER_CONFIG
from baselines.robin.method import padded_loss
from baselines.toolkit.coordinates import pad_encodings, pad_positions
from baselines.toolkit.data import PaddedBatch
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec
from benchmark.systems.encodings import atom_encodings
from tests.arbg.test_density import _riemann_integral

MAX_ATOMS = 30


def tiny_net(seed: int = 0, bins: int = 16) -> CausalTransformer:
    torch.manual_seed(seed)
    net = CausalTransformer(bins, 3 * MAX_ATOMS, channels=16, layers=2, heads=2, head_dim=8, conditioned=True)
    with torch.no_grad():  # larger weights than the 0.02 init, so the conditionals are far from uniform
        for p in net.parameters():
            p.normal_(0, 0.3)
    return net.eval()


def encodings(sequence: str) -> dict[str, torch.Tensor]:
    system = SystemSpec(sequence, sequence, ZWITTERION, AMBER14_OBC1).build()
    return pad_encodings([atom_encodings(system)], system.n_atoms)


def density(net: CausalTransformer, enc: dict[str, torch.Tensor], temperature: float = 1.0, dim: int | None = None):
    n = enc["atom_type"].shape[1]
    with torch.no_grad():
        cond = net.condition(enc)
    return ARDensity(net, UniformBinning(net.num_bins, -2.0, 2.0), temperature, cond=cond, dim=dim or 3 * n)


@pytest.fixture(scope="module")
def peptides():
    return {seq: encodings(seq) for seq in ("AS", "SA", "GAG")}  # AS and SA both have 24 atoms


@pytest.mark.parametrize("temperature", [1.0, 0.8])
def test_log_q_of_a_sample_equals_its_teacher_forced_log_q(peptides, temperature):
    dens = density(tiny_net(), peptides["GAG"], temperature)
    x, lq, bins = dens.sample(16, torch.Generator().manual_seed(1))
    assert x.shape == (16, 3 * 27) and torch.equal(dens.binning.to_index(x), bins)
    with torch.no_grad():
        again = dens.log_prob(x)
    assert torch.isfinite(lq).all() and torch.allclose(lq, again, atol=5e-4, rtol=0)  # float32 over 81 tokens
    cached = dens.sample_bins(16, torch.Generator().manual_seed(1), use_cache=True)
    recomputed = dens.sample_bins(16, torch.Generator().manual_seed(1), use_cache=False)
    assert torch.equal(cached[0], recomputed[0]) and torch.allclose(cached[1], recomputed[1], atol=1e-5)


def test_conditioning_changes_with_the_sequence(peptides):
    net = tiny_net()
    tokens = torch.randint(16, (1, 3 * 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = net(tokens, cond=net.condition(peptides["AS"]))
        b = net(tokens, cond=net.condition(peptides["SA"]))
        longer = {**peptides["AS"], "seq_len": torch.tensor([5])}  # only the stated length differs
        c = net(tokens, cond=net.condition(longer))
    assert (a - b).abs().amax() > 1e-2 and (a - c).abs().amax() > 1e-2
    with pytest.raises(ValueError, match="conditioning"):
        net(tokens)


def test_padding_never_leaks_into_real_atoms(peptides):
    """Padded batches give every real position the logits of the peptide alone, whatever the padding holds."""
    net = tiny_net()
    gen = torch.Generator().manual_seed(2)
    alone = {}
    with torch.no_grad():
        for seq in ("GAG", "AS"):
            n = peptides[seq]["atom_type"].shape[1]
            tokens = torch.randint(16, (1, 3 * n), generator=gen)
            alone[seq] = (tokens, net(tokens, cond=net.condition(peptides[seq])))
        raw = [_raw(peptides[s]) for s in ("AS", "GAG")]  # 24 and 27 atoms
        enc = pad_encodings(raw, 27)
        mask = enc["atom_type"] > 0
        tokens = torch.randint(16, (2, 81), generator=gen)  # garbage in the padding
        tokens[0, :72], tokens[1] = alone["AS"][0][0], alone["GAG"][0][0]
        enc["atom_type"][0, 24:] = 5  # garbage encodings in the padding too: masked out of the global attention
        padded = net(tokens, cond=net.condition(enc, mask))
    assert torch.allclose(padded[0, :72], alone["AS"][1][0], atol=1e-5)
    assert torch.allclose(padded[1], alone["GAG"][1][0], atol=1e-5)


def _raw(enc: dict[str, torch.Tensor]):
    """An AtomEncodings-like view of one peptide's unpadded encodings."""
    from types import SimpleNamespace

    return SimpleNamespace(**{k: v[0].numpy() for k, v in enc.items() if k != "seq_len"}, seq_len=int(enc["seq_len"][0]))


def test_the_padded_loss_is_the_mean_of_each_peptides_own_loss(peptides):
    net = tiny_net(bins=16)
    binning = UniformBinning(16, -2.0, 2.0)
    gen = torch.Generator().manual_seed(3)
    xs = [torch.randn(27, 3, generator=gen), torch.randn(24, 3, generator=gen)]
    x, mask = pad_positions(xs)
    enc = pad_encodings([_raw(peptides["GAG"]), _raw(peptides["AS"])], 27)
    with torch.no_grad():
        got = padded_loss(net, binning, PaddedBatch(x, mask, enc))
        each = [bin_loss(net, binning.to_index(xi.reshape(1, -1)), net.condition(peptides[s]))
                for xi, s in zip(xs, ("GAG", "AS"))]
    assert got == pytest.approx(float(sum(each) / 2), abs=1e-5)


def test_the_conditioned_density_integrates_to_one():
    """Brute force on two coordinates: the density of a 1-atom 'peptide' prefix sums to 1 over a fine grid."""
    net = tiny_net(seed=4, bins=12)
    enc = {"atom_type": torch.tensor([[3]]), "aa_type": torch.tensor([[7]]), "aa_pos": torch.tensor([[1]]),
           "atom_index": torch.tensor([[0]]), "seq_len": torch.tensor([2])}
    dens = density(net, enc, temperature=0.7, dim=2)
    dens.binning = UniformBinning(12, -2.0, 2.0)
    assert _riemann_integral(dens, 2, sigma=0.35, per_bin=10) == pytest.approx(1.0, abs=1e-3)


def test_the_paper_config_has_the_published_parameter_count():
    """131,982,336 (spec 3.3): the formula, written out here, and the network built on the meta device."""
    B, C, N, L, W, F = 8192, 768, 178, 16, 12 * 64, int(2 * 4 * 768 / 3)
    per_block = 2 * C + 3 * W * C + W * C + 3 * F * C + C
    conditioning = 64 * C + 32 * C + (5 * C * C + C) + (C * C + C) + (3 * C * C + 3 * C) + (C * C + C)
    formula = 2 * B * C + 3 * C + N * C + C + L * per_block + conditioning
    assert formula == 131_982_336
    method = Robin()
    method.cfg = PAPER_CONFIG
    with torch.device("meta"):
        net = method.build_network()
    assert sum(p.numel() for p in net.parameters()) == formula
    assert math.isclose(formula / 1e6, 132.0, abs_tol=0.05)  # Table A.5


def test_the_global_attention_is_torchs_multihead_attention_with_keys_projected_once(peptides):
    net = tiny_net()
    enc = pad_encodings([_raw(peptides["AS"]), _raw(peptides["GAG"])], 27)
    mask = enc["atom_type"] > 0
    h = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(5))
    pos = torch.arange(5)
    with torch.no_grad():
        cond = net.condition(enc, mask)
        ours = net._add_conditioning(h, pos, cond)
        base = h + cond.vectors[:, pos // 3]
        theirs, _ = net.global_cond_attn(base, cond.vectors, cond.vectors, key_padding_mask=~mask)
    assert torch.allclose(ours, base + theirs, atol=1e-6)
