"""Local reference data: seeded OpenMM Langevin MD, written in resumable chunks, split in time.

Why this shape: quick-tier reference data must be reproducible here (fixed seed; the OpenMM
Reference platform, or the CPU platform with one thread and deterministic forces where Reference is
too slow, both bitwise repeatable, including across a checkpoint), must survive being killed (every chunk of frames
is written atomically together with an OpenMM checkpoint, and a re-run continues from the last
complete chunk and gives the same trajectory as an uninterrupted run), and must follow the published
setup: the task's force field, temperature, friction and time step, minimisation and warm-up first,
then frames at a fixed interval. The trajectory is split into contiguous train / val / test blocks;
the test block is the evaluation reference.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import openmm
from openmm import unit
from tqdm.auto import tqdm

from benchmark.data import store
from benchmark.io import atomic_save_npy, atomic_save_npz, atomic_write_bytes, atomic_write_text
from benchmark.errors import DataError
from benchmark.seeding import derived_seed
from benchmark.systems import System, SystemSpec, to_pdb_string
from benchmark.tasks.protocol import LocalMD
from benchmark.tasks.registry import Task

FRAMES_PER_CHUNK = 250
#: Reference is fastest for the native GBSAOBCForce (amber99_obc); the CustomGBForce of
#: implicit/obc1.xml runs ~2.5x faster on CPU, which is repeatable with one thread and these flags.
DETERMINISTIC_CPU = {"Threads": "1", "DeterministicForces": "true"}
WORK = ".work"
FILES = {"train": "train.npy", "val": "val.npy", "test": "test.npy", "pdb": "topology.pdb", "energies": "energies.npy"}


@dataclass(frozen=True)
class MDRun:
    """Everything that determines a local trajectory (compared on load to detect stale data)."""

    length_ns: float
    frame_interval_steps: int
    warmup_steps: int
    seed: int
    platform: str
    frames_per_chunk: int = FRAMES_PER_CHUNK

    @property
    def n_frames(self) -> int:
        return int(round(self.length_ns * 1e6 / self.frame_interval_steps))

    @classmethod
    def from_local_md(cls, md: LocalMD, seed: int, spec: SystemSpec) -> "MDRun":
        return cls(md.length_ns, md.frame_interval_steps, md.warmup_steps, seed, platform_for(spec), FRAMES_PER_CHUNK)


def platform_for(spec: SystemSpec) -> str:
    """The faster of the two repeatable platforms for this force-field recipe (measured here)."""
    return "Reference" if spec.forcefield.nonbonded_method == "NoCutoff" else "CPU"


def _context(system: System, seed: int, platform: str) -> openmm.Context:
    integrator = system.spec.forcefield.integrator(seed)
    props = DETERMINISTIC_CPU if platform == "CPU" else {}
    return openmm.Context(system.create_openmm_system(), integrator, openmm.Platform.getPlatformByName(platform), props)


def _complete_chunks(work: Path, n_chunks: int) -> int:
    """Number of leading chunks whose frames and checkpoint were both written."""
    k = 0
    while k < n_chunks and (work / f"chunk_{k:05d}.npz").is_file() and (work / f"state_{k:05d}.chk").is_file():
        k += 1
    return k


def simulate(system: System, run: MDRun, work: Path, progress: bool = True, stop_after_chunks: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run (or resume) the MD of ``run`` in ``work``; return positions (T, N, 3) float32 nm and energies (T,) kJ/mol.

    ``stop_after_chunks`` stops early after that many new chunks (used to test resuming).
    """
    work.mkdir(parents=True, exist_ok=True)
    settings_path = work / "run.json"
    wanted = json.dumps(asdict(run), sort_keys=True)
    if settings_path.is_file() and settings_path.read_text() != wanted:
        shutil.rmtree(work)  # chunks of a different run cannot be continued
        work.mkdir(parents=True)
    if not settings_path.is_file():
        atomic_write_text(settings_path, wanted)

    n_chunks = -(-run.n_frames // run.frames_per_chunk)
    done = _complete_chunks(work, n_chunks)
    context = _context(system, run.seed, run.platform)
    if done == 0:
        context.setPositions(system.minimized_positions * unit.nanometer)
        context.setVelocitiesToTemperature(system.temperature_K * unit.kelvin, run.seed)
        context.getIntegrator().step(run.warmup_steps)
    else:
        context.loadCheckpoint((work / f"state_{done - 1:05d}.chk").read_bytes())

    steps_per_chunk = run.frames_per_chunk * run.frame_interval_steps
    bar = tqdm(total=n_chunks * steps_per_chunk, initial=done * steps_per_chunk, unit="step", unit_scale=True,
               disable=not progress, desc=f"MD {system.name}")
    new = 0
    try:
        for k in range(done, n_chunks):
            if stop_after_chunks is not None and new >= stop_after_chunks:
                break
            n = min(run.frames_per_chunk, run.n_frames - k * run.frames_per_chunk)
            pos = np.empty((n, system.n_atoms, 3), dtype=np.float32)
            energy = np.empty(n, dtype=np.float64)
            t0 = time.perf_counter()
            for i in range(n):
                context.getIntegrator().step(run.frame_interval_steps)
                state = context.getState(getPositions=True, getEnergy=True)
                pos[i] = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
                energy[i] = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
            dt = time.perf_counter() - t0
            atomic_save_npz(work / f"chunk_{k:05d}.npz", positions=pos, potential_energy_kJ_per_mol=energy)
            atomic_write_bytes(work / f"state_{k:05d}.chk", context.createCheckpoint())
            steps = n * run.frame_interval_steps
            ns_per_day = steps * system.spec.forcefield.timestep_fs * 1e-6 / dt * 86400
            bar.set_postfix_str(f"{ns_per_day:.1f} ns/day")
            bar.update(steps)
            new += 1
    finally:
        bar.close()
    done = _complete_chunks(work, n_chunks)
    if done < n_chunks:
        raise DataError(f"MD of {system.name} stopped after {done}/{n_chunks} chunks; run the same command again to resume.")
    chunks = [np.load(work / f"chunk_{k:05d}.npz") for k in range(n_chunks)]
    return np.concatenate([c["positions"] for c in chunks]), np.concatenate([c["potential_energy_kJ_per_mol"] for c in chunks])


def split_blocks(n_frames: int, fractions: tuple[float, float, float]) -> dict[str, tuple[int, int]]:
    """Contiguous [start, stop) frame ranges of train, val and test, in time order."""
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    n_train = int(np.floor(fractions[0] * n_frames))
    n_val = int(np.floor(fractions[1] * n_frames))
    return {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, n_frames)}


