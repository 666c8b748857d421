"""The smallest complete bgbench method: an isotropic Gaussian around the minimized structure.

It is a ProposalMethod, so it only says how to draw proposals, how likely they are, and what
kind of density that is (``source_facts``); the harness turns them into weighted samples with the
sampler chosen for the run (SNIS or SMC), spending the energy budget for it. Use it as a template.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.adapter import ProposalMethod, RunContext, SourceFacts
from benchmark.config import MethodConfig


@dataclass(frozen=True)
class GaussianConfig(MethodConfig):
    """Every setting of the method; `--config sigma_nm=0.02` overrides one, and the record keeps all."""

    sigma_nm: float = 0.01


class GaussianProposal(ProposalMethod):
    """q(x) = N(x; x_min, sigma^2 I) over all 3N coordinates (nm)."""

    name = "example-gaussian"
    version = "1"
    description = "Isotropic Gaussian around the minimized structure (a teaching example)"
    family = "example"
    config_class = GaussianConfig

    def setup(self, task, ctx: RunContext) -> None:
        """Nothing to train. A learned method fits its models of ``ctx.systems`` here, reading
        ``ctx.training_positions(name)`` and keeping weights in ``ctx.weights``. This one only
        measures the spread of the training frames, as the coordinate scale SMC steps in."""
        self.scale = {}
        for spec in ctx.systems:
            frames = ctx.training_positions(spec.name)
            centred = frames - frames.mean(axis=1, keepdims=True)
            self.scale[spec.name] = float(np.std(centred))

    def source_facts(self, system, ctx: RunContext) -> SourceFacts:
        """A density over all 3N coordinates as drawn (no centring); SMC moves in units of the data's spread."""
        return SourceFacts(coordinate_scale_nm=self.scale[system.name], com="absolute", batch_size=2500,
                           device="cpu")

    def _mean(self, system) -> torch.Tensor:
        return torch.as_tensor(system.minimized_positions, dtype=torch.float64)

    def propose(self, system, n: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self._mean(system)
        noise = torch.randn((n, *mean.shape), generator=ctx.generator, dtype=torch.float64)
        x = mean + self.cfg.sigma_nm * noise
        return x, self.log_q(system, x, ctx)

    def log_q(self, system, positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        """Exact log density in nm^-3N; differentiable, so SMC can use its gradient."""
        sigma = self.cfg.sigma_nm
        mean = self._mean(system).to(positions.dtype)
        d = positions[0].numel()
        sq = ((positions - mean) ** 2).flatten(1).sum(1)
        return -0.5 * sq / sigma**2 - d * math.log(sigma) - 0.5 * d * math.log(2 * math.pi)
