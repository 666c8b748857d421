"""Loading and aggregation against numbers recomputed here from the fixture inputs."""

from __future__ import annotations

import statistics

import pytest

from leaderboard.aggregate import build_tables
from leaderboard.store import load_records
from tests.leaderboard.fixtures import FLOORS, QUICK_8AA, TIE_VALUES, VALUES, write_fixture_records


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return load_records(write_fixture_records(tmp_path_factory.mktemp("results"), with_plots=False))


def _table(tables, task, tier, budget):
    (table,) = [t for t in tables if (t.task, t.tier, t.budget) == (task, tier, budget)]
    return table


def test_malformed_files_are_reported_and_skipped(store):
    paths = sorted(p.path for p in store.problems)
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["no-task.json", "truncated.json"]
    assert all(p.reason for p in store.problems)
    # tarflow, robin: 2 budgets x 3 seeds; md: 2 budgets; flaky, crashy, tiny-smc, open, evil, tie-a, tie-b, paper
    assert len(store.records) == len(VALUES) == 2 * 2 * 3 + 2 + 8


@pytest.mark.parametrize("method,budget", [("tarflow", 10_000), ("robin", 200_000), ("md-baseline", 10_000)])
def test_mean_over_systems_then_mean_std_over_seeds(store, method, budget):
    final_set = "md" if method == "md-baseline" else "resampled"
    table = _table(build_tables(store.frame), "8AA", "quick", budget)
    (row,) = [r for r in table.rows if r.method == method]
    seeds = sorted(s for (m, f, t, tier, b, s) in VALUES if (m, t, tier, b) == (method, "8AA", "quick", budget))
    for metric in ("energy-w2", "torus-w2", "tica-w2", "effective-sample-size"):
        per_seed = [statistics.fmean(VALUES[(method, final_set, "8AA", "quick", budget, s)][sys][metric] for sys in QUICK_8AA) for s in seeds]
        cell = row.cells[metric]
        assert cell.mean == pytest.approx(statistics.fmean(per_seed), rel=1e-12)
        if len(seeds) > 1:
            assert cell.std == pytest.approx(statistics.stdev(per_seed), rel=1e-12)
        else:
            assert cell.std is None
        assert (cell.n_seeds, cell.n_systems, cell.n_expected, cell.partial) == (len(seeds), 2, 2, False)
        assert len(cell.record_ids) == len(seeds)


def test_ranks_follow_metric_direction(store):
    table = _table(build_tables(store.frame), "8AA", "quick", 10_000)
    for metric, higher in (("energy-w2", False), ("effective-sample-size", True)):
        ranked = [r for r in table.rows if not (r.cells[metric].partial or r.cells[metric].reduced) and r.track == "closed"]
        ordered = sorted(ranked, key=lambda r: r.cells[metric].mean, reverse=higher)
        assert ordered[0].cells[metric].rank == 1
        assert ordered[1].cells[metric].rank == 2
        assert all(r.cells[metric].rank is None for r in ordered[2:])


def test_failed_system_makes_a_marked_unranked_cell(store):
    table = _table(build_tables(store.frame), "8AA", "quick", 10_000)
    (row,) = [r for r in table.rows if r.method == "flaky-flow"]
    cell = row.cells["energy-w2"]
    ok_system = QUICK_8AA[0]
    assert cell.mean == pytest.approx(VALUES[("flaky-flow", "resampled", "8AA", "quick", 10_000, 0)][ok_system]["energy-w2"])
    assert (cell.partial, cell.n_systems, cell.n_expected, cell.rank) == (True, 1, 2, None)


def test_all_failed_record_is_shown_empty_and_partial(store):
    table = _table(build_tables(store.frame), "8AA", "quick", 10_000)
    (row,) = [r for r in table.rows if r.method == "crashy-flow"]
    assert set(row.cells) == set(table.metrics)
    assert all(c.mean is None and c.partial and (c.n_systems, c.n_expected) == (0, 2) and c.rank is None for c in row.cells.values())


def test_fully_failed_seed_makes_the_entry_partial(tmp_path):
    import json

    root = write_fixture_records(tmp_path / "r", with_plots=False)
    path = root / "robin" / "8AA-quick-10000-seed1.json"
    data = json.loads(path.read_text())
    for res in data["systems"].values():
        res.update(status="failed", error="out of memory", metrics={})
    path.write_text(json.dumps(data))
    table = _table(build_tables(load_records(root).frame), "8AA", "quick", 10_000)
    (row,) = [r for r in table.rows if r.method == "robin"]
    cell = row.cells["energy-w2"]
    per_seed = [statistics.fmean(VALUES[("robin", "resampled", "8AA", "quick", 10_000, s)][sys]["energy-w2"] for sys in QUICK_8AA) for s in (0, 2)]
    assert cell.mean == pytest.approx(statistics.fmean(per_seed))
    assert (cell.partial, cell.n_systems, cell.n_seeds, cell.rank) == (True, 0, 2, None)


