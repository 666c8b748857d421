"""Plans: one training job per seed, one job per (budget, seed, system), ids that hash the content only."""

from __future__ import annotations

import json
import os
import shutil
import socket

import pytest

from benchmark.launch.plan import PlanError, make_plan, read_plan, read_spec, write_plan
from tests.launch.methods import CountingTrainer


def test_jobs_and_dependencies(tiny):
    jobs = make_plan("md", "TINY", seeds=[1, 2], budgets=[300, 600])
    train = [j for j in jobs if j.kind == "train"]
    systems = [j for j in jobs if j.kind == "system"]
    assert [j.content["seed"] for j in train] == [1, 2]
    assert len(systems) == 2 * 2 * 2  # seeds x budgets x systems
    for job in systems:
        (dep,) = job.depends_on
        assert next(t for t in train if t.id == dep).content["seed"] == job.content["seed"]
    assert train[0].content["systems"] == ["Ace-A-Nme", "Ace-AA-Nme"]
    # the shards of one run share a run id; another budget or seed is another run
    runs = {(j.content["seed"], j.content["budget"]): j.run_id for j in systems}
    assert len(set(runs.values())) == 4
    assert {j.run_id for j in systems if (j.content["seed"], j.content["budget"]) == (1, 300)} == {runs[(1, 300)]}


def test_spec_holds_the_resolved_run_and_nothing_of_this_machine(tiny, tmp_path, monkeypatch):
    job = next(j for j in make_plan("submissions/example_gaussian", "TINY", seeds=[0], sampler="smc",
                                    method_config={"sigma_nm": 0.02}) if j.kind == "system")
    c = job.content
    assert c["method"]["config"] == {"sigma_nm": 0.02} and c["method"]["overrides"] == {"sigma_nm": 0.02}
    assert c["method"]["ref"] == "submissions/example_gaussian" and len(c["method"]["code_sha256"]) == 64
    assert c["task"] == {"name": "TINY", "version": 1, "tier": "quick"}
    assert c["budget"] == 300 and c["sampler"] == {"name": "smc", "options": {}}
    assert c["locations"] == {"data": "$BGBENCH_DATA", "work": "$BGBENCH_WORK"}
    text = json.dumps(c)
    for local in (os.getcwd(), str(tmp_path), os.path.expanduser("~"), socket.gethostname()):
        assert local not in text
    # the same plan made elsewhere (another directory, other environment) has the same ids
    monkeypatch.setenv("BGBENCH_DATA", str(tmp_path / "elsewhere"))
    shutil.copytree("submissions", tmp_path / "submissions")
    monkeypatch.chdir(tmp_path)
    again = make_plan("submissions/example_gaussian", "TINY", seeds=[0], sampler="smc", method_config={"sigma_nm": 0.02})
    assert job.id in {j.id for j in again}
    # ... and a different setting is a different job
    other = make_plan("submissions/example_gaussian", "TINY", seeds=[0], sampler="smc", method_config={"sigma_nm": 0.03})
    assert job.id not in {j.id for j in other}


def test_submission_code_is_pinned(tiny, tmp_path, monkeypatch):
    shutil.copytree("submissions/example_gaussian", tmp_path / "subs" / "gauss")
    monkeypatch.chdir(tmp_path)
    before = make_plan("subs/gauss", "TINY", seeds=[0])
    (tmp_path / "subs" / "gauss" / "adapter.py").write_text((tmp_path / "subs" / "gauss" / "adapter.py").read_text() + "\n# changed\n")
    after = make_plan("subs/gauss", "TINY", seeds=[0])
    assert {j.id for j in before}.isdisjoint({j.id for j in after})


def test_class_methods_and_checks_at_planning(tiny):
    (train, *_) = make_plan(CountingTrainer, "TINY", seeds=[0])
    assert train.content["method"]["ref"] == "tests.launch.methods:CountingTrainer"
    with pytest.raises(Exception, match="unknown|Unknown"):
        make_plan("md", "TINY", method_config={"no_such_option": 1})
    with pytest.raises(Exception, match="samples by itself"):
        make_plan("md", "TINY", sampler="snis")
    with pytest.raises(Exception, match="Unknown system"):
        make_plan("md", "TINY", systems=["XYZ"])
    with pytest.raises(PlanError, match="environment variable"):
        make_plan("md", "TINY", locations={"data": "/abs/path/of/this/machine"})
    assert make_plan("md", "TINY", seeds=[0], locations={"work": "$SCRATCH/bg"})[0].content["locations"]["work"] == "$SCRATCH/bg"


def test_written_plan_reads_back_and_refuses_edits(tiny, tmp_path):
    jobs = make_plan("md", "TINY", seeds=[0, 1])
    write_plan(tmp_path / "plan", jobs)
    write_plan(tmp_path / "plan", make_plan("md", "TINY", seeds=[1, 2]))  # plans add up; seed 1 is not repeated
    read = read_plan(tmp_path / "plan")
    assert len(read) == 3 * 3 and [j.kind for j in read[:3]] == ["train"] * 3
    path = tmp_path / "plan" / "jobs" / f"{jobs[1].id}.json"
    data = json.loads(path.read_text())
    data["spec"]["budget"] = 1
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match="does not match its id"):
        read_spec(path)


def test_the_energy_choice_travels_to_the_jobs(tiny):
    from benchmark.errors import BgbenchError
    from benchmark.launch.jobs import JobCall, run_config

    job = next(j for j in make_plan("md", "TINY", seeds=[0], energy="openmm") if j.kind == "system")
    assert job.content["energy"] == {"backend": "openmm", "precision": "float64"}
    config = run_config(job, JobCall(spec_path="unused", results="unused"))
    assert (config.energy, config.energy_precision) == ("openmm", "float64")
    default = next(j for j in make_plan("md", "TINY", seeds=[0]) if j.kind == "system")
    assert default.content["energy"]["backend"] == "torch" and default.id != job.id
    with pytest.raises(BgbenchError, match="float32"):
        make_plan("md", "TINY", seeds=[0], energy="openmm", energy_precision="float32")
