"""Summarise records into a release folder: ``release.json`` plus copies of records, published
tables, per-table LaTeX/JSON and plot images. The site is rendered from this folder only (HELM's
run -> summarise -> static frontend split)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmark import __version__
from benchmark.errors import DataError
from leaderboard import plots
from leaderboard.aggregate import Table, build_tables
from benchmark.plot_data import read_plot_data, sidecar_path, systems_in
from leaderboard.published import PUBLISHED_DIR, attach_published, load_published
from leaderboard.render_text import table_text
from leaderboard.schema import DISPLAY_NAMES, display_name
from leaderboard.store import DEFAULT_RESULTS_DIR, LoadProblem, Store, load_records

log = logging.getLogger(__name__)
RELEASE_FILE = "release.json"


def slug(text: str) -> str:
    """A file-name-safe name that stays unique (a short hash of the original is appended)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:60] or "x"
    return f"{base}-{hashlib.sha1(text.encode()).hexdigest()[:6]}"


def _record_summary(rid: str, store: Store) -> dict[str, Any]:
    rec = store.records[rid]
    return {
        "id": rid,
        "file": f"records/{rid}.json",
        "source_path": str(store.paths[rid]),
        "method": rec.method,
        "method_slug": slug(f"{rec.method['name']}@{rec.method['version']}"),
        "task": rec.task,
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
        "systems": {
            name: {"status": res.status, "error": res.error, "metrics": res.metrics, "energy_evaluations": res.energy_evaluations}
            for name, res in rec.systems.items()
        },
        "plots": {},
    }


def _plots_for_record(rid: str, store: Store, out: Path, problems: list[LoadProblem]) -> dict[str, dict[str, str]]:
    """Render this record's sidecar (if any) to PNGs; returns {system: {kind: relative path}}."""
    npz = sidecar_path(store.paths[rid])
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
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            title = f"{system}: {names[kind]}".replace("$", r"\$")  # no mathtext from record strings
            try:
                makers[kind](sets, out / rel, title)
            except (ValueError, RuntimeError) as err:  # e.g. empty or degenerate arrays: skip the plot, keep the site
                problems.append(LoadProblem(str(npz), f"plot {system}/{kind} failed: {err}"))
                continue
            result.setdefault(system, {})[kind] = rel
    return result


def _budget_curves(tables: list[Table], out: Path) -> dict[str, list[dict[str, str]]]:
    """Metric-vs-budget plots for each task/version/tier with harness results at two or more budgets."""
    groups: dict[tuple, list[Table]] = {}
    for t in tables:
        if t.rows and t.budget is not None:
            groups.setdefault((t.task, t.task_version, t.tier), []).append(t)
    curves: dict[str, list[dict[str, str]]] = {}
    for (task, version, tier), group in groups.items():
        if len({t.budget for t in group}) < 2:
            continue
        metrics = list(dict.fromkeys(m for t in group for m in t.metrics if any(m in r.cells for r in t.rows)))
        for metric in metrics:
            series: dict[str, list] = {}
            for t in group:
                for r in t.rows:
                    c = r.cells.get(metric)
                    if c is not None and c.mean is not None and not c.partial:  # partial tasks are not comparable
                        series.setdefault(r.label, []).append((t.budget, c.mean, c.std))
            rel = f"plots/budget/{slug(f'{task}-v{version}-{tier}-{metric}')}.png"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            plots.budget_curve(series, out / rel, f"{task} v{version} ({tier}): {DISPLAY_NAMES.get(metric, metric)} vs budget", display_name(metric))
            curves.setdefault(task, []).append({"tier": tier, "task_version": str(version), "metric": metric, "png": rel})
    return curves


def summarise(results: Path = DEFAULT_RESULTS_DIR, out: Path = Path("site"), published: Path | None = PUBLISHED_DIR) -> dict[str, Any]:
    """Build the release folder ``out`` and return the release dict (also written as ``release.json``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = load_records(results)
    problems = list(store.problems)
    tables = build_tables(store.frame)
    pub_values = load_published(published) if published is not None else []
    tables = attach_published(tables, pub_values)

    records = {}
    (out / "records").mkdir(exist_ok=True)
    for rid in tqdm(sorted(store.records), desc="records", disable=None):
        shutil.copyfile(store.paths[rid], out / "records" / f"{rid}.json")
        records[rid] = _record_summary(rid, store)
        records[rid]["plots"] = _plots_for_record(rid, store, out, problems)

    sources = {}
    if published is not None:
        (out / "published").mkdir(exist_ok=True)
        for v in pub_values:
            if v.file not in sources:
                shutil.copyfile(Path(published) / v.file, out / "published" / v.file)
                sources[v.file] = {"file": f"published/{v.file}", "source": v.source, "table": v.table, "note": v.note}

    table_dicts = []
    (out / "tables").mkdir(exist_ok=True)
    for t in tables:
        d = asdict(t)
        d["key"] = t.key
        for row in d["rows"]:
            row["method_slug"] = slug(f"{row['method']}@{row['method_version']}")
        for fmt, ext in (("latex", "tex"), ("md", "md")):
            (out / "tables" / f"{t.key}.{ext}").write_text(table_text(t, fmt) + "\n")
        d["latex"] = f"tables/{t.key}.tex"
        (out / "tables" / f"{t.key}.json").write_text(json.dumps(d, indent=1))
        d["json"] = f"tables/{t.key}.json"
        table_dicts.append(d)

    release = {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "bgbench_version": __version__,
        "results_dir": str(results),
        "tables": table_dicts,
        "records": records,
        "published_sources": sources,
        "budget_curves": _budget_curves(tables, out),
        "problems": [asdict(p) for p in problems],
    }
    (out / RELEASE_FILE).write_text(json.dumps(release, indent=1, default=str))
    return release
