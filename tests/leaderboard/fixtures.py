"""Fixture run records for leaderboard tests, written with the real RunRecord / write_record.

Values are drawn from a seeded RNG around realistic magnitudes; tests recompute every expected number
from ``VALUES``, ``COSTS`` and ``FLOORS`` (the inputs), never from leaderboard output.

Fields newer than RunRecord (track, isolation, energy backend, costs, sampler diagnostics, a floor
carried in ``context.noise_floor``) are added to the written JSON the way a newer runner writes them;
the oldest records (MD) have none of them, as old records do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.results import RunRecord, SystemResult, write_record
from benchmark.plot_data import write_plot_data

QUICK_8AA = ("PGESTAES", "MAPQTIAT")  # the registry's quick-tier 8AA systems
SCRIPT_DESCRIPTION = "<script>alert('x')</script> a flow with <b>markup</b>"
N_EVAL = 1_000

#: (method, final_set, task, tier, budget, seed) -> {system: {metric: value} | None (failed)}
VALUES: dict[tuple, dict[str, dict[str, float] | None]] = {}
#: (method, task, tier, budget, seed) -> the cost fields written into that record
COSTS: dict[tuple, dict[str, Any]] = {}
#: per-system noise floors: the 8AA quick ones in the floors file, the ALDP one carried by a record
FLOORS = {
    ("8AA", "PGESTAES"): {"energy-w2": 0.30, "torus-w2": 0.05, "tica-w2": 0.02},
    ("8AA", "MAPQTIAT"): {"energy-w2": 0.50, "torus-w2": 0.07, "tica-w2": 0.04},
    ("ALDP", "Ace-A-Nme"): {"energy-w2": 0.40, "torus-w2": 0.10, "tica-w2": 0.05},
}
#: the two ALDP records whose E-W2 differ by less than the ALDP floor (0.40): a tie
TIE_VALUES = {"tie-a": 1.00, "tie-b": 1.25}


def _metrics(rng: np.random.Generator, scale: float) -> dict[str, float]:
    return {
        "energy-w2": float(scale * rng.uniform(0.5, 1.5)),
        "torus-w2": float(scale * rng.uniform(0.2, 0.4)),
        "tica-w2": float(scale * rng.uniform(0.1, 0.2)),
        "effective-sample-size": float(rng.uniform(0.01, 0.3)),
    }


def _record(method: str, final_set: str, task: str, tier: str, budget: int, seed: int, systems: dict, description: str = "",
            n_scored: int = N_EVAL) -> RunRecord:
    results = {}
    for name, metrics in systems.items():
        if metrics is None:
            results[name] = SystemResult(status="failed", error="OpenMM NaN energy during minimisation")
        else:
            all_metrics = {f"{final_set}/{k}": v for k, v in metrics.items()}
            all_metrics[f"{final_set}/num-eval-samples"] = float(n_scored)
            all_metrics.update({f"proposal/{k}": 3 * v for k, v in metrics.items()})  # must be ignored
            results[name] = SystemResult(status="ok", metrics=all_metrics,
                                         energy_evaluations={"budget": budget, "used": budget, "force_evaluations": 0})
    return RunRecord(
        method={"name": method, "version": "1", "description": description, "config": {"lr": 3e-4, "note": description},
                "source": f"baselines/{method}"},
        task={"name": task, "version": 1, "tier": tier},
        protocol={"tier": tier, "budgets": [budget], "n_eval_samples": N_EVAL},
        budget=budget, seed=seed,
        sampler={"name": "snis", "settings": {"clip": 0.002}} if final_set == "resampled" else None,
        evaluation={"chirality_fix": True, "n_reference_samples": N_EVAL}, final_set=final_set, systems=results,
        wall_time_s={"total": 12.5}, environment={"python": "3.11", "git_revision": "abc1234"},
    )


def _minimal(record: RunRecord) -> RunRecord:
    """Only the keys the schema requires: optional method fields and environment left out."""
    record.method = {"name": record.method["name"], "version": record.method["version"]}
    record.environment = {}
    return record


def _write(record: RunRecord, path: Path, top: dict | None = None, per_system: dict | None = None, method: dict | None = None) -> Path:
    """write_record, then add the newer fields a current runner writes (top-level, per system, method)."""
    write_record(record, path)
    data = json.loads(path.read_text())
    data.update(top or {})
    data["method"].update(method or {})
    for res in data["systems"].values():
        if res["status"] == "ok":
            res.update(json.loads(json.dumps(per_system or {})))
    path.write_text(json.dumps(data, indent=1))
    return path


def _new_fields(method: str, task: str, tier: str, budget: int, seed: int) -> tuple[dict, dict, dict]:
    """Costs of a current-runner record, remembered in COSTS for the tests."""
    partial = budget // 10
    costs = {
        "full": budget - partial, "partial": partial, "sample_s": 20.0 + seed, "total_s": 300.0 + 10 * seed,
        "parameters": 7_400_000, "training_s": {"corpus": 600.0, "PGESTAES": 60.0}, "gpu": "NVIDIA H100 80GB HBM3",
    }
    COSTS[(method, task, tier, budget, seed)] = costs
    top = {"track": "closed", "isolation": "process", "energy": {"backend": "torch", "precision": "float64", "platform": "cpu"},
           "wall_time_s": {"setup": 5.0, "total": costs["total_s"]},
           "environment": {"python": "3.11", "cpu": "Test CPU", "cpu_count": 2, "gpu": costs["gpu"], "git_revision": "abc1234"}}
    per_system = {"energy_evaluations": {"budget": budget, "used": budget, "full": costs["full"], "partial": partial, "force_evaluations": 0},
                  "wall_time_s": {"sample": costs["sample_s"], "evaluate": 3.0}, "diagnostics": {"ess": 0.1}}
    return top, per_system, {"parameters": costs["parameters"], "training_seconds": costs["training_s"]}


def write_fixture_records(root: Path, with_plots: bool = True) -> Path:
    """Write a realistic folder of records (+ malformed files) under ``root``; returns ``root``.

    Also writes ``floors_path(root)`` (the 8AA quick floors; pass it to the board as the floors file).
    """
    VALUES.clear()
    COSTS.clear()
    rng = np.random.default_rng(7)
    specs = [
        # method, final_set, scale, seeds, budgets
        ("tarflow", "resampled", 1.0, (0, 1, 2), (10_000, 200_000)),
        ("robin", "resampled", 0.6, (0, 1, 2), (10_000, 200_000)),
        ("md-baseline", "md", 2.0, (0,), (10_000, 200_000)),
    ]
    for method, final_set, scale, seeds, budgets in specs:
        for budget in budgets:
            for seed in seeds:
                factor = scale * (0.7 if budget > 10_000 else 1.0)
                systems = {s: _metrics(rng, factor) for s in QUICK_8AA}
                VALUES[(method, final_set, "8AA", "quick", budget, seed)] = systems
                rec = _record(method, final_set, "8AA", "quick", budget, seed, systems)
                path = root / method / f"8AA-quick-{budget}-seed{seed}.json"
                if method == "md-baseline":
                    write_record(_minimal(rec), path)  # an old record: no costs, no track
                else:
                    _write(rec, path, *_new_fields(method, "8AA", "quick", budget, seed))
    # a method with a failed system: a partial task
    systems = {QUICK_8AA[0]: _metrics(rng, 0.3), QUICK_8AA[1]: None}
    VALUES[("flaky-flow", "resampled", "8AA", "quick", 10_000, 0)] = systems
    write_record(_record("flaky-flow", "resampled", "8AA", "quick", 10_000, 0, systems), root / "flaky" / "8AA-quick.json")
    # a method whose every system failed: shown, never averaged
    systems = {s: None for s in QUICK_8AA}
    VALUES[("crashy-flow", "resampled", "8AA", "quick", 10_000, 0)] = systems
    write_record(_record("crashy-flow", "resampled", "8AA", "quick", 10_000, 0, systems), root / "crashy" / "8AA-quick.json")
    # SMC with 100 particles: scored on fewer samples than the protocol, flagged and never ranked
    systems = {s: _metrics(rng, 0.1) for s in QUICK_8AA}
    VALUES[("tiny-smc", "smc", "8AA", "quick", 10_000, 0)] = systems
    write_record(_record("tiny-smc", "smc", "8AA", "quick", 10_000, 0, systems, n_scored=100), root / "tiny-smc" / "8AA-quick.json")
    # an open-track entry, disclosed
    systems = {s: _metrics(rng, 0.2) for s in QUICK_8AA}
    VALUES[("open-flow", "resampled", "8AA", "quick", 10_000, 0)] = systems
    _write(_record("open-flow", "resampled", "8AA", "quick", 10_000, 0, systems), root / "open" / "8AA-quick.json",
           top={"track": "open"}, method={"disclosure": "pretrained on 10x more MD than the task's training data"})
    # a hostile description, on ALDP (quick); it also carries the ALDP floor in context.noise_floor
    systems = {"Ace-A-Nme": _metrics(rng, 0.5)}
    VALUES[("evil-flow", "resampled", "ALDP", "quick", 10_000, 0)] = systems
    path = root / "evil" / "ALDP-quick.json"
    _write(_record("evil-flow", "resampled", "ALDP", "quick", 10_000, 0, systems, SCRIPT_DESCRIPTION), path,
           top={"context": {"noise_floor": {"Ace-A-Nme": {"metrics": FLOORS[("ALDP", "Ace-A-Nme")], "num_samples_per_half": 500}}}})
    # two ALDP entries within the floor of each other: a tie
    for name, value in TIE_VALUES.items():
        systems = {"Ace-A-Nme": {**_metrics(rng, 3.0), "energy-w2": value}}
        VALUES[(name, "resampled", "ALDP", "quick", 10_000, 0)] = systems
        write_record(_record(name, "resampled", "ALDP", "quick", 10_000, 0, systems), root / name / "ALDP-quick.json")
    # same method on the paper tier: must land in a different table
    systems = {s: _metrics(rng, 1.0) for s in QUICK_8AA}
    VALUES[("tarflow", "resampled", "8AA", "paper", 10_000, 0)] = systems
    write_record(_record("tarflow", "resampled", "8AA", "paper", 10_000, 0, systems), root / "tarflow" / "8AA-paper.json")
    # malformed files
    (root / "broken").mkdir(parents=True, exist_ok=True)
    (root / "broken" / "truncated.json").write_text('{"schema_version": 1, "method": ')
    (root / "broken" / "no-task.json").write_text('{"schema_version": 1}')
    write_floors(floors_path(root))
    if with_plots:
        _write_plots(root / "tarflow" / "8AA-quick-10000-seed0.json", QUICK_8AA[:1])
        _write_plots(path, ("Ace-A-Nme",))
    return root


def floors_path(root: Path) -> Path:
    """The fixture floors file, beside (not inside) the records folder."""
    return Path(root).parent / f"{Path(root).name}.floors.json"


def write_floors(path: Path) -> Path:
    """A floors file for the 8AA quick systems (the format ``bgbench leaderboard floors`` writes)."""
    entries = [{"task": task, "task_version": 1, "tier": "quick", "system": system, "metrics": metrics,
                "num_samples_per_half": 500, "reference_hashes": {"test.npy": "fixture"}, "split": "contiguous halves"}
               for (task, system), metrics in FLOORS.items() if task == "8AA"]
    md = [{"task": "8AA", "task_version": 1, "tier": "quick", "budget": 10_000, "pairs": 1, "systems": list(QUICK_8AA),
           "metrics": {"energy-w2": 2.5}}]
    path.write_text(json.dumps({"schema_version": 1, "floors": entries, "md_runs": md}))
    return path


def _write_plots(record_path: Path, systems: tuple[str, ...]) -> None:
    rng = np.random.default_rng(1)
    data = {}
    for system in systems:
        for set_name, shift in (("reference", 0.0), ("proposal", 3.0), ("resampled", 0.5)):
            data[f"{system}/energies/{set_name}"] = rng.normal(-50 + shift, 5, 2000)
            data[f"{system}/phi_psi/{set_name}"] = rng.uniform(-np.pi, np.pi, (2000, 2))
            data[f"{system}/tica/{set_name}"] = rng.normal(shift / 3, 1, (2000, 2))
    write_plot_data(record_path, data)
