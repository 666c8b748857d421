"""Published reference numbers (the papers' tables) as data, kept apart from harness results.

Each ``published/*.yaml`` file is one paper table: ``source``, ``table``, ``tier``, ``task_version``,
``budget`` (may be null, or given per row), ``note`` and ``rows``. A row names ``task`` and ``method``;
every other key is a metric whose value is a number, ``[mean, std]``, or a string ``">1e4"`` for the
papers' "greater than" entries. ``underlined`` lists the metrics the paper underlines (second best),
kept so tests can check the ranking against the paper. These rows are shown "as published", never merged with harness rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import DataError
from leaderboard.aggregate import Cell, Row, Table, rank_cells
from leaderboard.schema import TABLE_METRICS, order_metrics

PUBLISHED_DIR = Path(__file__).parent / "published"
_ROW_KEYS = {"task", "method", "budget", "underlined"}


@dataclass(frozen=True)
class PublishedValue:
    task: str
    task_version: int
    tier: str
    budget: int | None
    method: str
    metric: str
    cell: Cell
    source: str
    table: str
    note: str
    file: str
    paper_underlined: bool = False  # the paper marks this value second best


def parse_value(value: Any, where: str) -> Cell:
    """Turn ``1.2``, ``[1.2, 0.1]`` or ``">1e4"`` into a Cell."""
    if isinstance(value, bool):
        raise DataError(f"{where}: {value!r} is not a number")
    if isinstance(value, (int, float)):
        return Cell(mean=float(value))
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return Cell(mean=float(value[0]), std=float(value[1]))
    if isinstance(value, str) and value.strip().startswith(">"):
        try:
            return Cell(mean=float(value.strip()[1:]), lower_bound=True)
        except ValueError:
            pass
    raise DataError(f"{where}: {value!r} must be a number, [mean, std] or '>number'")


def load_published_file(path: Path) -> list[PublishedValue]:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read published table ({err})") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        raise DataError(f"{path}: a published table needs a 'rows' list")
    for key in ("source", "table", "tier", "task_version"):
        if key not in doc:
            raise DataError(f"{path}: missing key {key!r}")
    values = []
    for i, row in enumerate(doc["rows"]):
        where = f"{path}: row {i + 1}"
        if not isinstance(row, dict) or "task" not in row or "method" not in row:
            raise DataError(f"{where}: needs 'task' and 'method'")
        budget = row.get("budget", doc.get("budget"))
        for metric, raw in row.items():
            if metric in _ROW_KEYS:
                continue
            values.append(PublishedValue(
                task=str(row["task"]), task_version=int(doc["task_version"]), tier=str(doc["tier"]),
                budget=None if budget is None else int(budget), method=str(row["method"]), metric=str(metric),
                cell=parse_value(raw, f"{where} {metric}"), source=str(doc["source"]), table=str(doc["table"]),
                note=str(doc.get("note", "")), file=path.name, paper_underlined=metric in row.get("underlined", []),
            ))
    return values


def load_published(folder: Path = PUBLISHED_DIR) -> list[PublishedValue]:
    """All published values of every ``*.yaml`` file in ``folder`` (sorted by file name)."""
    values: list[PublishedValue] = []
    for path in sorted(Path(folder).glob("*.yaml")):
        values.extend(load_published_file(path))
    return values


def attach_published(tables: list[Table], values: list[PublishedValue]) -> list[Table]:
    """Put published rows into the matching tables (creating tables where the harness has none).

    Published rows live in ``Table.published``, ranked among themselves only.
    """
    by_key = {(t.task, t.task_version, t.tier, t.budget): t for t in tables}
    rows: dict[tuple, dict[tuple[str, str], Row]] = {}
    for v in values:
        key = (v.task, v.task_version, v.tier, v.budget)
        if key not in by_key:
            by_key[key] = Table(task=v.task, task_version=v.task_version, tier=v.tier, budget=v.budget, metrics=[], rows=[])
        row = rows.setdefault(key, {}).setdefault(
            (v.table, v.method), Row(label=v.method, method=v.method, cells={}, kind="published", source=v.source, source_file=v.file)
        )
        row.cells[v.metric] = v.cell
    for key, table_rows in rows.items():
        table = by_key[key]
        table.published = list(table_rows.values())
        present = set(table.metrics) | {m for r in table.published for m in r.cells}
        table.metrics = [m for m in order_metrics(present) if m in TABLE_METRICS] or order_metrics(present)
        rank_cells(table.published, table.metrics)
    return sorted(by_key.values(), key=_table_order)


def _table_order(table: Table) -> tuple:
    from benchmark.tasks import TASKS

    order = list(TASKS)
    task_pos = order.index(table.task) if table.task in order else len(order)
    return (task_pos, table.task, table.task_version, table.tier != "paper", table.tier, table.budget is None, table.budget or 0)
