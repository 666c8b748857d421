"""`bgbench run` on the quick tier makes the data it lacks, after one line that says what and how long."""

from __future__ import annotations

import json

import pytest

from benchmark.cli import main
from benchmark.data import generate, load_reference
from benchmark.data.basins import backbone_residues
from benchmark.data.corpus import corpus_spec
from benchmark.data.corpus_md import CORPUS_MD, CORPUS_SEED, corpus_sequences
from benchmark.data.on_demand import ensure_quick_data, estimate_seconds, missing_jobs
from benchmark.data.replica_md import ReplicaPlan, measure_steps_per_second
from benchmark.tasks import get_task


def _tiny(tiny_task):
    return tiny_task(replicas=(3, 1, 2), frames=20, interval=10, warmup=100)


def test_job_size_and_estimate_by_hand(tmp_path, tiny_task):
    task = _tiny(tiny_task)
    (job,) = missing_jobs(task, "quick", task.systems, tmp_path)
    plan = job.parts[0][1]
    starts = len(set(plan.start_basins))  # one minimisation per distinct start pattern
    assert 1 <= starts <= 6
    assert job.steps == 6 * (100 + 20 * 10) + starts * plan.start_minimize_iterations
    # 1 000 steps/s per process, 6 replicas over 2 processes; 4 processes; more processes than replicas
    assert estimate_seconds([job], 2, rate=lambda spec: 1000.0) == pytest.approx(job.steps / 2000)
    assert estimate_seconds([job], 4, rate=lambda spec: 1000.0) == pytest.approx(job.steps / 4000)
    assert estimate_seconds([job], 16, rate=lambda spec: 1000.0) == pytest.approx(job.steps / 6000)


def test_published_data_is_never_made_here(tmp_path):
    task = get_task("ALDP")
    assert missing_jobs(task, "paper", task.systems_for("paper"), tmp_path) == []


def test_corpus_job_plans_are_those_prepare_corpus_runs(tmp_path):
    """The corpus job counts residues without building peptides; prepare_corpus builds them: same plans."""
    (job,) = missing_jobs(get_task("8AA"), "quick", [], tmp_path)
    assert missing_jobs(get_task("8AA"), "quick", [], tmp_path, corpus=False) == []  # left to the method's first ask
    assert job.corpus and [spec.sequence for spec, _ in job.parts] == corpus_sequences()
    for seq in [min(corpus_sequences(), key=len), max(corpus_sequences(), key=len)]:
        n = len(backbone_residues(corpus_spec(seq).build()))
        expected = ReplicaPlan.for_splits(CORPUS_MD, n, CORPUS_SEED, "corpus", seq)
        assert dict((s.sequence, p) for s, p in job.parts)[seq] == expected


def test_estimate_scales_the_measured_rate_by_size_squared(tmp_path):
    job = missing_jobs(get_task("8AA"), "quick", [], tmp_path)[0]
    measured = []
    seconds = estimate_seconds([job], 1, rate=lambda spec: measured.append(spec.sequence) or 100.0)
    assert len(measured) == 1 and len(measured[0]) == 8  # one measurement, on a longest peptide
    by_hand = sum(plan.work_steps / (100.0 * (8 / len(spec.sequence)) ** 2) for spec, plan in job.parts)
    assert seconds == pytest.approx(by_hand)


def test_measured_rate_is_a_rate():
    assert 10 < measure_steps_per_second(get_task("ALDP").systems[0], seconds=0.05) < 1e7


def test_ensure_makes_missing_data_once(tmp_path, tiny_task, monkeypatch):
    task = _tiny(tiny_task)
    said: list[str] = []
    folders = ensure_quick_data(task, "quick", task.systems, tmp_path, progress=False, say=said.append,
                                rate=lambda spec: 1000.0)
    assert len(said) == 1 and "ALDP Ace-A-Nme" in said[0] and "--no-prepare" in said[0] and "about" in said[0]
    assert folders == [tmp_path / "ALDP" / "quick" / "Ace-A-Nme"]
    assert len(load_reference(task, "quick", task.systems[0], tmp_path).eval_positions) == 20
    monkeypatch.setattr(generate, "simulate_replicas", lambda *a, **k: pytest.fail("cached data was made again"))
    assert ensure_quick_data(task, "quick", task.systems, tmp_path, say=said.append) == [] and len(said) == 1


def test_stale_data_is_made_again(tmp_path, tiny_task):
    task = _tiny(tiny_task)
    ensure_quick_data(task, "quick", task.systems, tmp_path, progress=False, say=lambda s: None, rate=lambda s: 1e3)
    longer = tiny_task(replicas=(3, 1, 2), frames=25, interval=10, warmup=100)
    assert [j.label for j in missing_jobs(longer, "quick", longer.systems, tmp_path)] == ["ALDP Ace-A-Nme"]


def _cli_on_tiny_task(monkeypatch, task):
    monkeypatch.setattr("benchmark.tasks.get_task", lambda name: task)
    monkeypatch.setattr("benchmark.runner.get_task", lambda name: task)


def test_run_without_data_prepares_it_then_runs(tmp_path, tiny_task, monkeypatch, capsys):
    task = tiny_task(replicas=(3, 1, 2), frames=110, interval=5, warmup=100)  # replicas longer than the TICA lag
    _cli_on_tiny_task(monkeypatch, task)
    monkeypatch.setenv("BGBENCH_MD_WORKERS", "1")
    out = tmp_path / "md.json"
    args = ["run", "--method", "md", "--task", "ALDP", "--budget", "300", "--data-dir", str(tmp_path / "data"),
            "--work-dir", str(tmp_path / "work"), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert printed.count("Making the missing quick-tier data of ALDP") == 1
    assert json.loads(out.read_text())["systems"]["Ace-A-Nme"]["status"] == "ok"
    assert main([*args, "--overwrite"]) == 0 and "Making the missing" not in capsys.readouterr().out


def test_no_prepare_stops_with_the_command_that_makes_the_data(tmp_path, tiny_task, monkeypatch, capsys):
    _cli_on_tiny_task(monkeypatch, _tiny(tiny_task))
    assert main(["run", "--method", "md", "--task", "ALDP", "--no-prepare", "--data-dir", str(tmp_path),
                 "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "md.json")]) != 0
    captured = capsys.readouterr()
    assert "bgbench data prepare ALDP" in captured.err and "Making the missing" not in captured.out
    assert not (tmp_path / "ALDP").exists()
