"""The leaderboard keeps every shard of a run: they are merged on load, never one dropped for another."""

from __future__ import annotations

import pytest

from benchmark.results import write_record
from leaderboard.aggregate import build_tables
from leaderboard.store import load_records
from tests.launch.test_merge import shard


def _cell(store):
    (table,) = [t for t in build_tables(store.frame) if t.task == "2AA"]
    (row,) = table.rows
    return row.cells["energy-w2"]


def test_shards_of_one_run_are_merged_on_load(tmp_path):
    for i, system in enumerate(("AA", "KG", "PY")):
        write_record(shard(system, float(i + 1), created=f"2026-01-0{i + 1}T00:00:00+00:00"), tmp_path / f"{system}.json")
    store = load_records(tmp_path)
    assert store.problems == [] and len(store.records) == 1
    (record,) = store.records.values()
    assert sorted(record.systems) == ["AA", "KG", "PY"]
    cell = _cell(store)
    assert (cell.mean, cell.n_systems, cell.n_expected, cell.partial, cell.n_seeds) == (pytest.approx(2.0), 3, 3, False, 1)


def test_a_missing_shard_leaves_the_run_partial_and_a_rerun_still_supersedes(tmp_path):
    write_record(shard("AA", 1.0), tmp_path / "AA.json")
    write_record(shard("KG", 2.0), tmp_path / "KG.json")
    cell = _cell(load_records(tmp_path))
    assert (cell.n_systems, cell.n_expected, cell.partial) == (2, 3, True)
    write_record(shard("AA", 7.0, created="2027-01-01T00:00:00+00:00"), tmp_path / "AA-rerun.json")
    store = load_records(tmp_path)
    assert [p.path for p in store.problems] == [str(tmp_path / "AA.json")] and "superseded" in store.problems[0].reason
    assert _cell(store).mean == pytest.approx(4.5)


def test_records_of_other_settings_are_not_merged_but_reported(tmp_path):
    write_record(shard("AA", 1.0), tmp_path / "AA.json")
    write_record(shard("KG", 2.0, created="2027-01-01T00:00:00+00:00",
                       method={"name": "md", "version": "1", "config": {"timestep_fs": 4.0}}), tmp_path / "KG.json")
    store = load_records(tmp_path)
    (problem,) = store.problems
    assert problem.path == str(tmp_path / "AA.json") and "method config differ" in problem.reason


def test_odd_provenance_in_a_shard_never_stops_a_load(tmp_path):
    write_record(shard("AA", 1.0), tmp_path / "AA.json")
    odd = shard("KG", 2.0)
    odd.environment.update(launch="not an object", shards=["nor this"])
    write_record(odd, tmp_path / "KG.json")
    store = load_records(tmp_path)
    assert len(store.records) == 1 and store.problems == []
    assert sorted(next(iter(store.records.values())).systems) == ["AA", "KG"]


def test_a_shard_that_breaks_the_schema_is_reported_and_the_rest_loads(tmp_path):
    import json

    write_record(shard("AA", 1.0), tmp_path / "AA.json")
    write_record(shard("KG", 2.0), tmp_path / "KG.json")
    data = json.loads((tmp_path / "KG.json").read_text())
    data["wall_time_s"] = {"total": "slow"}  # written by hand: write_record refuses it
    (tmp_path / "KG.json").write_text(json.dumps(data))
    store = load_records(tmp_path)
    assert [p.path.endswith("KG.json") for p in store.problems] == [True]
    assert sorted(next(iter(store.records.values())).systems) == ["AA"]
