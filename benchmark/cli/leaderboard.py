"""``bgbench leaderboard build|show``: render the static site, or print a task's tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from leaderboard.site import build_site

    release = build_site(Path(args.results), Path(args.out), None if args.no_published else Path(args.published))
    for p in release["problems"]:
        print(f"bgbench: skipped {p['path']}: {p['reason']}", file=sys.stderr)
    n_rec, n_tab = len(release["records"]), len(release["tables"])
    print(f"wrote {Path(args.out) / 'index.html'} ({n_rec} records, {n_tab} tables, {len(release['problems'])} skipped)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from benchmark.tasks import get_task
    from leaderboard.aggregate import build_tables
    from leaderboard.published import attach_published, load_published
    from leaderboard.render_text import table_text
    from leaderboard.store import load_records

    task = get_task(args.task).name
    store = load_records(Path(args.results))
    for p in store.problems:
        print(f"bgbench: skipped {p.path}: {p.reason}", file=sys.stderr)
    published = [] if args.no_published else load_published(Path(args.published))
    tables = [t for t in attach_published(build_tables(store.frame), published) if t.task == task]
    if args.tier:
        tables = [t for t in tables if t.tier == args.tier]
    if args.budget is not None:
        tables = [t for t in tables if t.budget == args.budget]
    if not tables:
        print(f"(no results for {task}{' tier ' + args.tier if args.tier else ''} in {args.results})")
        return 0
    print("\n\n".join(table_text(t, args.format) for t in tables))
    return 0


def _floors(args: argparse.Namespace) -> int:
    from benchmark.metrics.noise_floor import cached_noise_floor
    from benchmark.tasks import get_task
    from leaderboard.floors import md_run_spread, write_floors_file
    from leaderboard.store import load_records

    task = get_task(args.task)
    entries = []
    for spec in task.systems_for(args.tier):
        entry = cached_noise_floor(task, args.tier, spec, data_dir=Path(args.data_dir) if args.data_dir else None)
        entries.append(entry)
        values = ", ".join(f"{k} {v:.4g}" for k, v in sorted(entry["metrics"].items()))
        print(f"{task.name} {args.tier} {spec.name}: {values} ({entry['num_samples_per_half']} samples per half)")
    store = load_records(Path(args.results))
    runs = [r for r in md_run_spread(store) if r["task"] == task.name and r["tier"] == args.tier]
    for r in runs:
        print(f"{task.name} {args.tier} budget {r['budget']}: MD run-to-run " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(r["metrics"].items())))
    path = write_floors_file(entries, runs, Path(args.out))
    print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from leaderboard.published import PUBLISHED_DIR
    from leaderboard.floors import FLOORS_FILE
    from leaderboard.store import DEFAULT_RESULTS_DIR

    p = sub.add_parser("leaderboard", help="build the leaderboard site or print its tables")
    lsub = p.add_subparsers(dest="leaderboard_command", metavar="ACTION")
    lsub.required = True

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--results", default=str(DEFAULT_RESULTS_DIR), help="folder of run records (default: %(default)s)")
        q.add_argument("--published", default=str(PUBLISHED_DIR), help="folder of published tables (default: %(default)s)")
        q.add_argument("--no-published", action="store_true", help="leave out the papers' published rows")

    b = lsub.add_parser("build", help="render the static site (index, method, task and system pages, plots)")
    common(b)
    b.add_argument("--out", default="site", help="output folder (default: %(default)s)")
    b.set_defaults(func=_build)

    f = lsub.add_parser("floors", help="compute (once, cached) the noise floors of a task's systems and write the floors file")
    f.add_argument("--task", required=True, help="task name, e.g. ALDP")
    f.add_argument("--tier", choices=("paper", "quick"), default="quick", help="tier (default: %(default)s)")
    f.add_argument("--results", default=str(DEFAULT_RESULTS_DIR), help="committed records, for the MD run-to-run spread (default: %(default)s)")
    f.add_argument("--data-dir", default=None, help="reference data folder (default: $BGBENCH_DATA or the user cache)")
    f.add_argument("--out", default=str(FLOORS_FILE), help="floors file to update (default: %(default)s)")
    f.set_defaults(func=_floors)

    s = lsub.add_parser("show", help="print a task's tables as Markdown, LaTeX or plain text")
    s.add_argument("--task", required=True, help="task name, e.g. 8AA")
    s.add_argument("--tier", choices=("paper", "quick"), help="only this tier")
    s.add_argument("--budget", type=int, help="only this energy budget")
    s.add_argument("--format", choices=("md", "latex", "plain"), default="md", help="output format (default: %(default)s)")
    common(s)
    s.set_defaults(func=_show)
