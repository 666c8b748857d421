"""Aggregate per-system results the way the papers do, and rank each column.

For one record the task value of a metric is the mean over its ``ok`` systems (the papers' task
mean). Records of the same entry (method, version, answer set) that differ only in the seed are then
summarised as mean ± sample std (ddof 1) over seeds. Tables are keyed by task, task version, tier and
budget, so different versions or tiers never share a table. A task with failed or missing systems is
never averaged silently: the cell carries ``partial`` and the ``n_systems/n_expected`` counts, and it
is not ranked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leaderboard.schema import TABLE_METRICS, higher_is_better, order_metrics


@dataclass
class Cell:
    """One aggregated value of one entry for one metric."""

    mean: float | None
    std: float | None = None
    n_seeds: int = 0
    n_systems: int = 0  # fewest ok systems over the seeds behind the cell
    n_expected: int = 0
    partial: bool = False
    lower_bound: bool = False  # published "> x" values
    record_ids: list[str] = field(default_factory=list)
    rank: int | None = None  # 1 best, 2 second; None when not ranked


@dataclass
class Row:
    label: str
    method: str
    cells: dict[str, Cell]
    kind: str = "harness"  # "harness" or "published"
    method_version: str = ""
    final_set: str = ""
    source: str = ""  # published rows: where the number comes from
    source_file: str = ""  # published rows: the data file under published/


@dataclass
class Table:
    task: str
    task_version: int
    tier: str
    budget: int | None
    metrics: list[str]
    rows: list[Row]
    published: list[Row] = field(default_factory=list)

    @property
    def key(self) -> str:
        budget = "nobudget" if self.budget is None else f"{self.budget}"
        return f"{self.task}-v{self.task_version}-{self.tier}-{budget}"


def task_values(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per record and metric: the mean over ok systems and the system counts."""
    if frame.empty:
        return pd.DataFrame(columns=["record_id", "metric", "value", "n_ok", "n_expected"])
    ok_counts = frame[frame.status == "ok"].groupby("record_id").system.nunique()
    expected = frame.groupby("record_id").n_expected.first()
    ok = frame[(frame.status == "ok") & frame.metric.notna() & np.isfinite(frame.value)]
    out = ok.groupby(["record_id", "metric"], as_index=False).agg(value=("value", "mean"), n_with_value=("system", "nunique"))
    out["n_ok"] = out.record_id.map(ok_counts).fillna(0).astype(int)
    # a metric missing for some ok systems is as partial as a failed system
    out["n_ok"] = out[["n_ok", "n_with_value"]].min(axis=1)
    out["n_expected"] = out.record_id.map(expected)
    return out.drop(columns="n_with_value")


def rank_cells(rows: list[Row], metrics: list[str]) -> None:
    """Set ``rank`` 1 (best) and 2 (second) per metric, respecting its direction; ties share a rank."""
    for metric in metrics:
        cells = [r.cells[metric] for r in rows if metric in r.cells]
        eligible = [c for c in cells if c.mean is not None and math.isfinite(c.mean) and not c.partial]
        sign = -1.0 if higher_is_better(metric) else 1.0
        for cell in cells:
            cell.rank = None
        for cell in eligible:
            better = {sign * o.mean for o in eligible if sign * o.mean < sign * cell.mean}
            rank = 1 + len(better)
            cell.rank = rank if rank <= 2 else None


def build_tables(frame: pd.DataFrame) -> list[Table]:
    """Tables of harness rows, one per (task, task version, tier, budget).

    A record whose systems all failed still shows up: its entry gets empty, partial cells
    (``— (n=0/2)``), and a seed that failed completely makes the entry's cells partial.
    """
    if frame.empty:
        return []
    values = task_values(frame)
    meta_cols = ["record_id", "entry", "method", "method_version", "final_set", "task", "task_version", "tier", "budget", "seed", "n_expected"]
    meta = frame[meta_cols].drop_duplicates("record_id")
    values = values.drop(columns="n_expected").merge(meta, on="record_id")
    tables = []
    for (task, version, tier, budget), records in meta.groupby(["task", "task_version", "tier", "budget"], sort=True):
        group = values[values.record_id.isin(records.record_id)]
        present = set(group.metric)
        metrics = [m for m in order_metrics(present) if m in TABLE_METRICS] or order_metrics(present) or ["energy-w2"]
        rows = []
        for entry, entry_records in records.groupby("entry", sort=True):
            by_entry = group[group.entry == entry]
            ids = sorted(entry_records.record_id)
            n_expected = int(entry_records.n_expected.max())
            cells = {}
            for metric, g in by_entry.groupby("metric"):
                vals = g.value.to_numpy(dtype=float)
                # records without any value for this metric count as 0 ok systems
                n_systems = int(g.n_ok.min()) if len(g) == len(ids) else 0
                cells[metric] = Cell(
                    mean=float(vals.mean()),
                    std=float(vals.std(ddof=1)) if len(vals) > 1 else None,
                    n_seeds=int(g.seed.nunique()),
                    n_systems=n_systems,
                    n_expected=n_expected,
                    partial=n_systems < n_expected,
                    record_ids=sorted(g.record_id),
                )
            if not cells:  # every system of every record failed
                cells = {m: Cell(mean=None, n_seeds=int(entry_records.seed.nunique()), n_systems=0, n_expected=n_expected,
                                 partial=True, record_ids=ids) for m in metrics}
            first = entry_records.iloc[0]
            rows.append(Row(label=str(entry), method=str(first.method), method_version=str(first.method_version),
                            final_set=str(first.final_set), cells=cells))
        rank_cells(rows, metrics)
        tables.append(Table(task=str(task), task_version=int(version), tier=str(tier), budget=int(budget), metrics=metrics, rows=rows))
    return tables
