"""The MD baseline's integrator: one replica of the shared LangevinMiddle (benchmark.dynamics).

Kept as a function with the NumPy interface the MD method uses; the integration itself, the
same splitting as OpenMM's ``LangevinMiddleIntegrator`` with every force evaluation going through
the budgeted energy, lives in ``benchmark.dynamics.langevin`` for R >= 1 replicas.
"""

from __future__ import annotations

import numpy as np

from benchmark.dynamics import LangevinMiddle


def run_langevin(
    energy,
    x0: np.ndarray,
    masses: np.ndarray,
    n_steps: int,
    record_steps: np.ndarray,
    kT: float,
    friction_per_ps: float,
    timestep_ps: float,
    rng: np.random.Generator,
    progress: bool = True,
) -> np.ndarray:
    """Run ``n_steps`` steps (one force evaluation each); return positions after each step in ``record_steps``.

    ``record_steps`` are 1-based step numbers, sorted. The force at the start position counts as
    the first evaluation; the positions after the last step are never evaluated. The noise is
    drawn from ``rng`` exactly as before the integrator was shared, so records repeat.
    """
    integrator = LangevinMiddle(masses, kT, friction_per_ps, timestep_ps)
    state = integrator.initial_state(x0, 1, rng)
    frames = integrator.run(energy, state, n_steps, rng, record_steps=record_steps, progress=progress)
    return frames[:, 0].numpy()
