"""Render the static site from a release folder (``release.json``), and nothing else.

Templates live in ``templates/*.html.j2`` with autoescaping on, so every string that came from a record
or a submission is shown as text. The site is plain files: open ``index.html`` or serve the folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from benchmark.tasks import TASKS
from leaderboard.aggregate import Cell
from leaderboard.release import RELEASE_FILE, slug, summarise
from leaderboard.render_text import budget_label, format_cell, table_title
from leaderboard.schema import display_name, higher_is_better, order_metrics
from leaderboard.published import PUBLISHED_DIR
from leaderboard.store import DEFAULT_RESULTS_DIR

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


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
    env.globals["higher_is_better"] = higher_is_better
    env.globals["order_metrics"] = order_metrics
    return env


def _table_view(t: dict[str, Any]) -> dict[str, Any]:
    from leaderboard.aggregate import Table

    view = dict(t)
    view["title"] = table_title(Table(task=t["task"], task_version=t["task_version"], tier=t["tier"], budget=t["budget"], metrics=[], rows=[]))
    view["anchor"] = "t-" + t["key"]
    return view


def _methods(release: dict[str, Any]) -> dict[str, dict[str, Any]]:
    methods: dict[str, dict[str, Any]] = {}
    for rid, rec in sorted(release["records"].items(), key=lambda kv: (kv[1]["task"]["name"], kv[1]["budget"], kv[1]["seed"])):
        m = methods.setdefault(rec["method_slug"], {"slug": rec["method_slug"], "method": rec["method"], "records": []})
        m["records"].append(rec)
    return methods


def _systems(release: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """{(task, system): {slug, records}} for every system that appears in a record."""
    systems: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in release["records"].values():
        for name in rec["systems"]:
            key = (rec["task"]["name"], name)
            s = systems.setdefault(key, {"task": key[0], "name": name, "slug": slug(f"{key[0]}-{name}"), "records": []})
            s["records"].append(rec)
    for s in systems.values():
        s["records"].sort(key=lambda r: (r["task"]["tier"], r["method"]["name"], r["budget"], r["seed"]))
        s["metrics"] = order_metrics({k for r in s["records"] for k in r["systems"][s["name"]]["metrics"]})
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
        path = release_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(root=root, **common, **ctx))
        written.append(path)

    page("index.html.j2", "index.html", tables=tables)
    for m in methods.values():
        keyed = {t["key"]: t for t in tables}
        page("method.html.j2", f"methods/{m['slug']}.html", m=m, tables=keyed)
    for task in task_names:
        task_systems = [s for s in systems.values() if s["task"] == task]
        page("task.html.j2", f"tasks/{slug(task)}.html", task=task, tables=[t for t in tables if t["task"] == task],
             systems=task_systems, curves=release["budget_curves"].get(task, []), task_obj=TASKS.get(task))
    for s in systems.values():
        page("system.html.j2", f"systems/{s['slug']}.html", s=s)
    return written


def build_site(results: Path = DEFAULT_RESULTS_DIR, out: Path = Path("site"), published: Path | None = PUBLISHED_DIR) -> dict[str, Any]:
    """Summarise ``results`` into the release folder ``out`` and render its pages; returns the release."""
    release = summarise(results, out, published)
    render_site(out)
    return release
