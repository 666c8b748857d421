"""`bgbench pin` and `bgbench check`: bands from seeds, readable failures, identity checks."""

from __future__ import annotations

import copy
import statistics

import pytest

from benchmark.cli import main
from benchmark.pinning import PinError, check, pin
from benchmark.results import RunRecord, SystemResult, read_record, write_record


def make_record(seed: int, e_w2: float, version: int = 1) -> RunRecord:
    metrics = {"md/energy-w2": e_w2, "md/torus-w2": 0.5 + 0.01 * seed, "md/tica-w2": 0.2 - 0.01 * seed}
    return RunRecord(
        method={"name": "md", "version": "1", "config": {}},
        task={"name": "ALDP", "version": version, "tier": "quick"},
        protocol={}, budget=1000, seed=seed, sampler=None, evaluation={}, final_set="md",
        systems={"Ace-A-Nme": SystemResult(status="ok", metrics=metrics)},
    )


@pytest.fixture
def records():
    return [make_record(s, e) for s, e in [(0, 1.0), (1, 1.2), (2, 1.4)]]


def test_pin_computes_mean_and_sample_std(records):
    pinned = pin(records)
    band = pinned["metrics"]["Ace-A-Nme"]["md/energy-w2"]
    assert band["mean"] == pytest.approx(1.2)
    assert band["std"] == pytest.approx(statistics.stdev([1.0, 1.2, 1.4]))  # 0.2
    assert band["rule"] == "sigma" and pinned["seeds"] == [0, 1, 2]


def test_untouched_records_pass(records):
    pinned = pin(records)
    for rec in records:
        assert all(v.ok for v in check(rec, pinned))


def test_band_edges(records):
    pinned = pin(records)
    inside = make_record(1, 1.2 + 2.5 * 0.2 - 1e-9)  # seed 1: the other metrics sit at their means
    outside = make_record(1, 1.2 + 2.5 * 0.2 + 1e-3)
    assert all(v.ok for v in check(inside, pinned) if v.metric == "md/energy-w2")
    bad = [v for v in check(outside, pinned) if not v.ok]
    assert [v.metric for v in bad] == ["md/energy-w2"] and "+2.5" in bad[0].note


def test_other_task_version_fails_clearly(records):
    verdicts = check(make_record(0, 1.0, version=2), pin(records))
    assert not any(v.ok for v in verdicts)
    assert "task_version" in verdicts[0].metric and "pinned has 1" in verdicts[0].note


def test_missing_metric_and_failed_system(records):
    pinned = pin(records)
    rec = make_record(0, 1.0)
    del rec.systems["Ace-A-Nme"].metrics["md/tica-w2"]
    assert [v.note for v in check(rec, pinned) if not v.ok] == ["metric missing"]
    rec.systems["Ace-A-Nme"] = SystemResult(status="failed", error="BudgetExceeded: x")
    assert all(not v.ok for v in check(rec, pinned))


def test_single_seed_uses_absolute_tolerance():
    pinned = pin([make_record(0, 1.0)])
    assert pinned["metrics"]["Ace-A-Nme"]["md/energy-w2"]["rule"] == "abs"
    assert all(v.ok for v in check(make_record(0, 1.0), pinned))
    assert not all(v.ok for v in check(make_record(0, 1.001), pinned))


def test_pin_refuses_mixed_runs(records):
    other = copy.deepcopy(records[1])
    other.budget = 5
    with pytest.raises(PinError, match="budget"):
        pin([records[0], other])


def test_cli_check_exit_codes(tmp_path, records, capsys):
    paths = []
    for rec in records:
        path = tmp_path / f"s{rec.seed}.json"
        write_record(rec, path)
        paths.append(str(path))
    pinned = tmp_path / "pinned.yaml"
    assert main(["pin", *paths, "--out", str(pinned)]) == 0
    assert main(["check", paths[0], "--against", str(pinned)]) == 0
    moved = read_record(paths[0])
    moved.systems["Ace-A-Nme"].metrics["md/energy-w2"] = 5.0
    write_record(moved, tmp_path / "moved.json")
    capsys.readouterr()
    assert main(["check", str(tmp_path / "moved.json"), "--against", str(pinned)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "md/energy-w2" in out and "1 failed" in out
