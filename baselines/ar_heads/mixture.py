"""Mixture parameters from the backbone's 3K + 2 outputs per step, and the component distributions.

Layout of one step's outputs (ARBG paper §E.3, Eq. 25; specs/autoregressive.md §4):
``[K mixture logits | K means | K raw scales | 2 dependency coefficients]``. The paper fixes the
size only; the choices below are config fields (README.md says why each default):

* mixture weights: softmax of the logits;
* scales: ``exp(max(raw, min_log_scale))`` (PixelCNN++'s clamped log-scale) or
  ``max(softplus(raw), exp(min_log_scale))``;
* dependency coefficients: ``tanh`` of the two outputs (as PixelCNN++), one pair per step shared by
  the K components, shifting every component mean by a linear function of already generated
  coordinates only, so each conditional stays a normalized density and log q stays exact:
  ``"atom"``: the earlier coordinates of the same atom (y: c1 x; z: c1 x + c2 y), PixelCNN++'s
  channel coupling with the atom's x, y, z as channels; ``"previous"``: the two preceding
  coordinates whatever their atom (c1 x_{j-1} + c2 x_{j-2}); ``"none"``: no shift.

All mixture arithmetic is float64: bin masses are CDF differences over bins of ~1e-3 standard
deviations and are computed in log space with tail-stable forms (``log_interval_mass``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from baselines.arbg.heads import Preceding

ScaleTransform = Literal["exp", "softplus"]
Dependency = Literal["atom", "previous", "none"]
LN2 = math.log(2.0)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(x)) to full precision everywhere (torch's F.softplus returns x itself above 20)."""
    return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))


class Logistic:
    """Standard logistic: F(z) = sigmoid(z) (MoL-PixelCNN++)."""

    name = "logistic"

    @staticmethod
    def log_cdf(z: torch.Tensor) -> torch.Tensor:
        return -softplus(-z)

    @staticmethod
    def log_sf(z: torch.Tensor) -> torch.Tensor:
        return -softplus(z)

    @staticmethod
    def icdf(u: torch.Tensor) -> torch.Tensor:
        return torch.log(u) - torch.log1p(-u)


class Normal:
    """Standard normal: F(z) = Phi(z) = (1 + erf(z / sqrt 2)) / 2 (GMM-PixelCNN++, GIVT)."""

    name = "normal"

    @staticmethod
    def log_cdf(z: torch.Tensor) -> torch.Tensor:
        return torch.special.log_ndtr(z)

    @staticmethod
    def log_sf(z: torch.Tensor) -> torch.Tensor:
        return torch.special.log_ndtr(-z)

    @staticmethod
    def icdf(u: torch.Tensor) -> torch.Tensor:
        return torch.special.ndtri(u)

    @staticmethod
    def log_pdf(z: torch.Tensor) -> torch.Tensor:
        return -0.5 * z * z - 0.5 * math.log(2 * math.pi)


