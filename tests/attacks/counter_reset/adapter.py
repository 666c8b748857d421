"""Attack: raise the budget and reset the meter's counts, then spend twice the budget."""

import torch

from benchmark.adapter import Method, Samples


def tamper(energy) -> None:
    attempts = (
        lambda: setattr(energy, "budget", 10**9),
        lambda: setattr(energy, "used", 0),
        lambda: setattr(energy._meter, "_budget", 10**9),
        lambda: energy._meter._counts.update(full=0, partial=0),
    )
    for attempt in attempts:
        try:
            attempt()
        except Exception:
            pass


class Attack(Method):
    name = "attack-counter-reset"

    def sample(self, system, energy, ctx):
        budget = energy.budget
        x0 = torch.as_tensor(system.minimized_positions).repeat(2 * budget, 1, 1)
        candidates = x0 + 0.01 * torch.randn(x0.shape, generator=ctx.generator, dtype=x0.dtype)
        tamper(energy)
        u1 = energy.energy(candidates[:budget])
        tamper(energy)
        u2 = energy.energy(candidates[budget:])  # past the real budget
        u = torch.cat([u1, u2])
        best = candidates[torch.argsort(u)[: ctx.n_eval_samples]]
        return Samples(positions=best, set_name="selected")
