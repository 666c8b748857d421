"""Pinned score bands and the regression check that CI runs against them.

A pinned file is written from records of several seeds of one method on one task, tier and
budget. Each (system, metric) gets the mean and the standard deviation over seeds (Bessel
corrected) and a rule: a value passes when |value - mean| <= k * std (k = 2.5 by default, the
transferable-samplers convention), or, where only one seed exists or the seeds agree exactly,
when |value - mean| <= an absolute tolerance. Metrics that are positive by nature (distances,
divergences, the ESS) are pinned on a log scale, so that a band is a factor around the geometric
mean and its lower edge is never negative.

A band only means something for the run it was measured on, so the file also pins the run's
settings: the method's version and resolved config, the isolation level, the energy backend, the
evaluation and sampler settings, and per system the reference-data hashes and the resolved sampler
settings. ``check`` fails a record that differs in any of them, whose energy counts are missing
or exceed its budget, or whose metric leaves its band.
"""

from __future__ import annotations

import json
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

PIN_SCHEMA_VERSION = 2
DEFAULT_SIGMA = 2.5
DEFAULT_ABS_TOL = 1e-6
PINNED_DIR = Path("leaderboard") / "pinned"
#: Metrics that are positive by nature: banded on a log scale.
POSITIVE_SUFFIXES = ("-w1", "-w2", "-jsd", "effective-sample-size")


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


def _plain(value: Any) -> Any:
    """As stored in (and read back from) YAML and JSON: tuples become lists."""
    return json.loads(json.dumps(value))


def run_settings(record: RunRecord) -> dict[str, Any]:
    """What a band depends on besides the identity: pinned, and compared by ``check``."""
    return _plain({
        "method_version": record.method["version"],
        "method_config": record.method.get("config", {}),
        "isolation": record.isolation,
        "energy": record.energy,
        "evaluation": record.evaluation,
        "sampler": record.sampler,
    })


def system_settings(record: RunRecord, system: str) -> dict[str, Any]:
    res = record.systems[system]
    return _plain({"reference_hashes": res.reference.get("hashes"), "sampler": res.diagnostics.get("sampler")})


def pinned_metric_names(record: RunRecord) -> list[str]:
    """The headline metrics of the final set, plus its ESS when the set is weighted."""
    names = [f"{record.final_set}/{m}" for m in HEADLINE_METRICS]
    if any(f"{record.final_set}/effective-sample-size" in r.metrics for r in record.systems.values()):
        names.append(f"{record.final_set}/effective-sample-size")
    return names


def is_positive_metric(name: str) -> bool:
    return name.endswith(POSITIVE_SUFFIXES)


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def band_entry(name: str, values: list[float]) -> dict[str, Any]:
    """Mean and std of ``values`` on the metric's scale (log for positive metrics whose values are all > 0)."""
    scale = "log" if is_positive_metric(name) and all(v > 0 for v in values) else "linear"
    xs = [math.log(v) for v in values] if scale == "log" else values
    std = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return {"scale": scale, "mean": statistics.fmean(xs), "std": std, "n_seeds": len(values),
            "rule": "sigma" if std > 0 else "abs", "value_mean": statistics.fmean(values)}


def pin(records: Sequence[RunRecord], sigma: float = DEFAULT_SIGMA, abs_tol: float = DEFAULT_ABS_TOL) -> dict[str, Any]:
    """Pinned bands and settings from records of different seeds of the same run."""
    if not records:
        raise PinError("pin needs at least one record")
    ident, settings = _identity(records[0]), run_settings(records[0])
    for rec in records[1:]:
        if _identity(rec) != ident:
            raise PinError(f"records differ in {_differences(_identity(rec), ident)}; pin one run at a time")
        if run_settings(rec) != settings:
            raise PinError(f"records differ in settings {_differences(run_settings(rec), settings)}; pin one run at a time")
    seeds = [r.seed for r in records]
    if len(set(seeds)) != len(seeds):
        raise PinError(f"records repeat seeds {seeds}; pin distinct seeds")
    metrics: dict[str, dict[str, Any]] = {}
    systems: dict[str, dict[str, Any]] = {}
    for system in records[0].systems:
        for rec in records:
            res = rec.systems.get(system)
            if res is None or res.status != "ok":
                raise PinError(f"seed {rec.seed} has no result for {system}; pin only complete runs")
        systems[system] = system_settings(records[0], system)
        for rec in records[1:]:
            if system_settings(rec, system) != systems[system]:
                raise PinError(f"seed {rec.seed} ran {system} with other reference data or sampler settings "
                               f"({_differences(system_settings(rec, system), systems[system])})")
        for name in pinned_metric_names(records[0]):
            values = []
            for rec in records:
                value = rec.systems[system].metrics.get(name)
                if value is None:
                    raise PinError(f"seed {rec.seed} has no value of {name} for {system}; pin only complete runs")
                values.append(float(value))
            metrics.setdefault(system, {})[name] = band_entry(name, values)
    return {"schema_version": PIN_SCHEMA_VERSION, **ident, "seeds": seeds, "sigma": sigma, "abs_tol": abs_tol,
            "settings": settings, "systems": systems, "metrics": metrics}


