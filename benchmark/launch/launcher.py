"""Run a plan: training jobs first, then the system jobs whose training finished; skip what is done.

The launcher decides what runs; an executor decides where. Before submitting anything it checks
each job's result (``is_done``), so a relaunch of a plan submits only the jobs that have not
finished, and a training job whose system jobs are all done is not run again. A system job whose
training failed is reported as blocked, not run (it would train by itself, once per system).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.launch.executors import Executor
from benchmark.launch.jobs import JobCall, Outcome, is_done
from benchmark.launch.plan import JOBS_DIR, JobSpec, read_plan

RESULTS_DIR = "results"
FINISHED = ("ok", "skipped")


@dataclass
class LaunchReport:
    """Every job's outcome, in the order they came; ``ok`` when none failed or was blocked."""

    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return all(o.status in FINISHED for o in self.outcomes)


def default_results(plan_dir: Path) -> Path:
    return Path(plan_dir) / RESULTS_DIR


def launch(plan_dir: Path, executor: Executor, results: Path | None = None, data_dir: Path | None = None,
           work_dir: Path | None = None, device: str = "cpu",
           report: Callable[[Outcome], None] = lambda o: None) -> LaunchReport:
    """Run every unfinished job of ``plan_dir`` with ``executor``; results go to ``results``
    (default ``<plan>/results``). ``data_dir``/``work_dir`` override the specs' locations."""
    t0 = time.perf_counter()
    plan_dir = Path(plan_dir).resolve()
    results = Path(results or default_results(plan_dir)).resolve()
    jobs = read_plan(plan_dir)
    out = LaunchReport()

    by_id = {job.id: job for job in jobs}

    def note(outcome: Outcome) -> None:
        if outcome.kind == "?" and outcome.job in by_id:  # a lost job: the executor knew only its spec file
            job = by_id[outcome.job]
            outcome = dataclasses.replace(outcome, label=job.label, kind=job.kind)
        out.outcomes.append(outcome)
        report(outcome)

    def call(job: JobSpec) -> JobCall:
        return JobCall(spec_path=str(plan_dir / JOBS_DIR / f"{job.id}.json"), results=str(results),
                       data_dir=str(Path(data_dir).resolve()) if data_dir else None,
                       work_dir=str(Path(work_dir).resolve()) if work_dir else None,
                       device=device, cwd=str(Path.cwd()), executor=executor.name)

    def skipped(job: JobSpec, why: str) -> Outcome:
        return Outcome(job.id, job.label, job.kind, "skipped", why)

    done = {job.id for job in jobs if is_done(job, results)}
    systems = [j for j in jobs if j.kind == "system"]
    needed = {dep for j in systems if j.id not in done for dep in j.depends_on}
    finished: set[str] = set(done)
    for job in (j for j in jobs if j.kind == "train"):
        if job.id in done:
            note(skipped(job, "already trained"))
        elif job.id not in needed:
            note(skipped(job, "its system jobs are done"))
            finished.add(job.id)
    todo = [j for j in jobs if j.kind == "train" and j.id not in finished]
    for outcome in executor.map([call(j) for j in todo], note):
        if outcome.status in FINISHED:
            finished.add(outcome.job)
    runnable = []
    for job in systems:
        if job.id in done:
            note(skipped(job, "result is there"))
        elif all(d in finished for d in job.depends_on):
            runnable.append(job)
        else:
            note(Outcome(job.id, job.label, job.kind, "blocked", f"its training job {job.depends_on} did not finish"))
    executor.map([call(j) for j in runnable], note)
    out.wall_s = time.perf_counter() - t0
    return out


__all__ = ["LaunchReport", "default_results", "launch"]
