"""Aggregate per-system results the way the papers do, and rank each column above the noise floor.

For one record the task value of a metric is the mean over its ``ok`` systems (the papers' task
mean). Records of the same entry (method, version, answer set, track, local or committed) that differ
only in the seed are then summarised as mean ± sample std (ddof 1) over seeds. Tables are keyed by
task, task version, tier and budget, so different versions or tiers never share a table.

Cells that are not comparable are shown but never ranked: a task with failed or missing systems
(``partial``, with the ``n_systems/n_expected`` counts) and a set scored on fewer samples than the
protocol (``reduced``, e.g. SMC with 100 particles). Metrics that are not better or worse (mean and
median energy) are never ranked either.

Noise floor: a table's floor of a metric is the mean over its systems of the per-system floor
(``benchmark/metrics/noise_floor.py``), the same mean the cells are. Ranks are levels: a cell's rank
is one more than the longest chain of cells, each better than the next by more than the floor, that
ends above it. So values closer than the floor share a rank (a tie), and with no floor this is plain
dense ranking. Closed- and open-track entries are ranked separately.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from benchmark.errors import UnknownNameError
from benchmark.tasks import get_task
from benchmark.units import direction
from leaderboard.schema import TABLE_METRICS, order_metrics

#: (task, task version, tier, system) -> {metric: floor value}
FloorMap = Mapping[tuple[str, int, str, str], Mapping[str, float]]


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
    tied: bool = False  # shares its rank with another cell (values within the noise floor)
    reduced: bool = False  # scored on fewer samples than the protocol's n_eval_samples
    n_scored: int | None = None  # fewest samples any system of the cell was scored on
    n_protocol: int | None = None


@dataclass
class FloorCell:
    """A table's noise floor of one metric: the mean of its systems' floors."""

    mean: float | None
    n_systems: int
    n_expected: int

    @property
    def complete(self) -> bool:
        return self.mean is not None and self.n_systems == self.n_expected


@dataclass
class Row:
    label: str
    method: str
    cells: dict[str, Cell]
    kind: str = "harness"  # "harness" or "published"
    method_version: str = ""
    final_set: str = ""
    track: str = "closed"
    local: bool = False
    source: str = ""  # published rows: where the number comes from
    source_file: str = ""  # published rows: the data file under published/
    protocol: str = ""  # published rows: how the number was made (sampler, samples, evaluations)
    evaluations: int | None = None  # published rows: energy evaluations of that protocol (None: not stated)
    comparable: bool = True  # published rows: ran at the table's budget (ranked); False: shown, not ranked
    caveats: list[str] = field(default_factory=list)
    costs: dict = field(default_factory=dict)


@dataclass
class Table:
    task: str
    task_version: int
    tier: str
    budget: int | None
    metrics: list[str]
    rows: list[Row]
    published: list[Row] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    floor: dict[str, FloorCell] = field(default_factory=dict)
    md_runs: dict[str, float] = field(default_factory=dict)  # MD run-to-run spread at this budget (shown, not used for ties)

    @property
    def key(self) -> str:
        budget = "nobudget" if self.budget is None else f"{self.budget}"
        return f"{self.task}-v{self.task_version}-{self.tier}-{budget}"


def task_values(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per record and metric: the mean over ok systems, the system counts and the fewest samples scored."""
    if frame.empty:
        return pd.DataFrame(columns=["record_id", "metric", "value", "n_ok", "n_expected", "n_scored", "reduced"])
    ok_counts = frame[frame.status == "ok"].groupby("record_id").system.nunique()
    expected = frame.groupby("record_id").n_expected.first()
    ok = frame[(frame.status == "ok") & frame.metric.notna() & np.isfinite(frame.value.astype(float))]
    out = ok.groupby(["record_id", "metric"], as_index=False).agg(value=("value", "mean"), n_with_value=("system", "nunique"))
    out["n_ok"] = out.record_id.map(ok_counts).fillna(0).astype(int)
    # a metric missing for some ok systems is as partial as a failed system
    out["n_ok"] = out[["n_ok", "n_with_value"]].min(axis=1)
    out["n_expected"] = out.record_id.map(expected)
    scored = frame[frame.status == "ok"].groupby("record_id").agg(n_scored=("n_scored", "min"), n_protocol=("n_protocol", "first"))
    out["n_scored"] = out.record_id.map(scored.n_scored)
    protocol = out.record_id.map(scored.n_protocol)
    out["reduced"] = (out.n_scored.notna() & protocol.notna() & (out.n_scored < protocol)).astype(bool)
    return out.drop(columns="n_with_value")