def write_pinned(pinned: dict[str, Any], path: Path) -> None:
    atomic_write_text(Path(path), yaml.safe_dump(pinned, sort_keys=False))


def read_pinned(path: Path) -> dict[str, Any]:
    """A pinned-band file, checked for the structure ``check`` reads (PinError otherwise)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise PinError(f"{path}: cannot read pinned bands ({err})") from err
    if not isinstance(data, dict) or "metrics" not in data or not isinstance(data.get("schema_version"), int):
        raise PinError(f"{path} is not a bgbench pinned-band file")
    if data["schema_version"] != PIN_SCHEMA_VERSION:
        raise PinError(f"{path} has pinned-band schema {data['schema_version']}, which pins no run settings "
                       f"(reference hashes, isolation, configs); pin it again with `bgbench pin` from current records.")
    ok = isinstance(data["metrics"], dict) and isinstance(data.get("settings"), dict) and isinstance(data.get("systems"), dict)
    for bands in data["metrics"].values() if ok else ():
        ok = ok and isinstance(bands, dict) and all(
            isinstance(b, dict) and b.get("scale") in ("log", "linear") and b.get("rule") in ("sigma", "abs")
            and all(isinstance(b.get(k), (int, float)) and not isinstance(b.get(k), bool) for k in ("mean", "std"))
            for b in bands.values())
    if not ok:
        raise PinError(f"{path}: malformed pinned bands or settings")
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


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _count_problem(record: RunRecord, res) -> str | None:
    """Why a system's energy counts cannot be trusted, or None."""
    counts = res.energy_evaluations
    if "budget" not in counts or "used" not in counts:
        return "energy counts missing"
    if counts["budget"] != record.budget:
        return f"counted against a budget of {counts['budget']}, the record's budget is {record.budget}"
    if counts["used"] > record.budget:
        return f"used {counts['used']} energy evaluations, over the budget of {record.budget}"
    if "full" in counts and "partial" in counts and counts["full"] + counts["partial"] != counts["used"]:
        return "full and partial evaluations do not add up to the evaluations used"
    return None


def _band(band: dict[str, Any], k_sigma: float, abs_tol: float) -> tuple[float, float]:
    width = k_sigma * band["std"] if band["rule"] == "sigma" else abs_tol
    low, high = band["mean"] - width, band["mean"] + width
    return (math.exp(low), math.exp(high)) if band["scale"] == "log" else (low, high)


def _verdict(system: str, name: str, band: dict[str, Any], value: Any, k_sigma: float, abs_tol: float) -> Verdict:
    low, high = _band(band, k_sigma, abs_tol)
    if value is None or not math.isfinite(value):
        return Verdict(system, name, low, high, None, False, "metric missing")
    if band["scale"] == "log" and value <= 0:
        return Verdict(system, name, low, high, float(value), False, "not positive (pinned on a log scale)")
    ok = low <= value <= high
    x = math.log(value) if band["scale"] == "log" else value
    note = "" if ok else f"{(x - band['mean']) / band['std']:+.2f} sigma" if band["std"] > 0 else "outside tolerance"
    return Verdict(system, name, low, high, float(value), ok, note)


def check(record: RunRecord, pinned: dict[str, Any], sigma: float | None = None) -> list[Verdict]:
    """Compare a record with a pinned file; every mismatch becomes a failing verdict."""
    ident = _identity(record)
    mismatched = [k for k in ("method", "task", "task_version", "tier", "budget", "sampler") if pinned.get(k) != ident[k]]
    if mismatched:
        return [Verdict("-", k, None, None, None, False, f"record has {ident[k]!r}, pinned has {pinned.get(k)!r}")
                for k in mismatched]
    verdicts = []
    settings = run_settings(record)
    for key in sorted(set(settings) | set(pinned["settings"])):
        if settings.get(key) != pinned["settings"].get(key):
            verdicts.append(Verdict("-", f"setting {key}", None, None, None, False,
                                    f"record has {_short(settings.get(key))}, pinned has {_short(pinned['settings'].get(key))}"))
    k_sigma = float(pinned.get("sigma", DEFAULT_SIGMA) if sigma is None else sigma)
    abs_tol = float(pinned.get("abs_tol", DEFAULT_ABS_TOL))
    for system, metrics in pinned["metrics"].items():
        res = record.systems.get(system)
        if res is None or res.status != "ok":
            note = "system missing from the record" if res is None else f"system failed: {res.error}"
            verdicts += [Verdict(system, name, *_band(band, k_sigma, abs_tol), None, False, note) for name, band in metrics.items()]
            continue
        problem = _count_problem(record, res)
        if problem:
            verdicts.append(Verdict(system, "energy evaluations", None, None, None, False, problem))
        mine, theirs = system_settings(record, system), pinned["systems"].get(system, {})
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key) != theirs.get(key):
                verdicts.append(Verdict(system, f"setting {key}", None, None, None, False,
                                        f"record has {_short(mine.get(key))}, pinned has {_short(theirs.get(key))}"))
        for name, band in metrics.items():
            verdicts.append(_verdict(system, name, band, res.metrics.get(name), k_sigma, abs_tol))
    return verdicts
