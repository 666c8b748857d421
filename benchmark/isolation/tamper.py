"""Evidence of meddling with the meter by a method that runs inside the harness (``--isolation none``).

In-process, a method can reach every object of the harness, so nothing can be prevented; what the
runner can do is count twice. ``CountedTarget`` sits *under* the meter and counts every
conformation that reaches the target energy; after sampling, ``check_meter`` fails the system when
that count differs from the meter's (the method evaluated the wrapped target directly) or when the
meter's budget or counts were changed. Under isolation the same check holds trivially, because the
method holds no reference to either object.
"""

from __future__ import annotations

from benchmark.energy.base import TargetEnergy, batch_size_of
from benchmark.errors import BgbenchError


class MeterTampered(BgbenchError):
    """The energy meter's counts or budget disagree with what reached the target energy."""


class CountedTarget(TargetEnergy):
    """A target energy that counts the conformations it evaluates (the harness's second tally)."""

    def __init__(self, target: TargetEnergy):
        self._target = target
        self.n_atoms = target.n_atoms
        self.kT_kJ_per_mol = target.kT_kJ_per_mol
        self.count = 0

    def energy(self, x):
        self.count += batch_size_of(x, self.n_atoms)
        return self._target.energy(x)

    def energy_and_forces(self, x):
        self.count += batch_size_of(x, self.n_atoms)
        return self._target.energy_and_forces(x)

    def describe(self) -> dict:
        return self._target.describe()


def check_meter(report: dict, tally: CountedTarget, budget: int) -> None:
    """Raise MeterTampered unless the meter's report agrees with the tally and the run's budget."""
    used = report.get("full", 0) + report.get("partial", 0)
    if report.get("budget") != budget:
        raise MeterTampered(f"the energy budget was changed from {budget} to {report.get('budget')}")
    if report.get("used") != used or used != tally.count:
        raise MeterTampered(f"{tally.count} conformations reached the target energy but the meter counted {used}: "
                            "the energy was evaluated around the meter, or its counts were reset")
    if used > budget:
        raise MeterTampered(f"{used} energy evaluations exceed the budget of {budget}")
