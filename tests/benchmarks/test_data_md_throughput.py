"""MD throughput of local reference-data generation (steps per second sets the quick-tier lengths)."""

from __future__ import annotations

import pytest
from openmm import unit

from benchmark.data.generate import _context, platform_for
from benchmark.tasks import get_task

STEPS = 2_000


@pytest.mark.benchmark
@pytest.mark.parametrize("task_name", ["ALDP", "AL3", "CHIGNOLIN"])
def test_md_steps(benchmark, task_name):
    spec = get_task(task_name).systems[0]
    system = spec.build()
    context = _context(system, 1, platform_for(spec))
    context.setPositions(system.minimized_positions * unit.nanometer)
    context.setVelocitiesToTemperature(system.temperature_K * unit.kelvin, 1)
    benchmark.pedantic(context.getIntegrator().step, args=(STEPS,), rounds=3, iterations=1)
    benchmark.extra_info["steps_per_round"] = STEPS