Distribution = type[Logistic] | type[Normal]
DISTRIBUTIONS: dict[str, Distribution] = {"logistic": Logistic, "normal": Normal}


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x <= 0, accurate at both ends (Maechler 2012); both branches stay finite
    so that gradients through ``torch.where`` are never 0 * inf."""
    near = torch.log(-torch.expm1(x.clamp(min=-LN2)))
    far = torch.log1p(-torch.exp(x.clamp(max=-LN2)))
    return torch.where(x > -LN2, near, far)


def log_interval_mass(z_lo: torch.Tensor, z_hi: torch.Tensor, dist: Distribution, open_lo: torch.Tensor,
                      open_hi: torch.Tensor) -> torch.Tensor:
    """log(F(z_hi) - F(z_lo)) for z_lo < z_hi; ``open_lo`` makes the interval start at -inf, ``open_hi``
    end at +inf (the edge bins). Below the median it is computed from the CDF, above from the survival
    function, so neither tail loses the difference to cancellation. Every input must be finite."""
    tiny = torch.finfo(torch.float64).tiny
    lf_lo, lf_hi = dist.log_cdf(z_lo), dist.log_cdf(z_hi)
    ls_lo, ls_hi = dist.log_sf(z_lo), dist.log_sf(z_hi)
    from_cdf = lf_hi + log1mexp((lf_lo - lf_hi).clamp(max=-tiny))  # F(hi) - F(lo)
    from_sf = ls_lo + log1mexp((ls_hi - ls_lo).clamp(max=-tiny))  # S(lo) - S(hi)
    inner = torch.where(z_lo + z_hi > 0, from_sf, from_cdf)
    return torch.where(open_lo, lf_hi, torch.where(open_hi, ls_lo, inner))


@dataclass(frozen=True)
class Mixture:
    """One step's K-component mixture (float64): log weights, means (dependency shift included), scales."""

    log_weights: torch.Tensor
    means: torch.Tensor
    scales: torch.Tensor

    def pick(self, u: torch.Tensor) -> torch.Tensor:
        """Component indices (n, 1) by inverse CDF of the weights with uniforms ``u`` (n,)."""
        cdf = torch.cumsum(self.log_weights.exp(), dim=-1)
        return torch.searchsorted(cdf, (u * cdf[:, -1])[:, None]).clamp_max(cdf.shape[-1] - 1)

    def draw(self, u: torch.Tensor, dist: Distribution) -> torch.Tensor:
        """One value per row (n,) from uniforms ``u`` (n, 2): a component, then its inverse CDF."""
        k = self.pick(u[:, 0])
        eps = torch.finfo(torch.float64).eps
        z = dist.icdf(u[:, 1].clamp(eps, 1 - eps))  # u = 0 would be -inf (probability 2^-53)
        return self.means.gather(-1, k)[:, 0] + self.scales.gather(-1, k)[:, 0] * z


class MixtureParameterization:
    """Maps the 3K + 2 outputs of a step (and the preceding values) to a ``Mixture``; see module docstring."""

    def __init__(self, components: int, scale_transform: ScaleTransform = "exp", min_log_scale: float = -7.0,
                 dependency: Dependency = "atom"):
        if components < 1:
            raise ValueError("a mixture needs at least one component")
        if scale_transform not in ("exp", "softplus"):
            raise ValueError(f"scale_transform must be 'exp' or 'softplus', not {scale_transform!r}")
        if dependency not in ("atom", "previous", "none"):
            raise ValueError(f"dependency must be 'atom', 'previous' or 'none', not {dependency!r}")
        self.k, self.scale_transform, self.min_log_scale = int(components), scale_transform, float(min_log_scale)
        self.dependency = dependency

    def out_features(self) -> int:
        return 3 * self.k + 2

    def shift(self, coefficients: torch.Tensor, preceding: Preceding) -> torch.Tensor:
        """The mean shift (...) from the two coefficients (..., 2) and the already generated values."""
        c1, c2 = coefficients[..., 0], coefficients[..., 1]
        if self.dependency == "none":
            return torch.zeros_like(c1)
        if self.dependency == "previous":
            return c1 * preceding.lag1 + c2 * preceding.lag2
        axis = preceding.axis  # "atom": y couples to the atom's x (lag 1); z to its x (lag 2) and y (lag 1)
        zero = torch.zeros_like(c1)
        return torch.where(axis == 1, c1 * preceding.lag1, torch.where(axis == 2, c1 * preceding.lag2 + c2 * preceding.lag1, zero))

    def __call__(self, out: torch.Tensor, preceding: Preceding) -> Mixture:
        out = out.double()
        k = self.k
        logits, means, raw, coefficients = out[..., :k], out[..., k : 2 * k], out[..., 2 * k : 3 * k], out[..., 3 * k :]
        if self.scale_transform == "exp":
            scales = torch.exp(raw.clamp(min=self.min_log_scale))
        else:
            scales = softplus(raw).clamp(min=math.exp(self.min_log_scale))
        shift = self.shift(torch.tanh(coefficients), preceding)
        return Mixture(F.log_softmax(logits, dim=-1), means + shift[..., None], scales)


__all__ = ["DISTRIBUTIONS", "Logistic", "Mixture", "MixtureParameterization", "Normal", "log1mexp", "log_interval_mass"]
