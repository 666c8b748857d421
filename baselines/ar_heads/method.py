"""GIVT, MoL-PixelCNN++ and GMM-PixelCNN++: ARBG's adapter with a mixture head (nothing else is their own).

Training, weights, sampling, ``log_q`` and the record's facts are ``AutoregressiveMethod``'s
(baselines/arbg/method.py); these classes name the method, give its presets and build its head.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from baselines.ar_heads.config import MixtureConfig, PixelCNNConfig, mixture_config
from baselines.ar_heads.heads import DiscretizedMixtureHead, GaussianMixtureHead, ValueEmbedding
from baselines.ar_heads.mixture import Distribution, Logistic, MixtureParameterization, Normal
from baselines.arbg.binning import UniformBinning
from baselines.arbg.heads import OutputHead
from baselines.arbg.method import AutoregressiveMethod
from baselines.arbg.transformer import CausalTransformer

if TYPE_CHECKING:
    from benchmark.tasks import Task


def parameterization(cfg: MixtureConfig) -> MixtureParameterization:
    return MixtureParameterization(cfg.components, cfg.scale_transform, cfg.min_log_scale, cfg.dependency)


class GIVT(AutoregressiveMethod):
    """GIVT: ARBG's backbone fed the previous coordinate's value, a Gaussian mixture density per coordinate."""

    name = "givt"
    version = "1"
    description = "GIVT on the ARBG backbone: continuous value inputs, K-component Gaussian mixture per coordinate"
    config_class = MixtureConfig

    def default_config(self, task: "Task", tier: str) -> MixtureConfig:
        return mixture_config(MixtureConfig, task.name, tier)

    def make_head(self, cfg: MixtureConfig, binning: UniformBinning | None) -> GaussianMixtureHead:  # type: ignore[override]
        return GaussianMixtureHead(parameterization(cfg))

    def make_network(self, cfg: MixtureConfig, seq_len: int, head: OutputHead) -> CausalTransformer:  # type: ignore[override]
        return CausalTransformer(0, seq_len, cfg.channels, cfg.layers, cfg.heads, cfg.head_dim, cfg.expansion, cfg.dropout,
                                 token_embed=ValueEmbedding(cfg.channels), out_features=head.out_features())


class DiscretizedMixtureMethod(AutoregressiveMethod):
    """A PixelCNN++ discretized mixture over ARBG's bins; subclasses fix the component distribution."""

    config_class = PixelCNNConfig
    distribution: ClassVar[Distribution]

    def default_config(self, task: "Task", tier: str) -> PixelCNNConfig:
        return mixture_config(PixelCNNConfig, task.name, tier)  # type: ignore[return-value]

    def make_head(self, cfg: PixelCNNConfig, binning: UniformBinning | None) -> DiscretizedMixtureHead:  # type: ignore[override]
        assert binning is not None  # a BinnedConfig always gets one
        return DiscretizedMixtureHead(binning, self.distribution, parameterization(cfg))


class MoLPixelCNN(DiscretizedMixtureMethod):
    name = "mol-pixelcnn"
    version = "1"
    description = "MoL-PixelCNN++ on the ARBG backbone: discretized mixture of logistics over 2048 bins"
    distribution = Logistic


class GMMPixelCNN(DiscretizedMixtureMethod):
    name = "gmm-pixelcnn"
    version = "1"
    description = "GMM-PixelCNN++ on the ARBG backbone: discretized mixture of Gaussians over 2048 bins"
    distribution = Normal


__all__ = ["GIVT", "GMMPixelCNN", "MoLPixelCNN"]
