"""Load every run record under one or more folders into a pandas frame, reporting (not raising on) bad files.

Sources. The public board's records live in ``leaderboard/results`` (committed); a user's own runs are
in ``./results``. Both are read by default and the local ones are marked, so a user sees their run
beside the public ones without copying files around. A local record never replaces a committed one.

Hostile input. A record file is untrusted: it may be truncated, not UTF-8, nested thousands deep, hold
booleans where numbers belong or newlines and markup in every string. Each file is read on its own and
any failure becomes a ``LoadProblem`` (path and reason), so one bad file never stops a build. Strings
are kept as they are here; every renderer escapes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from benchmark.errors import BgbenchError, UnknownNameError
from benchmark.results import RunRecord, SystemResult, validate_record
from benchmark.tasks import get_task
from leaderboard.fields import dig, number, track

log = logging.getLogger(__name__)

DEFAULT_RESULTS_DIR = Path(__file__).parent / "results"
#: A user's own runs (``bgbench run`` writes here by default); shown beside the committed ones.
LOCAL_RESULTS_DIR = Path("results")
#: Larger files are not records (a record of 30 systems is a few hundred kB).
MAX_RECORD_BYTES = 20 * 1024 * 1024

#: Columns of the per-system frame (one row per record x system x metric of the final set).
COLUMNS = [
    "record_id", "method", "method_version", "entry", "task", "task_version", "tier", "budget", "seed",
    "final_set", "track", "local", "system", "status", "metric", "value", "n_expected", "n_scored", "n_protocol",
]


@dataclass(frozen=True)
class LoadProblem:
    """A file that looked like a record but could not be used."""

    path: str
    reason: str


@dataclass(frozen=True)
class Source:
    """A folder of records; ``local`` ones are a user's own runs, marked as such on the board."""

    root: Path
    local: bool = False


@dataclass
class Store:
    """All usable records of the sources plus the per-system frame built from them."""

    root: Path  # the first source (kept for callers that read one folder)
    records: dict[str, RunRecord]  # record_id -> record
    paths: dict[str, Path]  # record_id -> file
    frame: pd.DataFrame
    problems: list[LoadProblem]
    raw: dict[str, dict[str, Any]]  # record_id -> the JSON object as read (fields newer than RunRecord)
    local: set[str]  # record ids read from a local source
    sources: list[Source]


def default_sources(local_dir: Path | None = LOCAL_RESULTS_DIR) -> list[Source]:
    """The committed records, plus ``local_dir`` (``./results``) marked local when it exists."""
    sources = [Source(DEFAULT_RESULTS_DIR)]
    if local_dir is not None and Path(local_dir).is_dir() and Path(local_dir).resolve() != DEFAULT_RESULTS_DIR.resolve():
        sources.append(Source(Path(local_dir), local=True))
    return sources


def record_id(path: Path, root: Path, local: bool = False) -> str:
    """A stable, file-name-safe id: the relative path with odd characters replaced, plus a short hash.

    Local records hash their folder too, so two sources holding the same relative path never share an id.
    """
    rel = path.relative_to(root).as_posix()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", rel.removesuffix(".json")).strip("-.")[:80] or "record"
    salt = f"local:{Path(root).resolve()}:" if local else ""
    return f"{'local-' if local else ''}{stem}-{hashlib.sha1((salt + rel).encode()).hexdigest()[:6]}"


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


def protocol_samples(raw: dict[str, Any]) -> int | None:
    """Samples a full set is scored on: the protocol's n_eval_samples, capped by the reference's size."""
    n = number(dig(raw, "protocol", "n_eval_samples"))
    ref = number(dig(raw, "evaluation", "n_reference_samples"))
    if n is None:
        return None
    return int(min(n, ref)) if ref is not None else int(n)


def run_key(record: RunRecord, raw: dict[str, Any], local: bool) -> tuple:
    """Records with the same key belong to one run: shards of it (merged on load) or reruns (newest wins)."""
    return (entry_label(record), str(record.task["name"]), int(record.task["version"]), str(record.task["tier"]),
            int(record.budget), int(record.seed), track(raw), local)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_types(record: RunRecord) -> None:
    """What the tables need beyond ``validate_record``: integers that are not booleans, plain-text
    names, and metric values that are numbers (a boolean is not a score)."""
    for what, value in (("task.version", record.task["version"]), ("budget", record.budget), ("seed", record.seed)):
        if not _is_int(value):
            raise TypeError(f"{what} must be an integer, got {type(value).__name__}")
    for what, value in (("method.name", record.method["name"]), ("method.version", record.method["version"]),
                        ("task.name", record.task["name"]), ("task.tier", record.task["tier"])):
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    for name, result in record.systems.items():
        if not isinstance(result.metrics, dict):
            raise TypeError(f"metrics of system {name!r} must be an object")
        for metric, value in result.metrics.items():
            if isinstance(value, bool):
                raise TypeError(f"metric {metric!r} of system {name!r} is a boolean, not a number")


def _from_dict(data: dict[str, Any]) -> RunRecord:
    """A RunRecord from the known keys only: newer fields stay in the raw dict instead of failing the load."""
    validate_record(data)
    names = {f.name for f in fields(RunRecord)}
    system_names = {f.name for f in fields(SystemResult)}
    kept = {k: v for k, v in data.items() if k in names}
    kept["systems"] = {str(n): SystemResult(**{k: v for k, v in r.items() if k in system_names}) for n, r in data["systems"].items()}
    return RunRecord(**kept)