def test_tiers_and_budgets_never_share_a_table(store):
    tables = build_tables(store.frame)
    keys = [(t.task, t.task_version, t.tier, t.budget) for t in tables]
    assert len(keys) == len(set(keys))
    paper = _table(tables, "8AA", "paper", 10_000)
    assert [r.method for r in paper.rows] == ["tarflow"]
    quick = _table(tables, "8AA", "quick", 10_000)
    assert {r.method for r in quick.rows} == {"tarflow", "robin", "md-baseline", "flaky-flow", "crashy-flow", "tiny-smc", "open-flow"}


def test_task_version_splits_tables(tmp_path):
    import json

    root = write_fixture_records(tmp_path / "r", with_plots=False)
    path = root / "md-baseline" / "8AA-quick-10000-seed0.json"
    data = json.loads(path.read_text())
    data["task"]["version"] = 2
    path.write_text(json.dumps(data))
    tables = build_tables(load_records(root).frame)
    versions = {t.task_version for t in tables if (t.task, t.tier, t.budget) == ("8AA", "quick", 10_000)}
    assert versions == {1, 2}


def test_a_rerun_replaces_the_older_record(tmp_path):
    import json

    root = write_fixture_records(tmp_path / "r", with_plots=False)
    old = root / "md-baseline" / "8AA-quick-10000-seed0.json"
    data = json.loads(old.read_text())
    data["created"] = "2999-01-01T00:00:00+00:00"
    new_values = {"PGESTAES": 10.0, "MAPQTIAT": 20.0}
    for name, value in new_values.items():
        data["systems"][name]["metrics"]["md/energy-w2"] = value
    (root / "md-baseline" / "rerun.json").write_text(json.dumps(data))
    store = load_records(root)
    assert any(p.path == str(old) and "superseded" in p.reason for p in store.problems)
    (row,) = [r for r in _table(build_tables(store.frame), "8AA", "quick", 10_000).rows if r.method == "md-baseline"]
    assert row.cells["energy-w2"].mean == pytest.approx(statistics.fmean(new_values.values()))
    assert row.cells["energy-w2"].n_seeds == 1 and len(row.cells["energy-w2"].record_ids) == 1


def test_record_missing_systems_is_partial(tmp_path):
    import json

    root = write_fixture_records(tmp_path / "r", with_plots=False)
    path = root / "tarflow" / "8AA-paper.json"  # the paper tier of 8AA has 30 systems; the record lists 2
    assert len(json.loads(path.read_text())["systems"]) == 2
    (row,) = _table(build_tables(load_records(root).frame), "8AA", "paper", 10_000).rows
    assert (row.cells["energy-w2"].partial, row.cells["energy-w2"].n_systems, row.cells["energy-w2"].n_expected) == (True, 2, 30)


def test_empty_folder_gives_no_tables(tmp_path):
    store = load_records(tmp_path / "missing")
    assert store.records == {} and build_tables(store.frame) == []


def test_two_records_inside_the_floor_are_tied(store):
    """tie-a and tie-b differ by 0.25 kT in E-W2; the ALDP floor (0.40, carried by a record) makes them a tie."""
    from leaderboard.floors import load_floors

    frame = store.frame[store.frame.method.isin(list(TIE_VALUES))]
    floors = load_floors(store, path=None).metric_map()
    assert floors[("ALDP", 1, "quick", "Ace-A-Nme")]["energy-w2"] == FLOORS[("ALDP", "Ace-A-Nme")]["energy-w2"]
    (table,) = build_tables(frame, floors)
    cells = {r.method: r.cells["energy-w2"] for r in table.rows}
    assert abs(TIE_VALUES["tie-a"] - TIE_VALUES["tie-b"]) < FLOORS[("ALDP", "Ace-A-Nme")]["energy-w2"]
    assert [(c.rank, c.tied) for c in cells.values()] == [(1, True), (1, True)]
    assert table.floor["energy-w2"].mean == FLOORS[("ALDP", "Ace-A-Nme")]["energy-w2"] and table.floor["energy-w2"].complete
    (plain,) = build_tables(frame)  # no floor: plain ranking, no tie
    assert sorted((r.cells["energy-w2"].rank, r.cells["energy-w2"].tied) for r in plain.rows) == [(1, False), (2, False)]
    tight = {k: {"energy-w2": 0.2} for k in floors}  # a floor below the difference: no tie
    (table,) = build_tables(frame, tight)
    assert sorted(r.cells["energy-w2"].rank for r in table.rows) == [1, 2]


