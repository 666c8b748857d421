"""Local reference data of the quick tier: replica MD per system, split by replica, stored with hashes.

Why this shape: the quick tier must measure something. One trajectory from one start, split into
time blocks, gave a training block and an evaluation block with different basin populations
(alpha_R 0.44 vs 0.66 on ALDP), so small metric differences meant nothing. Here every system is
simulated as many independent replicas started in different backbone basins (replica_md.py,
starts.py), each with a discarded warm-up; the train, val and test splits are disjoint sets of
replicas with the same start pattern, so they are independent samples of the same mixture. The
test split, subsampled evenly, is the evaluation reference. The basin populations of each split
(with errors over replicas) are stored in the manifest, so the data cards and ``bgbench data info``
can show whether the splits agree.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmark.data import basins, store
from benchmark.data.formats import LOCAL_FILES, local_settings_record, standardization_std, topology_pdb_text
from benchmark.data.replica_md import ReplicaPlan, cpu_seconds, get_backend, simulate_replicas
from benchmark.errors import DataError
from benchmark.io import atomic_save_npy, atomic_write_text
from benchmark.systems import SystemSpec
from benchmark.tasks.registry import Task

SPLITS = ("train", "val", "test")


def split_ranges(replicas: tuple[int, int, int]) -> dict[str, tuple[int, int]]:
    """[start, stop) replica indices of train, val and test (replicas are stored in that order)."""
    edges = np.cumsum((0, *replicas))
    return {name: (int(edges[i]), int(edges[i + 1])) for i, name in enumerate(SPLITS)}


def plan_for(task: Task, tier: str, spec: SystemSpec, seed: int) -> ReplicaPlan:
    """The replica plan of one system; its seeds derive from (seed, task, system, split, replica)."""
    md = task.protocol(tier).local_md
    n_residues = len(basins.backbone_residues(spec.build()))
    return ReplicaPlan.for_splits(md, n_residues, seed, task.name, spec.name)


def _is_current(folder: Path, manifest: dict | None, task: Task, settings: dict, seed: int | None) -> bool:
    if manifest is None or manifest.get("task_version") != task.version or manifest.get("settings") != settings:
        return False
    if seed is not None and manifest.get("user_seed") != seed:
        return False
    try:
        store.verify_files(folder, manifest, "")
    except DataError:
        return False  # corrupt: regenerate
    return True


def is_current(task: Task, tier: str, spec: SystemSpec, root: Path | None = None) -> bool:
    """Whether intact local data of the task's present settings is cached for ``spec`` (made with any seed)."""
    md = task.protocol(tier).local_md
    folder = store.system_dir(task.name, tier, spec.name, root)
    return md is not None and _is_current(folder, store.read_manifest(folder), task, local_settings_record(spec, md), None)


def prepare_system(task: Task, tier: str, spec: SystemSpec, root: Path | None = None, seed: int = 0,
                   progress: bool = True, stop_after_segments: int | None = None, force: bool = False,
                   workers: int | None = None) -> Path:
    """Generate, split and store the local reference data of one system; returns its folder.

    Skips the work when a complete, valid, up-to-date copy is already cached. ``force`` starts over:
    the cached copy and any unfinished work are discarded.
    """
    protocol = task.protocol(tier)
    if protocol.local_md is None:
        raise DataError(f"Task {task.name} tier {tier!r} uses published data; run `bgbench data fetch {task.name}` "
                        f"or `bgbench data import {task.name} --from DIR` instead.")
    md = protocol.local_md
    folder = store.system_dir(task.name, tier, spec.name, root)
    settings = local_settings_record(spec, md)
    if force:
        store.clear_scratch(folder)
    elif _is_current(folder, store.read_manifest(folder), task, settings, seed):
        return folder
    n_test = md.replicas[2] * md.frames_per_replica
    if n_test < protocol.n_eval_samples:
        raise DataError(f"The test split of {spec.name} would have {n_test} frames, fewer than the "
                        f"{protocol.n_eval_samples} evaluation samples; add test replicas to task {task.name}.")

    plan = plan_for(task, tier, spec, seed)
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    backend = get_backend(md.backend, workers)
    try:
        frames, energies = simulate_replicas(spec, plan, store.scratch_dir(folder), backend, progress=progress,
                                             stop_after_segments=stop_after_segments)
    finally:
        backend.close()  # workers end here, so their CPU time is counted below
    seconds = round(time.perf_counter() - t0, 1)  # of this process only, if the run was resumed
    cpu = round(cpu_seconds() - cpu0, 1)

    system = spec.build()
    ranges = split_ranges(md.replicas)
    version = store.next_version(folder)  # the cached version stays readable until the commit
    populations = {}
    for role in SPLITS:
        part = frames[slice(*ranges[role])]
        atomic_save_npy(version / LOCAL_FILES[role], part.reshape(-1, *part.shape[2:]))
        if len(part) > 0:
            populations[role] = basins.as_table(basins.populations(list(part), system))
    atomic_save_npy(version / LOCAL_FILES["energies"], energies.reshape(-1))
    atomic_write_text(version / LOCAL_FILES["pdb"], topology_pdb_text(system, system.minimized_positions))
    train = frames[slice(*ranges["train"])]
    store.commit_version(
        folder, version, list(LOCAL_FILES.values()),
        source="local-md", task=task.name, tier=tier, system=spec.name, task_version=task.version,
        settings=settings, user_seed=seed, roles={r: f"{version.name}/{n}" for r, n in LOCAL_FILES.items()},
        replica_ranges=ranges, segments={r: [md.frames_per_replica] * (b - a) for r, (a, b) in ranges.items()},
        start_basins={r: [list(plan.start_basins[i]) for i in range(a, b)] for r, (a, b) in ranges.items()},
        replica_seeds=list(plan.seeds), n_frames=int(frames.shape[0] * frames.shape[1]),
        generation_seconds=seconds, generation_cpu_seconds=cpu, md_backend=md.backend, basin_populations=populations,
        std_nm=standardization_std(train.reshape(-1, *train.shape[2:])),
        units={"positions": "nm", "energies": "kJ/mol (potential energy of each frame; train, val, test replicas in order)"},
    )
    store.clear_scratch(folder)
    return folder


def prepare_task(task: Task, tier: str = "quick", root: Path | None = None, seed: int = 0, progress: bool = True,
                 force: bool = False, workers: int | None = None) -> list[Path]:
    """Prepare every system of a task's tier (and the quick corpus first for transferable tasks)."""
    if task.transferable and tier == "quick":
        from benchmark.data.corpus_md import prepare_corpus

        prepare_corpus(tier, root=root, progress=progress, force=force, workers=workers)
    return [prepare_system(task, tier, spec, root, seed, progress, force=force, workers=workers)
            for spec in task.systems_for(tier)]


__all__ = ["SPLITS", "is_current", "plan_for", "prepare_system", "prepare_task", "split_ranges"]