def standardization_std(train: np.ndarray) -> float:
    """Std of all entries of the per-frame centred coordinates (unweighted centre, Bessel-corrected)."""
    x = np.asarray(train, dtype=np.float64)
    centred = x - x.mean(axis=1, keepdims=True)
    return float(centred.std(ddof=1))


def settings_record(spec: SystemSpec, md: LocalMD) -> dict:
    """The settings whose change makes cached local data stale (the seed is recorded, not compared)."""
    record = {"local_md": asdict(md), "forcefield": spec.forcefield.describe()}
    return json.loads(json.dumps(record))  # as stored in (and read back from) the JSON manifest


def prepare_system(task: Task, tier: str, spec: SystemSpec, root: Path | None = None, seed: int = 0,
                   progress: bool = True, stop_after_chunks: int | None = None, force: bool = False) -> Path:
    """Generate, split and store the local reference data of one system; returns its folder.

    Skips the work when a complete, valid, up-to-date copy is already cached (unless ``force``).
    """
    protocol = task.protocol(tier)
    if protocol.local_md is None:
        raise DataError(f"Task {task.name} tier {tier!r} uses published data; run `bgbench data fetch {task.name}` "
                        f"or `bgbench data import {task.name} --from DIR` instead.")
    md = protocol.local_md
    folder = store.system_dir(task.name, tier, spec.name, root)
    settings = settings_record(spec, md)
    manifest = store.read_manifest(folder)
    if manifest is not None and not force:
        if manifest.get("task_version") == task.version and manifest.get("settings") == settings:
            try:
                store.verify_files(folder, manifest, "")
                return folder
            except DataError:
                pass  # corrupt: regenerate below
    system = spec.build()
    run = MDRun.from_local_md(md, derived_seed(seed, task.name, spec.name), spec)
    t0 = time.perf_counter()
    positions, energies = simulate(system, run, folder / WORK, progress=progress, stop_after_chunks=stop_after_chunks)
    seconds = round(time.perf_counter() - t0, 1)  # of this process only, if the run was resumed

    blocks = split_blocks(len(positions), md.split_fractions)
    n_test = blocks["test"][1] - blocks["test"][0]
    if n_test < protocol.n_eval_samples:
        raise DataError(f"The test block of {spec.name} has {n_test} frames, fewer than the {protocol.n_eval_samples} "
                        f"evaluation samples; lengthen LocalMD.length_ns of task {task.name}.")
    version = store.next_version(folder)  # the cached version stays readable until the commit
    for role in ("train", "val", "test"):
        start, stop = blocks[role]
        atomic_save_npy(version / FILES[role], positions[start:stop])
    atomic_save_npy(version / FILES["energies"], energies)
    atomic_write_text(version / FILES["pdb"], to_pdb_string(system, system.minimized_positions))
    std = standardization_std(positions[slice(*blocks["train"])])
    store.commit_version(
        folder, version, list(FILES.values()),
        source="local-md", task=task.name, tier=tier, system=spec.name, task_version=task.version,
        settings=settings, run=asdict(run), user_seed=seed, roles={r: f"{version.name}/{n}" for r, n in FILES.items()},
        blocks=blocks, n_frames=len(positions), generation_seconds=seconds, std_nm=std,
        units={"positions": "nm", "energies": "kJ/mol (potential energy of each frame)"},
    )
    shutil.rmtree(folder / WORK, ignore_errors=True)
    return folder


def prepare_task(task: Task, tier: str = "quick", root: Path | None = None, seed: int = 0, progress: bool = True,
                 force: bool = False) -> list[Path]:
    """Prepare every system of a task's tier (and the quick corpus first for transferable tasks)."""
    if task.transferable and tier == "quick":
        from benchmark.data.corpus import prepare_corpus

        prepare_corpus(tier, root=root, progress=progress)
    return [prepare_system(task, tier, spec, root, seed, progress, force=force) for spec in task.systems_for(tier)]
