"""Where jobs run: a local process pool, SLURM through submitit, or Ray. No scheduler of our own.

An executor takes a batch of ``JobCall``s, runs ``run_job`` on each somewhere, and reports every
``Outcome`` as it arrives. It never decides what to run (the launcher does: training before the
system jobs that need it, finished jobs skipped); it only maps jobs onto workers. A worker that
dies, a job that SLURM or Ray loses, is reported as a failed outcome, never raised, so one bad
node does not stop the other jobs, and a relaunch retries only what did not finish.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from benchmark.errors import BgbenchError
from benchmark.launch.jobs import JobCall, Outcome, run_job

JobFn = Callable[[JobCall], Outcome]
Report = Callable[[Outcome], None]


def lost(call: JobCall, why: str) -> Outcome:
    """The outcome of a job whose worker never reported back."""
    return Outcome(Path(call.spec_path).stem, Path(call.spec_path).stem, "?", "failed", why)


def code_root() -> str:
    """The directory that holds the ``benchmark`` package the launcher runs (workers must import the same)."""
    import benchmark

    return str(Path(benchmark.__file__).resolve().parent.parent)


@contextlib.contextmanager
def code_on_pythonpath() -> Iterator[None]:
    """Put the launcher's bgbench first on PYTHONPATH while workers are started, so that subprocesses
    (submitit's local jobs, SLURM jobs, a local Ray instance) import this checkout, not another install."""
    old = os.environ.get("PYTHONPATH")
    parts = [code_root()] + ([old] if old else [])
    os.environ["PYTHONPATH"] = os.pathsep.join(parts)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


class Executor(ABC):
    """Runs batches of jobs; ``close`` releases whatever it started (pool, Ray instance)."""

    name: str = "?"

    def __init__(self, job_fn: JobFn = run_job):
        self.job_fn = job_fn

    @abstractmethod
    def map(self, calls: list[JobCall], report: Report) -> list[Outcome]:
        """Run every call and return their outcomes (in completion order), reporting each as it comes."""

    def close(self) -> None:
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _init_worker(threads: int) -> None:
    """Share the CPU between pool workers (torch and OpenMM read these when first imported)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class LocalExecutor(Executor):
    """A pool of ``workers`` processes on this machine (spawned, not forked: torch and OpenMM hold
    threads that a fork would copy in a broken state). Workers are kept between batches."""

    name = "local"

    def __init__(self, workers: int = 1, job_fn: JobFn = run_job):
        super().__init__(job_fn)
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            threads = max(1, (os.cpu_count() or 1) // self.workers)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=(threads,))
        return self._pool

    def map(self, calls: list[JobCall], report: Report) -> list[Outcome]:
        if not calls:
            return []
        pool = self._get_pool()
        futures = {pool.submit(self.job_fn, call): call for call in calls}
        outcomes = []
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except BrokenProcessPool:
                self._pool = None  # a worker died (killed, out of memory, crashed): a fresh pool next batch
                outcome = lost(futures[future], "the worker process died (killed, out of memory or crashed)")
            except Exception as err:
                outcome = lost(futures[future], f"{type(err).__name__}: {err}")
            report(outcome)
            outcomes.append(outcome)
        return outcomes

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


__all__ = ["Executor", "LocalExecutor", "code_on_pythonpath", "code_root", "lost"]
