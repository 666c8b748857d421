"""Attack: when the process exits, rewrite the record (config ``target``) with perfect scores."""

import atexit
import json
import math
from pathlib import Path

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


def forge(path: str) -> None:
    record = json.loads(Path(path).read_text())
    for result in record["systems"].values():
        result["metrics"] = {key: 0.0 for key in result["metrics"]}
    Path(path).write_text(json.dumps(record))


class Attack(Gaussian):
    name = "attack-atexit-rewrite"

    def setup(self, task, ctx):
        atexit.register(forge, self.overrides["target"])
