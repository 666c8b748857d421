"""The head seam: what turns the backbone's output at one step into the conditional of one coordinate.

ARBG, GIVT and the PixelCNN++ mixtures share the causal transformer, the training loop, the
sampling loop (density.py) and the adapter (method.py); they differ only in the head. A head
reads the output projection ``out`` of the step that predicts coordinate j (and, for the
mixtures' linear dependency coefficients, the values of the two preceding coordinates) and gives

* ``log_prob(out, target, preceding)``: the log conditional of ``target`` (teacher forcing, any
  leading shape), and
* ``sample(out, u, preceding)``: one draw per row from ``uniforms`` uniforms per step, with its log
  conditional, computed by the same function ``log_prob`` uses, so sampled and teacher-forced
  log q agree.

A *binned* head's target is a bin index and its log conditional the bin's log mass (the density
adds -log w, binning.py); it also gives the masses of every bin (``bin_log_probs``). A
*continuous* head's target is the coordinate value and its log conditional a log density.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Preceding:
    """What a head may condition on besides the backbone output of its step.

    ``lag1`` and ``lag2`` are the values (standardized units, float64) of the coordinates one and
    two places before the predicted one, 0 before the start; a binned head sees its bin centres,
    never the de-quantized values, so its conditionals depend on the preceding bins only.
    ``axis`` is the axis (0 x, 1 y, 2 z) of the predicted coordinate, broadcastable to the lags.
    """

    lag1: torch.Tensor
    lag2: torch.Tensor
    axis: torch.Tensor

    @staticmethod
    def teacher_forced(values: torch.Tensor) -> "Preceding":
        """The preceding values of every position of sequences ``values`` (B, d)."""
        v = values.to(torch.float64)
        lag1 = F.pad(v, (1, 0))[:, :-1]
        lag2 = F.pad(v, (2, 0))[:, :-2]
        return Preceding(lag1, lag2, torch.arange(v.shape[1], device=v.device) % 3)


class OutputHead(Protocol):
    """The pluggable part of an autoregressive model on ARBG's backbone (see the module docstring)."""

    binned: ClassVar[bool]  # target = bin index (True) or coordinate value (False)
    uniforms: ClassVar[int]  # uniforms one sampling step consumes

    def out_features(self) -> int:
        """Width of the backbone's output projection this head reads."""

    def log_prob(self, out: torch.Tensor, target: torch.Tensor, preceding: Preceding) -> torch.Tensor:
        """Log conditional of ``target`` (...) given the step outputs ``out`` (..., out_features)."""

    def sample(self, out: torch.Tensor, u: torch.Tensor, preceding: Preceding) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets (n,) drawn with uniforms ``u`` (n, uniforms) and their log conditionals (n,)."""


class CategoricalHead:
    """ARBG's head: softmax over one logit per bin, tempered by T (logits / T), inverse-CDF sampling."""

    binned: ClassVar[bool] = True
    uniforms: ClassVar[int] = 1

    def __init__(self, num_bins: int, temperature: float = 1.0):
        self.num_bins, self.temperature = int(num_bins), float(temperature)

    def out_features(self) -> int:
        return self.num_bins

    def bin_log_probs(self, out: torch.Tensor, preceding: Preceding | None = None) -> torch.Tensor:
        """Tempered log-probabilities of every bin (..., B), float32."""
        return F.log_softmax(out.float() / self.temperature, dim=-1)

    def log_prob(self, out: torch.Tensor, target: torch.Tensor, preceding: Preceding | None = None) -> torch.Tensor:
        return self.bin_log_probs(out).gather(-1, target[..., None]).squeeze(-1)

    def sample(self, out: torch.Tensor, u: torch.Tensor, preceding: Preceding | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        lp = self.bin_log_probs(out)
        cdf = torch.cumsum(lp.double().exp(), dim=-1)
        b = torch.searchsorted(cdf, (u[:, 0] * cdf[:, -1])[:, None]).clamp_max(self.num_bins - 1)
        return b[:, 0], lp.gather(-1, b)[:, 0]


__all__ = ["CategoricalHead", "OutputHead", "Preceding"]
