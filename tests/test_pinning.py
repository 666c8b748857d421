"""`bgbench pin` and `bgbench check`: bands from seeds (log scale for positive metrics), pinned run
settings, energy counts, readable failures, and records that are hostile rather than wrong."""

from __future__ import annotations

import copy
import json
import math
import statistics

import pytest
import yaml

from benchmark.cli import main
from benchmark.pinning import PinError, check, pin, read_pinned, write_pinned
from benchmark.results import RecordError, RunRecord, SystemResult, read_record, write_record

HASHES = {"test.npy": "ab" * 32, "train.npy": "cd" * 32}


def make_record(seed: int, e_w2: float, version: int = 1) -> RunRecord:
    metrics = {"md/energy-w2": e_w2, "md/torus-w2": 0.5 + 0.01 * seed, "md/tica-w2": 0.2 - 0.01 * seed}
    counts = {"budget": 1000, "used": 1000, "remaining": 0, "full": 1000, "partial": 0, "force_evaluations": 1000}
    return RunRecord(
        method={"name": "md", "version": "1", "config": {"friction_per_ps": None}},
        task={"name": "ALDP", "version": version, "tier": "quick"},
        protocol={}, budget=1000, seed=seed, sampler=None, evaluation={"n_eval_samples": 1000, "fix_chirality": True},
        final_set="md", energy={"backend": "openmm", "precision": "float64", "platform": "Reference"},
        systems={"Ace-A-Nme": SystemResult(status="ok", metrics=metrics, energy_evaluations=counts,
                                           reference={"source": "local-md", "hashes": dict(HASHES)})},
    )


@pytest.fixture
def records():
    return [make_record(s, e) for s, e in [(0, 1.0), (1, 1.2), (2, 1.4)]]


def test_pin_bands_positive_metrics_on_a_log_scale(records):
    pinned = pin(records)
    band = pinned["metrics"]["Ace-A-Nme"]["md/energy-w2"]
    logs = [math.log(v) for v in (1.0, 1.2, 1.4)]
    assert band["scale"] == "log" and band["rule"] == "sigma"
    assert band["mean"] == pytest.approx(statistics.fmean(logs)) and band["std"] == pytest.approx(statistics.stdev(logs))
    assert band["value_mean"] == pytest.approx(1.2) and pinned["seeds"] == [0, 1, 2]


def test_a_log_band_never_goes_below_zero():
    pinned = pin([make_record(0, 0.05), make_record(1, 1.0), make_record(2, 2.0)])  # linear: 1.02 +- 2.5 * 0.98
    (verdict,) = [v for v in check(make_record(1, 1.0), pinned) if v.metric == "md/energy-w2"]
    assert 0 < verdict.low < 0.05 and verdict.ok
    bad = [v for v in check(make_record(1, 1e-4), pinned) if v.metric == "md/energy-w2"]
    assert not bad[0].ok and "sigma" in bad[0].note


def test_untouched_records_pass(records):
    pinned = pin(records)
    for rec in records:
        assert all(v.ok for v in check(rec, pinned)), [v.row() for v in check(rec, pinned) if not v.ok]


def test_band_edges(records):
    pinned = pin(records)
    band = pinned["metrics"]["Ace-A-Nme"]["md/energy-w2"]
    edge = math.exp(band["mean"] + 2.5 * band["std"])
    inside, outside = make_record(1, edge * (1 - 1e-9)), make_record(1, edge * 1.001)
    assert all(v.ok for v in check(inside, pinned))
    bad = [v for v in check(outside, pinned) if not v.ok]
    assert [v.metric for v in bad] == ["md/energy-w2"] and "+2.5" in bad[0].note


def test_other_task_version_fails_clearly(records):
    verdicts = check(make_record(0, 1.0, version=2), pin(records))
    assert not any(v.ok for v in verdicts)
    assert "task_version" in verdicts[0].metric and "pinned has 1" in verdicts[0].note


def _changed(what: str) -> RunRecord:
    rec = make_record(0, 1.0)
    res = rec.systems["Ace-A-Nme"]
    if what == "isolation":
        rec.isolation = "process"
    elif what == "energy":
        rec.energy = {**rec.energy, "backend": "torch"}
    elif what == "evaluation":
        rec.evaluation = {**rec.evaluation, "fix_chirality": False}
    elif what == "method_version":
        rec.method["version"] = "2"
    elif what == "method_config":
        rec.method["config"] = {"friction_per_ps": 0.5}
    elif what == "reference_hashes":
        res.reference["hashes"]["test.npy"] = "ef" * 32
    return rec


@pytest.mark.parametrize("what", ["isolation", "energy", "evaluation", "method_version", "method_config", "reference_hashes"])
def test_a_record_with_other_settings_fails(records, what):
    bad = [v for v in check(_changed(what), pin(records)) if not v.ok]
    assert [v.metric for v in bad] == [f"setting {what}"], [v.row() for v in bad]
    assert "pinned has" in bad[0].note


