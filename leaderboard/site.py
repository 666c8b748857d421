"""Render the static site from a release folder (``release.json``), and nothing else.

Templates live in ``templates/*.html.j2`` with autoescaping on, so every string that came from a record
or a submission is shown as text. Page paths are slugs (``paths.slug``) placed with ``paths.inside``.
The site is plain files: open ``index.html`` or serve the folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from benchmark.tasks import TASKS
from leaderboard.aggregate import Cell
from leaderboard.costs import COLUMNS as COST_COLUMNS
from leaderboard.floors import FLOORS_FILE
from leaderboard.paths import inside, slug
from leaderboard.published import PUBLISHED_DIR
from leaderboard.release import RELEASE_FILE, summarise
from leaderboard.render_text import SET_SHORT, TRACK_WORDS, budget_label, format_cell, format_number, table_title
from benchmark.units import direction, display_name
from leaderboard.schema import SET_ORDER, order_metrics, set_words
from leaderboard.store import Source, default_sources

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
#: Per-set metrics that are bookkeeping rather than scores, shown last on system pages.
COUNT_METRICS = ("num-eval-samples", "n-infinite-energy", "correct-chirality-rate", "uncorrectable-chirality-rate")


def _number(v: Any) -> str:
    return "—" if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) else f"{v:.4g}"


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = lambda d: format_cell(Cell(**d) if d else None)
    env.filters["metric_name"] = display_name
    env.filters["pretty"] = lambda obj: json.dumps(obj, indent=2, sort_keys=True, default=str)
    env.filters["slug"] = slug
    env.filters["budget"] = budget_label
    env.filters["num"] = _number
    env.filters["fmt"] = lambda v: "—" if v is None else format_number(v)
    env.filters["floor"] = lambda f: "—" if not f or f.get("mean") is None else format_number(f["mean"]) + (
        "" if f.get("complete") else f" (n={f['n_systems']}/{f['n_expected']})")
    env.filters["set_short"] = lambda s: SET_SHORT.get(s, s)
    env.filters["set_words"] = set_words
    env.globals.update(direction=direction, order_metrics=order_metrics, COST_COLUMNS=COST_COLUMNS, TRACK_WORDS=TRACK_WORDS)
    return env


def _table_view(t: dict[str, Any]) -> dict[str, Any]:
    from leaderboard.aggregate import Table

    view = dict(t)
    view["title"] = table_title(Table(task=t["task"], task_version=t["task_version"], tier=t["tier"], budget=t["budget"], metrics=[], rows=[]))
    view["tracks"] = [(tr, [r for r in t["rows"] if r["track"] == tr]) for tr in ("closed", "open") if any(r["track"] == tr for r in t["rows"])]
    view["sets"] = sorted({r["final_set"] for r in t["rows"]}, key=lambda s: (SET_ORDER.index(s) if s in SET_ORDER else 99, s))
    return view


def _methods(release: dict[str, Any]) -> dict[str, dict[str, Any]]:
    methods: dict[str, dict[str, Any]] = {}
    for rid, rec in sorted(release["records"].items(), key=lambda kv: (str(kv[1]["task"]["name"]), kv[1]["budget"], kv[1]["seed"])):
        m = methods.setdefault(rec["method_slug"], {"slug": rec["method_slug"], "method": rec["method"], "records": []})
        m["records"].append(rec)
    return methods


def _set_tables(records: list[dict[str, Any]], system: str) -> list[dict[str, Any]]:
    """One small table per sample set: metrics as rows, the records that scored that set as columns."""
    by_set: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        for key in rec["systems"][system]["metrics"]:
            if "/" in key:
                set_name = key.split("/", 1)[0]
                if rec not in by_set.setdefault(set_name, []):
                    by_set[set_name].append(rec)
    tables = []
    for set_name in sorted(by_set, key=lambda s: (SET_ORDER.index(s) if s in SET_ORDER else 99, s)):
        columns = by_set[set_name]
        names = {k.split("/", 1)[1] for r in columns for k in r["systems"][system]["metrics"] if k.startswith(set_name + "/")}
        scores = [m for m in order_metrics(names - set(COUNT_METRICS))]
        counts = [m for m in COUNT_METRICS if m in names]
        tables.append({"name": set_name, "words": set_words(set_name), "columns": columns, "metrics": scores + counts,
                       "values": {m: [r["systems"][system]["metrics"].get(f"{set_name}/{m}") for r in columns] for m in scores + counts}})
    return tables


def _systems(release: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """{(task, system): view} for every system that appears in a record, split by tier and sample set."""
    systems: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in release["records"].values():
        for name in rec["systems"]:
            key = (str(rec["task"]["name"]), name)
            s = systems.setdefault(key, {"task": key[0], "name": name, "slug": slug(f"{key[0]}-{name}"), "records": []})
            s["records"].append(rec)
    for s in systems.values():
        s["records"].sort(key=lambda r: (str(r["task"]["tier"]), r["final_set"] != "md", str(r["method"]["name"]), r["budget"], r["seed"]))
        s["tiers"] = []
        for tier in sorted({str(r["task"]["tier"]) for r in s["records"]}):
            recs = [r for r in s["records"] if str(r["task"]["tier"]) == tier]
            floor = release["floors"].get(f"{s['task']}|{tier}|{s['name']}")
            s["tiers"].append({"tier": tier, "records": recs, "floor": floor, "sets": _set_tables(recs, s["name"]),
                               "failed": [r for r in recs if r["systems"][s["name"]]["status"] != "ok"]})
    return systems


def render_site(release_dir: Path) -> list[Path]:
    """Write the HTML pages of ``release_dir`` from its ``release.json``; returns the pages written."""
    release_dir = Path(release_dir)
    release = json.loads((release_dir / RELEASE_FILE).read_text())
    env = _env()
    tables = [_table_view(t) for t in release["tables"]]
    methods = _methods(release)
    systems = _systems(release)
    known = list(TASKS)
    task_names = sorted({t["task"] for t in tables} | {s["task"] for s in systems.values()},
                        key=lambda n: (known.index(n) if n in known else len(known), n))
    common = {"release": release, "task_names": task_names, "methods": methods}

    shutil.copytree(STATIC, release_dir / "static", dirs_exist_ok=True)
    written = []

    def page(template: str, rel: str, **ctx: Any) -> None:
        root = "../" * rel.count("/")
        path = inside(release_dir, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(root=root, **common, **ctx))
        written.append(path)

    page("index.html.j2", "index.html", tables=tables)
    keyed = {t["key"]: t for t in tables}
    for m in methods.values():
        page("method.html.j2", f"methods/{m['slug']}.html", m=m, tables=keyed)
    for task in task_names:
        task_systems = [s for s in systems.values() if s["task"] == task]
        floors = {k.split("|")[2]: v for k, v in release["floors"].items() if k.split("|")[0] == task}
        page("task.html.j2", f"tasks/{slug(task)}.html", task=task, tables=[t for t in tables if t["task"] == task],
             systems=task_systems, curves=release["budget_curves"].get(task, []), task_obj=TASKS.get(task), floors=floors)
    for s in systems.values():
        page("system.html.j2", f"systems/{s['slug']}.html", s=s)
    return written


def build_site(results: Path | Sequence[Source] | None = None, out: Path = Path("site"), published: Path | None = PUBLISHED_DIR,
               floors: Path | None = FLOORS_FILE) -> dict[str, Any]:
    """Summarise ``results`` (default: committed records plus ./results, marked local) into the release
    folder ``out`` and render its pages; returns the release."""
    release = summarise(default_sources() if results is None else results, out, published, floors)
    render_site(out)
    return release
