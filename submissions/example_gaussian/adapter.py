"""The smallest complete bgbench method: an isotropic Gaussian around the minimized structure.

It is a ProposalMethod, so it only says how to draw proposals and how likely they are; the
harness turns them into weighted samples with the sampler chosen for the run (SNIS or SMC),
spending the energy budget for it. Use it as a template for your own method.
"""

from __future__ import annotations

import math

import torch

from benchmark.adapter import ProposalMethod, RunContext


class GaussianProposal(ProposalMethod):
    """q(x) = N(x; x_min, sigma^2 I) over all 3N coordinates (nm)."""

    name = "example-gaussian"
    version = "1"
    description = "Isotropic Gaussian around the minimized structure (a teaching example)"

    def __init__(self, sigma_nm: float = 0.01, **config):
        super().__init__(sigma_nm=sigma_nm, **config)
        self.sigma = float(sigma_nm)

    def setup(self, task, ctx: RunContext) -> None:
        """Nothing to train; a learned method would fit its model here (ctx.training_positions)."""

    def _mean(self, system) -> torch.Tensor:
        return torch.as_tensor(system.minimized_positions, dtype=torch.float64)

    def propose(self, system, n: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self._mean(system)
        noise = torch.randn((n, *mean.shape), generator=ctx.generator, dtype=torch.float64)
        x = mean + self.sigma * noise
        return x, self.log_q(system, x, ctx)

    def log_q(self, system, positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        """Exact log density in nm^-3N; differentiable, so SMC can use its gradient."""
        mean = self._mean(system).to(positions.dtype)
        d = positions[0].numel()
        sq = ((positions - mean) ** 2).flatten(1).sum(1)
        return -0.5 * sq / self.sigma**2 - d * math.log(self.sigma) - 0.5 * d * math.log(2 * math.pi)
