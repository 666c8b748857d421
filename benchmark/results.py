"""Run records: the versioned JSON that every run writes and the leaderboard reads.

Schema (``schema_version`` 2; version-1 records are read and upgraded). Keys marked * may be null.

``schema_version``  int, bumped on any incompatible change.
``bgbench_version`` str; ``created`` ISO-8601 UTC time the record was first written.
``method``          {name, version, description, family, config (every resolved field), source (where it
                    was loaded from), parameters*, training_seconds {system or corpus: s}}.
``task``            {name, version, tier}.
``protocol``        the task's Protocol for the tier, as a dict (n_eval_samples, budgets, seeds, ...).
``budget``          int, energy evaluations allowed per system in this run.
``seed``            int, the run seed (same seed, same record apart from timings and ``created``).
``sampler``*        {name, options} of the harness sampler (the user's settings; every resolved setting,
                    including those the method's source facts fix, is in each system's diagnostics),
                    null for methods that sample directly (e.g. MD).
``evaluation``      the evaluator's settings (chirality fix, sample counts, TICA source and lag).
``final_set``       name of the set that is the method's answer ("resampled", "smc", "md", ...); the
                    leaderboard reads ``{final_set}/{metric}``.
``systems``         {system name: SystemResult}; SystemResult = {status "ok"|"failed", error*,
                    metrics {"{set}/{metric}": float}, energy_evaluations {budget, used, remaining,
                    full, partial, force_evaluations}, wall_time_s {stage: seconds}, reference {source,
                    hashes}, diagnostics {sampler settings and per-step ESS, resampling, acceptance,
                    filter counts; the method's source facts}}.
``aggregate``       {"{set}/{metric}": mean over the systems with status ok}; ``n_systems_ok``,
                    ``n_systems_failed``.
``wall_time_s``     {stage: seconds} for the whole run (setup, total).
``environment``     {python, platform, cpu, gpu*, packages {name: version}, git_revision*}.
``energy``          {backend "openmm"|"torch", precision, platform or device} of the target energy.
``isolation``       "none", "process" or "sandbox": how the method was separated from the harness.
``track``           "closed" (the task's training data and budget only) or "open" (anything, disclosed).

Records are written atomically (temporary file, then rename), so a reader never sees half a record.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmark import __version__
from benchmark.errors import BgbenchError
from benchmark.io import atomic_write_text

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
ISOLATION_LEVELS = ("none", "process", "sandbox")
TRACKS = ("closed", "open")
STATUSES = ("ok", "failed")


class RecordError(BgbenchError):
    """A record file that is not a valid bgbench run record."""


@dataclass
class SystemResult:
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    energy_evaluations: dict[str, int] = field(default_factory=dict)
    wall_time_s: dict[str, float] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunRecord:
    method: dict[str, Any]
    task: dict[str, Any]
    protocol: dict[str, Any]
    budget: int
    seed: int
    sampler: dict[str, Any] | None
    evaluation: dict[str, Any]
    final_set: str
    systems: dict[str, SystemResult] = field(default_factory=dict)
    wall_time_s: dict[str, float] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    energy: dict[str, Any] = field(default_factory=dict)
    isolation: str = "none"
    track: str = "closed"
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    schema_version: int = SCHEMA_VERSION
    bgbench_version: str = __version__

    # --- derived ---------------------------------------------------------------------------
    def aggregate(self) -> dict[str, float]:
        """Mean of every metric over the systems that finished (the papers' task mean)."""
        sums: dict[str, list[float]] = {}
        for res in self.systems.values():
            if res.status != "ok":
                continue
            for key, value in res.metrics.items():
                if value is not None and math.isfinite(value):
                    sums.setdefault(key, []).append(float(value))
        return {k: sum(v) / len(v) for k, v in sorted(sums.items())}

    @property
    def failed(self) -> list[str]:
        return [name for name, res in self.systems.items() if res.status != "ok"]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["aggregate"] = self.aggregate()
        data["n_systems_ok"] = len(self.systems) - len(self.failed)
        data["n_systems_failed"] = len(self.failed)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunRecord":
        validate_record(data)
        data = upgrade(data)
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(data) - known - {"aggregate", "n_systems_ok", "n_systems_failed"})
        if extra:
            raise RecordError(f"unknown key(s) {extra}")
        fields = {k: v for k, v in data.items() if k in known}
        result_keys = {f.name for f in dataclasses.fields(SystemResult)}
        systems = {}
        for name, res in data["systems"].items():
            unknown = sorted(set(res) - result_keys)
            if unknown:
                raise RecordError(f"system {name!r} has unknown key(s) {unknown}")
            systems[name] = SystemResult(**res)
        fields["systems"] = systems
        return cls(**fields)


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 record as version 2: it ran in-process on OpenMM, on the closed track."""
    if data.get("schema_version") != 1:
        return data
    data = dict(data)
    data["schema_version"] = SCHEMA_VERSION
    data.setdefault("energy", {"backend": "openmm"})
    data.setdefault("isolation", "none")
    data.setdefault("track", "closed")
    return data


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "schema_version": int,
    "bgbench_version": str,
    "created": str,
    "method": dict,
    "task": dict,
    "protocol": dict,
    "budget": int,
    "seed": int,
    "sampler": (dict, type(None)),
    "evaluation": dict,
    "final_set": str,
    "systems": dict,
    "wall_time_s": dict,
    "environment": dict,
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {"energy": dict, "isolation": str, "track": str}
TIERS = ("paper", "quick")


def _is_a(value: Any, typ: type | tuple[type, ...]) -> bool:
    """isinstance, except that a boolean is never a number (True is not a budget of 1)."""
    if isinstance(value, bool):
        return typ is bool or (isinstance(typ, tuple) and bool in typ)
    return isinstance(value, typ)


def _number(value: Any) -> bool:
    return _is_a(value, (int, float)) and math.isfinite(value)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise RecordError(message)


def _check_mapping(value: Any, what: str, item: Any, item_name: str) -> None:
    _check(isinstance(value, dict), f"{what} must be an object")
    for key, v in value.items():
        _check(item(v), f"{what}[{str(key)[:80]!r}] must be {item_name}")


def timestamp(value: Any) -> datetime:
    """A record's ``created``: an ISO-8601 time with a time zone (RecordError otherwise)."""
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise RecordError(f"created must be an ISO-8601 timestamp, got {str(value)[:40]!r}") from None
    _check(when.tzinfo is not None, "created must say its time zone (UTC: +00:00)")
    return when


