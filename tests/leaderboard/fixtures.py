"""Fixture run records for leaderboard tests, written with the real RunRecord / write_record.

Values are drawn from a seeded RNG around realistic magnitudes; tests recompute every expected number
from ``VALUES`` (the inputs), never from leaderboard output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.results import RunRecord, SystemResult, write_record
from benchmark.plot_data import write_plot_data

QUICK_8AA = ("PGESTAES", "MAPQTIAT")  # the registry's quick-tier 8AA systems
SCRIPT_DESCRIPTION = "<script>alert('x')</script> a flow with <b>markup</b>"

#: (method, final_set, task, tier, budget, seed) -> {system: {metric: value} | None (failed)}
VALUES: dict[tuple, dict[str, dict[str, float] | None]] = {}


def _metrics(rng: np.random.Generator, scale: float) -> dict[str, float]:
    return {
        "energy-w2": float(scale * rng.uniform(0.5, 1.5)),
        "torus-w2": float(scale * rng.uniform(0.2, 0.4)),
        "tica-w2": float(scale * rng.uniform(0.1, 0.2)),
        "effective-sample-size": float(rng.uniform(0.01, 0.3)),
    }


def _record(method: str, final_set: str, task: str, tier: str, budget: int, seed: int, systems: dict, description: str = "") -> RunRecord:
    results = {}
    for name, metrics in systems.items():
        if metrics is None:
            results[name] = SystemResult(status="failed", error="OpenMM NaN energy during minimisation")
        else:
            all_metrics = {f"{final_set}/{k}": v for k, v in metrics.items()}
            all_metrics.update({f"proposal/{k}": 3 * v for k, v in metrics.items()})  # must be ignored
            results[name] = SystemResult(status="ok", metrics=all_metrics,
                                         energy_evaluations={"budget": budget, "used": budget, "force_evaluations": 0})
    return RunRecord(
        method={"name": method, "version": "1", "description": description, "config": {"lr": 3e-4, "note": description},
                "source": f"baselines/{method}"},
        task={"name": task, "version": 1, "tier": tier},
        protocol={"tier": tier, "budgets": [budget]},
        budget=budget, seed=seed,
        sampler={"name": "snis", "settings": {"clip": 0.002}} if final_set == "resampled" else None,
        evaluation={"chirality_fix": True}, final_set=final_set, systems=results,
        wall_time_s={"total": 12.5}, environment={"python": "3.11", "git_revision": "abc1234"},
    )


def _minimal(record: RunRecord) -> RunRecord:
    """Only the keys the schema requires: optional method fields and environment left out."""
    record.method = {"name": record.method["name"], "version": record.method["version"]}
    record.environment = {}
    return record


def write_fixture_records(root: Path, with_plots: bool = True) -> Path:
    """Write a realistic folder of records (+ one malformed file) under ``root``; returns ``root``."""
    VALUES.clear()
    rng = np.random.default_rng(7)
    specs = [
        # method, final_set, scale, seeds, budgets
        ("tarflow", "resampled", 1.0, (0, 1, 2), (10_000, 200_000)),
        ("robin", "resampled", 0.6, (0, 1, 2), (10_000, 200_000)),
        ("md-baseline", "md", 2.0, (0,), (10_000,)),
    ]
    for method, final_set, scale, seeds, budgets in specs:
        for budget in budgets:
            for seed in seeds:
                factor = scale * (0.7 if budget > 10_000 else 1.0)
                systems = {s: _metrics(rng, factor) for s in QUICK_8AA}
                VALUES[(method, final_set, "8AA", "quick", budget, seed)] = systems
                rec = _record(method, final_set, "8AA", "quick", budget, seed, systems)
                rec = _minimal(rec) if method == "md-baseline" else rec
                write_record(rec, root / method / f"8AA-quick-{budget}-seed{seed}.json")
    # a method with a failed system: a partial task
    systems = {QUICK_8AA[0]: _metrics(rng, 0.3), QUICK_8AA[1]: None}
    VALUES[("flaky-flow", "resampled", "8AA", "quick", 10_000, 0)] = systems
    write_record(_record("flaky-flow", "resampled", "8AA", "quick", 10_000, 0, systems), root / "flaky" / "8AA-quick.json")
    # a method whose every system failed: shown, never averaged
    systems = {s: None for s in QUICK_8AA}
    VALUES[("crashy-flow", "resampled", "8AA", "quick", 10_000, 0)] = systems
    write_record(_record("crashy-flow", "resampled", "8AA", "quick", 10_000, 0, systems), root / "crashy" / "8AA-quick.json")
    # a hostile description, on ALDP (quick)
    systems = {"Ace-A-Nme": _metrics(rng, 0.5)}
    VALUES[("evil-flow", "resampled", "ALDP", "quick", 10_000, 0)] = systems
    path = root / "evil" / "ALDP-quick.json"
    write_record(_record("evil-flow", "resampled", "ALDP", "quick", 10_000, 0, systems, SCRIPT_DESCRIPTION), path)
    # same method on the paper tier: must land in a different table
    systems = {s: _metrics(rng, 1.0) for s in QUICK_8AA}
    VALUES[("tarflow", "resampled", "8AA", "paper", 10_000, 0)] = systems
    write_record(_record("tarflow", "resampled", "8AA", "paper", 10_000, 0, systems), root / "tarflow" / "8AA-paper.json")
    # malformed files
    (root / "broken").mkdir(parents=True, exist_ok=True)
    (root / "broken" / "truncated.json").write_text('{"schema_version": 1, "method": ')
    (root / "broken" / "no-task.json").write_text('{"schema_version": 1}')
    if with_plots:
        _write_plots(root / "tarflow" / "8AA-quick-10000-seed0.json", QUICK_8AA)
        _write_plots(path, ("Ace-A-Nme",))
    return root


def _write_plots(record_path: Path, systems: tuple[str, ...]) -> None:
    rng = np.random.default_rng(1)
    data = {}
    for system in systems:
        for set_name, shift in (("reference", 0.0), ("proposal", 3.0), ("resampled", 0.5)):
            data[f"{system}/energies/{set_name}"] = rng.normal(-50 + shift, 5, 2000)
            data[f"{system}/phi_psi/{set_name}"] = rng.uniform(-np.pi, np.pi, (2000, 2))
            data[f"{system}/tica/{set_name}"] = rng.normal(shift / 3, 1, (2000, 2))
    write_plot_data(record_path, data)
