"""Shards of a run -> one run record, with where each shard ran; refuse shards of different runs.

A system job writes a record with one system. ``merge_records`` combines the shards of one run
(same method, version and config, task version and tier, budget, seed, sampler, protocol and
chirality fix; for launch shards, the same run id) into the record a single process would have written, system by system, and
keeps each shard's provenance (host, device, wall time, spec id) under ``environment.shards``.
Shards that disagree on any of those are refused with the field that differs: they are different
runs and averaging them would be wrong. When two records hold the same system, the newer one wins
(a rerun) and the replaced record is named in the result, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmark.errors import BgbenchError
from benchmark.results import RecordError, RunRecord, read_record, write_record

SHARDS_KEY = "shards"


class MergeError(BgbenchError):
    """Records that are not shards of one run."""


#: What shards of one run must agree on. The launch run id hashes every setting of the spec.
IDENTITY: dict[str, Callable[[RunRecord], Any]] = {
    "task (name, tier)": lambda r: (r.task.get("name"), r.task.get("tier")),
    "task version": lambda r: r.task.get("version"),
    "method (name, version)": lambda r: (r.method.get("name"), r.method.get("version")),
    "method config": lambda r: r.method.get("config"),
    "budget": lambda r: r.budget,
    "seed": lambda r: r.seed,
    "sampler": lambda r: r.sampler,
    "protocol": lambda r: r.protocol,
    "chirality fix": lambda r: r.evaluation.get("fix_chirality"),  # the rest of evaluation is per system
    "final set": lambda r: r.final_set or None,
    "isolation": lambda r: r.isolation,
    "track": lambda r: r.track,
    "launch run id": lambda r: _launch(r).get("run"),
}


#: Fields a shard may not know (None): the evaluation settings and answer set of a shard whose only
#: system failed, the launch run id of a record not written by a launch. These are not compared.
UNKNOWABLE = ("chirality fix", "final set", "launch run id")


def check_same_run(records: Sequence[RunRecord], names: Sequence[str]) -> None:
    """Raise MergeError naming the first field on which two records differ."""
    for what, get in IDENTITY.items():
        seen = [(name, get(r)) for name, r in zip(names, records) if not (what in UNKNOWABLE and get(r) is None)]
        for name, value in seen[1:]:
            if value != seen[0][1]:
                raise MergeError(f"Not shards of one run: {what} differ ({seen[0][0]}: {seen[0][1]!r}; {name}: {value!r}). "
                                 "Merge each run's shards separately.")


@dataclass
class Merged:
    """The merged record, which input each system came from, the inputs used and those a newer record replaced."""

    record: RunRecord
    source: dict[str, int]
    used: list[int]
    replaced: list[int] = field(default_factory=list)


def _launch(record: RunRecord) -> dict[str, Any]:
    """What the launch job that wrote ``record`` says about it ({} for other records)."""
    launch = record.environment.get("launch")
    return launch if isinstance(launch, dict) else {}


def _shard_entries(record: RunRecord, name: str, systems: list[str]) -> list[dict[str, Any]]:
    """Provenance of the systems taken from ``record`` (a merged record carries its shards' entries)."""
    env = record.environment
    if isinstance(env.get(SHARDS_KEY), list):
        return [e for e in env[SHARDS_KEY] if isinstance(e, dict) and set(map(str, e.get("systems") or [])) & set(systems)]
    launch = _launch(record)
    return [{"systems": systems, "file": name, "created": record.created, "host": launch.get("host"),
             "device": launch.get("device"), "gpu": env.get("gpu"), "cpu": env.get("cpu"),
             "executor": launch.get("executor"), "scheduler_job": launch.get("scheduler_job"),
             "spec": launch.get("spec"), "git_revision": env.get("git_revision"),
             "wall_time_s": {**record.wall_time_s, "job": launch.get("wall_time_s")}}]


def merge_records(records: Sequence[RunRecord], names: Sequence[str] | None = None) -> Merged:
    """One record of a run from its shards (any order); each system from the newest record that has it."""
    if not records:
        raise MergeError("Nothing to merge.")
    names = list(names or [f"record {i}" for i in range(len(records))])
    check_same_run(records, names)
    order = sorted(range(len(records)), key=lambda i: (str(records[i].created), i))
    source: dict[str, int] = {}
    for i in order:
        for system in records[i].systems:
            source[system] = i
    used = [i for i in order if i in source.values()]
    replaced = [i for i in order if i not in used]
    task_order = expected_systems(records[0])  # a single-process run lists systems in the task's order
    rank = {s: (task_order.index(s) if s in task_order else len(task_order), s) for s in source}
    systems = {s: records[source[s]].systems[s] for s in sorted(source, key=rank.__getitem__)}
    newest = records[used[-1]]
    shards = [e for i in used for e in _shard_entries(records[i], names[i], [s for s, j in source.items() if j == i])]
    wall: dict[str, float] = {}
    for i in used:
        for key, value in records[i].wall_time_s.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                wall[key] = wall.get(key, 0.0) + float(value)
    training = {k: v for i in used if isinstance(records[i].method.get("training_seconds"), dict)
                for k, v in records[i].method["training_seconds"].items()}
    method = {**newest.method, "training_seconds": training,
              "parameters": next((records[i].method.get("parameters") for i in reversed(used)
                                  if records[i].method.get("parameters") is not None), None)}
    environment = {k: v for k, v in newest.environment.items() if k not in ("launch", SHARDS_KEY)}
    environment[SHARDS_KEY] = shards
    # Per-system settings (TICA features, the energy platform) stand as a single run leaves them:
    # those of the last system that has them.
    last = [records[source[s]] for s in reversed(list(systems))]
    record = replace(
        newest, method=method, systems=systems, wall_time_s=wall, environment=environment,
        evaluation=next((r.evaluation for r in last if r.evaluation), {}),
        final_set=next((r.final_set for r in last if r.final_set), ""),
        energy=next((r.energy for r in last if r.energy), {}),
        created=max(str(records[i].created) for i in used),
    )
    return Merged(record, source, used, replaced)


def expected_systems(record: RunRecord) -> list[str]:
    """The systems the record's task evaluates in its tier, if this bgbench knows that task version."""
    from benchmark.tasks import get_task

    try:
        task = get_task(str(record.task["name"]))
    except BgbenchError:
        return []
    if int(task.version) != int(record.task["version"]):
        return []
    return [s.name for s in task.systems_for(str(record.task["tier"]))]


def merge_sidecars(paths: Sequence[Path], merged: Merged, out: Path) -> None:
    """The plot data of the systems taken from each shard, next to the merged record."""
    from benchmark.plot_data import read_plot_data, sidecar_path, write_plot_data

    data: dict = {}
    for i in merged.used:
        path = sidecar_path(paths[i])
        if path.exists():
            mine = {s for s, j in merged.source.items() if j == i}
            data.update({k: v for k, v in read_plot_data(path).items() if k.split("/", 1)[0] in mine})
    if data:
        write_plot_data(out, data)


def read_shards(paths: Sequence[Path]) -> tuple[list[RunRecord], list[Path]]:
    """Records from files and folders (every ``*.json`` below a folder); unreadable ones are errors."""
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.rglob("*.json")) if p.is_dir() else [p])
    records = []
    for f in files:
        try:
            records.append(read_record(f))
        except RecordError as err:
            raise MergeError(f"{err}; remove it or rerun its job.") from err
    return records, files


