"""Run records: the versioned JSON that every run writes and the leaderboard reads.

Schema (``schema_version`` 1). Keys marked * may be null.

``schema_version``  int, bumped on any incompatible change.
``bgbench_version`` str; ``created`` ISO-8601 UTC time the record was first written.
``method``          {name, version, description, config (dict), source (where it was loaded from)}.
``task``            {name, version, tier}.
``protocol``        the task's Protocol for the tier, as a dict (n_eval_samples, budgets, seeds, ...).
``budget``          int, energy evaluations allowed per system in this run.
``seed``            int, the run seed (same seed, same record apart from timings and ``created``).
``sampler``*        {name, settings} of the harness sampler (SNIS filter, SMC steps, ...), null
                    for methods that sample directly (e.g. MD).
``evaluation``      the evaluator's settings (chirality fix, sample counts, TICA source and lag).
``final_set``       name of the set that is the method's answer ("resampled", "smc", "md", ...); the
                    leaderboard reads ``{final_set}/{metric}``.
``systems``         {system name: SystemResult}; SystemResult = {status "ok"|"failed", error*,
                    metrics {"{set}/{metric}": float}, energy_evaluations {budget, used,
                    force_evaluations}, wall_time_s {stage: seconds}, reference {source, hashes}}.
``aggregate``       {"{set}/{metric}": mean over the systems with status ok}; ``n_systems_ok``,
                    ``n_systems_failed``.
``wall_time_s``     {stage: seconds} for the whole run (setup, total).
``environment``     {python, platform, cpu, gpu*, packages {name: version}, git_revision*}.

Records are written atomically (temporary file, then rename), so a reader never sees half a record.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmark import __version__
from benchmark.errors import BgbenchError
from benchmark.io import atomic_write_text

SCHEMA_VERSION = 1
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
        fields = {k: v for k, v in data.items() if k not in ("aggregate", "n_systems_ok", "n_systems_failed")}
        fields["systems"] = {name: SystemResult(**res) for name, res in data["systems"].items()}
        return cls(**fields)


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


def validate_record(data: Any) -> None:
    """Raise RecordError naming the first problem; accept a valid record silently."""
    if not isinstance(data, dict):
        raise RecordError("a run record must be a JSON object")
    for key, typ in _REQUIRED.items():
        if key not in data:
            raise RecordError(f"missing key {key!r}")
        if not isinstance(data[key], typ):
            raise RecordError(f"key {key!r} has type {type(data[key]).__name__}")
    if data["schema_version"] != SCHEMA_VERSION:
        raise RecordError(f"schema_version {data['schema_version']} is not supported (expected {SCHEMA_VERSION})")
    for key in ("name", "version"):
        if key not in data["method"]:
            raise RecordError(f"method.{key} is missing")
    for key in ("name", "version", "tier"):
        if key not in data["task"]:
            raise RecordError(f"task.{key} is missing")
    for name, res in data["systems"].items():
        if not isinstance(res, dict) or res.get("status") not in STATUSES:
            raise RecordError(f"system {name!r} has no valid status")
        if res["status"] == "failed" and not res.get("error"):
            raise RecordError(f"failed system {name!r} has no error message")
        for metric, value in res.get("metrics", {}).items():
            if value is not None and not isinstance(value, (int, float)):
                raise RecordError(f"metric {metric!r} of system {name!r} is not a number")


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


def read_record(path: Path) -> RunRecord:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RecordError(f"{path}: cannot read a JSON record ({err})") from err
    try:
        return RunRecord.from_dict(data)
    except RecordError as err:
        raise RecordError(f"{path}: {err}") from err
