"""Replica MD on the batched float64 torch energy: all replicas of a system advance as one batch.

Why: for the amber14 + OBC1 peptides (zwitterions, the transferable systems, the quick corpus)
OpenMM builds a ``CustomGBForce``, which its double-precision Reference platform evaluates at only
a few hundred steps per CPU-second. The torch energy (benchmark/energy/torch_energy.py) equals
Reference to ~1e-14 in float64 and evaluates a whole batch of conformations per call, so R
replicas cost little more than one. The integrator is the project's one batched LangevinMiddle
(benchmark/dynamics/langevin.py), the same splitting as OpenMM's.

What makes ``run`` a pure function of its arguments (the replica_md.Backend contract):

* Noise: one NumPy ``Generator`` per replica, seeded with that replica's segment seed and made
  afresh in every call; each step draws (N, 3) standard normals from each, in replica order.
* Arithmetic: float64 on the CPU with torch pinned to one thread during the call. The torch
  kernels split work between threads in ranges whose size depends on the thread count, and the
  vectorised main loop and the scalar tail of each range may round differently, so a different
  thread count could change the last bits. One thread gives the same bytes on every run on one
  machine, for any ``OMP_NUM_THREADS``.
* A replica's trajectory does depend on the batch it is in (its row position and the chunking
  decide which elements take the vectorised path), so the data is a function of the whole
  plan, as with any backend: the plan fixes R and the replica order.

Across machines the bytes are *not* guaranteed: torch dispatches CPU kernels by instruction set
(DEFAULT, AVX2, AVX-512), whose vector widths, reduction orders and SLEEF transcendental
implementations differ. Measured here (AL3, 3 replicas, 200 steps, one machine): forcing
``ATEN_CPU_CAPABILITY=default`` instead of the native AVX2 kernels changes the final float64 state
by ~1e-15 nm; MD amplifies such differences, so longer runs and their content hashes differ
between machines whose kernels differ (and between torch versions). Pinning
``ATEN_CPU_CAPABILITY`` narrows this but does not cover libm or compiler differences. Since the
energy's compiled CPU loop (benchmark/energy/native_kernel.py) became its default kernel, the
forces no longer go through torch's per-ISA kernels (the loop is built without FMA contraction),
but the integrator's element-wise updates still do, and the loop calls the C library's exp, log,
tanh and trigonometric functions, which glibc also dispatches by CPU: still no cross-machine promise.
``describe()`` records what the bytes depend on.

Speed (tests/benchmarks/test_replica_md_throughput.py, one thread, shared 2-core machine under
load, replicas x steps per CPU-second, torch / Reference): corpus dipeptide ES R=3 561/172 (3.3x),
R=15 2030/239 (8.5x); AL3 R=3 494/172 (2.9x), R=15 1670/182 (9.2x); 8AA PGESTAES R=3 249/73
(3.4x), R=15 251/82 (3.1x). Small systems were bound by eager torch's per-op overhead (~700 ops,
~5 ms per batched evaluation at R=3), so more replicas per batch were nearly free; at 100 atoms the
all-pairs arithmetic dominated already at R=3. (Figures of the torch kernel, before the compiled loop.)

Minimisation stays on the backend given as ``minimizer`` (OpenMM Reference in ``BACKENDS``): a
few hundred force evaluations per start, and the same start structures as the Reference backend.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

import numpy as np
import torch

from benchmark.dynamics.langevin import LangevinMiddle, LangevinState
from benchmark.energy import native_kernel
from benchmark.energy.torch_energy import TorchEnergy
from benchmark.systems import SystemSpec


@lru_cache(maxsize=8)
def _energy_and_masses(spec: SystemSpec) -> tuple[TorchEnergy, np.ndarray]:
    """The float64 CPU torch energy of ``spec`` and its masses (amu), both read from its OpenMM System."""
    omm = spec.build().create_openmm_system()
    masses = np.array([omm.getParticleMass(i)._value for i in range(omm.getNumParticles())], dtype=np.float64)
    energy = TorchEnergy.from_openmm(omm, spec.forcefield.kT_kJ_per_mol, spec.name, precision="float64", device="cpu")
    return energy, masses


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread (the same reduction ranges on every run), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TorchReplicas:
    """Batched LangevinMiddle on the float64 torch energy; ``minimizer`` provides ``minimize``.

    ``workers`` is accepted for the ``get_backend`` signature and ignored: the batch is the
    parallelism, and a thread count would change the bits (see the module docstring).
    """

    name = "torch-float64"

    def __init__(self, minimizer: Any, workers: int = 1):
        self.minimizer = minimizer

    def minimize(self, spec: SystemSpec, positions: np.ndarray, iterations: int) -> np.ndarray:
        return self.minimizer.minimize(spec, positions, iterations)

    def run(self, spec, states, seeds, n_frames, interval, friction_per_ps=None):
        """Frames (R, n, N, 3) float32, potential energies (R, n) kJ/mol, the states after the last step."""
        if len(seeds) != len(states.positions):
            raise ValueError(f"{len(seeds)} seeds for {len(states.positions)} replicas")
        energy, masses = _energy_and_masses(spec)
        recipe = spec.forcefield
        friction = recipe.friction_per_ps if friction_per_ps is None else friction_per_ps
        integrator = LangevinMiddle(masses, recipe.kT_kJ_per_mol, friction, recipe.timestep_fs / 1000.0)
        state = LangevinState(torch.tensor(states.positions, dtype=torch.float64),
                              torch.tensor(states.velocities, dtype=torch.float64))
        rngs = [np.random.default_rng(int(s)) for s in seeds]
        with one_thread():
            traj = integrator.run(energy, state, n_frames * interval, rngs,
                                  record_steps=interval * np.arange(1, n_frames + 1))  # (n, R, N, 3)
            u = energy.energy(traj.reshape(-1, *traj.shape[2:])).reshape(traj.shape[:2])
        frames = traj.transpose(0, 1).numpy().astype(np.float32)
        energies = (u * recipe.kT_kJ_per_mol).T.numpy().copy()
        return frames, energies, dataclasses.replace(states, positions=state.x.numpy().copy(),
                                                     velocities=state.v.numpy().copy())

    def describe(self) -> dict:
        """What the bytes of its trajectories depend on besides the plan."""
        return {"backend": self.name, "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "threads": 1, "precision": "float64", "kernel": "native" if native_kernel.available() else "torch"}

    def close(self) -> None:
        self.minimizer.close()


__all__ = ["TorchReplicas", "one_thread"]
