"""Fixtures: a tiny two-system task registered under a name (plans refer to tasks by name), its data,
and an executor that runs jobs in this process (so tests of plans, jobs and merges need no workers)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmark.data import generate
from benchmark.launch.executors import Executor
from benchmark.launch.jobs import run_job
from benchmark.systems import AMBER99SBILDN_OBC, CAPPED, SystemSpec
from benchmark.tasks import get_task
from benchmark.tasks.protocol import LocalMD
from benchmark.tasks.registry import TASKS

N_EVAL = 50


def tiny_task():
    """Two fast capped peptides, ~5000 MD steps of reference data (4 replicas, longer than the TICA lag) each, 50 evaluation samples, budget 300."""
    base = get_task("ALDP")
    md = LocalMD(replicas=(2, 1, 1), frames_per_replica=120, frame_interval_steps=10, warmup_steps=200)
    quick = dataclasses.replace(base.protocol("quick"), n_eval_samples=N_EVAL, budgets=(300,), local_md=md)
    systems = (base.systems[0], SystemSpec("Ace-AA-Nme", "AA", CAPPED, AMBER99SBILDN_OBC.with_friction(1.0)))
    return dataclasses.replace(base, name="TINY", systems=systems, protocols={**base.protocols, "quick": quick})


@pytest.fixture
def tiny(monkeypatch):
    """The TINY task, findable by name in this process."""
    task = tiny_task()
    monkeypatch.setitem(TASKS, "TINY", task)
    return task


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny-data")
    generate.prepare_task(tiny_task(), "quick", root=root, progress=False)
    return root


class InProcess(Executor):
    """Runs each job here, one after the other: the launcher's logic without worker processes."""

    name = "in-process"

    def __init__(self):
        super().__init__(run_job)
        self.batches: list[list[str]] = []

    def map(self, calls, report):
        self.batches.append([Path(c.spec_path).stem for c in calls])
        outcomes = []
        for call in calls:
            outcomes.append(self.job_fn(call))
            report(outcomes[-1])
        return outcomes


@pytest.fixture
def in_process():
    return InProcess()
