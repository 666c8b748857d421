"""Sampling and exact log densities of an autoregressive model on ARBG's backbone, in standardized units.

One sampling loop and one teacher-forced pass serve every head (heads.py). For a binned head
(ARBG's categorical, the PixelCNN++ discretized mixtures)

    log q(x_hat) = sum_j [log P(b_j | b_<j) - log w]

over the d = 3N coordinates, with P the head's bin mass and w the de-quantization width
(binning.py); ARBG's P is softmax(logits_j / T), the same temperature T for sampling and scoring,
so the density is that of the tempered proposal actually sampled. For a continuous head (GIVT)
log q(x_hat) = sum_j log p(x_j | x_<j), the head's density, with no de-quantization. ``bin_loss`` is
ARBG's training objective (cross-entropy of every bin given the previous ones, spec 2.5);
``ARDensity.nll`` is the same objective for any head.

A conditioned network (ROBIN) is the same density with the peptide's ``Conditioning`` passed to
every forward pass and ``dim`` = 3N of that peptide (the network holds room for the longest).
``extend_tokens`` is the one sampling loop: ``sample`` runs it over all d coordinates, the
step-by-step ``DensitySession`` (session.py, the harness's ar-smc) a few coordinates at a time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baselines.arbg.binning import EmpiricalOffsets, UniformBinning
from baselines.arbg.heads import CategoricalHead, OutputHead, Preceding
from baselines.arbg.transformer import CausalTransformer, Conditioning
from baselines.toolkit.nn import KVCache

START_TOKEN = 0  # shares its id with bin 0, as in the reference model
START_VALUE = 0.0  # a continuous head's start input: the value 0, as ARBG's start shares bin 0's id


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
    """A trained ``CausalTransformer`` with its head, binning (binned heads), temperature and de-quantization.

    ``head`` None means ARBG's categorical head at ``temperature``; a continuous head takes
    ``binning=None`` (and ignores the temperature and de-quantization arguments). ``cond`` and
    ``dim`` make it the density of one peptide under a conditioned network (ROBIN).
    """

    def __init__(
        self,
        net: CausalTransformer,
        binning: UniformBinning | None,
        temperature: float = 1.0,
        dequantization: str = "uniform",
        offsets: EmpiricalOffsets | None = None,
        cond: Conditioning | None = None,
        dim: int | None = None,
        head: OutputHead | None = None,
    ):
        if head is None:
            if binning is None:
                raise ValueError("ARBG's categorical head needs a binning")
            head = CategoricalHead(binning.num_bins, temperature)
        if head.binned and binning is None:
            raise ValueError(f"{type(head).__name__} is a binned head and needs a binning")
        self.net, self.binning, self.head = net, binning, head
        self.temperature = float(getattr(head, "temperature", 1.0))  # the head's; 1 for heads without one
        self.dequantization, self.offsets = dequantization, offsets
        self.cond = cond
        self.dim = int(dim or net.seq_len)
        if self.dim > net.seq_len:
            raise ValueError(f"the network holds {net.seq_len} coordinates, fewer than {self.dim}")

    def outputs(self, inputs: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The network's output projection (ARBG: bin logits) for inputs (batch, S), with this density's conditioning."""
        return self.net(inputs, cache, self.cond)

    def prefill(self, inputs: torch.Tensor, cache: KVCache) -> None:
        """Run inputs through the backbone only, to fill ``cache`` (no output head)."""
        self.net.features(inputs, cache, self.cond)

    @property
    def coordinate_log_correction(self) -> float:
        """Per-coordinate density term beyond the head's: -log w (binned, uniform); 0 for bin centres or a
        continuous head."""
        return 0.0 if not self.binned or self.dequantization == "centre" else -self.binning.log_width

    @property
    def binned(self) -> bool:
        return self.head.binned

    @property
    def exact(self) -> bool:
        """Whether ``log_prob`` is the exact density of what ``sample`` draws."""
        return not self.binned or self.dequantization == "uniform"

    # --- the sequences the network and the head see -------------------------------------------
    def tokens(self, x_hat: torch.Tensor) -> torch.Tensor:
        """The head's targets of samples (B, d): bin indices (binned head) or the values themselves."""
        return self.binning.to_index(x_hat) if self.binned else x_hat.float()

    def start(self, n: int, device: torch.device | str) -> torch.Tensor:
        """The start input (n, 1): token 0 (binned heads) or the value 0 (continuous heads)."""
        if self.binned:
            return torch.full((n, 1), START_TOKEN, dtype=torch.long, device=device)
        return torch.full((n, 1), START_VALUE, dtype=torch.float32, device=device)

    def inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forcing inputs (start, t_1, ..., t_{S-1}) of token sequences (B, S)."""
        return torch.cat([self.start(tokens.shape[0], tokens.device).to(tokens.dtype), tokens[:, :-1]], dim=1)

    def values(self, tokens: torch.Tensor) -> torch.Tensor:
        """What the next steps' heads see of a token: its bin centre, or its value (float64)."""
        return self.binning.centres(tokens, torch.float64) if self.binned else tokens.double()

    def head_log_probs(self, tokens: torch.Tensor) -> torch.Tensor:
        """The head's log conditionals (B, d) of token sequences, teacher-forced (no -log w)."""
        out = self.outputs(self.inputs(tokens))
        return self.head.log_prob(out, tokens, Preceding.teacher_forced(self.values(tokens)))

    def nll(self, x_hat: torch.Tensor) -> torch.Tensor:
        """Training objective: mean negative log conditional per coordinate (nats; bins: cross-entropy)."""
        return -self.head_log_probs(self.tokens(x_hat)).mean()

    # --- densities ------------------------------------------------------------------------------
    def bin_log_prob(self, bins: torch.Tensor) -> torch.Tensor:
        """Sum of the head's log bin masses of bin sequences (B, d), teacher-forced (binned heads)."""
        return self.head_log_probs(bins).sum(-1)

    def continuous_log_correction(self, x_hat: torch.Tensor) -> torch.Tensor:
        """Per-sample density term beyond the bin masses: -d log w, or -inf off the support."""
        d = x_hat.shape[-1]
        if self.dequantization == "centre":
            return torch.zeros(x_hat.shape[0], dtype=torch.float64, device=x_hat.device)
        corr = torch.full((x_hat.shape[0],), -d * self.binning.log_width, dtype=torch.float64, device=x_hat.device)
        if self.dequantization == "uniform":
            outside = ~self.binning.in_support(x_hat).all(-1)
            corr = corr.masked_fill(outside, float("-inf"))
        return corr

    def token_log_correction(self, x_hat: torch.Tensor) -> torch.Tensor:
        """Per-coordinate term (B, d) float64: -log w, -inf off the support (uniform), 0 for centre."""
        if self.dequantization == "centre":
            return torch.zeros(x_hat.shape, dtype=torch.float64, device=x_hat.device)
        corr = torch.full(x_hat.shape, -self.binning.log_width, dtype=torch.float64, device=x_hat.device)
        if self.dequantization == "uniform":
            corr = corr.masked_fill(~self.binning.in_support(x_hat), float("-inf"))
        return corr

    def log_prob(self, x_hat: torch.Tensor) -> torch.Tensor:
        """log q(x_hat) (float64) for flattened standardized samples (B, d); see module docstring."""
        if not self.binned:
            return self.head_log_probs(self.tokens(x_hat)).double().sum(-1)
        bins = self.binning.to_index(x_hat)
        return self.bin_log_prob(bins).double() + self.continuous_log_correction(x_hat)

    def token_log_probs(self, x_hat: torch.Tensor) -> torch.Tensor:
        """Per-coordinate log conditional densities (B, d) float64, teacher-forced; they sum to ``log_prob``
        (up to float32 rounding of the binned sum). What a sampler that works coordinate by coordinate needs."""
        lp = self.head_log_probs(self.tokens(x_hat)).double()
        return lp + self.token_log_correction(x_hat) if self.binned else lp

    # --- sampling -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample_tokens(self, n: int, generator: torch.Generator, use_cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """n token sequences (n, d) (bins, or float32 values) and the sum of their head log conditionals (n,).

        Draws are inverse-CDF with uniforms taken up front from ``generator``, so cached and
        uncached generation consume the same random numbers and give the same samples.
        """
        device = self.net.device
        u = torch.rand(n, self.dim, self.head.uniforms, generator=generator, dtype=torch.float64).to(device)
        cache = self.net.new_cache(n, device, max_len=self.dim) if use_cache else None
        empty = self.start(n, device)[:, :0]
        out, logp = self.extend_tokens(empty, u, cache)
        return out, logp.sum(-1)

    @torch.no_grad()
    def extend_tokens(self, prefix: torch.Tensor, u: torch.Tensor,
                      cache: KVCache | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The next k = u.shape[1] tokens (n, k) of sequences ``prefix`` (n, L), and their head log
        conditionals (n, k) float64, one step per token with uniforms ``u`` (n, k, head.uniforms).

        ``cache`` None recomputes the whole sequence at every step; otherwise it must hold the
        prefix's input positions 0 .. L-1 (``prefill``) and is advanced by k.
        """
        n, length = prefix.shape
        start = self.start(n, prefix.device)
        seq = torch.cat([start, prefix.to(start.dtype)], dim=1)
        prev = F.pad(self.values(prefix[:, -2:]), (2 - min(length, 2), 0))  # lags 2 and 1; 0 before the start
        k = u.shape[1]
        out = torch.empty(n, k, dtype=seq.dtype, device=prefix.device)
        logp = torch.empty(n, k, dtype=torch.float64, device=prefix.device)
        for j in range(k):
            params = self.outputs(seq[:, -1:], cache)[:, -1] if cache is not None else self.outputs(seq)[:, -1]
            axis = torch.tensor((length + j) % 3, device=prefix.device)
            tok, lp = self.head.sample(params, u[:, j], Preceding(prev[:, 1], prev[:, 0], axis))
            out[:, j], logp[:, j] = tok, lp.double()
            prev = torch.stack([prev[:, 1], self.values(tok)], dim=1)
            seq = torch.cat([seq, tok[:, None].to(seq.dtype)], dim=1)
        return out, logp

    def sample_bins(self, n: int, generator: torch.Generator, use_cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """n bin sequences (n, d) and the sum of their log bin masses (n,) (binned heads)."""
        if not self.binned:
            raise ValueError("a continuous head has no bins; use sample_tokens")
        return self.sample_tokens(n, generator, use_cache)

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator, use_cache: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """n continuous samples (n, d) in standardized units, log q (n,) float64, and their bins (None: continuous)."""
        tokens, logp = self.sample_tokens(n, generator, use_cache)
        if not self.binned:
            return tokens, logp, None
        x_hat = self.binning.dequantize(tokens, self.dequantization, generator, self.offsets)
        return x_hat, logp + self.continuous_log_correction(x_hat), tokens
