"""Batched torch energy against the OpenMM loop, and batched MD against single-replica OpenMM MD.

Run (the whole machine, torch on all its cores; the table is printed at the end):
    python -m pytest tests/benchmarks/test_torch_energy_throughput.py -m benchmark --benchmark-enable -s
On a shared machine, add ``--benchmark-timer time.process_time``: both sides are then timed in CPU
seconds of this process (all its threads), which the other jobs on the machine do not inflate; with
one thread (``OMP_NUM_THREADS=1``) that is the single-core rate.
The figures of the last run and what they mean: docs/torch-energy.md.

Energy: conformations per second of energy + forces for the issue's systems at batch 1, 64,
1024 and 8192, for the torch energy in float64 (default kernel: the compiled loop on the CPU),
float64 with the eager torch kernel, float64 with ``torch.compile`` and float32, each against the OpenMM loop on its fastest repeatable platform (``choose_platform``:
the one-thread deterministic CPU platform for these amber14/OBC1 systems). The OpenMM loop is
timed in the same test on up to 128 of the same conformations, so every ratio compares two
numbers taken seconds apart on the same (shared) machine. Compilation is done before timing; its
duration is reported as ``first_call_s``. On the CPU, batch 8192 of the torch kernel is run only
for the two small systems: it evaluates a batch in fixed chunks, so the rate is that of batch 1024
and the two larger systems would take minutes per round.

MD: aggregate steps per second (replicas x steps / s) of the shared batched LangevinMiddle
(benchmark.dynamics) with R = 1, 16, 256 replicas on the torch energy, against one OpenMM
LangevinMiddleIntegrator on the Reference platform, which local data generation uses
(benchmark.data.replica_md), and on the one-thread CPU platform (single precision, the fastest).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import openmm
from openmm import unit

from benchmark.data.replica_md import _reference_context
from benchmark.dynamics import LangevinMiddle
from benchmark.energy import OpenMMEnergy, TorchEnergy
from benchmark.tasks import get_task

SYSTEMS = {"AA": ("2AA", "AA"), "ARIP": ("4AA", "ARIP"), "PGESTAES": ("8AA", "PGESTAES"), "GYDPETGTWG": ("CHIGNOLIN", "GYDPETGTWG")}
BATCHES = (1, 64, 1024, 8192)
#: "float64" is the default: the compiled loop on the CPU (native_kernel), the torch kernel on CUDA.
VARIANTS = {"float64": {}, "float64 torch-kernel": {"kernel": "torch"}, "float64+compile": {"compile": True},
            "float32": {"precision": "float32"}}
OPENMM_CONFORMATIONS = 128
ROWS: list[dict] = []


@pytest.fixture(scope="module", autouse=True)
def print_table():
    yield
    if ROWS:
        from tabulate import tabulate

        print("\n" + tabulate(ROWS, headers="keys", floatfmt=".3g"))


def _system(label: str):
    task, name = SYSTEMS.get(label, (label, None))
    t = get_task(task)
    return (t.system(name) if name else t.systems[0]).build()


def _best_rate(fn, n_items: int, rounds: int, timer=time.perf_counter) -> float:
    """Items per second of the fastest of ``rounds`` calls, on the benchmark's own timer (see the module docstring)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = timer()
        fn()
        best = min(best, timer() - t0)
    return n_items / best


