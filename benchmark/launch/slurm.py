"""SLURM through submitit: one array per batch, requeued on preemption; or submitit's local executor.

submitit pickles ``run_job`` with its ``JobCall`` into ``<folder>/``, submits a job array
(``sbatch``), and unpickles the outcome when the job ends. Jobs are ``Checkpointable``: when SLURM
preempts or times out a job, submitit requeues it with the same call, and the job picks up where it
stands (a finished result is skipped, a training run resumes from its weights-store checkpoint if
the method writes one). ``cluster="local"`` runs the same pickled jobs as subprocesses of this
machine, which is how a plan is tried without a cluster (and how the tests run this path).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import submitit

from benchmark.launch.executors import Executor, JobFn, Report, code_on_pythonpath, lost
from benchmark.launch.jobs import JobCall, Outcome, run_job


class CheckpointableJob(submitit.helpers.Checkpointable):
    """``run_job`` as submitit runs it; ``checkpoint`` (inherited) resubmits it with the same call."""

    def __init__(self, job_fn: JobFn = run_job):
        self.job_fn = job_fn

    def __call__(self, call: JobCall) -> Outcome:
        return self.job_fn(call)


class SubmititExecutor(Executor):
    """Jobs as SLURM array tasks (``cluster="slurm"``) or local subprocesses (``cluster="local"``).

    ``workers`` bounds how many run at once (SLURM's array parallelism; locally, jobs in flight).
    """

    name = "slurm"

    def __init__(self, folder: Path, cluster: str = "slurm", workers: int | None = None, partition: str | None = None,
                 gpus_per_job: int = 0, cpus_per_job: int = 1, timeout_min: int = 240, mem_gb: float | None = None,
                 slurm_options: dict[str, Any] | None = None, job_fn: JobFn = run_job, poll_s: float = 1.0):
        super().__init__(job_fn)
        if cluster not in ("slurm", "local"):
            raise ValueError(f"submitit cluster must be 'slurm' or 'local', not {cluster!r}")
        self.cluster, self.workers, self.poll_s = cluster, workers, poll_s
        self.executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
        params: dict[str, Any] = {"name": "bgbench", "timeout_min": int(timeout_min), "nodes": 1, "tasks_per_node": 1,
                                  "cpus_per_task": int(cpus_per_job), "gpus_per_node": int(gpus_per_job)}
        if mem_gb:
            params["mem_gb"] = mem_gb
        if cluster == "slurm":
            if partition:
                params["slurm_partition"] = partition
            if workers:
                params["slurm_array_parallelism"] = int(workers)
            if slurm_options:
                params["slurm_additional_parameters"] = dict(slurm_options)
        self.executor.update_parameters(**params)
        if cluster == "local":
            self.name = "submitit-local"

    def _collect(self, job, call: JobCall) -> Outcome:
        try:
            return job.result()
        except Exception as err:  # submitit raises when the job died, was cancelled or failed to unpickle
            return lost(call, f"{type(err).__name__} (submitit job {job.job_id}): {str(err).strip()[-500:]}")

    def map(self, calls: list[JobCall], report: Report) -> list[Outcome]:
        if not calls:
            return []
        task = CheckpointableJob(self.job_fn)
        outcomes: list[Outcome] = []
        with code_on_pythonpath():
            if self.cluster == "slurm":  # one array; SLURM enforces the parallelism
                with self.executor.batch():
                    jobs = [self.executor.submit(task, call) for call in calls]
                by_job = {id(j): c for j, c in zip(jobs, calls)}
                for job in submitit.helpers.as_completed(jobs, poll_frequency=max(self.poll_s, 10.0)):
                    outcomes.append(self._collect(job, by_job[id(job)]))
                    report(outcomes[-1])
                return outcomes
            # local: every submitted job starts at once, so keep at most `workers` in flight
            todo, running = list(calls), []
            limit = self.workers or 1
            while todo or running:
                while todo and len(running) < limit:
                    call = todo.pop(0)
                    running.append((self.executor.submit(task, call), call))
                finished = [(j, c) for j, c in running if j.done()]
                for job, call in finished:
                    running.remove((job, call))
                    outcomes.append(self._collect(job, call))
                    report(outcomes[-1])
                if not finished:
                    time.sleep(self.poll_s)
        return outcomes


__all__ = ["CheckpointableJob", "SubmititExecutor"]
