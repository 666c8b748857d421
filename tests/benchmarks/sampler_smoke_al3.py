"""Figures for the samplers on the real AAA energy (not a pytest file: run it as a script).

    .venv/bin/python tests/benchmarks/sampler_smoke_al3.py [jitter_nm=0.01] [budget=10000]

A Gaussian around the minimised structure (a deliberately poor proposal) is reweighted by each
preset inside the quick-tier budget; prints budget use, wall time and median energies (kT).
"""

import sys
import time

from benchmark.adapter import RunContext
from benchmark.energy import BudgetedEnergy, OpenMMEnergy
from benchmark.sampling import make_sampler
from benchmark.tasks import get_task
from tests.sampling.test_molecular import JitteredMinimum


def main(jitter: float = 0.01, budget: int = 10_000) -> None:
    system = get_task("AL3").systems_for("quick")[0].build()
    target = OpenMMEnergy(system)
    print(f"u(minimised) = {float(target.energy(system.minimized_positions)[0]):.1f} kT")
    method = JitteredMinimum(system.minimized_positions, jitter)
    for preset in ("snis", "smc", "smc-mala"):
        energy = BudgetedEnergy(target, budget)
        t0 = time.time()
        s = make_sampler(preset).run(method, system, energy, RunContext(seed=0, tier="quick", budget=budget))
        wall = time.time() - t0
        d = s.diagnostics
        ess = d["ess"] if preset == "snis" else min(d["ess"])
        print(
            f"{preset:9s} {wall:6.1f}s used {energy.used}/{budget} samples {len(s.positions)} "
            f"median u proposal {float(target.energy(s.proposal[:500]).median()):.1f} "
            f"final {float(target.energy(s.positions[:500]).median()):.1f} ess(min) {ess:.4f}"
        )


if __name__ == "__main__":
    main(*(float(a) if i == 0 else int(a) for i, a in enumerate(sys.argv[1:])))
