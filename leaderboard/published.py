"""Published reference numbers (the papers' tables) as data, kept apart from harness results.

Each ``published/*.yaml`` file is one paper table. File keys: ``source``, ``table``, ``tier``,
``task_version``, ``note``; ``table_budget``, the energy budget of the board table the rows are shown
in (the paper table's headline budget; null for tables without one, such as model sizes);
``protocol`` and ``evaluations``, the default way a row's numbers were made and the energy
evaluations that spent (null: not stated in the sources); ``tica_models`` ("before-2025-12-15",
"after-2025-12-15" or "unknown"), when the 8AA TICA numbers were computed.

A row names ``task`` and ``method`` and may override ``table_budget``, ``protocol`` and
``evaluations``; ``partial_evaluations`` says a row also spent partial-energy evaluations (text);
``caveats`` lists row notes; ``config`` holds a configuration table's non-metric columns;
``underlined`` lists the metrics the paper underlines (second best), kept so tests can check the
ranking against the paper. Every other key is a metric whose value is a number, ``[mean, std]``, or a
string ``">1e4"`` for the papers' "greater than" entries.

A row is ranked only among the rows of its table that ran at the table's budget (``evaluations ==
table_budget`` and no partial evaluations): rows copied by a paper from prior work under another
protocol are shown with their own protocol and are not ranked. Published rows never mix with harness rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import DataError
from leaderboard.aggregate import Cell, Row, Table, rank_cells
from leaderboard.schema import TABLE_METRICS, order_metrics

PUBLISHED_DIR = Path(__file__).parent / "published"
_ROW_KEYS = {"task", "method", "table_budget", "underlined", "protocol", "evaluations", "partial_evaluations", "caveats", "config"}
#: The hub replaced the 8AA TICA models (a C-alpha-only atom selection) on this date (specs/harness-conventions.md).
TICA_FIX_DATE = "2025-12-15"
TICA_CAVEATS = {
    "before-2025-12-15": "8AA TICA-W2 computed with the C-alpha-only 8AA TICA models replaced on 2025-12-15; "
                         "not comparable with TICA-W2 from the corrected models",
    "unknown": "8AA TICA-W2 may have been computed with the C-alpha-only 8AA TICA models replaced on 2025-12-15 "
               "(the source does not say when it was computed)",
}


@dataclass(frozen=True)
class PublishedValue:
    task: str
    task_version: int
    tier: str
    table_budget: int | None  # the board table the value is shown in
    method: str
    metric: str
    cell: Cell
    source: str
    table: str
    note: str
    file: str
    protocol: str = ""
    evaluations: int | None = None  # energy evaluations of the row's own protocol; None = not stated
    partial_evaluations: str = ""
    caveats: tuple[str, ...] = ()
    config: tuple[tuple[str, Any], ...] = ()
    paper_underlined: bool = False  # the paper marks this value second best

    @property
    def comparable(self) -> bool:
        """Ran at the budget of the table it is shown in (and spent nothing else)."""
        return self.table_budget is None or (self.evaluations == self.table_budget and not self.partial_evaluations)


def parse_value(value: Any, where: str) -> Cell:
    """Turn ``1.2``, ``[1.2, 0.1]`` or ``">1e4"`` into a Cell."""
    if isinstance(value, bool):
        raise DataError(f"{where}: {value!r} is not a number")
    if isinstance(value, (int, float)):
        return Cell(mean=float(value))
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return Cell(mean=float(value[0]), std=float(value[1]))
    if isinstance(value, str) and value.strip().startswith(">"):
        try:
            return Cell(mean=float(value.strip()[1:]), lower_bound=True)
        except ValueError:
            pass
    raise DataError(f"{where}: {value!r} must be a number, [mean, std] or '>number'")


def _optional_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise DataError(f"{where}: {value!r} must be an integer or null")
    return int(value)


def _caveats(doc: dict, row: dict, metrics: list[str]) -> tuple[str, ...]:
    notes = [str(c) for c in row.get("caveats", [])]
    tica = TICA_CAVEATS.get(str(doc.get("tica_models", "")))
    if tica and str(row["task"]) == "8AA" and "tica-w2" in metrics:
        notes.append(tica)
    return tuple(notes)


def load_published_file(path: Path) -> list[PublishedValue]:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read published table ({err})") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        raise DataError(f"{path}: a published table needs a 'rows' list")
    for key in ("source", "table", "tier", "task_version", "table_budget", "protocol"):
        if key not in doc:
            raise DataError(f"{path}: missing key {key!r}")
    values = []
    for i, row in enumerate(doc["rows"]):
        where = f"{path}: row {i + 1}"
        if not isinstance(row, dict) or "task" not in row or "method" not in row:
            raise DataError(f"{where}: needs 'task' and 'method'")
        table_budget = _optional_int(row.get("table_budget", doc["table_budget"]), f"{where} table_budget")
        evaluations = _optional_int(row.get("evaluations", doc.get("evaluations", table_budget)), f"{where} evaluations")
        metrics = [k for k in row if k not in _ROW_KEYS]
        common = dict(
            task=str(row["task"]), task_version=int(doc["task_version"]), tier=str(doc["tier"]), table_budget=table_budget,
            method=str(row["method"]), source=str(doc["source"]), table=str(doc["table"]), note=str(doc.get("note", "")),
            file=path.name, protocol=str(row.get("protocol", doc["protocol"])), evaluations=evaluations,
            partial_evaluations=str(row.get("partial_evaluations", "")), caveats=_caveats(doc, row, metrics),
            config=tuple((str(k), v) for k, v in (row.get("config") or {}).items()),
        )
        for metric in metrics:
            values.append(PublishedValue(metric=str(metric), cell=parse_value(row[metric], f"{where} {metric}"),
                                         paper_underlined=metric in row.get("underlined", []), **common))
    return values


def load_published(folder: Path = PUBLISHED_DIR) -> list[PublishedValue]:
    """All published values of every ``*.yaml`` file in ``folder`` (sorted by file name)."""
    values: list[PublishedValue] = []
    for path in sorted(Path(folder).glob("*.yaml")):
        values.extend(load_published_file(path))
    return values


def protocol_label(v: PublishedValue) -> str:
    """The row's protocol in a few words, with its evaluation count."""
    from leaderboard.render_text import budget_label

    if v.table_budget is None:
        return v.protocol
    count = "energy evaluations not stated" if v.evaluations is None else f"{budget_label(v.evaluations)} energy evaluations"
    if v.partial_evaluations:
        count += f" + partial-energy evaluations ({v.partial_evaluations})"
    return v.protocol if v.evaluations is None and "not stated" in v.protocol else f"{v.protocol} ({count})"


