"""The transferable flows (spec flows 4.3-4.7): parameter counts of the paper configs, padding that changes
nothing on real atoms, exact inverses and log-dets, generation without padding, the published orderings."""

from __future__ import annotations

import pytest
import torch

from baselines.prose.config import PAPER_CONFIGS
from baselines.prose.flow import PROSE_ORDERS, TransferableFlow, padded_nll
from baselines.prose.method import build_net
from tests.prose.helpers import batch_inputs, peptides, tiny

ARCHS = ("prose", "tarflow")


@pytest.fixture(scope="module")
def systems():
    return peptides("AA", "KG", "WAD")


def rows(net, systems, length=None, seed=0, dtype=torch.float64):
    enc, orders, mask = batch_inputs(systems, length)
    x = torch.randn(len(systems), mask.shape[1], 3, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return x * mask[..., None], net.context(enc, orders, mask), mask


def test_paper_configs_have_the_published_parameter_counts():
    """Spec 4.7 (counted by instantiating the reference modules): Prose 288 117 560, TarFlow 115 689 272."""
    with torch.device("meta"):
        prose, tarflow = build_net(PAPER_CONFIGS["prose"]), build_net(PAPER_CONFIGS["tarflow-transferable"])

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(prose) == 288_117_560 and count(tarflow) == 115_689_272
    assert count(prose.cond_embed) == 811_776
    assert count(prose.blocks[0]) == 35_913_223 and count(prose.blocks[0].attn_blocks[0]) == 4_433_280
    assert count(tarflow.blocks[0]) == 14_359_687 and count(tarflow.blocks[0].attn_blocks[0]) == 1_776_000
    # every state-dict entry of spec 4.7 except the 8 stored causal masks, which bgbench computes
    assert len(prose.state_dict()) == 2134 - 8 and len(tarflow.state_dict()) == 1094 - 8


def test_block_orderings_are_the_published_keys():
    net = tiny("prose", blocks=10)
    assert net.order_keys == PROSE_ORDERS + PROSE_ORDERS[:2]
    assert tiny("tarflow", blocks=3).order_keys == ("n2c_residue-by-residue_standard",
                                                    "n2c_residue-by-residue_standard_flip",
                                                    "n2c_residue-by-residue_standard")


@pytest.mark.parametrize("arch", ARCHS)
def test_padded_and_unpadded_forward_agree_on_real_atoms(arch, systems):
    net = tiny(arch)
    x, ctx, mask = rows(net, systems, length=60)  # padded beyond the longest peptide too
    with torch.no_grad():
        z, logdet = net(x, ctx)
        log_q = net.log_prob(x, ctx)
        for i, system in enumerate(systems):
            n = system.n_atoms
            enc, orders, m = batch_inputs([system])
            alone = net.context(enc, orders, m)
            assert alone.mask is None  # an unpadded row has no mask at all
            z1, ld1 = net(x[i : i + 1, :n], alone)
            assert torch.allclose(z1, z[i : i + 1, :n], rtol=1e-9, atol=1e-9)
            assert torch.allclose(ld1, logdet[i : i + 1], rtol=1e-10, atol=1e-9)
            assert torch.allclose(net.log_prob(x[i : i + 1, :n], alone), log_q[i : i + 1], rtol=1e-10, atol=1e-8)
            assert torch.equal(z[i, n:], torch.zeros_like(z[i, n:]))  # padding passes through as zeros
    assert logdet.abs().min() > 1e-3  # the random outputs make the test non-trivial


@pytest.mark.parametrize("arch", ARCHS)
def test_reverse_inverts_forward(arch, systems):
    net = tiny(arch).float()
    for system in systems:
        enc, orders, mask = batch_inputs([system])
        ctx = net.context(enc, orders, mask)
        x = torch.randn(4, system.n_atoms, 3, generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            z, ld_fwd = net(x, ctx)
            back, ld_rev = net.reverse(z, ctx)
            x_s, lq_s = net.sample(z, ctx)
        assert torch.allclose(back, x, atol=1e-5)
        assert torch.allclose(ld_fwd, -ld_rev, atol=1e-4)
        assert torch.allclose(lq_s, net.log_prob(x_s, ctx), atol=1e-3)


@pytest.mark.parametrize("arch", ARCHS)
def test_log_det_equals_the_autograd_jacobian(arch, systems):
    net = tiny(arch)
    system = systems[0]
    enc, orders, mask = batch_inputs([system])
    ctx = net.context(enc, orders, mask)
    x = torch.randn(1, system.n_atoms, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: net(v.reshape(x.shape), ctx)[0].flatten(), x.flatten())
    _, logdet = net(x, ctx)
    assert torch.allclose(torch.linalg.slogdet(jac)[1], logdet[0].detach(), atol=1e-8)


def test_generation_never_sees_padding(systems):
    net = tiny("prose")
    enc, orders, mask = batch_inputs(systems[:2])
    ctx = net.context(enc, orders, mask)
    with pytest.raises(ValueError, match="without padding"):
        net.reverse(torch.zeros(2, mask.shape[1], 3, dtype=torch.float64), ctx)


def test_the_loss_averages_each_rows_nll_per_real_coordinate(systems):
    net = tiny("prose")
    x, ctx, mask = rows(net, systems)
    expected = []
    for i, system in enumerate(systems):
        n = system.n_atoms
        enc, orders, m = batch_inputs([system])
        expected.append(-net.log_prob(x[i : i + 1, :n], net.context(enc, orders, m)) / (3 * n))
    assert torch.allclose(padded_nll(net, x, ctx), torch.cat(expected).mean())


def test_capacity_is_enforced(systems):
    net = tiny("prose", max_tokens=30)
    enc, orders, mask = batch_inputs(systems[:1], length=40)
    with pytest.raises(ValueError, match="capacity"):
        net.context(enc, orders, mask)
    assert isinstance(net, TransferableFlow)
