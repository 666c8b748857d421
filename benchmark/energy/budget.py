"""The metered energy handed to methods and samplers: counts every conformation, enforces the budget.

One conformation evaluated is one evaluation, whether energy alone or energy and forces, and
whether it is the full peptide or a partial prefix (autoregressive twisted SMC evaluates capped
prefixes): every kind is charged against the same budget and counted separately, so a record can
say how many of each were spent. A batch that would pass the budget is refused whole, before
anything is evaluated, so the count never exceeds the budget.

Tensors in, tensors out: positions may be a torch tensor on any device (or a NumPy array);
energies (B,) and forces (B, N, 3) come back as float64 tensors on the input's device, so a GPU
method never round-trips through NumPy here (the target energy decides where it computes).
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.energy.base import TargetEnergy, batch_size_of
from benchmark.errors import BudgetExceeded

KINDS = ("full", "partial")


class EnergyMeter:
    """The budget and the counts of one system's run. Only the harness holds the meter itself."""

    def __init__(self, budget: int):
        if int(budget) < 0:
            raise ValueError("budget must be >= 0")
        self._budget = int(budget)
        self._counts = {kind: 0 for kind in KINDS}
        self._forces = 0

    @property
    def budget(self) -> int:
        return self._budget

    @property
    def used(self) -> int:
        return sum(self._counts.values())

    @property
    def remaining(self) -> int:
        return self._budget - self.used

    def charge(self, n: int, kind: str = "full", forces: bool = False) -> None:
        """Count ``n`` evaluations of ``kind``; refuse (BudgetExceeded) if that would pass the budget."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if self.used + n > self._budget:
            raise BudgetExceeded(
                f"Asked for {n} energy evaluations with {self.remaining} of {self._budget} left; "
                "evaluate fewer conformations or run with a larger --budget."
            )
        self._counts[kind] += int(n)
        if forces:
            self._forces += int(n)

    def report(self) -> dict[str, int]:
        return {"budget": self._budget, "used": self.used, "remaining": self.remaining,
                "full": self._counts["full"], "partial": self._counts["partial"], "force_evaluations": self._forces}


class BudgetedEnergy(TargetEnergy):
    """A TargetEnergy whose every evaluation is charged to an ``EnergyMeter`` (its own, or a shared one)."""

    def __init__(self, target: TargetEnergy, budget: int | None = None, meter: EnergyMeter | None = None,
                 kind: str = "full"):
        if (budget is None) == (meter is None):
            raise ValueError("give either a budget or a shared meter")
        self._target = target
        self._meter = meter if meter is not None else EnergyMeter(int(budget))
        self._kind = kind
        self.n_atoms = target.n_atoms
        self.kT_kJ_per_mol = target.kT_kJ_per_mol

    @property
    def budget(self) -> int:
        return self._meter.budget

    @property
    def used(self) -> int:
        return self._meter.used

    @property
    def remaining(self) -> int:
        return self._meter.remaining

    @property
    def force_evaluations(self) -> int:
        return self._meter.report()["force_evaluations"]

    def energy(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        self._meter.charge(batch_size_of(x, self.n_atoms), self._kind)
        return self._target.energy(x)

    def energy_and_forces(self, x: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        self._meter.charge(batch_size_of(x, self.n_atoms), self._kind, forces=True)
        return self._target.energy_and_forces(x)

    def describe(self) -> dict:
        return self._target.describe()

    def report(self) -> dict:
        return self._meter.report()
