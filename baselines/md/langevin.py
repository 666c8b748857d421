"""LangevinMiddle (BAOAB-type leapfrog) dynamics driven by a metered energy.

The same splitting as OpenMM's ``LangevinMiddleIntegrator``: half of the position update
around the friction/noise step, one force evaluation per step. It is written out here,
instead of calling OpenMM's integrator, so that every force evaluation goes through the
budgeted energy and is counted.

Units: nm, ps, amu and kJ/mol (1 kJ/mol = 1 amu nm^2 / ps^2), forces in kT/nm from the energy.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm


def maxwell_boltzmann(masses: np.ndarray, kT: float, rng: np.random.Generator) -> np.ndarray:
    """Velocities (N, 3) in nm/ps at temperature kT (kJ/mol)."""
    return rng.standard_normal((len(masses), 3)) * np.sqrt(kT / masses)[:, None]


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
    the first evaluation; the positions after the last step are never evaluated.
    """
    x = np.array(x0, dtype=np.float64)
    v = maxwell_boltzmann(masses, kT, rng)
    inv_m = (1.0 / masses)[:, None]
    a = np.exp(-friction_per_ps * timestep_ps)
    noise = np.sqrt((1 - a * a) * kT / masses)[:, None]
    out = np.empty((len(record_steps), *x.shape))
    want = iter(enumerate(record_steps))
    slot, next_step = next(want, (None, None))
    bar = tqdm(total=n_steps, desc="MD", unit="step", disable=not progress, mininterval=1.0)
    for step in range(1, n_steps + 1):
        _, f = energy.energy_and_forces(torch.from_numpy(x[None]))
        force = f[0].numpy() * kT  # kJ/mol/nm
        v += timestep_ps * force * inv_m
        x += 0.5 * timestep_ps * v
        v = a * v + noise * rng.standard_normal(v.shape)
        x += 0.5 * timestep_ps * v
        while next_step is not None and step == next_step:
            out[slot] = x
            slot, next_step = next(want, (None, None))
        bar.update(1)
    bar.close()
    return out
