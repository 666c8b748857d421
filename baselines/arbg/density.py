"""Sampling and exact log densities of the autoregressive model in standardized units.

``log q(x_hat) = sum_j [log softmax(logits_j / T)[b_j] - log w]`` over the d = 3N coordinates,
with w the de-quantization width (binning.py). The same temperature T is used for sampling and
scoring, so the density is that of the tempered proposal actually sampled. ``bin_loss`` is the
training objective (cross-entropy of every bin given the previous ones, spec 2.5).

A conditioned network (ROBIN) is the same density with the peptide's ``Conditioning`` passed to
every forward pass and ``dim`` = 3N of that peptide (the network holds room for the longest).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baselines.arbg.binning import EmpiricalOffsets, UniformBinning
from baselines.arbg.transformer import CausalTransformer, Conditioning

START_TOKEN = 0  # shares its id with bin 0, as in the reference model


def teacher_forcing_input(bins: torch.Tensor) -> torch.Tensor:
    """(start, b_1, ..., b_{d-1}) for targets (b_1, ..., b_d)."""
    start = torch.full_like(bins[:, :1], START_TOKEN)
    return torch.cat([start, bins[:, :-1]], dim=1)


def bin_loss(net: nn.Module, bins: torch.Tensor, cond: Conditioning | None = None,
             mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy (nats per coordinate) of predicting every bin from the previous ones.

    With a coordinate ``mask`` (B, d), True on real coordinates (padded peptides), each sample's
    loss is its mean over its real coordinates and the batch mean of those follows (spec 2.5: every
    peptide counts equally whatever its length).
    """
    logits = net(teacher_forcing_input(bins), cond=cond)
    if mask is None:
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), bins.reshape(-1))
    per_coordinate = F.cross_entropy(logits.transpose(1, 2), bins, reduction="none")
    m = mask.to(per_coordinate.dtype)
    return ((per_coordinate * m).sum(1) / m.sum(1)).mean()


def settle(binning: UniformBinning, x_hat: torch.Tensor, bins: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x_hat`` (model units) adjusted so that its values in nm, ``x_hat * sigma``, re-bin (nm / sigma) to ``bins``.

    Float32 rounding in x_hat -> nm -> x_hat can move a value that sits within ~1e-7 of a bin edge
    into the neighbouring bin; such values are pulled halfway towards their bin centre so that the
    log q of a returned position scores the same bins that were sampled.
    """
    for _ in range(4):
        bad = binning.to_index((x_hat * sigma) / sigma) != bins
        if not bad.any():
            break
        c = binning.centres(bins)
        x_hat = torch.where(bad, c + 0.5 * (x_hat - c), x_hat)
    return x_hat


class ARDensity:
    """A trained ``CausalTransformer`` with its binning, temperature and de-quantization mode.

    ``cond`` and ``dim`` make it the density of one peptide under a conditioned network (ROBIN).
    """

    def __init__(
        self,
        net: CausalTransformer,
        binning: UniformBinning,
        temperature: float = 1.0,
        dequantization: str = "uniform",
        offsets: EmpiricalOffsets | None = None,
        cond: Conditioning | None = None,
        dim: int | None = None,
    ):
        self.net, self.binning, self.temperature = net, binning, float(temperature)
        self.dequantization, self.offsets = dequantization, offsets
        self.cond = cond
        self.dim = int(dim or net.seq_len)
        if self.dim > net.seq_len:
            raise ValueError(f"the network holds {net.seq_len} coordinates, fewer than {self.dim}")

    def logits(self, tokens: torch.Tensor, cache=None) -> torch.Tensor:
        """The network's bin logits for input tokens (batch, S), with this density's conditioning."""
        return self.net(tokens, cache, self.cond)

    def prefill(self, tokens: torch.Tensor, cache) -> None:
        """Run input tokens through the backbone only, to fill ``cache`` (no output head)."""
        self.net.features(tokens, cache, self.cond)

    @property
    def coordinate_log_correction(self) -> float:
        """Per-coordinate density term beyond the categorical one: -log w (0 for bin-centre de-quantization)."""
        return 0.0 if self.dequantization == "centre" else -self.binning.log_width

    def draw(self, logits: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bins (n, 1) drawn by inverse CDF from last-position logits (n, B) with uniforms u (n,) float64,
        and their tempered log-probabilities (n,) float64."""
        lp = self._log_probs(logits)
        cdf = torch.cumsum(lp.double().exp(), dim=-1)
        b = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None]).clamp_max(self.binning.num_bins - 1)
        return b, lp.gather(-1, b)[:, 0].double()

    @property
    def exact(self) -> bool:
        """Whether ``log_prob`` is the exact density of what ``sample`` draws."""
        return self.dequantization == "uniform"

    def _log_probs(self, logits: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(logits.float() / self.temperature, dim=-1)

    def bin_log_prob(self, bins: torch.Tensor) -> torch.Tensor:
        """Sum of tempered categorical log-probabilities of bin sequences (B, d), teacher-forced."""
        logits = self.logits(teacher_forcing_input(bins))
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
        d = self.dim
        u = torch.rand(n, d, generator=generator, dtype=torch.float64).to(device)
        tokens = torch.full((n, 1), START_TOKEN, dtype=torch.long, device=device)
        cache = self.net.new_cache(n, device, max_len=d) if use_cache else None
        out = torch.empty(n, d, dtype=torch.long, device=device)
        logp = torch.zeros(n, dtype=torch.float64, device=device)
        for j in range(d):
            if use_cache:
                logits = self.logits(tokens[:, -1:], cache)[:, -1]
            else:
                logits = self.logits(tokens)[:, -1]
            b, lp = self.draw(logits, u[:, j])
            out[:, j] = b[:, 0]
            logp += lp
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
