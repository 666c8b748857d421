"""Tiny seeded models of every mixture head on a toy of d coordinates, with weights far from the init."""

from __future__ import annotations

import torch

from baselines.ar_heads.heads import DiscretizedMixtureHead, GaussianMixtureHead, ValueEmbedding
from baselines.ar_heads.mixture import DISTRIBUTIONS, MixtureParameterization
from baselines.arbg.binning import UniformBinning
from baselines.arbg.density import ARDensity
from baselines.arbg.transformer import CausalTransformer

KINDS = ("givt", "logistic", "normal")  # GIVT, MoL-PixelCNN++, GMM-PixelCNN++


def toy_density(kind: str, d: int, bins: int = 12, components: int = 3, dependency: str = "atom", seed: int = 0,
                weight_std: float = 0.3, scale_transform: str = "exp") -> ARDensity:
    """A random model over d coordinates; bins span [-2, 2] (binned heads)."""
    torch.manual_seed(seed)
    mixture = MixtureParameterization(components, scale_transform, -7.0, dependency)
    if kind == "givt":
        head, binning, embed = GaussianMixtureHead(mixture), None, ValueEmbedding(16)
    else:
        binning = UniformBinning(bins, -2.0, 2.0)
        head, embed = DiscretizedMixtureHead(binning, DISTRIBUTIONS[kind], mixture), None
    net = CausalTransformer(bins if binning else 0, d, channels=16, layers=2, heads=2, head_dim=8, token_embed=embed,
                            out_features=head.out_features())
    with torch.no_grad():  # larger weights than the 0.02 init, so the conditionals differ from step to step
        for p in net.parameters():
            p.normal_(0, weight_std)
    return ARDensity(net.eval(), binning, head=head)
