"""Small tasks for data tests: the real task definitions with a few short MD replicas."""

from __future__ import annotations

import dataclasses

import pytest

from benchmark.data import replica_md
from benchmark.tasks import get_task
from benchmark.tasks.protocol import LocalMD


def _tiny_task(name: str = "ALDP", replicas: tuple[int, int, int] = (3, 1, 2), frames: int = 20, interval: int = 10,
               warmup: int = 100, n_eval: int = 20):
    """``name`` with a quick protocol of a few short replicas (120 frames by default)."""
    task = get_task(name)
    quick = dataclasses.replace(task.protocol("quick"), n_eval_samples=n_eval,
                                local_md=LocalMD(replicas=replicas, frames_per_replica=frames,
                                                 frame_interval_steps=interval, warmup_steps=warmup))
    return dataclasses.replace(task, protocols={**task.protocols, "quick": quick})


@pytest.fixture(autouse=True)
def short_start_minimization(monkeypatch):
    """Data tests minimise starts briefly: the Reference platform is slow on the OBC1 systems."""
    monkeypatch.setattr(replica_md, "START_MINIMIZE_ITERATIONS", 50)


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(replica_md, "FRAMES_PER_SEGMENT", 5)


@pytest.fixture
def tiny_task():
    return _tiny_task
