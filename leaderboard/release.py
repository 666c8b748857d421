"""Summarise records into a release folder: ``release.json`` plus copies of records, published
tables, per-table LaTeX/Markdown/JSON and plot images. The site is rendered from this folder only
(HELM's run -> summarise -> static frontend split).

Every file name here is built with ``paths.slug``/``paths.file_key`` and placed with ``paths.inside``,
so a record whose task or system name holds ``../`` still writes below ``out``. A plot that fails is
a problem entry, not a failed build.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from tqdm import tqdm

from benchmark import __version__
from benchmark.errors import DataError
from leaderboard import plots
from leaderboard.aggregate import Table, complete_floor
from leaderboard.board import Board, build_board, record_notes
from leaderboard.costs import details, display, record_costs
from leaderboard.families import FAMILIES, family_text, family_view
from leaderboard.fields import dig, text, track
from leaderboard.floors import FLOORS_FILE
from leaderboard.paths import anchor, file_key, inside, slug
from benchmark.plot_data import read_plot_data, sidecar_path, systems_in
from leaderboard.published import PUBLISHED_DIR
from leaderboard.render_text import table_text
from benchmark.units import direction, display_name
from leaderboard.store import DEFAULT_RESULTS_DIR, LoadProblem, Source

log = logging.getLogger(__name__)
RELEASE_FILE = "release.json"

__all__ = ["RELEASE_FILE", "slug", "summarise"]


def method_slug(name: object, version: object) -> str:
    return slug(f"{name}@{version}")


def _record_summary(rid: str, board: Board) -> dict[str, Any]:
    store = board.store
    rec, raw = store.records[rid], store.raw[rid]
    summary = record_costs(raw)
    return {
        "id": rid,
        "file": f"records/{rid}.json",
        "source_path": str(store.paths[rid]),
        "local": rid in store.local,
        "track": track(raw),
        "method": rec.method,
        "method_slug": method_slug(rec.method["name"], rec.method["version"]),
        "task": rec.task,
        "task_slug": slug(str(rec.task["name"])),
        "budget": rec.budget,
        "seed": rec.seed,
        "final_set": rec.final_set,
        "answer_metrics": {k.split("/", 1)[1]: v for k, v in rec.aggregate().items() if k.startswith(f"{rec.final_set}/")},
        "sampler": rec.sampler,
        "evaluation": rec.evaluation,
        "created": rec.created,
        "bgbench_version": rec.bgbench_version,
        "environment": rec.environment,
        "wall_time_s": rec.wall_time_s,
        "costs": display(summary),
        "details": details(summary),
        "disclosure": text(dig(raw, "method", "disclosure"), 500),
        "caveats": record_notes(store, board.floors, rid),
        "systems": {
            str(name): {"status": res.status, "error": res.error, "metrics": res.metrics, "energy_evaluations": res.energy_evaluations,
                        "costs": display(record_costs({"systems": {name: raw["systems"].get(name)}})),
                        "wall_time_s": {k: v for k, v in (dig(raw, "systems", name, "wall_time_s") or {}).items() if isinstance(v, (int, float))}
                        if isinstance(dig(raw, "systems", name, "wall_time_s"), dict) else {}}
            for name, res in rec.systems.items()
        },
        "plots": {},
    }


def _plots_for_record(rid: str, board: Board, out: Path, problems: list[LoadProblem]) -> dict[str, dict[str, str]]:
    """Render this record's sidecar (if any) to PNGs; returns {system: {kind: relative path}}."""
    npz = sidecar_path(board.store.paths[rid])
    if not npz.exists():
        return {}
    try:
        nested = systems_in(read_plot_data(npz))
    except DataError as err:
        problems.append(LoadProblem(str(npz), str(err).removeprefix(f"{npz}: ")))
        return {}
    makers = {"energies": plots.energy_histogram, "phi_psi": plots.ramachandran, "tica": plots.tica_density}
    names = {"energies": "energy", "phi_psi": "Ramachandran (first φ/ψ)", "tica": "TICA density"}
    result: dict[str, dict[str, str]] = {}
    for system, kinds in nested.items():
        for kind, sets in kinds.items():
            rel = f"plots/{rid}/{slug(system)}-{kind}.png"
            path = inside(out, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                makers[kind](sets, path, f"{system}: {names[kind]}")
            except (ValueError, RuntimeError, OverflowError) as err:  # e.g. empty or degenerate arrays: skip the plot, keep the site
                problems.append(LoadProblem(str(npz), f"plot {system}/{kind} failed: {err}"))
                continue
            result.setdefault(str(system), {})[kind] = rel
    return result


def _curve_series(group: list[Table], metric: str) -> list[dict]:
    """Points (evaluations, mean, std) per harness entry, and per published row that ran at its table's budget."""
    series: dict[tuple, dict] = {}
    for t in group:
        for r in t.rows:
            c = r.cells.get(metric)
            if c is not None and c.mean is not None and not (c.partial or c.reduced):  # not comparable: left out
                label = f"{r.method} v{r.method_version}" + (" (local)" if r.local else "") + (" [open]" if r.track == "open" else "")
                kind = "md" if r.final_set == "md" else "method"
                series.setdefault(("h", label), {"label": label, "kind": kind, "points": []})["points"].append((t.budget, c.mean, c.std))
        for r in t.published:
            c = r.cells.get(metric)
            if c is not None and c.mean is not None and r.comparable and not c.lower_bound and r.evaluations:
                label = f"{r.label} (published)"
                series.setdefault(("p", label, r.source_file), {"label": label, "kind": "published", "points": []})["points"].append(
                    (r.evaluations, c.mean, c.std))
    return list(series.values())


def _budget_curves(tables: list[Table], out: Path, problems: list[LoadProblem]) -> dict[str, list[dict[str, Any]]]:
    """One figure per task/version/tier with harness results and points at two or more budgets: a panel per
    ranked distance (E-W2, T-W2, TICA-W2, ...), published rows at their own evaluation counts overlaid."""
    groups: dict[tuple, list[Table]] = {}
    for t in tables:
        if t.budget is not None:
            groups.setdefault((t.task, t.task_version, t.tier), []).append(t)
    curves: dict[str, list[dict[str, Any]]] = {}
    for (task, version, tier), group in groups.items():
        if not any(t.rows for t in group):
            continue  # published-only tiers: the paper tables say it already
        panels = []
        for metric in dict.fromkeys(m for t in group for m in t.metrics if direction(m) == "lower"):
            series = _curve_series(group, metric)
            if len({p[0] for s in series for p in s["points"]}) < 2:
                continue
            floor = next((f for f in (complete_floor(t).get(metric) for t in group if t.rows) if f is not None), None)
            panels.append({"metric": metric, "ylabel": display_name(metric), "series": series, "floor": floor})
        if not panels:
            continue
        rel = f"plots/budget/{slug(f'{task}-v{version}-{tier}')}.png"
        path = inside(out, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            plots.budget_curves(panels, path, f"{task} v{version}, {tier} tier: metrics against energy evaluations")
        except (ValueError, RuntimeError, OverflowError) as err:
            problems.append(LoadProblem(f"{task}/{tier}", f"budget curves failed: {err}"))
            continue
        curves.setdefault(str(task), []).append({
            "tier": str(tier), "task_version": str(version), "png": rel, "metrics": [p["metric"] for p in panels],
            "floors": {p["metric"]: p["floor"] for p in panels}, "has_md": any(s["kind"] == "md" for p in panels for s in p["series"]),
        })
    return curves


def _table_dict(t: Table, out: Path) -> dict[str, Any]:
    d = asdict(t)
    d["key"] = t.key
    d["anchor"] = "t-" + anchor(t.key)
    name = file_key(t.key)
    for row in d["rows"]:
        row["method_slug"] = method_slug(row["method"], row["method_version"])
    d["floor"] = {m: {**asdict(f), "complete": f.complete} for m, f in t.floor.items()}
    for fmt, ext in (("latex", "tex"), ("md", "md")):
        inside(out, f"tables/{name}.{ext}").write_text(table_text(t, fmt) + "\n")
    d["latex"] = f"tables/{name}.tex"
    d["markdown"] = f"tables/{name}.md"
    d["json"] = f"tables/{name}.json"
    inside(out, d["json"]).write_text(json.dumps(d, indent=1, default=str))
    return d


def _floors_view(board: Board) -> dict[str, dict[str, Any]]:
    """{"task|tier|system": floor} for the system pages."""
    return {f"{k[0]}|{k[2]}|{k[3]}": {"metrics": f.metrics, "source": f.source, "n_samples": f.n_samples, "split": f.split}
            for k, f in board.floors.systems.items()}


def summarise(results: Path | Sequence[Source] = DEFAULT_RESULTS_DIR, out: Path = Path("site"), published: Path | None = PUBLISHED_DIR,
              floors: Path | None = FLOORS_FILE) -> dict[str, Any]:
    """Build the release folder ``out`` and return the release dict (also written as ``release.json``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    board = build_board(results, published, floors)
    store = board.store
    problems = list(board.problems)

    records = {}
    (out / "records").mkdir(exist_ok=True)
    for rid in tqdm(sorted(store.records), desc="records", disable=None):
        shutil.copyfile(store.paths[rid], inside(out, f"records/{rid}.json"))
        records[rid] = _record_summary(rid, board)
        records[rid]["plots"] = _plots_for_record(rid, board, out, problems)

    sources = {}
    if published is not None:
        (out / "published").mkdir(exist_ok=True)
        for v in board.published:
            if v.file not in sources:
                shutil.copyfile(Path(published) / v.file, inside(out, f"published/{v.file}"))
                sources[v.file] = {"file": f"published/{v.file}", "source": v.source, "table": v.table, "note": v.note}

    (out / "tables").mkdir(exist_ok=True)
    table_dicts = [_table_dict(t, out) for t in board.tables]
    families = []
    for family in FAMILIES:  # method families side by side (families.py): bgbench quick beside the paper
        view = family_view(board, family)
        if view["rows"]:
            view["markdown"] = f"tables/family-{slug(family.slug)}.md"
            inside(out, view["markdown"]).write_text(family_text(board, family, "md") + "\n")
            families.append(view)
    release = {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "bgbench_version": __version__,
        "results_dir": ", ".join(str(s.root) + (" (local)" if s.local else "") for s in store.sources),
        "sources": [{"root": str(s.root), "local": s.local} for s in store.sources],
        "tables": table_dicts,
        "families": families,
        "records": records,
        "published_sources": sources,
        "floors": _floors_view(board),
        "budget_curves": _budget_curves(board.tables, out, problems),
        "problems": [asdict(p) for p in problems],
    }
    (out / RELEASE_FILE).write_text(json.dumps(release, indent=1, default=str))
    return release
