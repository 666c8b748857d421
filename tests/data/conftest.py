"""Small tasks for data tests: the real task definitions with tiny MD lengths."""

from __future__ import annotations

import dataclasses

import pytest

from benchmark.data import generate
from benchmark.tasks import get_task
from benchmark.tasks.protocol import LocalMD


def _tiny_task(name: str = "ALDP", length_ns: float = 0.0012, interval: int = 10, warmup: int = 100, n_eval: int = 20):
    """``name`` with a quick protocol of a few hundred MD steps (120 frames by default)."""
    task = get_task(name)
    quick = dataclasses.replace(task.protocol("quick"), n_eval_samples=n_eval,
                                local_md=LocalMD(length_ns=length_ns, frame_interval_steps=interval, warmup_steps=warmup))
    return dataclasses.replace(task, protocols={**task.protocols, "quick": quick})


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(generate, "FRAMES_PER_CHUNK", 25)


@pytest.fixture
def tiny_task():
    return _tiny_task
