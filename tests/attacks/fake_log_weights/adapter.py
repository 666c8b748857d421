"""Attack: return all-zero log-weights, which would score as an ESS of 1."""

import torch

from benchmark.adapter import Method, Samples


class Attack(Method):
    name = "attack-fake-log-weights"

    def sample(self, system, energy, ctx):
        n = ctx.n_eval_samples
        x0 = torch.as_tensor(system.minimized_positions).repeat(n, 1, 1)
        x = x0 + 0.01 * torch.randn(x0.shape, generator=ctx.generator, dtype=x0.dtype)
        return Samples(positions=x, set_name="weighted", log_weights=torch.zeros(n, dtype=torch.float64))