@pytest.mark.benchmark
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("label", list(SYSTEMS))
def test_energy_and_forces_vs_openmm(benchmark, label, batch, variant):
    system = _system(label)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if batch == 8192 and device == "cpu" and system.n_atoms > 80 and variant != "float64":
        pytest.skip("CPU batch 8192 of a large system: chunked, so the batch-1024 rate, and minutes per round")
    rng = np.random.default_rng(0)
    x = system.minimized_positions[None] + 0.002 * rng.standard_normal((batch, system.n_atoms, 3))
    xt = torch.from_numpy(x).to(device)
    energy = TorchEnergy(system, device=device, **VARIANTS[variant])
    t0 = time.perf_counter()
    energy.energy_and_forces(xt[: min(batch, energy.chunk_size)])  # warm-up (compilation)
    first = time.perf_counter() - t0

    def run():
        energy.energy_and_forces(xt)
        if device == "cuda":
            torch.cuda.synchronize()

    rounds = 3 if batch * system.n_atoms**2 < 3e7 else 1
    benchmark.pedantic(run, rounds=rounds, iterations=1)
    torch_rate = batch / benchmark.stats.stats.min
    reference = OpenMMEnergy(system)  # "auto": the fastest repeatable platform
    n_omm = min(batch, OPENMM_CONFORMATIONS)
    reference.energy_and_forces(x[:2])
    omm_rate = _best_rate(lambda: reference.energy_and_forces(x[:n_omm]), n_omm, 3, benchmark._timer)
    info = {
        "system": label, "atoms": system.n_atoms, "batch": batch, "variant": variant, "device": device,
        "kernel": energy.kernel, "threads": torch.get_num_threads(), "unit": "conf/s", "torch_rate": torch_rate, "openmm_rate": omm_rate,
        "openmm_platform": reference.platform_name, "speedup": torch_rate / omm_rate, "first_call_s": first,
    }
    benchmark.extra_info.update(info)
    ROWS.append(info)


@pytest.mark.benchmark
@pytest.mark.parametrize("variant", ["float64", "float64 torch-kernel", "float64+compile"])
@pytest.mark.parametrize("replicas", [1, 16, 256])
@pytest.mark.parametrize("task_name", ["AL3", "CHIGNOLIN"])
def test_batched_md_vs_openmm_md(benchmark, task_name, replicas, variant):
    spec = get_task(task_name).systems[0]
    system = spec.build()
    recipe = spec.forcefield
    device = "cuda" if torch.cuda.is_available() else "cpu"
    omm = system.create_openmm_system()
    masses = [omm.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.n_atoms)]
    energy = TorchEnergy(system, device=device, **VARIANTS[variant])
    integrator = LangevinMiddle(masses, recipe.kT_kJ_per_mol, recipe.friction_per_ps, recipe.timestep_fs / 1000, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    state = integrator.initial_state(system.minimized_positions, replicas, gen)
    t0 = time.perf_counter()
    integrator.run(energy, state, 2, gen)  # warm-up (compilation)
    first = time.perf_counter() - t0
    steps = max(4, min(200, 20_000 // (replicas * system.n_atoms)))

    def run():
        integrator.run(energy, state, steps, gen)
        if device == "cuda":
            torch.cuda.synchronize()

    benchmark.pedantic(run, rounds=3 if replicas * steps * system.n_atoms**2 < 2e8 else 1, iterations=1)
    torch_rate = replicas * steps / benchmark.stats.stats.min
    rates = {}
    for platform in ("Reference", "CPU"):
        if platform == "Reference":
            context = _reference_context(spec, recipe.integrator(1))
        else:
            context = openmm.Context(omm, recipe.integrator(1), openmm.Platform.getPlatformByName("CPU"), {"Threads": "1"})
        context.setPositions(system.minimized_positions * unit.nanometer)
        context.setVelocitiesToTemperature(system.temperature_K * unit.kelvin, 1)
        n_omm = 500
        context.getIntegrator().step(10)
        rates[platform] = _best_rate(lambda: context.getIntegrator().step(n_omm), n_omm, 3, benchmark._timer)
    info = {
        "system": task_name, "atoms": system.n_atoms, "batch": f"MD R={replicas}", "variant": variant, "device": device,
        "threads": torch.get_num_threads(), "unit": "steps/s", "torch_rate": torch_rate, "openmm_rate": rates["Reference"],
        "openmm_platform": "Reference", "speedup": torch_rate / rates["Reference"], "first_call_s": first,
        "openmm_cpu_rate": rates["CPU"], "speedup_vs_cpu": torch_rate / rates["CPU"],
    }
    benchmark.extra_info.update(info)
    ROWS.append(info)
