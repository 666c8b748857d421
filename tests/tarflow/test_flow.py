"""The TarFlow network: exact inverse, exact log-determinants, the autoregressive structure, the KV cache."""

from __future__ import annotations

import pytest
import torch

from baselines.tarflow.flow import Identity, MetaBlock, Reversal, TarFlowNet, normal_log_prob
from tests.tarflow.helpers import randomize_outputs


def tiny(in_channels: int, n_atoms: int = 4, blocks: int = 3, seed: int = 0) -> TarFlowNet:
    torch.manual_seed(seed)
    net = TarFlowNet(n_atoms, in_channels, channels=32, blocks=blocks, layers_per_block=2, head_dim=16).eval()
    randomize_outputs(net, std=0.05, seed=seed)
    return net


@pytest.mark.parametrize("in_channels", [1, 3], ids=["token-per-coordinate", "token-per-atom"])
def test_reverse_inverts_forward_and_the_log_determinants_cancel(in_channels):
    net = tiny(in_channels)
    x = torch.randn(16, net.dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        z, logdet_fwd = net(x)
        x_back, logdet_rev = net.reverse(z)
    assert logdet_fwd.std() > 0.1  # a log-det that varies with x: the check has teeth
    assert torch.allclose(x_back, x, atol=1e-5, rtol=0)
    assert torch.allclose(logdet_fwd + logdet_rev, torch.zeros(16), atol=1e-5)


@pytest.mark.parametrize("in_channels", [1, 3], ids=["token-per-coordinate", "token-per-atom"])
def test_log_determinants_equal_the_autograd_jacobian(in_channels):
    net = tiny(in_channels, n_atoms=3).double()
    x = torch.randn(3, net.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    for i in range(len(x)):  # (the reverse log-det is -this at z = f(x): the cancellation test above)
        jac = torch.autograd.functional.jacobian(lambda v: net(v[None])[0][0], x[i])
        _, logabs = torch.linalg.slogdet(jac)
        assert net(x[i : i + 1])[1].item() == pytest.approx(logabs.item(), abs=1e-6)
        assert abs(logabs.item()) > 0.1


def test_each_block_is_autoregressive_in_its_own_token_order():
    """Latent token t of a block depends only on data tokens 0..t in the block's order (the one-token shift)."""
    torch.manual_seed(0)
    for perm in (Identity(), Reversal()):
        block = MetaBlock(3, 32, 5, perm, layers=2, head_dim=16)
        randomize_outputs(block)
        x = torch.randn(1, 5, 3, dtype=torch.float64)
        jac = torch.autograd.functional.jacobian(lambda v: block.double()(v)[0], x)[0, :, :, 0, :, :]  # (5,3,5,3)
        order = list(range(5)) if isinstance(perm, Identity) else list(range(4, -1, -1))
        tok = jac.abs().sum((1, 3))[order][:, order]  # token-to-token dependence in the block's order
        assert torch.all(tok.triu(1) == 0)  # nothing from later tokens
        assert torch.all(tok.diagonal() > 0) and torch.all(tok.tril(-1)[1:, 0] > 0)  # but from earlier ones
        first = order[0]
        assert torch.equal(jac[first, :, first, :], torch.eye(3, dtype=torch.float64))  # token 0 passes through


def test_positions_travel_with_their_tokens():
    """A reversal block equals an identity block with a reversed position table on reversed tokens."""
    torch.manual_seed(0)
    rev = MetaBlock(3, 32, 6, Reversal(), layers=1, head_dim=16)
    randomize_outputs(rev)
    ident = MetaBlock(3, 32, 6, Identity(), layers=1, head_dim=16)
    ident.load_state_dict(rev.state_dict())
    with torch.no_grad():
        ident.pos_embed.weight.copy_(rev.pos_embed.weight.flip(0))
        x = torch.randn(4, 6, 3)
        z_rev, ld_rev = rev(x)
        z_id, ld_id = ident(x.flip(1))
    assert torch.allclose(z_rev, z_id.flip(1), atol=1e-6) and torch.allclose(ld_rev, ld_id, atol=1e-6)


def naive_reverse(block: MetaBlock, z: torch.Tensor) -> torch.Tensor:
    """Invert a block without a cache: recompute the whole causal pass for every token."""
    zp = block.permutation.apply(z)
    x = zp.clone()
    for t in range(1, zp.shape[1]):
        h = block.trunk(block.embed(x, block.positions()))
        a, b = block.affine(h)
        x[:, t] = zp[:, t] * torch.exp(a[:, t - 1]) + b[:, t - 1]
    return block.permutation.invert(x)


def test_kv_cache_reverse_equals_recomputing_every_prefix():
    torch.manual_seed(3)
    for perm in (Identity(), Reversal()):
        block = MetaBlock(1, 32, 7, perm, layers=2, head_dim=16).eval()
        randomize_outputs(block, std=0.1)
        z = torch.randn(5, 7, 1)
        with torch.no_grad():
            assert torch.allclose(block.reverse(z)[0], naive_reverse(block, z), atol=1e-5, rtol=1e-5)


def test_untrained_flow_is_an_affine_map_with_zero_initialized_outputs():
    torch.manual_seed(0)
    net = TarFlowNet(4, 3, channels=32, blocks=2, layers_per_block=1, head_dim=16)
    assert all(torch.count_nonzero(b.proj_out.weight) == 0 for b in net.blocks)
    x, y = torch.randn(2, net.dim), torch.randn(2, net.dim)
    with torch.no_grad():
        (zx, ldx), (zy, ldy) = net(x), net(y)
    ratio = (zx - zy) / (x - y)  # the same elementwise scale exp(-a) for every pair of inputs
    assert torch.allclose(ldx, ldy) and torch.allclose(ratio[0], ratio[1], atol=1e-4)


def test_log_prob_is_the_prior_at_z_plus_the_log_determinant():
    net = tiny(3)
    x = torch.randn(6, net.dim)
    z, logdet = net(x)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1) + logdet
    assert torch.allclose(net.log_prob(x), expected, atol=1e-5)
    zs = torch.randn(6, net.dim)
    xs, lq = net.sample(zs)
    assert torch.allclose(lq, normal_log_prob(zs) - net.reverse(zs)[1], atol=1e-6)
