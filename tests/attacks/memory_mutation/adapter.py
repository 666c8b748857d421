"""Attack: overwrite the reference data and the shared System in the harness's memory while sampling.

With ``attack: false`` it is the plain Gaussian, the honest baseline the tests compare with.
"""

import gc
import math

import numpy as np
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
    name = "attack-memory-mutation"

    def propose(self, system, n, ctx):
        if self.overrides.get("attack", True):
            from benchmark.data.reference import ReferenceData

            for obj in gc.get_objects():  # any reference set alive in this process becomes our mean structure
                if type(obj) is ReferenceData:
                    obj.eval_positions[...] = system.minimized_positions
            for spec in ctx.systems:  # the cached System the harness shares: scramble what the metrics read
                shared = spec.build()
                shared.__dict__["phi_indices"] = np.ascontiguousarray(shared.phi_indices[:, ::-1])
                shared.__dict__["psi_indices"] = np.ascontiguousarray(shared.psi_indices[:, ::-1])
        return super().propose(system, n, ctx)
