"""``bgbench leaderboard build|show|floors``: render the static site, print a task's tables, or compute noise floors.

``build`` and ``show`` read the committed records (``leaderboard/results``) and, when it exists, the
user's own ``./results`` (marked local); ``--results DIR`` (repeatable) replaces both. ``show`` prints
plain text to a terminal and Markdown otherwise (``--format`` chooses).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from benchmark.errors import BgbenchError


class OutputError(BgbenchError):
    """An output folder that cannot be written."""


def check_writable(out: Path) -> Path:
    """Create ``out`` if needed and prove a file can be written there, before any work is done."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".bgbench-write-test-"):
            pass
    except OSError as err:
        raise OutputError(f"cannot write to --out {out}: {err.strerror or err}. Choose a writable folder.") from None
    return out


def _sources(args: argparse.Namespace):
    from leaderboard.store import Source, default_sources

    if args.results:
        from leaderboard.store import DEFAULT_RESULTS_DIR

        return [Source(Path(r), local=Path(r).resolve() != DEFAULT_RESULTS_DIR.resolve()) for r in args.results]
    return default_sources(None if args.no_local else Path("results"))


def _report(problems) -> None:
    for p in problems:
        print(f"bgbench: skipped {p.path}: {p.reason}", file=sys.stderr)


def _build(args: argparse.Namespace) -> int:
    from leaderboard.site import build_site

    out = check_writable(Path(args.out))
    release = build_site(_sources(args), out, None if args.no_published else Path(args.published), floors=Path(args.floors))
    for p in release["problems"]:
        print(f"bgbench: skipped {p['path']}: {p['reason']}", file=sys.stderr)
    n_rec, n_tab = len(release["records"]), len(release["tables"])
    print(f"wrote {out / 'index.html'} ({n_rec} records, {n_tab} tables, {len(release['problems'])} skipped)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from benchmark.tasks import get_task
    from leaderboard.board import build_board
    from leaderboard.render_text import table_text

    task = get_task(args.task).name
    board = build_board(_sources(args), None if args.no_published else Path(args.published), Path(args.floors))
    _report(board.problems)
    tables = [t for t in board.tables if t.task == task]
    if args.tier:
        tables = [t for t in tables if t.tier == args.tier]
    if args.budget is not None:
        tables = [t for t in tables if t.budget == args.budget]
    if not tables:
        where = ", ".join(str(s.root) for s in board.store.sources)
        print(f"(no results for {task}{' tier ' + args.tier if args.tier else ''} in {where})")
        return 0
    fmt = args.format or ("plain" if sys.stdout.isatty() else "md")
    print("\n\n".join(table_text(t, fmt) for t in tables))
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
    from leaderboard.floors import FLOORS_FILE
    from leaderboard.published import PUBLISHED_DIR
    from leaderboard.store import DEFAULT_RESULTS_DIR

    p = sub.add_parser("leaderboard", help="build the leaderboard site, print its tables, or compute noise floors")
    lsub = p.add_subparsers(dest="leaderboard_command", metavar="ACTION")
    lsub.required = True

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--results", action="append", default=None, metavar="DIR",
                       help=f"folder of run records, repeatable (default: {DEFAULT_RESULTS_DIR} plus ./results, marked local, if it exists)")
        q.add_argument("--no-local", action="store_true", help="leave out ./results (the public board's build)")
        q.add_argument("--published", default=str(PUBLISHED_DIR), help="folder of published tables (default: %(default)s)")
        q.add_argument("--no-published", action="store_true", help="leave out the papers' published rows")
        q.add_argument("--floors", default=str(FLOORS_FILE), help="noise-floors file (default: %(default)s)")

    b = lsub.add_parser("build", help="render the static site (index, method, task and system pages, plots)")
    common(b)
    b.add_argument("--out", default="site", help="output folder, checked writable first (default: %(default)s)")
    b.set_defaults(func=_build)

    s = lsub.add_parser("show", help="print a task's tables as plain text (terminal), Markdown or LaTeX")
    s.add_argument("--task", required=True, help="task name, e.g. 8AA")
    s.add_argument("--tier", choices=("paper", "quick"), help="only this tier")
    s.add_argument("--budget", type=int, help="only this energy budget")
    s.add_argument("--format", choices=("md", "latex", "plain"), default=None,
                   help="output format (default: plain in a terminal, md otherwise)")
    common(s)
    s.set_defaults(func=_show)

    f = lsub.add_parser("floors", help="compute (once, cached) the noise floors of a task's systems and write the floors file")
    f.add_argument("--task", required=True, help="task name, e.g. ALDP")
    f.add_argument("--tier", choices=("paper", "quick"), default="quick", help="tier (default: %(default)s)")
    f.add_argument("--results", default=str(DEFAULT_RESULTS_DIR), help="committed records, for the MD run-to-run spread (default: %(default)s)")
    f.add_argument("--data-dir", default=os.environ.get("BGBENCH_DATA"), help="reference data folder (default: $BGBENCH_DATA or the user cache)")
    f.add_argument("--out", default=str(FLOORS_FILE), help="floors file to update (default: %(default)s)")
    f.set_defaults(func=_floors)