def test_sampler_settings_are_pinned():
    def proposal_record(seed, options, chunk):
        rec = make_record(seed, 1.0 + seed / 10)
        rec.sampler = {"name": "snis", "options": options}
        rec.systems["Ace-A-Nme"].diagnostics = {"sampler": {"name": "snis", "chunk_size": chunk}}
        return rec

    pinned = pin([proposal_record(s, {}, 2500) for s in range(3)])
    assert pinned["systems"]["Ace-A-Nme"]["sampler"] == {"name": "snis", "chunk_size": 2500}
    assert all(v.ok for v in check(proposal_record(1, {}, 2500), pinned))
    assert [v.metric for v in check(proposal_record(1, {"n_proposals": 5}, 2500), pinned) if not v.ok] == ["setting sampler"]
    assert [v.metric for v in check(proposal_record(1, {}, 10), pinned) if not v.ok] == ["setting sampler"]
    with pytest.raises(PinError, match="settings"):
        pin([proposal_record(0, {}, 2500), proposal_record(1, {"n_proposals": 5}, 2500)])


@pytest.mark.parametrize("counts, note", [
    ({}, "energy counts missing"),
    ({"budget": 1000, "used": 1200, "full": 1200, "partial": 0}, "over the budget"),
    ({"budget": 10**9, "used": 1000}, "budget of 1000000000"),
    ({"budget": 1000, "used": 900, "full": 100, "partial": 0}, "do not add up"),
])
def test_missing_or_excessive_counts_fail(records, counts, note):
    rec = make_record(0, 1.0)
    rec.systems["Ace-A-Nme"].energy_evaluations = counts
    bad = [v for v in check(rec, pin(records)) if not v.ok]
    assert [v.metric for v in bad] == ["energy evaluations"] and note in bad[0].note


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
    with pytest.raises(PinError, match="isolation"):
        pin([records[0], _changed("isolation")])


def test_old_and_malformed_pinned_files_are_refused(tmp_path, records):
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump({"schema_version": 1, "metrics": {}}))
    with pytest.raises(PinError, match="pin it again"):
        read_pinned(old)
    good = pin(records)
    for broken in ({**good, "metrics": []}, {**good, "settings": None},
                   {**good, "metrics": {"Ace-A-Nme": {"md/energy-w2": {"mean": True, "std": 0, "scale": "log", "rule": "abs"}}}}):
        path = tmp_path / "broken.yaml"
        write_pinned(broken, path)
        with pytest.raises(PinError, match="malformed"):
            read_pinned(path)


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


# --- hostile records -------------------------------------------------------------------------


def valid_record_data() -> dict:
    return json.loads(json.dumps(make_record(0, 1.0).to_dict()))


def _set(data: dict, path: str, value) -> dict:
    data = copy.deepcopy(data)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[last] = value
    return data


HOSTILE_VALUES = [None, True, "x", [], {}, -1, 1e308, [[[]]]]
FIELDS = ["schema_version", "created", "budget", "seed", "method", "method.name", "method.version", "method.config",
          "task", "task.name", "task.version", "task.tier", "sampler", "evaluation", "final_set", "systems",
          "systems.Ace-A-Nme", "systems.Ace-A-Nme.status", "systems.Ace-A-Nme.metrics",
          "systems.Ace-A-Nme.metrics.md/energy-w2", "systems.Ace-A-Nme.energy_evaluations",
          "systems.Ace-A-Nme.energy_evaluations.used", "systems.Ace-A-Nme.error", "systems.Ace-A-Nme.wall_time_s",
          "systems.Ace-A-Nme.reference", "systems.Ace-A-Nme.diagnostics", "wall_time_s", "environment", "energy",
          "isolation", "track"]


def test_every_field_with_a_hostile_value_reads_cleanly_or_is_refused(tmp_path):
    """Each hostile value is either valid for its field or refused with RecordError, never a traceback."""
    path = tmp_path / "r.json"
    pinned = pin([make_record(0, 1.0)])
    for field in FIELDS:
        for value in HOSTILE_VALUES:
            path.write_text(json.dumps(_set(valid_record_data(), field, value)))
            try:
                record = read_record(path)
            except RecordError:
                continue
            check(record, pinned)  # what was accepted must be usable
            record.aggregate()


@pytest.mark.parametrize("field, value, message", [
    ("systems.Ace-A-Nme.metrics.md/energy-w2", True, "must be a number"),
    ("budget", True, "budget"),
    ("seed", False, "seed"),
    ("task.version", True, "task.version"),
    ("systems.Ace-A-Nme.energy_evaluations.used", True, "non-negative integer"),
    ("created", "yesterday", "ISO-8601"),
    ("created", "2026-01-01T00:00:00", "time zone"),
])
def test_booleans_are_not_numbers_and_created_is_a_timestamp(tmp_path, field, value, message):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_set(valid_record_data(), field, value)))
    with pytest.raises(RecordError, match=message):
        read_record(path)


@pytest.mark.parametrize("text", [
    "", "null", "[]", "{", '{"a": NaN}', "[" * 100_000 + "]" * 100_000, "1" * 10_000, b"\xff\xfe".decode("latin-1"),
])
def test_unreadable_files_are_record_errors(tmp_path, text, capsys):
    path = tmp_path / "r.json"
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    with pytest.raises(RecordError):
        read_record(path)
    assert main(["check", str(path), "--against", str(path)]) == 2
    assert "bgbench: error:" in capsys.readouterr().err
