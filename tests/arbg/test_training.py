"""ARBG training pieces: Muon, rotations, sigma, overfitting, checkpoint resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.arbg.binning import UniformBinning
from baselines.arbg.muon import Muon, newton_schulz
from baselines.arbg.preprocessing import Standardizer, centre, fit_sigma, random_rotations
from baselines.arbg.training import TrainSettings, bin_loss, train
from baselines.arbg.transformer import CausalTransformer


def test_newton_schulz_pushes_singular_values_towards_one():
    g = torch.randn(48, 96, generator=torch.Generator().manual_seed(0)) * torch.logspace(-2, 1, 96)
    for m in (g, g.T):  # wide and tall
        s = torch.linalg.svdvals(newton_schulz(m).float())
        assert s.min() > 0.5 and s.max() < 1.3  # the quintic iteration's known band, not exactly 1


def test_muon_minimizes_a_quadratic_and_uses_adamw_for_vectors():
    torch.manual_seed(0)
    target_w, target_b = torch.randn(8, 8), torch.randn(8)
    w, b = torch.nn.Parameter(torch.zeros(8, 8)), torch.nn.Parameter(torch.zeros(8))
    opt = Muon([w, b], lr=0.05, weight_decay=0.0, adamw_lr_ratio=1.0)
    with torch.no_grad():
        start = float(((w - target_w) ** 2).sum() + ((b - target_b) ** 2).sum())
    for _ in range(300):
        loss = ((w - target_w) ** 2).sum() + ((b - target_b) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * start
    assert "exp_avg" in opt.state[b] and "momentum_buffer" in opt.state[w]


def test_random_rotations_are_proper_and_haar_centred():
    r = random_rotations(20_000, torch.Generator().manual_seed(0), torch.float64)
    eye = torch.eye(3, dtype=torch.float64).expand_as(r)
    assert torch.allclose(r @ r.transpose(1, 2), eye, atol=1e-10)
    assert torch.allclose(torch.linalg.det(r), torch.ones(20_000, dtype=torch.float64))
    assert r.mean(0).abs().max() < 0.03  # E[R] = 0 under the Haar measure on SO(3)


def test_sigma_is_the_bessel_std_of_centred_frames():
    x = torch.randn(30, 5, 3, generator=torch.Generator().manual_seed(0)) + 4.0
    xn = x.numpy().astype(np.float64)
    want = np.std(xn - xn.mean(axis=1, keepdims=True), ddof=1)
    assert fit_sigma(x) == pytest.approx(want, rel=1e-12)


def test_standardizer_round_trip_and_training_view():
    perm = np.array([2, 0, 1, 3])
    std = Standardizer(perm, 0.5)
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    flat = std.to_model(x)
    assert torch.allclose(flat[:, :3], x[:, 2] / 0.5)  # token atom 0 is topology atom 2
    assert torch.allclose(std.to_nm(flat), x)
    v = std.training_view(x, torch.Generator().manual_seed(0), rotate=True, com_noise=False)
    # rotation keeps the centred distances: compare pairwise distance matrices
    a = torch.cdist(centre(x[:, perm].float()) / 0.5, centre(x[:, perm].float()) / 0.5)
    b = torch.cdist(v.view(7, 4, 3), v.view(7, 4, 3))
    assert torch.allclose(a, b, atol=1e-5)


def _toy_frames(n=4, atoms=3, seed=0):
    return torch.randn(n, atoms, 3, generator=torch.Generator().manual_seed(seed)) * 0.15


@pytest.mark.parametrize("optimizer", [pytest.param("muon", marks=pytest.mark.slow), "adamw"])  # muon: ~30 s on CPU
def test_tiny_model_overfits_a_handful_of_conformations(optimizer):
    torch.manual_seed(0)
    frames = _toy_frames()
    std = Standardizer(np.arange(3), fit_sigma(frames))
    binning = UniformBinning(32, -3, 3)
    net = CausalTransformer(32, 9, channels=32, layers=2, heads=2, head_dim=16)
    s = TrainSettings(steps=300, batch_size=16, lr=0.02 if optimizer == "muon" else 3e-3, optimizer=optimizer,
                      rotate=False, com_noise=False, warmup_fraction=0.05)
    losses = train(net, binning, std, frames, s, progress=False)
    with torch.no_grad():
        bins = binning.to_index(std.training_view(frames, torch.Generator(), rotate=False, com_noise=False))
        final = float(bin_loss(net, bins))
    assert losses[0] > 3.0  # about log(32) at initialisation
    assert final < 0.2 * losses[0]


def test_training_resumes_from_checkpoint(tmp_path, monkeypatch):
    frames = _toy_frames()
    std = Standardizer(np.arange(3), fit_sigma(frames))
    binning = UniformBinning(16, -3, 3)
    settings = TrainSettings(steps=12, batch_size=8, lr=1e-3, checkpoint_every=4)

    def fresh():
        torch.manual_seed(0)
        return CausalTransformer(16, 9, channels=16, layers=1, heads=2, head_dim=8)

    full_net = fresh()
    full = train(full_net, binning, std, frames, settings, checkpoint=tmp_path / "a.pt", progress=False)
    import baselines.arbg.training as tr

    class Stop(Exception):
        pass

    orig = tr.save_checkpoint

    def save_then_stop(path, net, opt, sched, gen, step, extra):  # simulate a kill right after step 8
        orig(path, net, opt, sched, gen, step, extra)
        if step == 8:
            raise Stop

    monkeypatch.setattr(tr, "save_checkpoint", save_then_stop)
    with pytest.raises(Stop):
        train(fresh(), binning, std, frames, settings, checkpoint=tmp_path / "b.pt", progress=False)
    monkeypatch.setattr(tr, "save_checkpoint", orig)
    resumed_net = fresh()
    rest = train(resumed_net, binning, std, frames, settings, checkpoint=tmp_path / "b.pt", progress=False)
    assert len(rest) == 4
    assert rest == pytest.approx(full[8:], rel=1e-5)
    for a, b in zip(full_net.parameters(), resumed_net.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_kabsch_alignment_undoes_a_known_rotation():
    from baselines.arbg.preprocessing import align_to

    ref = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rots = random_rotations(5, torch.Generator().manual_seed(1), torch.float64)
    frames = ref[None] @ rots.transpose(1, 2) + torch.randn(5, 1, 3, dtype=torch.float64)
    assert torch.allclose(align_to(frames, ref), centre(ref)[None].expand(5, -1, -1), atol=1e-9)
