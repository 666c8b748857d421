"""The metered energy handed to methods: counts every conformation and enforces the budget.

One conformation evaluated is one evaluation, whether energy alone or energy and forces;
force evaluations are also counted on their own. A batch that would pass the budget is
refused whole, before anything is evaluated, so the count never exceeds the budget.
Positions pass through unchanged (a CUDA tensor stays on its device for a torch target).
"""

from __future__ import annotations

import torch

from benchmark.energy.base import TargetEnergy, batch_size
from benchmark.errors import BudgetExceeded


class BudgetedEnergy(TargetEnergy):
    """A TargetEnergy with a hard cap on the number of conformations evaluated."""

    def __init__(self, target: TargetEnergy, budget: int):
        if budget < 0:
            raise ValueError("budget must be >= 0")
        self._target = target
        self.budget = int(budget)
        self.used = 0
        self.force_evaluations = 0
        self.n_atoms = target.n_atoms
        self.kT_kJ_per_mol = target.kT_kJ_per_mol

    @property
    def remaining(self) -> int:
        return self.budget - self.used

    def _charge(self, x) -> int:
        n = batch_size(x, self.n_atoms)
        if self.used + n > self.budget:
            raise BudgetExceeded(
                f"Asked for {n} energy evaluations with {self.remaining} of {self.budget} left; "
                "evaluate fewer conformations or run with a larger --budget."
            )
        self.used += n
        return n

    def energy(self, x) -> torch.Tensor:
        self._charge(x)
        return self._target.energy(x)

    def energy_and_forces(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        self.force_evaluations += self._charge(x)
        return self._target.energy_and_forces(x)

    def describe(self) -> dict:
        return self._target.describe()

    def report(self) -> dict:
        return {"budget": self.budget, "used": self.used, "remaining": self.remaining, "force_evaluations": self.force_evaluations}
