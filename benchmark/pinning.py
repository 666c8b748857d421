"""Pinned score bands and the regression check that CI runs against them.

A pinned file is written from records of several seeds of one method on one task, tier and
budget. Each (system, metric) gets the mean and the standard deviation over seeds (Bessel
corrected) and a rule: a value passes when |value - mean| <= k * std (k = 2.5 by default, the
transferable-samplers convention), or, where only one seed exists or the seeds agree exactly,
when |value - mean| <= an absolute tolerance.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import BgbenchError
from benchmark.io import atomic_write_text
from benchmark.results import RunRecord
from benchmark.tasks import HEADLINE_METRICS

PIN_SCHEMA_VERSION = 1
DEFAULT_SIGMA = 2.5
DEFAULT_ABS_TOL = 1e-6
PINNED_DIR = Path("leaderboard") / "pinned"


class PinError(BgbenchError):
    """Records that cannot be pinned together, or a malformed pinned file."""


def _identity(record: RunRecord) -> dict[str, Any]:
    return {
        "method": record.method["name"],
        "task": record.task["name"],
        "task_version": record.task["version"],
        "tier": record.task["tier"],
        "budget": record.budget,
        "sampler": None if record.sampler is None else record.sampler["name"],
        "final_set": record.final_set,
    }


def pinned_metric_names(record: RunRecord) -> list[str]:
    """The headline metrics of the final set, plus its ESS when the set is weighted."""
    names = [f"{record.final_set}/{m}" for m in HEADLINE_METRICS]
    if any(f"{record.final_set}/effective-sample-size" in r.metrics for r in record.systems.values()):
        names.append(f"{record.final_set}/effective-sample-size")
    return names


def pin(records: Sequence[RunRecord], sigma: float = DEFAULT_SIGMA, abs_tol: float = DEFAULT_ABS_TOL) -> dict[str, Any]:
    """Pinned bands from records of different seeds of the same run."""
    if not records:
        raise PinError("pin needs at least one record")
    ident = _identity(records[0])
    for rec in records[1:]:
        if _identity(rec) != ident:
            raise PinError(f"records differ in {sorted(k for k in ident if _identity(rec)[k] != ident[k])}; pin one run at a time")
    seeds = [r.seed for r in records]
    if len(set(seeds)) != len(seeds):
        raise PinError(f"records repeat seeds {seeds}; pin distinct seeds")
    metrics: dict[str, dict[str, Any]] = {}
    for system in records[0].systems:
        for name in pinned_metric_names(records[0]):
            values = []
            for rec in records:
                res = rec.systems.get(system)
                if res is None or res.status != "ok" or res.metrics.get(name) is None:
                    raise PinError(f"seed {rec.seed} has no value of {name} for {system}; pin only complete runs")
                values.append(float(res.metrics[name]))
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            entry = {"mean": statistics.fmean(values), "std": std, "n_seeds": len(values)}
            entry["rule"] = "sigma" if std > 0 else "abs"
            metrics.setdefault(system, {})[name] = entry
    return {"schema_version": PIN_SCHEMA_VERSION, **ident, "seeds": seeds, "sigma": sigma, "abs_tol": abs_tol, "metrics": metrics}


def write_pinned(pinned: dict[str, Any], path: Path) -> None:
    atomic_write_text(Path(path), yaml.safe_dump(pinned, sort_keys=False))


def read_pinned(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise PinError(f"{path}: cannot read pinned bands ({err})") from err
    if not isinstance(data, dict) or data.get("schema_version") != PIN_SCHEMA_VERSION or "metrics" not in data:
        raise PinError(f"{path} is not a bgbench pinned-band file (schema_version {PIN_SCHEMA_VERSION})")
    return data


def default_pinned_path(record: RunRecord) -> Path:
    sampler = f"-{record.sampler['name']}" if record.sampler else ""
    return PINNED_DIR / record.task["tier"] / f"{record.method['name']}{sampler}-{record.task['name']}-b{record.budget}.yaml"


@dataclass
class Verdict:
    system: str
    metric: str
    low: float | None
    high: float | None
    value: float | None
    ok: bool
    note: str = ""

    def row(self) -> dict[str, Any]:
        band = "-" if self.low is None else f"[{self.low:.4g}, {self.high:.4g}]"
        return {"system": self.system, "metric": self.metric, "pinned band": band,
                "value": self.value, "verdict": "ok" if self.ok else "FAIL", "note": self.note}


def check(record: RunRecord, pinned: dict[str, Any], sigma: float | None = None) -> list[Verdict]:
    """Compare a record with pinned bands; every mismatch becomes a failing verdict."""
    ident = _identity(record)
    mismatched = [k for k in ("method", "task", "task_version", "tier", "budget", "sampler") if pinned.get(k) != ident[k]]
    if mismatched:
        return [
            Verdict("-", k, None, None, None, False, f"record has {ident[k]!r}, pinned has {pinned.get(k)!r}")
            for k in mismatched
        ]
    k_sigma = float(pinned.get("sigma", DEFAULT_SIGMA) if sigma is None else sigma)
    abs_tol = float(pinned.get("abs_tol", DEFAULT_ABS_TOL))
    verdicts = []
    for system, metrics in pinned["metrics"].items():
        res = record.systems.get(system)
        for name, band in metrics.items():
            width = k_sigma * band["std"] if band.get("rule") == "sigma" else abs_tol
            low, high = band["mean"] - width, band["mean"] + width
            if res is None:
                verdicts.append(Verdict(system, name, low, high, None, False, "system missing from the record"))
                continue
            if res.status != "ok":
                verdicts.append(Verdict(system, name, low, high, None, False, f"system failed: {res.error}"))
                continue
            value = res.metrics.get(name)
            if value is None or not math.isfinite(value):
                verdicts.append(Verdict(system, name, low, high, None, False, "metric missing"))
                continue
            ok = low <= value <= high
            note = "" if ok else f"{(value - band['mean']) / band['std']:+.2f} sigma" if band["std"] > 0 else "outside tolerance"
            verdicts.append(Verdict(system, name, low, high, float(value), ok, note))
    return verdicts
