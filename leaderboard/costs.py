"""What a score cost: energy evaluations (full and partial), wall time, samples/s, hardware, model size, training time.

Read from the raw record (older records lack most of it: every missing value is shown as "—"):

* ``systems[s].energy_evaluations`` {budget, used, full, partial, force_evaluations} per system;
* ``systems[s].wall_time_s`` {sample, evaluate, ...} and the run's ``wall_time_s`` {setup, total};
* ``systems[s].diagnostics`` (sampler diagnostics; ``n_samples`` or ``n_proposals`` when present);
* ``environment`` {cpu, cpu_count, gpu, ...}; ``method.parameters`` (int); ``method.training_seconds``
  ({system or corpus: seconds}, or one number); ``isolation``; ``energy`` {backend, precision,
  platform}; ``track``; ``sampler`` {name, settings}.

samples/s is the number of conformations the method produced per second of its sampling stage: the
sampler's own count when its diagnostics give one, else the full energy evaluations (one per proposal
for SNIS, one per step for MD). Per entry, numbers are averaged over its records (seeds) and, for
per-system numbers, over systems.
"""

from __future__ import annotations

import statistics
from typing import Any

from leaderboard.fields import dig, number, text, track

#: Cost columns of a leaderboard table, in order.
COLUMNS = ("evaluations", "wall time", "samples/s", "hardware", "parameters", "training")
MISSING = "—"


def _mean(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def record_costs(raw: dict[str, Any]) -> dict[str, Any]:
    """Numbers and labels of one record (None where the record does not say)."""
    systems = [r for r in (raw.get("systems") or {}).values() if isinstance(r, dict)] if isinstance(raw.get("systems"), dict) else []
    used, full, partial, forces, rates = [], [], [], [], []
    for res in systems:
        ev = res.get("energy_evaluations")
        n_used, n_full, n_partial = number(dig(ev, "used")), number(dig(ev, "full")), number(dig(ev, "partial"))
        used.append(n_used if n_used is not None else (n_full + (n_partial or 0) if n_full is not None else None))
        full.append(n_full)
        partial.append(n_partial)
        forces.append(number(dig(ev, "force_evaluations")))
        produced = number(dig(res, "diagnostics", "n_samples")) or number(dig(res, "diagnostics", "n_proposals")) or n_full or n_used
        seconds = number(dig(res, "wall_time_s", "sample"))
        rates.append(produced / seconds if produced and seconds else None)
    training = dig(raw, "method", "training_seconds")
    if isinstance(training, dict):
        parts = [number(v) for v in training.values()]
        training = sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
    else:
        training = number(training)
    parameters = number(dig(raw, "method", "parameters"))
    energy = [text(dig(raw, "energy", k)) for k in ("backend", "precision", "platform")]
    return {
        "evaluations_used": _mean(used),
        "evaluations_full": _mean(full),
        "evaluations_partial": _mean(partial),
        "force_evaluations": _mean(forces),
        "wall_time_s": number(dig(raw, "wall_time_s", "total")),
        "samples_per_s": _mean(rates),
        "hardware": hardware(raw.get("environment")),
        "parameters": parameters,
        "training_s": training,
        "isolation": text(raw.get("isolation")),
        "energy": " · ".join(e for e in energy if e) or None,
        "track": track(raw),
        "sampler": text(dig(raw, "sampler", "name")),
    }


def hardware(env: Any) -> str | None:
    """'GPU: <name>' when the run had one, else 'CPU: <name> ×<count>'."""
    gpu = dig(env, "gpu")
    if isinstance(gpu, dict):
        gpu = gpu.get("name")
    if text(gpu):
        return f"GPU: {text(gpu, 60)}"
    cpu, count = text(dig(env, "cpu"), 60), number(dig(env, "cpu_count"))
    if cpu is None and count is None:
        return None
    return "CPU: " + (cpu or "?") + (f" ×{int(count)}" if count else "")


def entry_costs(raws: list[dict[str, Any]]) -> dict[str, Any]:
    """One entry's costs over its records: numbers averaged, labels listed once each."""
    per = [record_costs(r) for r in raws]
    out: dict[str, Any] = {}
    for key in per[0] if per else ():
        values = [p[key] for p in per]
        if any(isinstance(v, float) for v in values) or all(v is None for v in values):
            out[key] = _mean([v for v in values if not isinstance(v, str)])
        else:
            out[key] = " / ".join(dict.fromkeys(v for v in values if v)) or None
    return out


def _count(x: float | None) -> str:
    if x is None:
        return MISSING
    if x >= 1e4:
        mantissa, exponent = f"{x:.2e}".split("e")
        return f"{float(mantissa):g}e{int(exponent)}"
    return f"{x:.0f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return MISSING
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def display(costs: dict[str, Any]) -> dict[str, str]:
    """The cost columns as text ("—" where the records do not say)."""
    used, full, partial = costs.get("evaluations_used"), costs.get("evaluations_full"), costs.get("evaluations_partial")
    if full is not None or partial is not None:
        evaluations = f"{_count(full)} full + {_count(partial)} partial"
    else:
        evaluations = f"{_count(used)} (full/partial —)" if used is not None else MISSING
    params = costs.get("parameters")
    rate = costs.get("samples_per_s")
    return {
        "evaluations": evaluations,
        "wall time": duration(costs.get("wall_time_s")),
        "samples/s": MISSING if rate is None else (f"{rate:.3g}" if rate < 1000 else f"{rate:.0f}"),
        "hardware": costs.get("hardware") or MISSING,
        "parameters": MISSING if params is None else (f"{params / 1e6:.3g} M" if params >= 1e5 else f"{params / 1e3:.3g} k"),
        "training": duration(costs.get("training_s")),
    }


def details(costs: dict[str, Any]) -> dict[str, str]:
    """How the run was made, for tooltips and the method page."""
    return {
        "track": costs.get("track") or "closed",
        "sampler": costs.get("sampler") or MISSING,
        "isolation": costs.get("isolation") or MISSING,
        "energy": costs.get("energy") or MISSING,
        "force evaluations": _count(costs.get("force_evaluations")),
    }
