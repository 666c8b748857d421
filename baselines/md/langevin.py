"""The MD baseline's integrator: the shared batched LangevinMiddle (benchmark.dynamics) with a NumPy interface.

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
    """Run ``n_steps`` steps; return positions after each step in ``record_steps``.

    ``x0`` (N, 3) is one chain and gives frames (len(record_steps), N, 3); ``x0`` (R, N, 3) is R
    chains advanced together (R evaluations per step) and gives (len(record_steps), R, N, 3).
    ``record_steps`` are 1-based step numbers, sorted. The force at the start position counts as
    the first evaluation; the positions after the last step are never evaluated. The noise is
    drawn from ``rng`` exactly as before the integrator was shared, so records repeat.
    """
    x0 = np.asarray(x0)
    integrator = LangevinMiddle(masses, kT, friction_per_ps, timestep_ps)
    state = integrator.initial_state(x0, None, rng)
    frames = integrator.run(energy, state, n_steps, rng, record_steps=record_steps, progress=progress)
    return (frames[:, 0] if x0.ndim == 2 else frames).numpy()
