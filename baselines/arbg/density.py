"""Sampling and exact log densities of the autoregressive model in standardized units.

``log q(x_hat) = sum_j [log softmax(logits_j / T)[b_j] - log w]`` over the d = 3N coordinates,
with w the de-quantization width (binning.py). The same temperature T is used for sampling and
scoring, so the density is that of the tempered proposal actually sampled. ``bin_loss`` is the
training objective (cross-entropy of every bin given the previous ones, spec 2.5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baselines.arbg.binning import EmpiricalOffsets, UniformBinning
from baselines.arbg.transformer import CausalTransformer

START_TOKEN = 0  # shares its id with bin 0, as in the reference model


def teacher_forcing_input(bins: torch.Tensor) -> torch.Tensor:
    """(start, b_1, ..., b_{d-1}) for targets (b_1, ..., b_d)."""
    start = torch.full_like(bins[:, :1], START_TOKEN)
    return torch.cat([start, bins[:, :-1]], dim=1)


def bin_loss(net: nn.Module, bins: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per coordinate) of predicting every bin from the previous ones."""
    logits = net(teacher_forcing_input(bins))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), bins.reshape(-1))


class ARDensity:
    """A trained ``CausalTransformer`` with its binning, temperature and de-quantization mode."""

    def __init__(
        self,
        net: CausalTransformer,
        binning: UniformBinning,
        temperature: float = 1.0,
        dequantization: str = "uniform",
        offsets: EmpiricalOffsets | None = None,
    ):
        self.net, self.binning, self.temperature = net, binning, float(temperature)
        self.dequantization, self.offsets = dequantization, offsets

    @property
    def exact(self) -> bool:
        """Whether ``log_prob`` is the exact density of what ``sample`` draws."""
        return self.dequantization == "uniform"

    def _log_probs(self, logits: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(logits.float() / self.temperature, dim=-1)

    def bin_log_prob(self, bins: torch.Tensor) -> torch.Tensor:
        """Sum of tempered categorical log-probabilities of bin sequences (B, d), teacher-forced."""
        logits = self.net(teacher_forcing_input(bins))
        return self._log_probs(logits).gather(-1, bins[..., None]).squeeze(-1).sum(-1)

    def continuous_log_correction(self, x_hat: torch.Tensor) -> torch.Tensor:
        """Per-sample density term beyond the categorical one: -d log w, or -inf off the support."""
        d = x_hat.shape[-1]
        if self.dequantization == "centre":
            return torch.zeros(x_hat.shape[0], dtype=torch.float64, device=x_hat.device)
        corr = torch.full((x_hat.shape[0],), -d * self.binning.log_width, dtype=torch.float64, device=x_hat.device)
        if self.dequantization == "uniform":
            outside = ~self.binning.in_support(x_hat).all(-1)
            corr = corr.masked_fill(outside, float("-inf"))
        return corr

    def log_prob(self, x_hat: torch.Tensor) -> torch.Tensor:
        """log q(x_hat) (float64) for flattened standardized samples (B, d); see module docstring."""
        bins = self.binning.to_index(x_hat)
        return self.bin_log_prob(bins).double() + self.continuous_log_correction(x_hat)

    @torch.no_grad()
    def sample_bins(self, n: int, generator: torch.Generator, use_cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """n bin sequences (n, d) and their tempered categorical log-probabilities (n,).

        Draws are inverse-CDF with uniforms taken up front from ``generator``, so cached and
        uncached generation consume the same random numbers and give the same samples.
        """
        device = self.net.token_embed.weight.device
        d = self.net.seq_len
        u = torch.rand(n, d, generator=generator, dtype=torch.float64).to(device)
        tokens = torch.full((n, 1), START_TOKEN, dtype=torch.long, device=device)
        cache = self.net.new_cache(n, device) if use_cache else None
        out = torch.empty(n, d, dtype=torch.long, device=device)
        logp = torch.zeros(n, dtype=torch.float64, device=device)
        for j in range(d):
            if use_cache:
                logits = self.net(tokens[:, -1:], cache)[:, -1]
            else:
                logits = self.net(tokens)[:, -1]
            lp = self._log_probs(logits)
            cdf = torch.cumsum(lp.double().exp(), dim=-1)
            b = torch.searchsorted(cdf, (u[:, j] * cdf[:, -1])[:, None]).clamp_max(self.binning.num_bins - 1)
            out[:, j] = b[:, 0]
            logp += lp.gather(-1, b)[:, 0].double()
            tokens = torch.cat([tokens, b], dim=1)
        return out, logp

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator, use_cache: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """n continuous samples (n, d) in standardized units, log q (n,) float64, and their bins."""
        bins, logp = self.sample_bins(n, generator, use_cache)
        x_hat = self.binning.dequantize(bins, self.dequantization, generator, self.offsets)
        return x_hat, logp + self.continuous_log_correction(x_hat), bins
