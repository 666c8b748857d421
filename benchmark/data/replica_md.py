"""Replica MD for local reference data: many independent Langevin trajectories, resumable, bit-repeatable.

Why this shape:

* **Repeatable on every machine.** MD runs in double precision on a backend whose arithmetic does
  not depend on the CPU (OpenMM's Reference platform). The single-precision CPU platform gives
  different trajectories on different CPUs and after a resume, so it is not used.
* **The same bits after a kill.** The run is cut into segments; all replicas advance one segment
  at a time. A segment is a pure function of the replicas' positions and velocities at its start
  (stored in float64) and of a seed derived from (replica seed, segment index): the integrator is
  created afresh for every segment, so no hidden random-number state has to survive a restart.
  Each finished segment is written atomically; a re-run continues after the last complete one and
  produces exactly the bytes an uninterrupted run produces.
* **One backend interface.** ``minimize`` and ``run`` take all replicas at once, so a batched
  integrator (a torch energy on many replicas) can replace the per-replica OpenMM backend
  without touching the plan, the seeds or the files.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

from benchmark.data.starts import set_backbone, start_basins
from benchmark.data.torch_md import TorchReplicas
from benchmark.errors import DataError
from benchmark.io import atomic_save_npz, atomic_write_text
from benchmark.seeding import derived_seed
from benchmark.systems import SystemSpec
from benchmark.tasks.protocol import LocalMD

#: Frames per segment: the unit of resuming (one atomic file per segment for all replicas).
FRAMES_PER_SEGMENT = 50
#: Minimisation of each start after its dihedrals are set: enough to remove the clashes the rotation makes.
START_MINIMIZE_ITERATIONS = 500
START_MINIMIZE_TOLERANCE = 10.0  # kJ/mol/nm


@dataclass(frozen=True)
class ReplicaPlan:
    """Everything that determines the replica trajectories (written to the work folder to detect a changed run)."""

    frames_per_replica: int
    frame_interval_steps: int
    warmup_steps: int
    start_basins: tuple[tuple[str, ...], ...]  # per replica, per residue
    seeds: tuple[int, ...]  # per replica
    backend: str
    frames_per_segment: int = FRAMES_PER_SEGMENT
    warmup_friction_per_ps: float = 5.0
    start_minimize_iterations: int = START_MINIMIZE_ITERATIONS  # part of the plan: workers never read module state

    @property
    def n_replicas(self) -> int:
        return len(self.seeds)

    @property
    def segments(self) -> list[int]:
        """Frames of each recorded segment (segment 0, the warm-up, records none)."""
        full, rest = divmod(self.frames_per_replica, self.frames_per_segment)
        return [self.frames_per_segment] * full + ([rest] if rest else [])

    @property
    def work_steps(self) -> int:
        """MD steps of all replicas plus one step per minimiser iteration of each distinct start: the size of the job."""
        md = self.n_replicas * (self.warmup_steps + self.frames_per_replica * self.frame_interval_steps)
        return md + len(set(self.start_basins)) * self.start_minimize_iterations

    @classmethod
    def for_splits(cls, md: LocalMD, n_residues: int, seed: int, *names: object) -> "ReplicaPlan":
        """Replicas of the train, val and test splits in that order; seeds from ``seed`` and ``names``."""
        basins, seeds = [], []
        for split, count in zip(("train", "val", "test"), md.replicas):
            for i in range(count):
                basins.append(tuple(start_basins(i, n_residues, md.starts)))
                seeds.append(derived_seed(seed, *names, split, i))
        return cls(md.frames_per_replica, md.frame_interval_steps, md.warmup_steps, tuple(basins), tuple(seeds),
                   md.backend, FRAMES_PER_SEGMENT, md.warmup_friction_per_ps, START_MINIMIZE_ITERATIONS)


@dataclass
class States:
    """Positions and velocities (R, N, 3) float64 of all replicas, in nm and nm/ps."""

    positions: np.ndarray
    velocities: np.ndarray


class Backend(Protocol):
    """What integrates the replicas. Results must depend only on the arguments (no hidden state)."""

    name: str

    def close(self) -> None:
        """Release workers (the backend may be used again afterwards)."""

    def minimize(self, spec: SystemSpec, positions: np.ndarray, iterations: int) -> np.ndarray:
        """Local minima (R, N, 3) near ``positions`` after at most ``iterations`` minimiser steps."""

    def run(self, spec: SystemSpec, states: States, seeds: list[int], n_frames: int, interval: int,
            friction_per_ps: float | None = None) -> tuple[np.ndarray, np.ndarray, States]:
        """``n_frames`` frames every ``interval`` steps from ``states``: frames (R, n, N, 3) float32, potential
        energies (R, n) kJ/mol, and the states after the last step. ``friction_per_ps`` None: the task's."""


# --- the OpenMM Reference backend --------------------------------------------------------------
@lru_cache(maxsize=8)
def _openmm_system(spec: SystemSpec):
    return spec.build().create_openmm_system()