def write_merged(merged: Merged, paths: Sequence[Path], out: Path) -> Path:
    write_record(merged.record, out)
    merge_sidecars(paths, merged, out)
    return out


@dataclass
class RunMerge:
    """One run of a plan: its merged record (None if no shard exists yet) and the systems it lacks."""

    name: str
    run_id: str
    merged: Merged | None
    paths: list[Path]
    missing: list[str]

    @property
    def failed(self) -> list[str]:
        return self.merged.record.failed if self.merged else []


def merge_plan(plan_dir: Path, results: Path | None = None) -> list[RunMerge]:
    """Merge the shards of every run of a plan; a shard counts only if it was written for its spec."""
    from benchmark.launch.jobs import LAUNCH_KEY, marker_path, shard_path
    from benchmark.launch.launcher import default_results
    from benchmark.launch.plan import read_plan

    results = Path(results or default_results(plan_dir))
    jobs = read_plan(plan_dir)
    trains = {j.id: j for j in jobs if j.kind == "train"}
    runs: dict[str, list] = {}
    for job in jobs:
        if job.kind == "system":
            runs.setdefault(job.run_id, []).append(job)
    out = []
    for run_id, run_jobs in runs.items():
        records, paths, missing = [], [], []
        for job in run_jobs:
            path = shard_path(job, results)
            try:
                record = read_record(path)
            except RecordError:
                missing.append(job.content["system"])
                continue
            if (record.environment.get(LAUNCH_KEY) or {}).get("spec") != job.id:
                missing.append(job.content["system"])
                continue
            records.append(record)
            paths.append(path)
        merged = merge_records(records, [p.relative_to(results).as_posix() for p in paths]) if records else None
        if merged is not None:
            markers = [marker_path(trains[d], results) for d in run_jobs[0].depends_on if d in trains]
            _add_training(merged.record, [m for m in markers if m.is_file()])
        out.append(RunMerge(run_jobs[0].run_name, run_id, merged, paths, missing))
    return out


def _add_training(record: RunRecord, markers: list[Path]) -> None:
    """What the plan's training job reports (its wall time, host, training seconds) joins the record."""
    import json

    for path in markers:
        marker = json.loads(path.read_text())
        method = marker.get("method", {})
        record.method["training_seconds"] = {**(method.get("training_seconds") or {}), **record.method.get("training_seconds", {})}
        if record.method.get("parameters") is None:
            record.method["parameters"] = method.get("parameters")
        record.environment["training_job"] = marker.get("launch")


__all__ = ["IDENTITY", "MergeError", "Merged", "check_same_run", "expected_systems", "merge_records", "merge_sidecars",
           "merge_plan", "read_shards", "RunMerge", "write_merged"]