def test_rank_levels_with_a_floor():
    from leaderboard.aggregate import Cell, Row, rank_cells

    def ranks(values, floor, metric="energy-w2"):
        rows = [Row(label=str(v), method=str(v), cells={metric: Cell(mean=v)}) for v in values]
        rank_cells(rows, [metric], {metric: floor})
        return [(r.cells[metric].rank, r.cells[metric].tied) for r in rows]

    # 1.08 is within 0.1 of 1.0 (tie); 1.16 is not within 0.1 of 1.0, so it is second; 3.0 is third (unmarked)
    assert ranks([1.0, 1.08, 1.16, 3.0], 0.1) == [(1, True), (1, True), (2, False), (None, False)]
    assert ranks([1.0, 1.08, 1.16, 3.0], 0.0) == [(1, False), (2, False), (None, False), (None, False)]
    assert ranks([2.0, 2.0, 3.0], 0.0) == [(1, True), (1, True), (2, False)]  # exact ties share a rank (dense)
    assert ranks([5.0, 1.0], 0.0, "mean-energy") == [(None, False), (None, False)]  # not a better-or-worse metric


def test_reduced_sets_are_flagged_and_never_ranked(store):
    table = _table(build_tables(store.frame), "8AA", "quick", 10_000)
    (row,) = [r for r in table.rows if r.method == "tiny-smc"]
    cell = row.cells["energy-w2"]
    expected = statistics.fmean(VALUES[("tiny-smc", "smc", "8AA", "quick", 10_000, 0)][s]["energy-w2"] for s in QUICK_8AA)
    assert cell.mean == pytest.approx(expected)  # the smallest E-W2 of the table, yet unranked
    assert (cell.reduced, cell.n_scored, cell.n_protocol, cell.rank) == (True, 100, 1000, None)
    assert all(not r.cells["energy-w2"].reduced for r in table.rows if r.method != "tiny-smc")


def test_open_track_is_ranked_on_its_own(store):
    table = _table(build_tables(store.frame), "8AA", "quick", 10_000)
    (row,) = [r for r in table.rows if r.method == "open-flow"]
    assert row.track == "open" and row.cells["energy-w2"].rank == 1  # the only open entry
    closed = [r for r in table.rows if r.track == "closed" and r.cells["energy-w2"].rank == 1]
    assert len(closed) == 1 and closed[0].method != "open-flow"
    assert [r.track for r in table.rows] == sorted((r.track for r in table.rows), key=lambda t: t != "closed")


def test_local_records_are_marked_and_do_not_replace_committed_ones(tmp_path):
    import shutil

    from leaderboard.store import Source

    root = write_fixture_records(tmp_path / "r", with_plots=False)
    local = tmp_path / "results"
    shutil.copytree(root / "robin", local / "robin")
    store = load_records([Source(root), Source(local, local=True)])
    assert len(store.local) == 6 and all(rid.startswith("local-") for rid in store.local)
    assert not any("superseded" in p.reason for p in store.problems)
    table = _table(build_tables(store.frame), "8AA", "quick", 10_000)
    robin = [r for r in table.rows if r.method == "robin"]
    assert sorted(r.local for r in robin) == [False, True]
    assert robin[0].cells["energy-w2"].mean == pytest.approx(robin[1].cells["energy-w2"].mean)


def test_8aa_paper_records_from_before_the_tica_fix_carry_the_caveat(tmp_path):
    import json

    from leaderboard.board import build_board

    root = write_fixture_records(tmp_path / "r", with_plots=False)
    path = root / "tarflow" / "8AA-paper.json"
    data = json.loads(path.read_text())
    data["created"] = "2025-11-30T00:00:00+00:00"
    path.write_text(json.dumps(data))
    board = build_board(root, published=None, floors_file=None)
    (paper,) = [t for t in board.tables if (t.task, t.tier) == ("8AA", "paper")]
    assert any("C-alpha-only" in c for c in paper.rows[0].caveats)
    (quick,) = [t for t in board.tables if (t.task, t.tier, t.budget) == ("8AA", "quick", 10_000)]
    assert not any("C-alpha" in c for r in quick.rows for c in r.caveats)
