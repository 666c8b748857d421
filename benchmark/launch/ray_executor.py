"""Ray: one task per job, GPUs and CPUs as task resources, on a cluster or on one multi-GPU node.

With ``address`` the launcher joins a running cluster (``ray start --head`` on the head node,
``ray start --address=...`` on the others; bgbench installed on every node, data and weights on a
shared filesystem). Without it, it starts a small local instance (no dashboard, a small object
store: jobs exchange only paths and outcomes) and shuts it down at the end. Ray places each task
where its resources are free and sets CUDA_VISIBLE_DEVICES for the GPUs it grants; a task lost with
its node is retried.
"""

from __future__ import annotations

import logging

import ray

from benchmark.errors import BgbenchError
from benchmark.launch.executors import Executor, JobFn, Report, code_on_pythonpath, lost
from benchmark.launch.jobs import JobCall, Outcome, run_job


class RayExecutor(Executor):
    """Up to ``workers`` jobs in flight (default: as many as Ray's resources allow)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, gpus_per_job: float = 0,
                 cpus_per_job: float = 1, num_cpus: int | None = None, num_gpus: int | None = None,
                 object_store_mb: int = 100, max_retries: int = 2, job_fn: JobFn = run_job):
        super().__init__(job_fn)
        self.workers = workers
        self._started = False
        self._init = {"include_dashboard": False, "logging_level": logging.WARNING}
        if address:
            self._init["address"] = address
        else:
            self._init.update(num_cpus=num_cpus, num_gpus=num_gpus, object_store_memory=int(object_store_mb) << 20)
        self._task = {"num_cpus": cpus_per_job, "num_gpus": gpus_per_job, "max_retries": max_retries}
        self.remote = None

    def _start(self) -> None:
        """Join or start Ray when there is work (a relaunch of a finished plan starts nothing)."""
        if self.remote is not None:
            return
        if not ray.is_initialized():
            try:
                with code_on_pythonpath():  # a local instance's workers inherit this environment
                    ray.init(**self._init)
            except (RuntimeError, ConnectionError, ValueError) as err:
                raise BgbenchError(f"Ray did not start or connect ({self._init.get('address', 'local')}): {err}") from err
            self._started = True
        self.remote = ray.remote(**self._task)(self.job_fn)

    def map(self, calls: list[JobCall], report: Report) -> list[Outcome]:
        if not calls:
            return []
        self._start()
        todo, running = list(calls), {}
        limit = self.workers or len(calls)
        outcomes: list[Outcome] = []
        while todo or running:
            while todo and len(running) < limit:
                call = todo.pop(0)
                running[self.remote.remote(call)] = call
            (ref,), _ = ray.wait(list(running), num_returns=1)
            call = running.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as err:  # the task's worker or node died, or it was cancelled
                outcome = lost(call, f"{type(err).__name__}: {str(err).strip()[-500:]}")
            report(outcome)
            outcomes.append(outcome)
        return outcomes

    def close(self) -> None:
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started, self.remote = False, None


__all__ = ["RayExecutor"]
