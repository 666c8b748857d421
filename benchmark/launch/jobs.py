"""Run one job of a plan on whatever machine an executor put it on, and tell whether it is done.

Every executor calls ``run_job``; it is the only code that turns a spec into work. A training job
sets the method up through ``Runner.prepare`` (weights land in the weights store under their key)
and leaves a small marker; a system job runs the Runner on its one system and writes its own shard
record. Both are idempotent: a job whose result is intact (readable, status ok, same spec id) is
skipped, and a per-job lock makes two launches of one plan wait for each other instead of running a
job twice or writing one file from two processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmark.io import atomic_write_text
from benchmark.launch.plan import JobSpec, PlanError, code_hash, expand_location, read_spec

log = logging.getLogger(__name__)

TRAIN_DIR = "train"
LOCK_DIR = ".locks"
LOG_DIR = "logs"
#: The key of a shard record's ``environment`` that says which job wrote it, where and how long it took.
LAUNCH_KEY = "launch"


@dataclass(frozen=True)
class JobCall:
    """One job as an executor hands it to a worker: the spec, plus what was chosen at launch.

    Paths here are the launch's explicit choices (absolute); they are not part of the spec's hash.
    """

    spec_path: str
    results: str
    data_dir: str | None = None  # None: the spec's location (e.g. $BGBENCH_DATA) expanded on the worker
    work_dir: str | None = None
    device: str = "cpu"
    cwd: str | None = None  # the launch directory: submission folders are relative to it
    executor: str = "local"


@dataclass(frozen=True)
class Outcome:
    """What became of one job: "ok", "skipped" (its result was already there) or "failed"."""

    job: str
    label: str
    kind: str
    status: str
    detail: str = ""
    wall_s: float = 0.0
    host: str = ""


def shard_path(job: JobSpec, results: Path) -> Path:
    """``<results>/<run name>-<run id>/<system>.json``: one folder per run, one record per system."""
    return Path(results) / f"{job.run_name}-{job.run_id}" / f"{job.content['system']}.json"


def marker_path(job: JobSpec, results: Path) -> Path:
    """A training job's marker; not ``.json``, so a leaderboard pointed at the results never reads it."""
    return Path(results) / TRAIN_DIR / f"{job.run_name}-{job.id}.done"


def result_path(job: JobSpec, results: Path) -> Path:
    return marker_path(job, results) if job.kind == "train" else shard_path(job, results)


def is_done(job: JobSpec, results: Path) -> bool:
    """True when the job's result exists, is intact, succeeded and was written for this very spec."""
    path = result_path(job, results)
    if not path.is_file():
        return False
    if job.kind == "train":
        try:
            marker = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return False
        return marker.get("status") == "ok" and marker.get("spec") == job.id
    from benchmark.results import RecordError, read_record

    try:
        record = read_record(path)
    except RecordError:
        return False
    system = record.systems.get(job.content["system"])
    launch = record.environment.get(LAUNCH_KEY) or {}
    return launch.get("spec") == job.id and system is not None and system.status == "ok" and not record.failed


@contextlib.contextmanager
def job_lock(results: Path, job: JobSpec) -> Iterator[None]:
    """Exclusive lock on one job (flock), so concurrent launches run it once and never write it twice."""
    folder = Path(results) / LOCK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{job.id}.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("%s: another launch is running this job; waiting for it", job.label)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _job_log(results: Path, job: JobSpec) -> Iterator[Path]:
    """The job's log messages also go to ``<results>/logs/<id>.log`` (workers' stderr interleaves)."""
    path = Path(results) / LOG_DIR / f"{job.id}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def _method(ref: dict[str, Any]) -> str | type:
    """The method a spec names, checked against what was planned (a submission's code must not have changed)."""
    if ref["source"] == "class":
        import importlib

        module, _, qualname = ref["ref"].partition(":")
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    if ref["source"] == "folder":
        folder = Path(ref["ref"])
        if not folder.is_dir():
            raise PlanError(f"Submission folder {folder} does not exist in {Path.cwd()} on {socket.gethostname()}; "
                            "launch from the directory the plan was made in (on a shared filesystem).")
        if code_hash(folder) != ref["code_sha256"]:
            raise PlanError(f"The code of {folder} changed since the plan was made; plan again to run the new code.")
    return str(ref["ref"])


