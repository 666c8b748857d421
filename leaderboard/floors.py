"""How the board gets noise floors without computing a metric at build time.

A floor is computed once per system and reference content by ``benchmark.metrics.noise_floor`` (it
needs the reference data and the target energy). The board reads floors from two places, first found wins:

1. the floors file, ``leaderboard/noise_floors.json`` (committed beside the records), written by
   ``bgbench leaderboard floors --task T --tier quick``, which calls the cached floor function for
   every system of the task and adds the MD run-to-run spread from the committed MD records;
2. a record's own ``context.noise_floor``: ``{system: {"metrics": {metric: value}, "reference_hashes":
   {...}, "num_samples_per_half": n}}`` (a bare ``{system: {metric: value}}`` is accepted too), for
   runners that compute the floor while the reference is loaded anyway.

Each floor keeps the reference hashes it was measured on; a record scored against other reference
data gets a caveat on the board.

The MD run-to-run spread (quick tier) is the metric between the answer sets of two MD baseline
records of different seeds at the same budget, from their plot sidecars (energies and the first two
TICA components are the full inputs of E-W2 and TICA-W2; T-W2 only where the system has one phi/psi
pair, which is all a sidecar keeps). It shows how far two honest MD runs of that budget land from
each other. It is shown beside the floor and is not used for ties: it measures MD at a budget, not
the reference.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from leaderboard.fields import dig, number, text
from leaderboard.store import LoadProblem, Store

log = logging.getLogger(__name__)

FLOORS_FILE = Path(__file__).parent / "noise_floors.json"
SCHEMA_VERSION = 1

Key = tuple[str, int, str, str]  # task, task version, tier, system


@dataclass(frozen=True)
class Floor:
    """The floor of one system: {metric: value} and where it came from."""

    metrics: dict[str, float]
    source: str  # "floors file" or "record <id>"
    reference_hashes: dict[str, str] = field(default_factory=dict)
    n_samples: int | None = None  # samples per half
    split: str = ""


@dataclass
class Floors:
    """Every known floor and MD run-to-run spread, plus problems met while reading them."""

    systems: dict[Key, Floor] = field(default_factory=dict)
    md_runs: dict[tuple[str, int, str, int], dict[str, Any]] = field(default_factory=dict)  # (task, version, tier, budget) -> entry
    problems: list[LoadProblem] = field(default_factory=list)

    def metric_map(self) -> dict[Key, dict[str, float]]:
        """What ``aggregate.build_tables`` takes."""
        return {key: floor.metrics for key, floor in self.systems.items()}


def _metrics(obj: Any) -> dict[str, float]:
    """{metric: finite number} from a mapping; anything else is dropped."""
    if not isinstance(obj, dict):
        return {}
    return {str(k): v for k, v in ((k, number(v)) for k, v in obj.items()) if v is not None}


def read_floors_file(path: Path = FLOORS_FILE) -> Floors:
    """Read a floors file; a missing file is empty, an unreadable one a problem (never an error)."""
    floors = Floors()
    path = Path(path)
    if not path.is_file():
        return floors
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"not a schema-{SCHEMA_VERSION} floors file")
        for entry in doc.get("floors", []):
            key = (str(entry["task"]), int(entry["task_version"]), str(entry["tier"]), str(entry["system"]))
            hashes = entry.get("reference_hashes") if isinstance(entry.get("reference_hashes"), dict) else {}
            floors.systems[key] = Floor(_metrics(entry.get("metrics")), "floors file", {str(k): str(v) for k, v in hashes.items()},
                                        int(number(entry.get("num_samples_per_half")) or 0) or None, str(entry.get("split", "")))
        for entry in doc.get("md_runs", []):
            key = (str(entry["task"]), int(entry["task_version"]), str(entry["tier"]), int(entry["budget"]))
            floors.md_runs[key] = {"metrics": _metrics(entry.get("metrics")), "pairs": int(number(entry.get("pairs")) or 0),
                                   "systems": [str(s) for s in entry.get("systems", [])]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
        floors.problems.append(LoadProblem(str(path), f"cannot read noise floors ({type(err).__name__}: {err})"))
        floors.systems.clear()
        floors.md_runs.clear()
    return floors


def add_record_floors(floors: Floors, store: Store) -> None:
    """Floors carried by records (``context.noise_floor``) for systems the floors file does not cover."""
    for rid in sorted(store.records, key=lambda r: str(store.records[r].created), reverse=True):  # newest first
        carried = dig(store.raw[rid], "context", "noise_floor")
        if not isinstance(carried, dict):
            continue
        rec = store.records[rid]
        for system, value in carried.items():
            key = (str(rec.task["name"]), int(rec.task["version"]), str(rec.task["tier"]), str(system))
            if key in floors.systems or not isinstance(value, dict):
                continue
            nested = isinstance(value.get("metrics"), dict)
            metrics = _metrics(value["metrics"] if nested else value)
            hashes = value.get("reference_hashes") if nested and isinstance(value.get("reference_hashes"), dict) else {}
            if metrics:
                n = number(value.get("num_samples_per_half")) if nested else None
                floors.systems[key] = Floor(metrics, f"record {rid}", {str(k): str(v) for k, v in hashes.items()}, int(n) if n else None)


def load_floors(store: Store, path: Path | None = FLOORS_FILE) -> Floors:
    """The floors the board uses for ``store``: the floors file first, then floors carried by records."""
    floors = read_floors_file(path) if path is not None else Floors()
    add_record_floors(floors, store)
    return floors


def record_caveats(floors: Floors, store: Store, rid: str) -> list[str]:
    """Caveats of one record against its floors: scored on other reference data than the floor was measured on."""
    rec = store.records[rid]
    notes = []
    for system, result in rec.systems.items():
        floor = floors.systems.get((str(rec.task["name"]), int(rec.task["version"]), str(rec.task["tier"]), str(system)))
        mine = dig({"r": result.reference}, "r", "hashes")
        if floor and floor.reference_hashes and isinstance(mine, dict) and mine and not same_reference(mine, floor.reference_hashes):
            notes.append(f"{text(system)}: noise floor measured on other reference data than this record was scored on "
                         f"(same protocol, different trajectory)")
    return notes


def same_reference(a: dict[str, str], b: dict[str, str]) -> bool:
    """Whether two reference hash sets hold the same frames: the trajectory file when both name one
    (a rewritten topology file does not change the frames), else every file."""
    for name in ("test.npy", "npz"):
        if name in a and name in b:
            return a[name] == b[name]
    return a == b


# --- writing the floors file (``bgbench leaderboard floors``; needs reference data) --------------------------------

def md_run_spread(store: Store) -> list[dict[str, Any]]:
    """Metric between the MD answer sets of every pair of seeds, per task/tier/budget, averaged over pairs and systems."""
    from benchmark.metrics import energy_w2, tica_w2, torus_w2
    from benchmark.plot_data import read_plot_data, sidecar_path, systems_in

    groups: dict[tuple, list[str]] = {}
    for rid, rec in store.records.items():
        if rec.final_set == "md" and rid not in store.local and sidecar_path(store.paths[rid]).is_file():
            groups.setdefault((str(rec.task["name"]), int(rec.task["version"]), str(rec.task["tier"]), int(rec.budget)), []).append(rid)
    out = []
    for (task, version, tier, budget), rids in sorted(groups.items()):
        per_metric: dict[str, list[float]] = {}
        systems: set[str] = set()
        pairs = 0
        data = {rid: systems_in(read_plot_data(sidecar_path(store.paths[rid]))) for rid in rids}
        for a, b in itertools.combinations(sorted(rids, key=lambda r: store.records[r].seed), 2):
            if store.records[a].seed == store.records[b].seed:
                continue
            pairs += 1
            for system in set(data[a]) & set(data[b]):
                sa, sb = data[a][system], data[b][system]
                if "md" not in sa.get("energies", {}) or "md" not in sb.get("energies", {}):
                    continue
                systems.add(system)
                ea, eb = sa["energies"]["md"], sb["energies"]["md"]
                n = min(len(ea), len(eb))
                ea, eb = ea[:n][np.isfinite(ea[:n])], eb[:n][np.isfinite(eb[:n])]
                per_metric.setdefault("energy-w2", []).append(energy_w2(ea, eb))
                if "md" in sa.get("tica", {}) and "md" in sb.get("tica", {}):
                    ta, tb = sa["tica"]["md"], sb["tica"]["md"]
                    n = min(len(ta), len(tb))
                    per_metric.setdefault("tica-w2", []).append(tica_w2(ta[:n], tb[:n]))
                if _one_dihedral_pair(task, system) and "md" in sa.get("phi_psi", {}) and "md" in sb.get("phi_psi", {}):
                    pa, pb = sa["phi_psi"]["md"], sb["phi_psi"]["md"]
                    n = min(len(pa), len(pb))
                    per_metric.setdefault("torus-w2", []).append(torus_w2(pa[:n], pb[:n]))
        if pairs:
            out.append({"task": task, "task_version": version, "tier": tier, "budget": budget, "pairs": pairs,
                        "systems": sorted(systems), "metrics": {m: float(np.mean(v)) for m, v in per_metric.items()},
                        "note": "mean over pairs of MD baseline seeds and systems, from the records' plot sidecars"})
    return out


def _one_dihedral_pair(task: str, system: str) -> bool:
    """Whether the sidecar's single (phi, psi) pair is the whole T-W2 input of this system."""
    from benchmark.tasks import get_task

    try:
        return len(get_task(task).system(system).build().phi_indices) == 1
    except Exception:  # an unknown system: no torus spread
        return False


def write_floors_file(entries: list[dict[str, Any]], md_runs: list[dict[str, Any]], path: Path = FLOORS_FILE) -> Path:
    """Merge ``entries`` (from ``cached_noise_floor``) and ``md_runs`` into the floors file, keeping other tasks' lines."""
    from benchmark.results import atomic_write_text

    path = Path(path)
    old = json.loads(path.read_text()) if path.is_file() else {}
    key = lambda e: (e["task"], e["task_version"], e["tier"], e.get("system", e.get("budget")))  # noqa: E731
    floors = {key(e): e for e in old.get("floors", [])} | {key(e): e for e in entries}
    runs = {key(e): e for e in old.get("md_runs", [])} | {key(e): e for e in md_runs}
    doc = {
        "schema_version": SCHEMA_VERSION,
        "about": "Noise floors per system (benchmark/metrics/noise_floor.py) and the MD run-to-run spread; "
                 "written by `bgbench leaderboard floors`, read by `bgbench leaderboard build|show`.",
        "floors": [floors[k] for k in sorted(floors, key=str)],
        "md_runs": [runs[k] for k in sorted(runs, key=str)],
    }
    atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return path
