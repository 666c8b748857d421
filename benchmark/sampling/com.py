"""Centre-of-mass energy adjustment of SBG (Prop. 1), in nm.

A proposal trained on CoM-free data with Gaussian CoM noise N(0, sigma^2 I) has a CoM norm r that is
chi-distributed with 3 degrees of freedom. Adding A(x) = ln chi_3(r; sigma) to E_source = -log q
removes that nuisance factor from the importance weights. Published: sigma = 1/sqrt(N) in
normalised units, i.e. sigma = std/sqrt(N) nm here; the Jacobian of the unit change is a constant
that cancels in self-normalised weights.
"""

from __future__ import annotations

import math

import torch


def com_adjustment(x: torch.Tensor, coordinate_scale: float) -> torch.Tensor:
    """A(x) = -r^2/(2 s^2) + ln(r^2 / (sqrt(2) s^3 Gamma(3/2))), r = |mean_i x_i|, s = scale/sqrt(N)."""
    n_atoms = x.shape[-2]
    sigma = coordinate_scale / math.sqrt(n_atoms)
    r2 = x.mean(dim=-2, dtype=torch.float64).pow(2).sum(-1)  # float64 without copying all of x
    gamma_3_2 = math.sqrt(math.pi) / 2
    return -r2 / (2 * sigma**2) + torch.log(r2) - math.log(math.sqrt(2) * sigma**3 * gamma_3_2)