def read_untrusted(path: Path) -> tuple[RunRecord, dict[str, Any]]:
    """Read one record file; any failure raises ``ValueError`` with a one-line reason."""
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise ValueError(f"larger than {MAX_RECORD_BYTES // 2**20} MB; not a run record")
        data = json.loads(path.read_bytes().decode("utf-8"))
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # lone surrogates ("\\ud800") cannot be written to a page
        record = _from_dict(data)
        _check_types(record)
        return record, data
    except RecursionError:
        raise ValueError("nested too deeply to be a run record") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    except UnicodeEncodeError:
        raise ValueError("holds text that is not valid Unicode (a lone surrogate escape)") from None
    except (ValueError, BgbenchError) as err:  # JSON syntax, schema (RecordError), types
        raise ValueError(str(err).removeprefix(f"{path}: ")) from None
    except Exception as err:  # anything a hostile file can provoke: skip it, say why
        raise ValueError(f"{type(err).__name__}: {err}") from None


def _rows(rid: str, record: RunRecord, raw: dict[str, Any], local: bool) -> list[dict]:
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
        "track": track(raw),
        "local": local,
        "n_expected": expected_systems(record),
        "n_protocol": protocol_samples(raw),
    }
    rows = []
    prefix = f"{record.final_set}/"
    for system, result in record.systems.items():
        metrics = {k[len(prefix):]: v for k, v in result.metrics.items() if k.startswith(prefix)}
        scored = number(metrics.pop("num-eval-samples", None))
        common = {**base, "system": str(system), "status": result.status, "n_scored": scored}
        if result.status != "ok" or not metrics:
            rows.append({**common, "metric": None, "value": math.nan})
            continue
        for metric, value in metrics.items():
            value = number(value)
            rows.append({**common, "metric": metric, "value": math.nan if value is None else value})
    return rows


def _superseded(store: Store) -> list[str]:
    """Ids of records folded into another of the same run key (by ``created``, then path).

    Shards of one run (``bgbench launch`` writes one record per system) are merged into the newest
    shard's record, each system taken from the newest record that has it (its ``environment.shards``
    names every file). A record all of whose systems a newer one holds is a superseded rerun; records
    that disagree on settings (config, sampler, ...) are not merged and the newest stands. Every
    record left out is reported in ``problems``, none silently.
    """
    from benchmark.launch.merge import merge_records

    groups: dict[tuple, list[str]] = {}
    for rid in sorted(store.records, key=lambda r: (str(store.records[r].created), str(store.paths[r]))):
        groups.setdefault(run_key(store.records[rid], store.raw[rid], rid in store.local), []).append(rid)
    old = []
    for rids in (g for g in groups.values() if len(g) > 1):
        try:
            merged = merge_records([store.records[r] for r in rids], [str(store.paths[r]) for r in rids])
            keep, used, why = rids[merged.used[-1]], [rids[i] for i in merged.used], ""
        except Exception as err:  # MergeError: other settings; anything else: a hostile file must not stop a build
            merged, keep, used, why = None, rids[-1], [rids[-1]], f" ({err})"
        for rid in (r for r in rids if r != keep):
            if rid not in used:
                store.problems.append(LoadProblem(str(store.paths[rid]), f"superseded by the newer record {store.paths[keep]} "
                                                                         f"of the same run (method, task, tier, budget, seed){why}"))
            old.append(rid)
        if merged is not None and len(used) > 1:
            store.records[keep] = merged.record
            store.raw[keep] = {**store.raw[keep], **merged.record.to_dict()}
    return old


def load_records(sources: Path | str | Sequence[Source] = DEFAULT_RESULTS_DIR) -> Store:
    """Read every ``*.json`` record below each source; unusable files become ``LoadProblem``s, not errors.

    ``sources`` is one folder (read as committed records) or a list of ``Source``s.
    """
    if isinstance(sources, (str, Path)):
        sources = [Source(Path(sources))]
    sources = list(sources)
    store = Store(root=sources[0].root if sources else Path("."), records={}, paths={}, frame=pd.DataFrame(columns=COLUMNS),
                  problems=[], raw={}, local=set(), sources=sources)
    for source in sources:
        root = Path(source.root)
        for path in sorted(root.rglob("*.json")) if root.is_dir() else []:
            if not path.is_file():
                continue
            try:
                record, raw = read_untrusted(path)
            except ValueError as err:
                log.debug("skipped %s: %s", path, err)
                store.problems.append(LoadProblem(str(path), str(err)))
                continue
            rid = record_id(path, root, source.local)
            store.records[rid], store.paths[rid], store.raw[rid] = record, path, raw
            if source.local:
                store.local.add(rid)
    for rid in _superseded(store):
        del store.records[rid], store.paths[rid], store.raw[rid]
        store.local.discard(rid)
    rows = [row for rid, record in store.records.items() for row in _rows(rid, record, store.raw[rid], rid in store.local)]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("value", "n_scored", "n_protocol"):  # None -> NaN, so comparisons stay numeric
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    store.frame = frame
    return store
