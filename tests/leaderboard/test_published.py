"""Published tables: parsing, shape of the transcribed files, and separation from harness rows."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmark.errors import DataError
from benchmark.tasks import TASKS
from leaderboard.aggregate import build_tables
from leaderboard.published import attach_published, load_published, load_published_file, parse_value
from leaderboard.store import load_records
from tests.leaderboard.fixtures import write_fixture_records


def test_parse_value_forms():
    assert parse_value(1.5, "x").mean == 1.5 and parse_value(1.5, "x").std is None
    cell = parse_value([0.271, 0.113], "x")
    assert (cell.mean, cell.std) == (0.271, 0.113)
    bound = parse_value(">1e4", "x")
    assert bound.lower_bound and bound.mean == 1e4
    for bad in ("n/a", [1, 2, 3], True, None):
        with pytest.raises(DataError):
            parse_value(bad, "x")


def test_transcribed_tables_have_the_papers_shape():
    values = load_published()
    rows = Counter((v.table, v.task, v.budget, v.method) for v in values)
    methods = lambda table, **kw: {k[3] for k in rows if k[0] == table and all(dict(zip(("task", "budget"), k[1:3]))[a] == b for a, b in kw.items())}
    assert len(methods("Table 1")) == 10  # ten algorithms in Table 1
    assert len(methods("Table 1", task="CHIGNOLIN")) == 6  # only six report Chignolin
    assert len(methods("Table A.3", task="ALDP")) == 12
    assert len(methods("Table 2", task="4AA", budget=10_000)) == 8
    assert len(methods("Table 2", task="8AA", budget=10_000)) == 6
    assert methods("Table 2", budget=200_000) == {"TarFlow", "Prose", "ROBIN"}
    assert {v.task for v in values if v.table == "Table A.2"} == {"2AA", "4AA", "8AA"}
    assert all(v.task in TASKS and v.tier == "paper" for v in values)
    assert all(v.budget == 200_000 for v in values if v.table in ("Table 1", "Table A.3"))


def test_published_rows_stay_apart_from_harness_rows(tmp_path):
    store = load_records(write_fixture_records(tmp_path, with_plots=False))
    tables = attach_published(build_tables(store.frame), load_published())
    (t8,) = [t for t in tables if (t.task, t.tier, t.budget) == ("8AA", "paper", 10_000)]
    assert [r.kind for r in t8.rows] == ["harness"]
    assert t8.published and all(r.kind == "published" and r.source.startswith("ARBG") for r in t8.published)
    # ranks among published rows only: ROBIN has the lowest 8AA E-W2 at 1e4 in Table 2
    best = min(t8.published, key=lambda r: r.cells["energy-w2"].mean)
    assert best.method == "ROBIN" and best.cells["energy-w2"].rank == 1
    # published-only tables exist for tasks without harness results
    assert any(t.task == "AL3" and not t.rows and t.published for t in tables)


def test_ranking_reproduces_the_papers_underlines():
    """Every value the papers underline (second best) gets rank 2 from our ranking of their own rows."""
    values = load_published()
    tables = attach_published([], values)
    rank = {(t.task, t.budget, r.label, m): c.rank for t in tables for r in t.published for m, c in r.cells.items()}
    underlined = [(v.task, v.budget, v.method, v.metric) for v in values if v.paper_underlined]
    assert len(underlined) == 19
    assert {k: rank[k] for k in underlined} == {k: 2 for k in underlined}


def test_bad_published_file_names_itself(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: x\ntable: T\ntier: paper\ntask_version: 1\nrows:\n  - {task: AL3, method: M, energy-w2: oops}\n")
    with pytest.raises(DataError, match="bad.yaml"):
        load_published_file(bad)
