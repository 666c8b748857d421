"""Replica-MD backends for local data: aggregate steps per CPU-second, torch float64 against OpenMM.

Run (one thread, as data generation runs; the table is printed at the end):
    OMP_NUM_THREADS=1 python -m pytest tests/benchmarks/test_replica_md_throughput.py -m benchmark --benchmark-enable -s

For each system (a quick-corpus dipeptide, AL3 = AAA and the 8AA quick system PGESTAES, all
amber14 + OBC1, i.e. OpenMM's CustomGBForce) and R = 3 and 15 replicas, one test times, seconds
apart on the same machine: the ``torch-float64`` backend (all R replicas in one batch), the
``openmm-reference`` backend (one replica after the other, one process) and, for context only,
OpenMM's single-precision CPU platform with one thread (not repeatable across machines, so no
data backend). Each runs ``Backend.run`` with the interval between frames that the system's data
uses (frames and their energies included). Rates are replicas x steps / CPU-second of this
process (``time.process_time``), which load from other processes inflates far less than wall
time on a shared machine. pytest-benchmark's own figures are wall time of the torch backend.
"""

from __future__ import annotations

import time

import numpy as np
import openmm
import pytest
from openmm import unit

from benchmark.data.corpus import corpus_spec
from benchmark.data.corpus_md import CORPUS_MD, corpus_sequences
from benchmark.data.replica_md import States, get_backend, maxwell_boltzmann
from benchmark.tasks import get_task

ROWS: list[dict] = []
REFERENCE_STEPS = 60  # per replica: Reference runs ~10^2 steps per CPU-second on these systems


def _cases() -> dict:
    al3, aa8 = get_task("AL3"), get_task("8AA")
    dipeptide = corpus_sequences()[0]
    return {
        f"corpus {dipeptide}": (corpus_spec(dipeptide), CORPUS_MD.frame_interval_steps),
        "AL3 AAA": (al3.systems[0], al3.protocols["quick"].local_md.frame_interval_steps),
        "8AA PGESTAES": (aa8.system("PGESTAES"), aa8.protocols["quick"].local_md.frame_interval_steps),
    }


CASES = _cases()


@pytest.fixture(scope="module", autouse=True)
def print_table():
    yield
    if ROWS:
        from tabulate import tabulate

        print("\n" + tabulate(ROWS, headers="keys", floatfmt=".3g"))


def _states(spec, n_replicas: int) -> States:
    system = spec.build()
    omm = system.create_openmm_system()
    masses = np.array([omm.getParticleMass(i)._value for i in range(omm.getNumParticles())])
    x = np.repeat(np.asarray(system.minimized_positions, dtype=np.float64)[None], n_replicas, axis=0)
    v = np.stack([maxwell_boltzmann(masses, system.kT_kJ_per_mol, np.random.default_rng(r)) for r in range(n_replicas)])
    return States(x, v)


def _cpu_rate(fn, replica_steps: int) -> float:
    t0 = time.process_time()
    fn()
    return replica_steps / (time.process_time() - t0)


def _cpu_platform_rate(spec, states: States, steps: int) -> float:
    """Single-precision CPU platform, one thread, the replicas one after the other."""
    omm = spec.build().create_openmm_system()
    platform = openmm.Platform.getPlatformByName("CPU")
    contexts = [openmm.Context(omm, spec.forcefield.integrator(i + 1), platform, {"Threads": "1"}) for i in range(len(states.positions))]
    for c, x, v in zip(contexts, states.positions, states.velocities):
        c.setPositions(x * unit.nanometer)
        c.setVelocities(v * unit.nanometer / unit.picosecond)
        c.getIntegrator().step(10)  # first-step set-up outside the timing

    def run():
        for c in contexts:
            c.getIntegrator().step(steps)
            c.getState(getEnergy=True)

    return _cpu_rate(run, steps * len(contexts))


@pytest.mark.benchmark
@pytest.mark.parametrize("n_replicas", [3, 15])
@pytest.mark.parametrize("case", list(CASES))
def test_replica_md_steps_per_cpu_second(benchmark, case, n_replicas):
    spec, interval = CASES[case]
    states = _states(spec, n_replicas)
    seeds = list(range(1, n_replicas + 1))
    torch_backend, reference = get_backend("torch-float64"), get_backend("openmm-reference")
    torch_frames = max(1, 300 // interval)
    ref_frames = max(1, REFERENCE_STEPS // interval)

    torch_backend.run(spec, states, seeds, 1, interval)  # builds the energy (cached per system)
    torch_rate = max(_cpu_rate(lambda: torch_backend.run(spec, states, seeds, torch_frames, interval),
                               n_replicas * torch_frames * interval) for _ in range(2))
    ref_rate = _cpu_rate(lambda: reference.run(spec, states, seeds, ref_frames, interval), n_replicas * ref_frames * interval)
    cpu_rate = _cpu_platform_rate(spec, states, torch_frames * interval)
    benchmark.pedantic(torch_backend.run, args=(spec, states, seeds, torch_frames, interval), rounds=1, iterations=1)

    row = {"system": case, "atoms": states.positions.shape[1], "R": n_replicas, "interval": interval,
           "torch-float64 steps/cpu-s": torch_rate, "reference steps/cpu-s": ref_rate,
           "cpu-platform steps/cpu-s": cpu_rate, "torch/reference": torch_rate / ref_rate}
    benchmark.extra_info.update(row)
    ROWS.append(row)
    assert torch_rate > 0 and ref_rate > 0
