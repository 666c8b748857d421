"""Leaderboard throughput on a paper-sized board: 8AA paper tier, 30 systems, 10 methods x 5 seeds x 2 budgets.

Run with ``pytest tests/benchmarks -m benchmark --benchmark-enable``.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.results import RunRecord, SystemResult, write_record
from benchmark.tasks import get_task
from leaderboard.aggregate import build_tables
from leaderboard.site import build_site
from leaderboard.store import load_records

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    rng = np.random.default_rng(0)
    task = get_task("8AA")
    systems = [s.name for s in task.systems_for("paper")]
    for m in range(10):
        for budget in task.protocol("paper").budgets:
            for seed in task.protocol("paper").seeds:
                results = {s: SystemResult(status="ok", metrics={f"resampled/{k}": float(rng.uniform(0.1, 3)) for k in
                                                                 ("energy-w2", "torus-w2", "tica-w2", "effective-sample-size")})
                           for s in systems}
                rec = RunRecord(method={"name": f"method{m}", "version": "1"}, task={"name": "8AA", "version": task.version, "tier": "paper"},
                                protocol={}, budget=budget, seed=seed, sampler=None, evaluation={}, final_set="resampled",
                                systems=results)
                write_record(rec, root / f"m{m}" / f"{budget}-{seed}.json")
    return root


def test_load_and_aggregate(benchmark, board):
    tables = benchmark(lambda: build_tables(load_records(board).frame))
    assert len(tables) == 2 and all(len(t.rows) == 10 for t in tables)


def test_build_site(benchmark, board, tmp_path):
    release = benchmark.pedantic(build_site, args=(board, tmp_path / "site"), rounds=1, iterations=1)
    assert len(release["records"]) == 100
