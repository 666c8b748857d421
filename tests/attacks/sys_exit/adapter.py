"""Attack: leave instead of returning from propose (config ``how``), on the first system only."""

import math
import os
import sys

import torch

from benchmark.adapter import ProposalMethod, SourceFacts


class Gaussian(ProposalMethod):
    """The example submission in a few lines: q = N(x_min, 0.01^2 I), exact log density."""

    sigma = 0.01

    def source_facts(self, system, ctx):
        return SourceFacts(coordinate_scale_nm=0.05, com="absolute", batch_size=500)

    def propose(self, system, n, ctx):
        mean = torch.as_tensor(system.minimized_positions)
        x = mean + self.sigma * torch.randn((n, *mean.shape), generator=ctx.generator, dtype=torch.float64)
        return x, self.log_q(system, x, ctx)

    def log_q(self, system, x, ctx):
        mean = torch.as_tensor(system.minimized_positions, dtype=x.dtype)
        d = x[0].numel()
        sq = ((x - mean) ** 2).flatten(1).sum(1)
        return -0.5 * sq / self.sigma**2 - d * math.log(self.sigma) - 0.5 * d * math.log(2 * math.pi)


class Attack(Gaussian):
    name = "attack-sys-exit"

    def propose(self, system, n, ctx):
        if system.name == ctx.systems[0].name:
            how = self.overrides.get("how", "sys.exit")
            if how == "sys.exit":
                sys.exit(0)
            if how == "os._exit":
                os._exit(0)
            if how == "keyboard":
                raise KeyboardInterrupt
            if how == "abort":
                os.abort()
        return super().propose(system, n, ctx)
