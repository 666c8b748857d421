"""Executors map jobs onto workers and report every outcome; a dead worker is a failed job, not a crash."""

from __future__ import annotations

import os

import pytest

from benchmark.launch.executors import LocalExecutor
from benchmark.launch.jobs import JobCall
from tests.launch import fake_jobs


def calls(*names: str) -> list[JobCall]:
    return [JobCall(spec_path=f"/plan/jobs/{n}.json", results="/results") for n in names]


def test_local_pool_runs_every_job_and_survives_a_dead_worker():
    seen = []
    with LocalExecutor(workers=2, job_fn=fake_jobs.die_on_boom) as ex:
        first = ex.map(calls("a", "b", "c"), seen.append)
        assert sorted(o.job for o in first) == ["a", "b", "c"] and {o.status for o in first} == {"ok"}
        assert seen == first
        second = ex.map(calls("boom"), seen.append)
        assert second[0].status == "failed" and "worker process died" in second[0].detail
        third = ex.map(calls("d"), seen.append)  # a fresh pool after the crash
        assert third[0].status == "ok"


def test_submitit_local_runs_the_same_jobs_as_subprocesses(tmp_path):
    pytest.importorskip("submitit")
    from benchmark.launch.slurm import SubmititExecutor

    ex = SubmititExecutor(tmp_path / "submitit", cluster="local", workers=2, timeout_min=5,
                          job_fn=fake_jobs.die_on_boom, poll_s=0.2)
    out = ex.map(calls("a", "boom", "b"), lambda o: None)
    by_job = {o.job: o for o in out}
    assert by_job["a"].status == by_job["b"].status == "ok"
    assert by_job["boom"].status == "failed" and "submitit job" in by_job["boom"].detail
    assert str(os.getpid()) not in (by_job["a"].detail, by_job["b"].detail)  # run in subprocesses
    assert ex.name == "submitit-local"


@pytest.mark.slow
def test_ray_runs_one_task_per_job_and_reports_a_lost_one():
    ray = pytest.importorskip("ray")
    from benchmark.launch.ray_executor import RayExecutor

    with RayExecutor(num_cpus=2, object_store_mb=100, workers=2, max_retries=0, job_fn=fake_jobs.die_on_boom) as ex:
        out = ex.map(calls("a", "b", "boom"), lambda o: None)
    assert not ray.is_initialized()
    by_job = {o.job: o for o in out}
    assert by_job["a"].status == by_job["b"].status == "ok"
    assert by_job["boom"].status == "failed"
