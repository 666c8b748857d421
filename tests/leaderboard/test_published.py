"""Published tables: parsing, shape of the transcribed files, protocol labels, and separation from harness rows."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmark.errors import DataError
from benchmark.tasks import TASKS
from leaderboard.aggregate import Row, build_tables, rank_cells
from leaderboard.published import attach_published, load_published, load_published_file, parse_value
from leaderboard.store import load_records
from tests.leaderboard.fixtures import write_fixture_records


def test_parse_value_forms():
    assert parse_value(1.5, "x").mean == 1.5 and parse_value(1.5, "x").std is None
    cell = parse_value([0.271, 0.113], "x")
    assert (cell.mean, cell.std) == (0.271, 0.113)
    bound = parse_value(">1e4", "x")
    assert bound.lower_bound and bound.mean == 1e4
    for bad in ("n/a", [1, 2, 3], True, None, [True, 1]):
        with pytest.raises(DataError):
            parse_value(bad, "x")


def test_transcribed_tables_have_the_papers_shape():
    values = load_published()
    rows = Counter((v.table, v.task, v.table_budget, v.method) for v in values)
    methods = lambda table, **kw: {k[3] for k in rows if k[0] == table and all(dict(zip(("task", "budget"), k[1:3]))[a] == b for a, b in kw.items())}
    assert len(methods("Table 1")) == 10  # ten algorithms in Table 1
    assert len(methods("Table 1", task="CHIGNOLIN")) == 6  # only six report Chignolin
    assert len(methods("Table A.3", task="ALDP")) == 12
    assert len(methods("Table 2", task="4AA", budget=10_000)) == 8
    assert len(methods("Table 2", task="8AA", budget=10_000)) == 6
    assert methods("Table 2", budget=200_000) == {"TarFlow", "Prose", "ROBIN"}
    assert {v.task for v in values if v.table == "Table A.2"} == {"2AA", "4AA", "8AA"}
    assert methods("Table A.4") == {"SBG", "Prose"} and methods("Table A.5") == {"ARBG", "ROBIN"}
    assert methods("Prose Table 4", task="4AA") == {"Prose (SNIS)", "Prose (SMC-MALA)", "Prose (self-improvement)"}
    assert all(v.task in TASKS and v.tier == "paper" and v.protocol for v in values)


def test_rows_copied_from_other_papers_carry_their_own_protocol():
    """Only rows that ran at the table's budget claim it; copied rows say what they ran and are not ranked."""
    values = load_published()
    own = {(v.table, v.task, v.method): (v.evaluations, v.comparable, v.protocol) for v in values if v.table_budget != 200_000 or v.table != "Table 2"}
    assert own[("Table 1", "AL3", "ECNF++")][:2] == (10_000, False) and "10^4 samples" in own[("Table 1", "AL3", "ECNF++")][2]
    assert own[("Table 1", "AL3", "SBG (SMC)")][:2] == (1_000_000, False)
    assert own[("Table 1", "CHIGNOLIN", "SBG (SMC)")][:2] == (5_000_000, False)
    assert own[("Table A.3", "ALDP", "SBG")][:2] == (1_000_000, False)
    for method in ("BoltzNCE", "SE(3)-EACF", "ECNF", "RegFlow", "FALCON", "FALCON-A"):
        assert own[("Table A.3", "ALDP", method)][:2] == (None, False), method
    assert own[("Table 1", "AL3", "ARBG (T = 1)")][:2] == (200_000, True)
    assert own[("Table 2", "8AA", "ROBIN SMC")][1] is False  # partial-energy evaluations on top of 10^4
    assert own[("Table 2", "8AA", "ROBIN")][:2] == (10_000, True)
    copied = [v for v in values if v.table in ("Table 1", "Table A.3") and "copied" in v.protocol]
    assert copied and all(v.evaluations != 200_000 and not v.comparable for v in copied)


def test_8aa_tica_rows_carry_the_tica_model_caveat():
    values = load_published()
    tica_8aa = [v for v in values if v.task == "8AA" and v.metric == "tica-w2"]
    assert tica_8aa and all(any("C-alpha-only" in c for c in v.caveats) for v in tica_8aa)
    assert not any("C-alpha" in c for v in values if v.task != "8AA" for c in v.caveats)


def test_published_rows_stay_apart_from_harness_rows(tmp_path):
    store = load_records(write_fixture_records(tmp_path, with_plots=False))
    tables = attach_published(build_tables(store.frame), load_published())
    (t8,) = [t for t in tables if (t.task, t.tier, t.budget) == ("8AA", "paper", 10_000)]
    assert [r.kind for r in t8.rows] == ["harness"]
    assert t8.published and all(r.kind == "published" and r.source.startswith("ARBG") for r in t8.published)
    # ranks among comparable published rows only: ROBIN has the lowest 8AA E-W2 at 1e4 in Table 2
    best = min((r for r in t8.published if r.comparable), key=lambda r: r.cells["energy-w2"].mean)
    assert best.method == "ROBIN" and best.cells["energy-w2"].rank == 1
    assert all(c.rank is None for r in t8.published if not r.comparable for c in r.cells.values())
    # published-only tables exist for tasks without harness results
    assert any(t.task == "AL3" and not t.rows and t.published for t in tables)


def test_paper_ranking_reproduces_the_papers_underlines():
    """Ranking every row of a paper table as the paper did gives rank 2 to exactly the values it underlines
    (this checks the transcription of the marks; the board itself ranks only comparable rows)."""
    values = load_published()
    rows: dict[tuple, Row] = {}
    for v in values:
        key = (v.table, v.task, v.table_budget)
        rows.setdefault(key + (v.method,), Row(label=v.method, method=v.method, cells={})).cells[v.metric] = v.cell
    for key in {k[:3] for k in rows}:
        group = [r for k, r in rows.items() if k[:3] == key]
        rank_cells(group, sorted({m for r in group for m in r.cells}))
    rank = {k[:3] + (k[3], m): c.rank for k, r in rows.items() for m, c in r.cells.items()}
    underlined = [(v.table, v.task, v.table_budget, v.method, v.metric) for v in values if v.paper_underlined]
    assert len(underlined) == 19
    assert {k: rank[k] for k in underlined} == {k: 2 for k in underlined}


def test_bad_published_file_names_itself(tmp_path):
    bad = tmp_path / "bad.yaml"
    head = "source: x\ntable: T\ntier: paper\ntask_version: 1\ntable_budget: null\nprotocol: p\n"
    bad.write_text(head + "rows:\n  - {task: AL3, method: M, energy-w2: oops}\n")
    with pytest.raises(DataError, match="bad.yaml"):
        load_published_file(bad)
    bad.write_text(head + "rows:\n  - {task: AL3, method: M, evaluations: true, energy-w2: 1}\n")
    with pytest.raises(DataError, match="evaluations"):
        load_published_file(bad)
