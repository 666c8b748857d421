"""Merging shard records: one record per run with each shard's provenance; other runs are refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.launch.merge import MergeError, merge_records, read_shards, write_merged
from benchmark.plot_data import read_plot_data, sidecar_path, write_plot_data
from benchmark.results import RunRecord, SystemResult, read_record, write_record

SYSTEMS_2AA = ("AA", "KG", "PY")  # the quick tier's 2AA systems


def shard(system: str, value: float, created: str = "2026-01-01T00:00:00+00:00", host: str = "node1", **changes) -> RunRecord:
    """A shard of md on 2AA quick (seed 42, budget 10000) holding one system, as a launch writes it."""
    record = RunRecord(
        method={"name": "md", "version": "1", "config": {"timestep_fs": None}, "parameters": None, "training_seconds": {}},
        task={"name": "2AA", "version": 1, "tier": "quick"}, protocol={"tier": "quick", "n_eval_samples": 1000},
        budget=10_000, seed=42, sampler=None, evaluation={"fix_chirality": True, "tica_features": len(system)},
        final_set="md", systems={system: SystemResult("ok", metrics={"md/energy-w2": value})},
        wall_time_s={"setup": 1.0, "total": 10.0}, created=created,
        environment={"gpu": None, "cpu": "x", "launch": {"spec": f"spec-{system}", "run": "r1", "host": host,
                                                         "device": "cpu", "wall_time_s": 12.0}},
    )
    return dataclasses.replace(record, **changes)


def test_shards_merge_with_their_provenance():
    merged = merge_records([shard("PY", 3.0, host="n3"), shard("AA", 1.0, host="n1"), shard("KG", 2.0, host="n2")],
                           ["py.json", "aa.json", "kg.json"])
    rec = merged.record
    assert list(rec.systems) == list(SYSTEMS_2AA)  # the task's order, as a single run lists them
    assert rec.aggregate() == {"md/energy-w2": 2.0}
    assert [(s["systems"], s["host"], s["file"], s["spec"]) for s in rec.environment["shards"]] == [
        (["PY"], "n3", "py.json", "spec-PY"), (["AA"], "n1", "aa.json", "spec-AA"), (["KG"], "n2", "kg.json", "spec-KG")]
    assert rec.wall_time_s == {"setup": 3.0, "total": 30.0}
    assert "launch" not in rec.environment and merged.replaced == []
    # merging a merged record with more shards keeps the original provenance, flat
    again = merge_records([rec, shard("AA", 5.0, created="2027-01-01T00:00:00+00:00", host="n9")], ["m.json", "aa2.json"])
    assert again.record.systems["AA"].metrics == {"md/energy-w2": 5.0}
    assert sorted(h for s in again.record.environment["shards"] for h in [s["host"]]) == ["n2", "n3", "n9"]


@pytest.mark.parametrize("change, what", [
    ({"task": {"name": "2AA", "version": 2, "tier": "quick"}}, "task version"),
    ({"method": {"name": "md", "version": "1", "config": {"timestep_fs": 2.0}}}, "method config"),
    ({"method": {"name": "md", "version": "2", "config": {"timestep_fs": None}}}, "method \\(name, version\\)"),
    ({"budget": 200_000}, "budget"),
    ({"seed": 123}, "seed"),
    ({"sampler": {"name": "snis", "options": {}}}, "sampler"),
    ({"evaluation": {"fix_chirality": False}}, "chirality fix"),
])
def test_shards_of_different_runs_are_refused(change, what):
    with pytest.raises(MergeError, match=f"{what} differ"):
        merge_records([shard("AA", 1.0), shard("KG", 2.0, **change)], ["a.json", "b.json"])


def test_newer_shard_of_a_system_wins_and_the_older_is_named():
    old = shard("AA", 1.0)
    new = shard("AA", 9.0, created="2026-02-01T00:00:00+00:00")
    merged = merge_records([new, old, shard("KG", 2.0)])
    assert merged.record.systems["AA"].metrics["md/energy-w2"] == 9.0
    assert merged.replaced == [1]


def test_merge_cli_writes_record_and_plot_data_and_names_missing_systems(tmp_path, capsys):
    for i, system in enumerate(SYSTEMS_2AA[:2]):
        path = tmp_path / "shards" / f"{system}.json"
        write_record(shard(system, float(i)), path)
        write_plot_data(path, {f"{system}/energies/md": np.arange(5.0) + i, f"{system}/energies/reference": np.ones(5)})
    out = tmp_path / "merged.json"
    assert main(["merge", str(tmp_path / "shards"), "--out", str(out)]) == 1  # PY is missing
    assert "missing: PY" in capsys.readouterr().out
    rec = read_record(out)
    assert list(rec.systems) == ["AA", "KG"]
    assert set(read_plot_data(sidecar_path(out))) == {"AA/energies/md", "AA/energies/reference", "KG/energies/md",
                                                      "KG/energies/reference"}
    write_record(shard("PY", 2.0), tmp_path / "shards" / "PY.json")
    assert main(["merge", str(tmp_path / "shards"), "--out", str(out)]) == 0
    write_record(shard("PY", 2.0, seed=7), tmp_path / "shards" / "PY.json")
    assert main(["merge", str(tmp_path / "shards"), "--out", str(out)]) == 2
    assert "seed differ" in capsys.readouterr().err


def test_unreadable_shard_is_an_error(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(MergeError, match="rerun its job"):
        read_shards([tmp_path])


def test_written_merge_reads_back(tmp_path):
    records = [shard(s, 1.0) for s in SYSTEMS_2AA]
    merged = merge_records(records)
    write_merged(merged, [tmp_path / f"{s}.json" for s in SYSTEMS_2AA], tmp_path / "m.json")
    assert read_record(tmp_path / "m.json").to_dict()["n_systems_ok"] == 3