def attach_published(tables: list[Table], values: list[PublishedValue]) -> list[Table]:
    """Put published rows into the matching tables (creating tables where the harness has none).

    Published rows live in ``Table.published``, ranked among the comparable published rows only.
    """
    by_key = {(t.task, t.task_version, t.tier, t.budget): t for t in tables}
    rows: dict[tuple, dict[tuple[str, str], Row]] = {}
    for v in values:
        key = (v.task, v.task_version, v.tier, v.table_budget)
        if key not in by_key:
            by_key[key] = Table(task=v.task, task_version=v.task_version, tier=v.tier, budget=v.table_budget, metrics=[], rows=[])
        row = rows.setdefault(key, {}).setdefault(
            (v.table, v.method),
            Row(label=v.method, method=v.method, cells={}, kind="published", source=v.source, source_file=v.file,
                protocol=protocol_label(v), evaluations=v.evaluations, comparable=v.comparable, caveats=list(v.caveats),
                costs={"config": dict(v.config)} if v.config else {}),
        )
        row.cells[v.metric] = v.cell
        row.caveats.extend(c for c in v.caveats if c not in row.caveats)
    for key, table_rows in rows.items():
        table = by_key[key]
        table.published = list(table_rows.values())
        present = set(table.metrics) | {m for r in table.published for m in r.cells}
        table.metrics = [m for m in order_metrics(present) if m in TABLE_METRICS] or order_metrics(present)
        for source_file in {r.source_file for r in table.published}:  # each paper table is ranked on its own
            rank_cells([r for r in table.published if r.source_file == source_file], table.metrics)
    return sorted(by_key.values(), key=_table_order)


def _table_order(table: Table) -> tuple:
    from benchmark.tasks import TASKS

    order = list(TASKS)
    task_pos = order.index(table.task) if table.task in order else len(order)
    return (task_pos, table.task, table.task_version, table.tier != "paper", table.tier, table.budget is None, table.budget or 0)
