"""Importance-weight utilities shared by the samplers: ESS, the quantile filter, resampling.

Log-weights are float64 tensors; ``-inf`` marks a sample with zero weight (e.g. a non-finite
energy). Every random draw takes the run's ``torch.Generator`` so that a seed fixes the result.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.errors import InvalidSamplesError


def normalized_ess(logw: torch.Tensor | np.ndarray) -> float:
    """Kish ESS divided by the number of weights: exp(2 lse(logw) - lse(2 logw)) / n, in [0, 1].

    The one ESS of bgbench: samplers report it per step and the Evaluator scores it. 1 for equal
    weights, 1/n for one dominant weight, 0 when no weight is finite (or there are none).
    """
    logw = torch.as_tensor(np.asarray(logw) if not isinstance(logw, torch.Tensor) else logw).to(torch.float64).reshape(-1)
    if logw.numel() == 0 or not torch.isfinite(logw).any():
        return 0.0
    log_ess = 2 * torch.logsumexp(logw, 0) - torch.logsumexp(2 * logw, 0)
    return float(torch.exp(log_ess) / logw.numel())


def quantile_filter_mask(logw: torch.Tensor, fraction: float | None) -> torch.Tensor:
    """Mask of the samples kept after removing the top ``fraction`` of log-weights.

    Kept: ``logw <= quantile(logw, 1 - fraction)`` with torch's linear interpolation (the
    published semantics: removal of the largest weights, not truncation). ``-inf`` weights
    are kept (they are below any threshold) and stay at zero weight; they enter the quantile
    as the most negative finite float so that the interpolation never produces NaN.
    """
    if not fraction:
        return torch.ones_like(logw, dtype=torch.bool)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the log-weight quantile filter must be in (0, 1), got {fraction}")
    finite = torch.where(torch.isfinite(logw), logw.to(torch.float64), torch.finfo(torch.float64).min)
    threshold = torch.quantile(finite, 1.0 - fraction, interpolation="linear")
    return logw <= threshold


def _probabilities(logw: torch.Tensor) -> torch.Tensor:
    logw = logw.to(torch.float64)
    if not torch.isfinite(logw).any():
        raise InvalidSamplesError(
            "Every sample has zero importance weight (non-finite energies or log densities); "
            "check that the proposal produces physical conformations of this system."
        )
    return torch.softmax(logw, 0)


def multinomial_indices(logw: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` i.i.d. draws (with replacement) from softmax(logw), in draw order."""
    probs = _probabilities(logw)
    return torch.multinomial(probs, int(n), replacement=True, generator=generator)


def systematic_indices(logw: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Systematic resampling of ``len(logw)`` indices (sorted).

    One u ~ U(0, 1/N); thresholds u + k/N located in the normalised cumulative weights by
    binary search. Each index i appears floor or ceil of N w_i times, N w_i on average.
    """
    probs = _probabilities(logw)
    n = probs.numel()
    cdf = torch.cumsum(probs, 0)
    cdf = cdf / cdf[-1]  # exactly 1 at the end, so every threshold (< 1) finds a positive-weight index
    u = torch.rand((), dtype=torch.float64, generator=generator) / n
    thresholds = u + torch.arange(n, dtype=torch.float64) / n
    return torch.searchsorted(cdf, thresholds, right=True).clamp_(max=n - 1)


def resample_indices(method: str, logw: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``len(logw)`` indices by ``method`` ("systematic" or "multinomial")."""
    if method == "systematic":
        return systematic_indices(logw, generator)
    if method == "multinomial":
        return multinomial_indices(logw, logw.numel(), generator)
    raise ValueError(f"unknown resampling method {method!r}; use 'systematic' or 'multinomial'")
