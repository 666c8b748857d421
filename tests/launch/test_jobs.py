"""Jobs end to end in this process on a tiny task: shards, training once, skipping, merging equal to one run."""

from __future__ import annotations

import dataclasses
import json

import pytest

from benchmark.launch.jobs import is_done, shard_path
from benchmark.launch.launcher import launch
from benchmark.launch.merge import merge_plan
from benchmark.launch.plan import make_plan, write_plan
from benchmark.results import read_record
from benchmark.runner import RunConfig, Runner
from benchmark.tasks.registry import TASKS
from tests.launch.methods import CountingTrainer, trainings


def _launch(plan, executor, tiny_data, work):
    return launch(plan, executor, data_dir=tiny_data, work_dir=work)


def test_training_once_per_seed_and_shards_merge_to_the_single_process_record(tiny, tiny_data, tmp_path, in_process):
    plan = tmp_path / "plan"
    jobs = make_plan(CountingTrainer, "TINY", seeds=[3, 4])
    write_plan(plan, jobs)
    report = _launch(plan, in_process, tiny_data, tmp_path / "work")
    assert report.ok and report.count("ok") == 2 + 4
    # training ran in the two training jobs, once per (seed, model); the system jobs loaded the weights
    assert sorted(trainings(tmp_path / "work")) == sorted(f"TINY {s} {seed}" for s in ("Ace-A-Nme", "Ace-AA-Nme") for seed in (3, 4))
    assert sorted(in_process.batches[0]) == sorted(j.id for j in jobs if j.kind == "train")  # training first
    runs = {r.name: r for r in merge_plan(plan)}
    assert set(runs) == {"counting-trainer-TINY-quick-b300-s3", "counting-trainer-TINY-quick-b300-s4"}
    for seed in (3, 4):
        run = runs[f"counting-trainer-TINY-quick-b300-s{seed}"]
        assert run.missing == [] and run.failed == []
        single = Runner(RunConfig(method=CountingTrainer, task="TINY", seed=seed, data_dir=tiny_data,
                                  work_dir=tmp_path / "single", out=tmp_path / f"single-{seed}.json")).run()
        merged = run.merged.record
        assert list(merged.systems) == list(single.systems)
        for name in single.systems:
            assert merged.systems[name].metrics == single.systems[name].metrics
            assert merged.systems[name].energy_evaluations == single.systems[name].energy_evaluations
        assert merged.aggregate() == single.aggregate()
        assert (merged.evaluation, merged.final_set, merged.energy) == (single.evaluation, single.final_set, single.energy)
        shards = merged.environment["shards"]
        assert [s["systems"] for s in shards] == [["Ace-A-Nme"], ["Ace-AA-Nme"]]
        assert all(s["host"] and s["device"] == "cpu" and s["wall_time_s"]["job"] > 0 and s["spec"] for s in shards)
        assert merged.environment["training_job"]["label"].endswith("/train")


def test_relaunch_skips_finished_jobs_and_reruns_broken_ones(tiny, tiny_data, tmp_path, in_process):
    plan = tmp_path / "plan"
    jobs = make_plan("md", "TINY", seeds=[0])
    write_plan(plan, jobs)
    assert _launch(plan, in_process, tiny_data, tmp_path / "work").count("ok") == 3
    again = _launch(plan, in_process, tiny_data, tmp_path / "work")
    assert again.ok and again.count("skipped") == 3 and in_process.batches[-2:] == [[], []]  # nothing submitted
    a, b = (j for j in jobs if j.kind == "system")
    results = plan / "results"
    before = shard_path(b, results).read_bytes()
    shard_path(a, results).write_text('{"half": ')  # a damaged record (not ours: ours are atomic)
    assert not is_done(a, results) and is_done(b, results)
    third = _launch(plan, in_process, tiny_data, tmp_path / "work")
    # the training job is not rerun for a system job that needs it: its marker is there
    assert in_process.batches[-2:] == [[], [a.id]] and third.count("ok") == 1
    assert read_record(shard_path(a, results)).systems["Ace-A-Nme"].status == "ok"
    assert shard_path(b, results).read_bytes() == before


def test_a_failed_system_is_retried_and_a_failed_training_blocks_its_systems(tiny, tiny_data, tmp_path, in_process):
    plan = tmp_path / "plan"
    write_plan(plan, make_plan("md", "TINY", seeds=[0]))
    report = launch(plan, in_process, data_dir=tmp_path / "no-data", work_dir=tmp_path / "work")
    assert [o.status for o in report.outcomes if o.kind == "system"] == ["failed", "failed"]
    assert "bgbench data prepare" in report.outcomes[-1].detail
    report = _launch(plan, in_process, tiny_data, tmp_path / "work")
    assert report.ok and report.count("ok") == 2

    plan2 = tmp_path / "plan2"
    write_plan(plan2, make_plan(CountingTrainer, "TINY", seeds=[0]))
    report = launch(plan2, in_process, data_dir=tmp_path / "no-data", work_dir=tmp_path / "work")
    assert [o.status for o in report.outcomes] == ["failed", "blocked", "blocked"]


def test_a_job_refuses_a_task_that_changed_since_planning(tiny, tiny_data, tmp_path, in_process, monkeypatch):
    plan = tmp_path / "plan"
    write_plan(plan, make_plan("md", "TINY", seeds=[0], systems=["Ace-A-Nme"]))
    monkeypatch.setitem(TASKS, "TINY", dataclasses.replace(tiny, version=2))
    report = _launch(plan, in_process, tiny_data, tmp_path / "work")
    assert [o.status for o in report.outcomes] == ["failed", "blocked"]
    assert "task version changed since planning" in report.outcomes[0].detail


def test_shard_records_say_which_spec_wrote_them(tiny, tiny_data, tmp_path, in_process):
    plan = tmp_path / "plan"
    (train, job) = make_plan("md", "TINY", seeds=[0], systems=["Ace-AA-Nme"])
    write_plan(plan, [train, job])
    _launch(plan, in_process, tiny_data, tmp_path / "work")
    data = json.loads(shard_path(job, plan / "results").read_text())
    assert list(data["systems"]) == ["Ace-AA-Nme"]
    assert data["environment"]["launch"]["spec"] == job.id and data["environment"]["launch"]["executor"] == "in-process"
    # a record of another spec in that place is not this job's result
    data["environment"]["launch"]["spec"] = "0" * 16
    shard_path(job, plan / "results").write_text(json.dumps(data))
    assert not is_done(job, plan / "results")


@pytest.mark.parametrize("budget", [300])
def test_budgets_share_one_training_job(tiny, budget):
    jobs = make_plan(CountingTrainer, "TINY", seeds=[0], budgets=[budget, 2 * budget])
    assert sum(j.kind == "train" for j in jobs) == 1
