"""OpenMM target-energy throughput at batch 256 (conformations per second, energy and forces).

Run: python -m pytest tests/benchmarks/test_energy_throughput.py -m benchmark --benchmark-enable
Compares the Reference platform with the CPU platform on one thread (deterministic, the default
for amber14/OBC1 systems) and on two threads (faster, not repeatable) in the same run; the figures set the bar that a faster
energy implementation has to beat.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.energy import OpenMMEnergy
from benchmark.tasks import get_task

SYSTEMS = {"2AA": ("2AA", "AA"), "4AA": ("4AA", "ARIP"), "8AA": ("8AA", "PGESTAES"), "chignolin": ("CHIGNOLIN", "GYDPETGTWG")}
BATCH = 256


@pytest.mark.benchmark
@pytest.mark.parametrize("platform, threads", [("Reference", 1), ("CPU", 1), ("CPU", 2)])
@pytest.mark.parametrize("label", list(SYSTEMS))
def test_energy_and_forces_throughput(benchmark, label, platform, threads):
    task, name = SYSTEMS[label]
    system = get_task(task).system(name).build()
    rng = np.random.default_rng(0)
    x = system.minimized_positions[None] + 0.002 * rng.standard_normal((BATCH, system.n_atoms, 3))
    energy = OpenMMEnergy(system, platform=platform, threads=threads)
    energy.energy_and_forces(x[:8])  # warm-up
    benchmark.extra_info.update({"atoms": system.n_atoms, "batch": BATCH, "platform": platform, "threads": threads})
    benchmark.pedantic(energy.energy_and_forces, args=(x,), rounds=3, iterations=1)
    benchmark.extra_info["conformations_per_s"] = BATCH / benchmark.stats.stats.mean
