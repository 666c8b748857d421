"""The mixture heads on ARBG's backbone: GIVT's continuous Gaussian mixture and PixelCNN++'s discretized mixtures.

Both read the 3K + 2 outputs of a step through ``MixtureParameterization`` (mixture.py) and
sample by picking a component, then the component's inverse CDF, from two uniforms per step.

* ``GaussianMixtureHead`` (GIVT, Tschannen et al. 2024, as ARBG §3.1 uses it): the conditional of
  the coordinate value is sum_k pi_k N(x; mu_k, s_k^2), a density on the real line; no bins and no
  de-quantization. The network sees the previous coordinate's value (``ValueEmbedding``).
* ``DiscretizedMixtureHead`` (MoL- / GMM-PixelCNN++, ARBG Eq. 2): the mass of bin b is
  sum_k pi_k [F((c_b + s/2 - mu_k)/s_k) - F((c_b - s/2 - mu_k)/s_k)] at the rounding grid's bin
  edges (binning.py), the first bin open to -inf and the last to +inf, so the B masses sum to 1
  exactly; F is the logistic sigmoid (MoL) or the normal CDF (GMM). A value drawn from the mixture
  and binned with the model's own rounding falls in bin b with exactly that mass, which is how a
  bin is sampled (no B-way softmax). The density then de-quantizes uniformly within the bin, as ARBG.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from baselines.ar_heads.mixture import Distribution, MixtureParameterization, Normal, log_interval_mass
from baselines.arbg.binning import UniformBinning
from baselines.arbg.heads import Preceding


class ValueEmbedding(nn.Module):
    """GIVT's input embedding: a linear map of the previous coordinate's real value (batch, S) -> (batch, S, C)."""

    def __init__(self, channels: int):
        super().__init__()
        self.proj = nn.Linear(1, channels)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return self.proj(values.to(self.proj.weight.dtype)[..., None])


class GaussianMixtureHead:
    """GIVT: a K-component Gaussian mixture density per coordinate (standardized units)."""

    binned: ClassVar[bool] = False
    uniforms: ClassVar[int] = 2

    def __init__(self, parameterization: MixtureParameterization):
        self.mixture = parameterization

    def out_features(self) -> int:
        return self.mixture.out_features()

    def log_prob(self, out: torch.Tensor, target: torch.Tensor, preceding: Preceding) -> torch.Tensor:
        """log sum_k pi_k N(x; mu_k, s_k^2) (float64) of the values ``target``."""
        mix = self.mixture(out, preceding)
        z = (target.double()[..., None] - mix.means) / mix.scales
        return torch.logsumexp(mix.log_weights + Normal.log_pdf(z) - mix.scales.log(), dim=-1)

    def sample(self, out: torch.Tensor, u: torch.Tensor, preceding: Preceding) -> tuple[torch.Tensor, torch.Tensor]:
        """Values (n,) float32 and the log density at the float32 value actually returned (n,) float64."""
        mix = self.mixture(out, preceding)
        x = mix.draw(u, Normal).float()
        return x, self.log_prob(out, x, preceding)


class DiscretizedMixtureHead:
    """MoL- or GMM-PixelCNN++: a K-component mixture integrated over each bin, edge bins open."""

    binned: ClassVar[bool] = True
    uniforms: ClassVar[int] = 2

    def __init__(self, binning: UniformBinning, distribution: Distribution, parameterization: MixtureParameterization):
        self.binning, self.distribution, self.mixture = binning, distribution, parameterization

    def out_features(self) -> int:
        return self.mixture.out_features()

    def _log_mass(self, out: torch.Tensor, bins: torch.Tensor, preceding: Preceding) -> torch.Tensor:
        """log P(bin) (float64), ``bins`` broadcastable against ``out``'s leading shape."""
        mix = self.mixture(out, preceding)
        b = self.binning
        centre = b.centres(bins, torch.float64)[..., None]
        half = b.spacing / 2
        z_lo = (centre - half - mix.means) / mix.scales  # finite even for bin 0, where it is not used
        z_hi = (centre + half - mix.means) / mix.scales
        first, last = (bins == 0)[..., None], (bins == b.num_bins - 1)[..., None]
        per_component = log_interval_mass(z_lo, z_hi, self.distribution, first, last)
        return torch.logsumexp(mix.log_weights + per_component, dim=-1)

    def log_prob(self, out: torch.Tensor, target: torch.Tensor, preceding: Preceding) -> torch.Tensor:
        return self._log_mass(out, target, preceding)

    def bin_log_probs(self, out: torch.Tensor, preceding: Preceding) -> torch.Tensor:
        """Log masses of every bin (..., B): the whole categorical distribution of one step."""
        bins = torch.arange(self.binning.num_bins, device=out.device)
        expand = Preceding(preceding.lag1[..., None], preceding.lag2[..., None], preceding.axis[..., None])
        return self._log_mass(out[..., None, :], bins, expand)

    def sample(self, out: torch.Tensor, u: torch.Tensor, preceding: Preceding) -> tuple[torch.Tensor, torch.Tensor]:
        """Bins (n,) and their log masses (n,) float64."""
        mix = self.mixture(out, preceding)
        bins = self.binning.to_index(mix.draw(u, self.distribution))
        return bins, self._log_mass(out, bins, preceding)


__all__ = ["DiscretizedMixtureHead", "GaussianMixtureHead", "ValueEmbedding"]
