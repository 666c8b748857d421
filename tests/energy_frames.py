"""Test conformations made with OpenMM itself, and the parity measure against OpenMM Reference.

Frames come from a short OpenMM Langevin run from a briefly minimized built structure (not the
system's fully minimized one, which takes ~45 s for chignolin on two cores), plus copies with
Gaussian noise. All expected numbers come from OpenMM's Reference platform.
"""

from __future__ import annotations

import numpy as np
import openmm
from openmm import unit

from benchmark.energy import OpenMMEnergy

#: Issue 22's parity bar: relative energy error and force error relative to the force norm.
ENERGY_RTOL = 1e-8
FORCE_RTOL = 1e-6


def md_frames(system, n_frames: int = 3, steps_between: int = 100, seed: int = 0) -> np.ndarray:
    """(n_frames, N, 3) nm from OpenMM MD at the system's temperature (CPU platform, one thread, repeatable)."""
    omm = system.create_openmm_system()
    integrator = system.spec.forcefield.integrator(seed=seed + 1)
    props = {"Threads": "1", "DeterministicForces": "true"}
    ctx = openmm.Context(omm, integrator, openmm.Platform.getPlatformByName("CPU"), props)
    ctx.setPositions(system.initial_positions * unit.nanometer)
    openmm.LocalEnergyMinimizer.minimize(ctx, 10.0, 200)
    ctx.setVelocitiesToTemperature(system.temperature_K * unit.kelvin, seed + 1)
    frames = []
    for _ in range(n_frames):
        integrator.step(steps_between)
        frames.append(ctx.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    return np.asarray(frames, dtype=np.float64)


def parity_frames(system, seed: int = 0, noise_nm: float = 0.01) -> np.ndarray:
    """MD frames followed by the same frames with ``noise_nm`` Gaussian noise."""
    md = md_frames(system, seed=seed)
    rng = np.random.default_rng(seed)
    return np.concatenate([md, md + noise_nm * rng.standard_normal(md.shape)])



def parity_errors(energy, system, x: np.ndarray) -> tuple[float, float]:
    """Max relative energy error and max per-conformation |dF| / |F| against OpenMM Reference."""
    e_ref, f_ref = OpenMMEnergy(system, platform="Reference").energy_and_forces(x)
    e, f = energy.energy_and_forces(x)
    e_ref, f_ref, e, f = (t.numpy() for t in (e_ref, f_ref, e, f))
    assert np.isfinite(e_ref).all(), "test frames must have finite OpenMM energies"
    de = np.abs(e - e_ref) / np.abs(e_ref)
    df = np.linalg.norm((f - f_ref).reshape(len(x), -1), axis=1) / np.linalg.norm(f_ref.reshape(len(x), -1), axis=1)
    return float(de.max()), float(df.max())