def _reference_context(spec: SystemSpec, integrator):
    import openmm

    return openmm.Context(_openmm_system(spec), integrator, openmm.Platform.getPlatformByName("Reference"))


def _minimize_one(spec: SystemSpec, positions: np.ndarray, iterations: int) -> np.ndarray:
    import openmm

    context = _reference_context(spec, openmm.VerletIntegrator(0.001))
    context.setPositions(positions)
    openmm.LocalEnergyMinimizer.minimize(context, START_MINIMIZE_TOLERANCE, iterations)
    return np.asarray(context.getState(getPositions=True).getPositions(asNumpy=True)._value, dtype=np.float64)


def _run_one(spec: SystemSpec, positions: np.ndarray, velocities: np.ndarray, seed: int, n_frames: int,
             interval: int, friction_per_ps: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    recipe = spec.forcefield if friction_per_ps is None else spec.forcefield.with_friction(friction_per_ps)
    context = _reference_context(spec, recipe.integrator(seed))
    context.setPositions(positions)
    context.setVelocities(velocities)
    frames = np.empty((n_frames, *positions.shape), dtype=np.float32)
    energies = np.empty(n_frames, dtype=np.float64)
    for i in range(n_frames):
        context.getIntegrator().step(interval)
        state = context.getState(getPositions=True, getEnergy=True)
        frames[i] = state.getPositions(asNumpy=True)._value
        energies[i] = state.getPotentialEnergy()._value  # kJ/mol
    final = context.getState(getPositions=True, getVelocities=True)
    return (frames, energies, np.asarray(final.getPositions(asNumpy=True)._value, dtype=np.float64),
            np.asarray(final.getVelocities(asNumpy=True)._value, dtype=np.float64))


def measure_steps_per_second(spec: SystemSpec, seconds: float = 0.3) -> float:
    """Langevin steps per second of one replica of ``spec`` on the Reference platform in this process.

    Timed on the built structure, briefly minimised, after a first step (set-up excluded), for at
    least ``seconds``: what one MD worker achieves now, on this machine and under its present load.
    """
    import time

    import openmm

    context = _reference_context(spec, spec.forcefield.integrator(0))
    context.setPositions(spec.build().initial_positions)
    openmm.LocalEnergyMinimizer.minimize(context, START_MINIMIZE_TOLERANCE, 20)
    context.setVelocitiesToTemperature(spec.forcefield.temperature_K, 0)
    integrator = context.getIntegrator()
    integrator.step(1)
    steps, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds or steps < 10:
        integrator.step(10)
        steps += 10
    return steps / elapsed


def _die_with_parent() -> None:
    """Worker initializer: on Linux, end the worker when the generating process is killed."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class OpenMMReference:
    """OpenMM Reference platform (double precision), one replica per task, ``workers`` processes.

    The number of workers changes only the speed, never the data.
    """

    name = "openmm-reference"

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def _map(self, fn, *iterables) -> list:
        if self.workers == 1:
            return list(map(fn, *iterables))
        if self._pool is None:
            import multiprocessing

            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_die_with_parent)
        return list(self._pool.map(fn, *iterables))

    def minimize(self, spec: SystemSpec, positions: np.ndarray, iterations: int) -> np.ndarray:
        return np.stack(self._map(_minimize_one, [spec] * len(positions), list(positions), [iterations] * len(positions)))

    def run(self, spec, states, seeds, n_frames, interval, friction_per_ps=None):
        out = self._map(_run_one, [spec] * len(seeds), list(states.positions), list(states.velocities), seeds,
                        [n_frames] * len(seeds), [interval] * len(seeds), [friction_per_ps] * len(seeds))
        frames, energies, pos, vel = (np.stack(parts) for parts in zip(*out))
        return frames, energies, States(pos, vel)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


BACKENDS = {OpenMMReference.name: OpenMMReference,
            TorchReplicas.name: lambda workers=1: TorchReplicas(OpenMMReference(workers))}  # minimises on Reference


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the MD workers), s: a cost that machine load does not inflate."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def default_workers() -> int:
    """``$BGBENCH_MD_WORKERS`` or min(2, CPUs): the CLI's number of replicas simulated at once."""
    return int(os.environ.get("BGBENCH_MD_WORKERS") or min(2, os.cpu_count() or 1))


def get_backend(name: str, workers: int | None = None) -> Backend:
    """The backend ``name`` with ``workers`` processes (None: 1, in this process)."""
    if name not in BACKENDS:
        raise DataError(f"Unknown MD backend {name!r}; known: {sorted(BACKENDS)}.")
    return BACKENDS[name](workers or 1)


# --- the run -----------------------------------------------------------------------------------
def maxwell_boltzmann(masses: np.ndarray, kT_kJ_per_mol: float, rng: np.random.Generator) -> np.ndarray:
    """Velocities (N, 3) nm/ps at temperature kT, with the centre-of-mass velocity removed."""
    v = rng.standard_normal((len(masses), 3)) * np.sqrt(kT_kJ_per_mol / masses)[:, None]
    return v - (masses[:, None] * v).sum(0) / masses.sum()


def _masses(spec: SystemSpec) -> np.ndarray:
    omm = _openmm_system(spec)
    return np.array([omm.getParticleMass(i)._value for i in range(omm.getNumParticles())])


def _start_states(spec: SystemSpec, plan: ReplicaPlan, backend: Backend) -> States:
    """Minimised basin starts (one minimisation per distinct basin pattern) and seeded velocities."""
    system = spec.build()
    patterns = sorted(set(plan.start_basins))
    starts = [set_backbone(system, system.initial_positions, list(p)) for p in patterns]
    minimized = dict(zip(patterns, backend.minimize(spec, np.stack(starts), plan.start_minimize_iterations)))
    positions = np.stack([minimized[p] for p in plan.start_basins])
    masses = _masses(spec)
    velocities = np.stack([maxwell_boltzmann(masses, spec.forcefield.kT_kJ_per_mol, np.random.default_rng(s))
                           for s in plan.seeds])
    return States(positions, velocities)


def _segment_path(work: Path, k: int) -> Path:
    return work / f"segment_{k:04d}.npz"


def _load_states(path: Path) -> States:
    with np.load(path) as z:
        return States(z["positions"], z["velocities"])


def simulate_replicas(spec: SystemSpec, plan: ReplicaPlan, work: Path, backend: Backend | None = None,
                      progress: bool = True, stop_after_segments: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run (or resume) the replicas of ``plan`` in ``work``: frames (R, F, N, 3) float32 nm, energies (R, F) kJ/mol.

    ``stop_after_segments`` stops after that many new segments (used to test resuming); DataError
    then says to run again.
    """
    owned = backend is None
    backend = backend or get_backend(plan.backend)
    if backend.name != plan.backend:
        raise DataError(f"The plan asks for MD backend {plan.backend!r}, not {backend.name!r}.")
    work.mkdir(parents=True, exist_ok=True)
    wanted = json.dumps(asdict(plan), sort_keys=True)
    if (work / "plan.json").is_file() and (work / "plan.json").read_text() != wanted:
        shutil.rmtree(work)  # segments of another run cannot be continued
        work.mkdir(parents=True)
    atomic_write_text(work / "plan.json", wanted)

    n_segments = len(plan.segments) + 1  # + the warm-up
    done = 0
    while done < n_segments and _segment_path(work, done).is_file():
        done += 1
    seg_seeds = lambda k: [derived_seed(s, "segment", k) for s in plan.seeds]  # noqa: E731
    steps = [plan.warmup_steps] + [n * plan.frame_interval_steps for n in plan.segments]
    bar = tqdm(total=sum(steps) * plan.n_replicas, initial=sum(steps[:done]) * plan.n_replicas, unit="step",
               unit_scale=True, disable=not progress, desc=f"MD {spec.name} x{plan.n_replicas}")
    new = 0
    try:
        if done == 0:
            starts_path = work / "starts.npz"
            if not starts_path.is_file():
                states = _start_states(spec, plan, backend)
                atomic_save_npz(starts_path, positions=states.positions, velocities=states.velocities)
            states = _load_states(starts_path)
            if plan.warmup_steps > 0:
                _, _, states = backend.run(spec, states, seg_seeds(0), 1, plan.warmup_steps, plan.warmup_friction_per_ps)
            atomic_save_npz(_segment_path(work, 0), positions=states.positions, velocities=states.velocities)
            bar.update(steps[0] * plan.n_replicas)
            done, new = 1, 1
        states = _load_states(_segment_path(work, done - 1))
        for k in range(done, n_segments):
            if stop_after_segments is not None and new >= stop_after_segments:
                break
            frames, energies, states = backend.run(spec, states, seg_seeds(k), plan.segments[k - 1], plan.frame_interval_steps)
            atomic_save_npz(_segment_path(work, k), frames=frames, energies=energies, positions=states.positions,
                            velocities=states.velocities)
            bar.update(steps[k] * plan.n_replicas)
            done, new = k + 1, new + 1
    finally:
        bar.close()
        if owned:
            backend.close()
    if done < n_segments:
        raise DataError(f"MD of {spec.name} stopped after {done}/{n_segments} segments; run the same command again to resume.")
    frames, energies = [], []
    for k in range(1, n_segments):
        with np.load(_segment_path(work, k)) as part:
            frames.append(part["frames"])
            energies.append(part["energies"])
    return np.concatenate(frames, axis=1), np.concatenate(energies, axis=1)


__all__ = ["BACKENDS", "Backend", "FRAMES_PER_SEGMENT", "OpenMMReference", "ReplicaPlan", "States", "cpu_seconds", "default_workers",
           "get_backend", "measure_steps_per_second", "maxwell_boltzmann", "simulate_replicas"]