def run_config(job: JobSpec, call: JobCall, out: Path | None = None):
    """The RunConfig of a job: the spec's settings plus the launch's device and locations."""
    from benchmark.runner import RunConfig

    c = job.content
    sampler = c.get("sampler") or {}
    data = call.data_dir or expand_location(c["locations"]["data"])
    work = call.work_dir or expand_location(c["locations"]["work"])
    return RunConfig(
        method=_method(c["method"]), task=c["task"]["name"], tier=c["task"]["tier"], budget=c.get("budget"),
        sampler=sampler.get("name"), sampler_options=dict(sampler.get("options", {})), seed=int(c["seed"]),
        systems=[c["system"]] if job.kind == "system" else list(c["systems"]), out=out, device=call.device,
        overwrite=True, fix_chirality=bool(c.get("fix_chirality", True)),
        method_config=dict(c["method"]["overrides"]), platform=str(c.get("platform", "auto")),
        energy=str(c.get("energy", {}).get("backend", "torch")),
        energy_precision=str(c.get("energy", {}).get("precision", "float64")),
        work_dir=Path(work) if work else None, data_dir=Path(data) if data else None,
    )


def _check(runner, job: JobSpec) -> None:
    """Refuse to run a spec that this code would resolve differently from when it was planned."""
    c = job.content
    now = {"task version": int(runner.task.version), "method version": str(runner.method.version),
           "method config": runner.method.config}
    planned = {"task version": c["task"]["version"], "method version": c["method"]["version"],
               "method config": c["method"]["config"]}
    changed = [k for k in now if now[k] != planned[k]]
    if changed:
        raise PlanError(f"{job.label}: the {', '.join(changed)} changed since planning "
                        f"({[planned[k] for k in changed]} -> {[now[k] for k in changed]}); plan again.")


def scheduler_job_id() -> str | None:
    """The SLURM job (array task) this process runs in, if any."""
    env = os.environ
    if env.get("SLURM_ARRAY_JOB_ID"):
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env.get('SLURM_ARRAY_TASK_ID', '')}"
    return env.get("SLURM_JOB_ID")


def provenance(job: JobSpec, call: JobCall, wall_s: float) -> dict[str, Any]:
    """Where and how a job ran; the spec id is what skipping compares."""
    return {"spec": job.id, "run": job.run_id, "label": job.label, "host": socket.gethostname(),
            "device": call.device, "executor": call.executor, "scheduler_job": scheduler_job_id(),
            "wall_time_s": round(wall_s, 3), "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _train(job: JobSpec, call: JobCall, t0: float) -> str:
    from benchmark.runner import Runner

    runner = Runner(run_config(job, call))
    _check(runner, job)
    ctx = runner.train()
    marker = {"spec": job.id, "kind": "train", "status": "ok", "label": job.label,
              "method": {k: v for k, v in runner.method.describe().items() if k in ("parameters", "training_seconds")},
              "weights": str(ctx.weights.root), LAUNCH_KEY: provenance(job, call, time.perf_counter() - t0)}
    atomic_write_text(marker_path(job, Path(call.results)), json.dumps(marker, indent=2, default=str) + "\n")
    return ""


def _system(job: JobSpec, call: JobCall, t0: float) -> str:
    from benchmark.results import write_record
    from benchmark.runner import Runner

    out = shard_path(job, Path(call.results))
    runner = Runner(run_config(job, call, out=out))
    _check(runner, job)
    record = runner.run()
    record.environment[LAUNCH_KEY] = provenance(job, call, time.perf_counter() - t0)
    write_record(record, out)
    failed = record.systems[job.content["system"]]
    return "" if failed.status == "ok" else str(failed.error)


def run_job(call: JobCall) -> Outcome:
    """Run one job unless its result is already there; never raises for the job's own failure."""
    t0 = time.perf_counter()
    host = socket.gethostname()
    try:
        job = read_spec(Path(call.spec_path))
    except PlanError as err:
        return Outcome(Path(call.spec_path).stem, call.spec_path, "?", "failed", str(err), 0.0, host)

    def outcome(status: str, detail: str = "") -> Outcome:
        return Outcome(job.id, job.label, job.kind, status, detail, round(time.perf_counter() - t0, 3), host)

    results = Path(call.results)
    try:
        if call.cwd and Path(call.cwd).is_dir():
            os.chdir(call.cwd)
        with job_lock(results, job):
            if is_done(job, results):
                return outcome("skipped")
            with _job_log(results, job) as log_path:
                log.info("%s (%s) on %s, device %s", job.label, job.id, host, call.device)
                error = (_train if job.kind == "train" else _system)(job, call, t0)
        return outcome("failed", f"{error} (log: {log_path})") if error else outcome("ok")
    except Exception as err:  # the job's failure is its outcome; the launch goes on with the others
        log.error("%s failed: %s", job.label, err)
        return outcome("failed", f"{type(err).__name__}: {err}")


__all__ = ["JobCall", "LAUNCH_KEY", "Outcome", "is_done", "marker_path", "provenance", "result_path", "run_config",
           "run_job", "shard_path"]
