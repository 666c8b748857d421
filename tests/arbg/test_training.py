"""ARBG's training objective through the shared loop: a tiny model overfits a handful of conformations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.arbg.binning import UniformBinning
from baselines.arbg.density import bin_loss
from baselines.arbg.transformer import CausalTransformer
from baselines.toolkit.config import TrainingConfig
from baselines.toolkit.coordinates import Standardizer, fit_sigma
from baselines.toolkit.data import FrameBatches
from baselines.toolkit.training import train


def _toy_frames(n=4, atoms=3, seed=0):
    return torch.randn(n, atoms, 3, generator=torch.Generator().manual_seed(seed)) * 0.15


@pytest.mark.parametrize("optimizer", [pytest.param("muon", marks=pytest.mark.slow), "adamw"])  # muon: ~30 s on CPU
def test_tiny_model_overfits_a_handful_of_conformations(optimizer):
    torch.manual_seed(0)
    frames = _toy_frames()
    std = Standardizer(np.arange(3), fit_sigma(frames))
    binning = UniformBinning(32, -3, 3)
    net = CausalTransformer(32, 9, channels=32, layers=2, heads=2, head_dim=16)
    cfg = TrainingConfig(steps=300, batch_size=16, lr=0.02 if optimizer == "muon" else 3e-3, optimizer=optimizer,
                         warmup_fraction=0.05)
    batches = FrameBatches(frames, cfg.batch_size, lambda x, g: std.training_view(x, g, rotate=False, com_noise=False))
    result = train(net, lambda m, x: bin_loss(m, binning.to_index(x)), batches, cfg, cfg.steps, seed=0, progress=False)
    with torch.no_grad():
        bins = binning.to_index(std.training_view(frames, torch.Generator(), rotate=False, com_noise=False))
        final = float(bin_loss(net, bins))
    assert result.losses[0] > 3.0  # about log(32) at initialisation
    assert final < 0.2 * result.losses[0]
