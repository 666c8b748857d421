"""``bgbench tasks``, ``bgbench systems TASK`` and ``bgbench version``."""

from __future__ import annotations

import argparse
import platform as _platform

from benchmark.cli.output import print_rows
from benchmark.tasks import TASKS, get_task


def _tasks(args: argparse.Namespace) -> int:
    rows = []
    for task in TASKS.values():
        n_atoms = None
        if not args.no_atoms:
            counts = [s.n_atoms for s in task.systems]
            n_atoms = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
        rows.append(
            {
                "task": task.name,
                "version": task.version,
                "systems": len(task.systems),
                "atoms": n_atoms,
                "tiers": ",".join(task.protocols),
                "paper budgets": ",".join(f"{b:.0e}" for b in task.protocol("paper").budgets),
                "quick budgets": ",".join(f"{b:.0e}" for b in task.protocol("quick").budgets),
                "quick systems": len(task.systems_for("quick")),
                "description": task.description,
            }
        )
    print_rows(rows, args.json)
    return 0


def _systems(args: argparse.Namespace) -> int:
    task = get_task(args.task)
    specs = task.systems + (task.validation_systems if args.validation else ())
    quick = {s.name for s in task.systems_for("quick")}
    rows = []
    for spec in specs:
        row = spec.describe()
        row["quick tier"] = spec.name in quick
        rows.append(row)
    print_rows(rows, args.json)
    return 0


def _version(args: argparse.Namespace) -> int:
    import openmm
    import torch

    from benchmark import __version__

    info = {"bgbench": __version__, "python": _platform.python_version(), "torch": torch.__version__, "openmm": openmm.__version__}
    print_rows([info], args.json)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="list the benchmark tasks")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-atoms", action="store_true", help="leave out the atom counts")
    p.set_defaults(func=_tasks)

    p = sub.add_parser("systems", help="list the systems of a task")
    p.add_argument("task", help="task name, e.g. 8AA")
    p.add_argument("--validation", action="store_true", help="include the published validation systems")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_systems)

    p = sub.add_parser("version", help="print versions of bgbench and its engines")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_version)