def _validate_system(name: str, res: Any) -> None:
    _check(isinstance(res, dict) and res.get("status") in STATUSES, f"system {name!r} has no valid status")
    _check(res.get("error") is None or isinstance(res["error"], str), f"system {name!r}: error must be text")
    if res["status"] == "failed":
        _check(bool(res.get("error")), f"failed system {name!r} has no error message")
    _check_mapping(res.get("metrics", {}), f"metrics of system {name!r}", lambda v: v is None or _number(v), "a number or null")
    _check_mapping(res.get("energy_evaluations", {}), f"energy_evaluations of system {name!r}",
                   lambda v: _is_a(v, int) and v >= 0, "a non-negative integer")
    _check_mapping(res.get("wall_time_s", {}), f"wall_time_s of system {name!r}", _number, "a number")
    for key in ("reference", "diagnostics"):
        _check(isinstance(res.get(key, {}), dict), f"{key} of system {name!r} must be an object")


def validate_record(data: Any) -> None:
    """Raise RecordError naming the first problem; accept a valid record silently.

    Records come from anywhere (a pull request, a download), so every field the harness, the
    checker or the leaderboard reads is checked for its type here, and nothing later can fail
    with a traceback on a hostile record.
    """
    _check(isinstance(data, dict), "a run record must be a JSON object")
    for key, typ in _REQUIRED.items():
        _check(key in data, f"missing key {key!r}")
        _check(_is_a(data[key], typ), f"key {key!r} has type {type(data[key]).__name__}")
    for key, typ in _OPTIONAL.items():
        if key in data:
            _check(_is_a(data[key], typ), f"key {key!r} has type {type(data[key]).__name__}")
    _check(data["schema_version"] in READABLE_VERSIONS,
           f"schema_version {data['schema_version']} is not supported (expected one of {READABLE_VERSIONS})")
    timestamp(data["created"])
    _check(data.get("isolation", "none") in ISOLATION_LEVELS, f"isolation must be one of {ISOLATION_LEVELS}")
    _check(data.get("track", "closed") in TRACKS, f"track must be one of {TRACKS}")
    _check(data["budget"] > 0, "budget must be a positive number of energy evaluations")
    for key in ("name", "version"):
        _check(isinstance(data["method"].get(key), str), f"method.{key} must be text")
    _check(isinstance(data["method"].get("config", {}), dict), "method.config must be an object")
    _check(isinstance(data["task"].get("name"), str), "task.name must be text")
    _check(_is_a(data["task"].get("version"), int), "task.version must be an integer")
    _check(data["task"].get("tier") in TIERS, f"task.tier must be one of {TIERS}")
    if data["sampler"] is not None:
        _check(isinstance(data["sampler"].get("name"), str) and isinstance(data["sampler"].get("options", {}), dict),
               "sampler must have a name and options")
    _check_mapping(data["wall_time_s"], "wall_time_s", _number, "a number")
    for name, res in data["systems"].items():
        _validate_system(name, res)


def plain_data(obj: Any) -> Any:
    """A JSON-ready copy of diagnostics: NumPy and torch scalars become numbers, small arrays lists."""
    import numpy as np
    import torch

    if isinstance(obj, dict):
        return {str(k): plain_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_data(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return obj.tolist() if obj.size <= 10_000 else f"<array {obj.shape}>"
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def _finite_or_none(obj: Any) -> Any:
    """JSON has no NaN/inf: store them as null (and strings for +-inf would hide the problem)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def write_record(record: RunRecord, path: Path) -> None:
    data = _finite_or_none(record.to_dict())
    validate_record(data)
    atomic_write_text(Path(path), json.dumps(data, indent=2, sort_keys=False) + "\n")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def read_record(path: Path) -> RunRecord:
    """The record in ``path``; RecordError (never another exception) for anything that is not a valid record."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constants)
    except (OSError, ValueError, RecursionError) as err:  # ValueError: bad UTF-8, bad JSON, NaN, huge integers
        raise RecordError(f"{path}: cannot read a JSON record ({type(err).__name__}: {str(err)[:200]})") from None
    try:
        return RunRecord.from_dict(data)
    except RecordError as err:
        raise RecordError(f"{path}: {err}") from err
