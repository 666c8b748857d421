"""Each mixture head through the shared training loop: a tiny model overfits a handful of conformations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.ar_heads.config import MixtureConfig, PixelCNNConfig
from baselines.ar_heads.method import GIVT, GMMPixelCNN, MoLPixelCNN
from baselines.arbg.binning import UniformBinning
from baselines.arbg.density import ARDensity
from baselines.toolkit.config import TrainingConfig
from baselines.toolkit.coordinates import Standardizer, fit_sigma
from baselines.toolkit.data import FrameBatches
from baselines.toolkit.training import train

METHODS = {"givt": (GIVT, MixtureConfig), "mol-pixelcnn": (MoLPixelCNN, PixelCNNConfig),
           "gmm-pixelcnn": (GMMPixelCNN, PixelCNNConfig)}


def _toy_frames(n=4, atoms=3, seed=0):
    return torch.randn(n, atoms, 3, generator=torch.Generator().manual_seed(seed)) * 0.15


def _density(name: str) -> ARDensity:
    """The method's own head and network, tiny, built through its hooks."""
    cls, config = METHODS[name]
    cfg = config(channels=32, layers=2, heads=2, head_dim=16, components=4,
                 **({"num_bins": 256} if config is PixelCNNConfig else {}))
    binning = UniformBinning(cfg.num_bins, cfg.bin_lo, cfg.bin_hi) if config is PixelCNNConfig else None
    method = cls()
    head = method.make_head(cfg, binning)
    return ARDensity(method.make_network(cfg, 9, head), binning, head=head)


@pytest.mark.parametrize("name", list(METHODS))
def test_tiny_model_overfits_a_handful_of_conformations(name):
    torch.manual_seed(0)
    frames = _toy_frames()
    std = Standardizer(np.arange(3), fit_sigma(frames))
    density = _density(name)
    cfg = TrainingConfig(steps=200, batch_size=16, lr=1e-2, optimizer="adamw", warmup_fraction=0.05)
    batches = FrameBatches(frames, cfg.batch_size, lambda x, g: std.training_view(x, g, rotate=False, com_noise=False))
    result = train(density.net, lambda m, x: density.nll(x), batches, cfg, cfg.steps, seed=0, progress=False)
    x_hat = std.training_view(frames, torch.Generator(), rotate=False, com_noise=False)
    with torch.no_grad():
        final = float(density.nll(x_hat))
    # nats per coordinate. At initialisation every head is about a unit-scale component: GIVT about
    # 1.4 nats; a binned head about 5 (a bin holds ~1% of it). Four conformations are then learned:
    # GIVT's density concentrates (a density, so the NLL goes negative), a binned head's mass gathers
    # in the data's bins. The floor is log(4)/9 = 0.15 nats: the first coordinate cannot tell the frames apart.
    if density.binned:
        assert result.losses[0] > 4.0 and final < 0.3 * result.losses[0]
    else:
        assert result.losses[0] > 0.5 and final < result.losses[0] - 2.5