def _levels(values: list[float], floor: float) -> list[int]:
    """Rank levels of values (lower is better): 1 + longest chain of values each better by more than ``floor``."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    level = [1] * len(values)
    for pos, i in enumerate(order):
        better = [level[j] for j in order[:pos] if values[j] < values[i] - floor]
        level[i] = 1 + max(better, default=0)
    return level


def rank_cells(rows: list[Row], metrics: list[str], floor: Mapping[str, float] | None = None) -> None:
    """Set ``rank`` 1 (best) and 2 (second) and ``tied`` per metric; ties are values within the floor.

    Only cells with a finite value that are neither partial, reduced nor lower bounds are ranked; rows
    marked not ``comparable`` and metrics without a direction are left out.
    """
    for metric in metrics:
        cells = [r.cells[metric] for r in rows if metric in r.cells]
        for cell in cells:
            cell.rank, cell.tied = None, False
        way = direction(metric)
        if way is None:
            continue
        eligible = [r.cells[metric] for r in rows if metric in r.cells and r.comparable]
        eligible = [c for c in eligible if c.mean is not None and math.isfinite(c.mean) and not (c.partial or c.reduced or c.lower_bound)]
        sign = -1.0 if way == "higher" else 1.0
        tolerance = max(0.0, float((floor or {}).get(metric) or 0.0))
        levels = _levels([sign * c.mean for c in eligible], tolerance)
        for cell, level in zip(eligible, levels):
            cell.rank = level if level <= 2 else None
            cell.tied = cell.rank is not None and levels.count(level) > 1


def table_systems(task: str, version: int, tier: str, listed: set[str]) -> list[str]:
    """The systems a table covers: the registry's for the tier (when it knows the version) plus any a record lists."""
    try:
        t = get_task(task)
        if int(t.version) == int(version):
            names = [s.name for s in t.systems_for(tier)]
            return names + sorted(listed - set(names))
    except (UnknownNameError, ValueError, TypeError):
        pass
    return sorted(listed)


def table_floor(floors: FloorMap | None, task: str, version: int, tier: str, systems: list[str], metrics: list[str]) -> dict[str, FloorCell]:
    """Per metric, the mean floor over the table's systems (complete only when every system has one)."""
    out: dict[str, FloorCell] = {}
    if not floors:
        return out
    for metric in metrics:
        values = [floors[(task, version, tier, s)][metric] for s in systems
                  if metric in floors.get((task, version, tier, s), {})]
        if values:
            out[metric] = FloorCell(mean=float(np.mean(values)), n_systems=len(values), n_expected=len(systems))
    return out


def complete_floor(table: Table) -> dict[str, float]:
    """The floor values ranks use: only floors known for every system of the table."""
    return {m: f.mean for m, f in table.floor.items() if f.complete}


def _cells(by_entry: pd.DataFrame, ids: list[str], n_expected: int) -> dict[str, Cell]:
    cells = {}
    for metric, g in by_entry.groupby("metric"):
        vals = g.value.to_numpy(dtype=float)
        # records without any value for this metric count as 0 ok systems
        n_systems = int(g.n_ok.min()) if len(g) == len(ids) else 0
        scored = g.n_scored.dropna()
        cells[metric] = Cell(
            mean=float(vals.mean()),
            std=float(vals.std(ddof=1)) if len(vals) > 1 else None,
            n_seeds=int(g.seed.nunique()),
            n_systems=n_systems,
            n_expected=n_expected,
            partial=n_systems < n_expected,
            record_ids=sorted(g.record_id),
            reduced=bool(g.reduced.any()),
            n_scored=int(scored.min()) if len(scored) else None,
            n_protocol=int(g.n_protocol.dropna().min()) if g.n_protocol.notna().any() else None,
        )
    return cells


def build_tables(frame: pd.DataFrame, floors: FloorMap | None = None) -> list[Table]:
    """Tables of harness rows, one per (task, task version, tier, budget).

    A record whose systems all failed still shows up: its entry gets empty, partial cells
    (``— (n=0/2)``), and a seed that failed completely makes the entry's cells partial.
    ``floors`` (per system, see ``leaderboard/floors.py``) set each table's floor and the ties.
    """
    if frame.empty:
        return []
    values = task_values(frame)
    meta_cols = ["record_id", "entry", "method", "method_version", "final_set", "track", "local", "task", "task_version",
                 "tier", "budget", "seed", "n_expected", "n_protocol"]
    meta = frame[meta_cols].drop_duplicates("record_id")
    values = values.drop(columns="n_expected").merge(meta.drop(columns="n_protocol"), on="record_id")
    values["n_protocol"] = values.record_id.map(meta.set_index("record_id").n_protocol)
    tables = []
    for (task, version, tier, budget), records in meta.groupby(["task", "task_version", "tier", "budget"], sort=True):
        group = values[values.record_id.isin(records.record_id)]
        present = set(group.metric)
        metrics = [m for m in order_metrics(present) if m in TABLE_METRICS] or order_metrics(present) or ["energy-w2"]
        systems = table_systems(str(task), int(version), str(tier), set(frame[frame.record_id.isin(records.record_id)].system))
        table = Table(task=str(task), task_version=int(version), tier=str(tier), budget=int(budget), metrics=metrics, rows=[],
                      systems=systems, floor=table_floor(floors, str(task), int(version), str(tier), systems, metrics))
        for (entry, track, local), entry_records in records.groupby(["entry", "track", "local"], sort=True):
            ids = sorted(entry_records.record_id)
            n_expected = int(entry_records.n_expected.max())
            cells = _cells(group[group.record_id.isin(ids)], ids, n_expected)
            if not cells:  # every system of every record failed
                cells = {m: Cell(mean=None, n_seeds=int(entry_records.seed.nunique()), n_systems=0, n_expected=n_expected,
                                 partial=True, record_ids=ids) for m in metrics}
            first = entry_records.iloc[0]
            table.rows.append(Row(label=str(entry), method=str(first.method), method_version=str(first.method_version),
                                  final_set=str(first.final_set), track=str(track), local=bool(local), cells=cells))
        table.rows.sort(key=lambda r: (r.track != "closed", r.local, r.label))
        rank_table(table)
        tables.append(table)
    return tables


def rank_table(table: Table) -> None:
    """Rank the harness rows of each track separately, with the table's complete floors as tolerance."""
    floor = complete_floor(table)
    for track in {r.track for r in table.rows}:
        rank_cells([r for r in table.rows if r.track == track], table.metrics, floor)
