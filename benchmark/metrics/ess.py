"""Normalised Kish effective sample size from log importance weights."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def kish_ess(log_weights: np.ndarray) -> float:
    """(sum w)^2 / (n sum w^2), computed in log space: 1 for equal weights, 1/n for one dominant weight."""
    logw = np.asarray(log_weights, dtype=np.float64).reshape(-1)
    if len(logw) == 0:
        raise ValueError("kish_ess needs at least one log weight")
    return float(np.exp(2 * logsumexp(logw) - logsumexp(2 * logw)) / len(logw))


__all__ = ["kish_ess"]
