"""Load every run record under a folder into a pandas frame, reporting (not raising on) bad files."""

from __future__ import annotations

import hashlib
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.errors import UnknownNameError
from benchmark.results import RecordError, RunRecord, read_record
from benchmark.tasks import get_task

log = logging.getLogger(__name__)

DEFAULT_RESULTS_DIR = Path(__file__).parent / "results"

#: Columns of the per-system frame (one row per record x system x metric of the final set).
COLUMNS = [
    "record_id", "method", "method_version", "entry", "task", "task_version", "tier", "budget", "seed",
    "final_set", "system", "status", "metric", "value", "n_expected",
]


@dataclass(frozen=True)
class LoadProblem:
    """A file that looked like a record but could not be used."""

    path: str
    reason: str


@dataclass
class Store:
    """All usable records of a folder plus the per-system frame built from them."""

    root: Path
    records: dict[str, RunRecord]  # record_id -> record
    paths: dict[str, Path]  # record_id -> file
    frame: pd.DataFrame
    problems: list[LoadProblem]


def record_id(path: Path, root: Path) -> str:
    """A stable, file-name-safe id: the relative path with odd characters replaced, plus a short hash."""
    rel = path.relative_to(root).as_posix()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", rel.removesuffix(".json")).strip("-")[:80] or "record"
    return f"{stem}-{hashlib.sha1(rel.encode()).hexdigest()[:6]}"


def entry_label(record: RunRecord) -> str:
    """What a table row stands for: a method at a version, answering with one sample set."""
    return f"{record.method['name']} v{record.method['version']} [{record.final_set}]"


def expected_systems(record: RunRecord) -> int:
    """How many systems the task's tier evaluates (the registry, when it knows the task version),
    and never fewer than the record lists, so a record that leaves systems out counts as partial."""
    listed = len(record.systems)
    try:
        task = get_task(str(record.task["name"]))
        if int(task.version) == int(record.task["version"]):
            return max(listed, len(task.systems_for(str(record.task["tier"]))))
    except (UnknownNameError, ValueError, TypeError):
        pass
    return listed


def run_key(record: RunRecord) -> tuple:
    """Records with the same key are reruns of one run; only the newest counts."""
    return (entry_label(record), str(record.task["name"]), int(record.task["version"]), str(record.task["tier"]),
            int(record.budget), int(record.seed))


def _check_types(record: RunRecord) -> None:
    """Fields the tables need as numbers (validate_record checks presence, not these types)."""
    int(record.task["version"])
    int(record.budget)
    int(record.seed)


def _rows(rid: str, record: RunRecord) -> list[dict]:
    base = {
        "record_id": rid,
        "method": str(record.method["name"]),
        "method_version": str(record.method["version"]),
        "entry": entry_label(record),
        "task": str(record.task["name"]),
        "task_version": int(record.task["version"]),
        "tier": str(record.task["tier"]),
        "budget": int(record.budget),
        "seed": int(record.seed),
        "final_set": record.final_set,
        "n_expected": expected_systems(record),
    }
    rows = []
    prefix = f"{record.final_set}/"
    for system, result in record.systems.items():
        metrics = {k[len(prefix):]: v for k, v in result.metrics.items() if k.startswith(prefix)}
        if result.status != "ok" or not metrics:
            rows.append({**base, "system": system, "status": result.status, "metric": None, "value": math.nan})
            continue
        for metric, value in metrics.items():
            value = math.nan if value is None else float(value)
            rows.append({**base, "system": system, "status": result.status, "metric": metric, "value": value})
    return rows


def _superseded(records: dict[str, RunRecord], paths: dict[str, Path], problems: list[LoadProblem]) -> list[str]:
    """Ids of reruns replaced by a newer record (by ``created``, then path) of the same run key."""
    newest: dict[tuple, str] = {}
    for rid in sorted(records, key=lambda r: (records[r].created, str(paths[r]))):
        newest[run_key(records[rid])] = rid
    old = [rid for rid in records if newest[run_key(records[rid])] != rid]
    for rid in old:
        keeper = paths[newest[run_key(records[rid])]]
        problems.append(LoadProblem(str(paths[rid]), f"superseded by the newer record {keeper} of the same run (method, task, tier, budget, seed)"))
    return old


def load_records(root: Path = DEFAULT_RESULTS_DIR) -> Store:
    """Read every ``*.json`` record below ``root``; malformed files become ``LoadProblem``s, not errors."""
    root = Path(root)
    records: dict[str, RunRecord] = {}
    paths: dict[str, Path] = {}
    problems: list[LoadProblem] = []
    rows: list[dict] = []
    for path in sorted(root.rglob("*.json")) if root.is_dir() else []:
        try:
            record = read_record(path)
            _check_types(record)
        except (RecordError, ValueError, TypeError, KeyError) as err:
            reason = str(err).removeprefix(f"{path}: ")
            log.debug("skipped %s: %s", path, reason)
            problems.append(LoadProblem(str(path), reason))
            continue
        rid = record_id(path, root)
        records[rid], paths[rid] = record, path
    for rid in _superseded(records, paths, problems):
        del records[rid], paths[rid]
    for rid, record in records.items():
        rows.extend(_rows(rid, record))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return Store(root=root, records=records, paths=paths, frame=frame, problems=problems)
