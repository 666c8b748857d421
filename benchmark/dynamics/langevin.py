"""LangevinMiddle dynamics of R independent replicas of one system, driven by a TargetEnergy.

The same splitting as OpenMM's ``LangevinMiddleIntegrator`` (one force evaluation per step):

    v += dt F(x)/m;  x += dt/2 v;  v = a v + sqrt((1 - a^2) kT/m) xi;  x += dt/2 v,   a = exp(-gamma dt)

It is written out here, instead of calling OpenMM's integrator, so that every force evaluation
goes through the (budgeted) energy and is counted: a step of R replicas is one batch of R
evaluations. Replicas share nothing but the energy; all R advance in one batched call, which is
what makes the batched torch energy pay off for MD. Noise comes from a ``torch.Generator`` (the
same seed gives the same trajectory on the same device) or, for callers that already hold one, a
NumPy ``Generator``: with R = 1 that reproduces the NumPy integrator the MD baseline used before,
bit for bit (same draws, same order of operations). A sequence of R NumPy generators gives each
replica its own stream (each step draws (N, 3) from each, in replica order), so a replica's noise
does not depend on the other replicas in the batch (replica-MD data, benchmark/data/torch_md.py).

Units: nm, ps, amu and kJ/mol (1 kJ/mol = 1 amu nm^2 / ps^2); the energy's forces are in kT/nm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm


Generator = torch.Generator | np.random.Generator | Sequence[np.random.Generator]


def standard_normal(shape: tuple[int, ...], generator: Generator, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Standard normal draws from either kind of generator, or one generator per index of the leading axis."""
    if isinstance(generator, (list, tuple)):
        if len(generator) != shape[0]:
            raise ValueError(f"{len(generator)} generators for a leading axis of {shape[0]}")
        return torch.from_numpy(np.stack([g.standard_normal(shape[1:]) for g in generator])).to(device=device, dtype=dtype)
    if isinstance(generator, np.random.Generator):
        return torch.from_numpy(generator.standard_normal(shape)).to(device=device, dtype=dtype)
    return torch.randn(shape, generator=generator, dtype=dtype, device=device)


def maxwell_boltzmann(masses: torch.Tensor, kT: float, n_replicas: int, generator: Generator) -> torch.Tensor:
    """Velocities (R, N, 3) in nm/ps at temperature kT (kJ/mol), on the device of ``masses``."""
    noise = standard_normal((n_replicas, len(masses), 3), generator, masses.dtype, masses.device)
    return noise * torch.sqrt(kT / masses)[:, None]


@dataclass
class LangevinState:
    """Positions and velocities (R, N, 3) of every replica; pass it back to ``run`` to continue."""

    x: torch.Tensor
    v: torch.Tensor
    steps: int = 0


class LangevinMiddle:
    """LangevinMiddle for R >= 1 replicas at once: ``run(energy, state, n_steps)`` advances all of them."""

    def __init__(self, masses, kT: float, friction_per_ps: float, timestep_ps: float,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64):
        self.masses = torch.as_tensor(np.asarray(masses, dtype=np.float64), dtype=dtype, device=device)
        self.kT = float(kT)
        self.friction_per_ps = float(friction_per_ps)
        self.timestep_ps = float(timestep_ps)
        self.device, self.dtype = torch.device(device), dtype
        self._inv_m = (1.0 / self.masses)[:, None]
        self._a = float(np.exp(-self.friction_per_ps * self.timestep_ps))
        self._noise = torch.sqrt((1.0 - self._a * self._a) * self.kT / self.masses)[:, None]

    def initial_state(self, x0, n_replicas: int | None, generator: Generator) -> LangevinState:
        """Start positions ((N, 3) shared by ``n_replicas``, or (R, N, 3)) with Maxwell-Boltzmann velocities."""
        x = torch.as_tensor(x0, dtype=self.dtype).to(self.device)
        if x.ndim == 2:
            x = x[None].repeat(n_replicas or 1, 1, 1)
        elif n_replicas is not None and n_replicas != x.shape[0]:
            raise ValueError(f"x0 has {x.shape[0]} replicas, n_replicas is {n_replicas}")
        return LangevinState(x=x.clone(), v=maxwell_boltzmann(self.masses, self.kT, x.shape[0], generator))

    def run(self, energy, state: LangevinState, n_steps: int, generator: Generator,
            record_steps=None, progress: bool = False) -> torch.Tensor:
        """Advance ``state`` in place by ``n_steps``; return positions (len(record_steps), R, N, 3) after those steps.

        ``record_steps`` are 1-based step numbers of this call, sorted. Every step evaluates the
        forces of all R replicas at the start positions of the step (R evaluations); the
        positions after the last step are not evaluated.
        """
        record = np.asarray([] if record_steps is None else record_steps, dtype=np.int64)
        out = torch.empty((len(record), *state.x.shape), dtype=self.dtype, device=self.device)
        want = iter(enumerate(record.tolist()))
        slot, next_step = next(want, (None, None))
        x, v = state.x, state.v
        dt, half = self.timestep_ps, 0.5 * self.timestep_ps  # the NumPy version's order of operations
        bar = tqdm(total=n_steps, desc="MD", unit="step", disable=not progress, mininterval=1.0)
        for step in range(1, n_steps + 1):
            _, f = energy.energy_and_forces(x)
            force = f.to(device=self.device, dtype=self.dtype) * self.kT  # kJ/mol/nm
            v += dt * force * self._inv_m
            x += half * v
            noise = standard_normal(tuple(v.shape), generator, self.dtype, self.device)
            v.mul_(self._a).add_(self._noise * noise)
            x += half * v
            while next_step is not None and step == next_step:
                out[slot] = x
                slot, next_step = next(want, (None, None))
            bar.update(1)
        bar.close()
        state.steps += n_steps
        return out

    def kinetic_temperature(self, v: torch.Tensor) -> torch.Tensor:
        """Instantaneous 2 KE / (3 N k_B) per replica, in units of the target T (1.0 = on target)."""
        ke = 0.5 * (self.masses[:, None] * v * v).sum(dim=(-2, -1))
        return 2.0 * ke / (v.shape[-2] * 3 * self.kT)
