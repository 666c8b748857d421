"""``bgbench run``, ``bgbench train`` and ``bgbench methods``."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import yaml

from benchmark.cli.output import print_rows
from benchmark.errors import BgbenchError
from benchmark.tasks import HEADLINE_METRICS


def _parse_options(pairs: list[str]) -> dict:
    """KEY=VALUE pairs; values are parsed as YAML scalars (numbers, booleans, strings)."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BgbenchError(f"Expected KEY=VALUE, got {pair!r}.")
        out[key] = yaml.safe_load(value)
    return out


def _config(args: argparse.Namespace):
    from benchmark.runner import RunConfig

    return RunConfig(
        method=args.method,
        task=args.task,
        tier=args.tier,
        budget=getattr(args, "budget", None),
        sampler=getattr(args, "sampler", None),
        sampler_options=_parse_options(getattr(args, "sampler_option", [])),
        seed=args.seed,
        systems=args.systems.split(",") if getattr(args, "systems", None) else None,
        out=getattr(args, "out", None),
        device=args.device,
        resume=getattr(args, "resume", False),
        overwrite=getattr(args, "overwrite", False),
        save_samples=getattr(args, "save_samples", False),
        fix_chirality=not getattr(args, "no_chirality_fix", False),
        method_config=_parse_options(args.config),
        platform=getattr(args, "platform", "auto"),
        energy=getattr(args, "energy", "torch"),
        energy_precision=getattr(args, "energy_precision", "float64"),
        work_dir=args.work_dir,
        data_dir=args.data_dir,
        isolation=getattr(args, "isolation", None),
        timeout=getattr(args, "timeout", None),
    )


def summary_rows(record) -> list[dict]:
    """One row per system with the headline metrics of the final set, then the task mean."""
    final = record.final_set or "samples"
    rows = []
    for name, res in record.systems.items():
        row = {"system": name, "status": res.status}
        for metric in HEADLINE_METRICS:
            row[metric] = res.metrics.get(f"{final}/{metric}")
        row["ESS"] = res.metrics.get(f"{final}/effective-sample-size")
        row["evals used"] = res.energy_evaluations.get("used")
        row["error"] = (res.error or "")[:60]
        rows.append(row)
    agg = record.aggregate()
    mean = {"system": f"mean ({len(record.systems) - len(record.failed)} ok)", "status": ""}
    mean.update({m: agg.get(f"{final}/{m}") for m in HEADLINE_METRICS})
    mean["ESS"] = agg.get(f"{final}/effective-sample-size")
    rows.append(mean)
    return rows


def _prepare_missing_data(args: argparse.Namespace, corpus: bool) -> None:
    """Quick tier: make the reference data the run lacks, unless --no-prepare.

    ``corpus``: also a transferable task's training corpus, now. An isolated method's view of its data
    is fixed when its process starts, so it gets the corpus up front; an in-process method gets it
    when it first asks (``RunContext.training_corpus``), so MD and shipped weights never wait for it.
    """
    if args.no_prepare or args.tier != "quick":
        return
    from benchmark.data.on_demand import ensure_quick_data
    from benchmark.data.replica_md import default_workers
    from benchmark.tasks import get_task

    task = get_task(args.task)
    names = getattr(args, "systems", None)
    systems = [task.system(n) for n in names.split(",")] if names else list(task.systems_for(args.tier))
    ensure_quick_data(task, args.tier, systems, args.data_dir, workers=default_workers(), corpus=corpus)


def _runner(args: argparse.Namespace):
    """The run's Runner, with missing quick data made first where needed.

    An in-process method is set up first, so that a typo in its config or sampler is reported before
    any MD. An isolated method's view of its training data is fixed when its process starts, so its
    data is made first; it is cached, so the time is not lost if the run then stops on a typo.
    """
    from benchmark.isolation import default_isolation
    from benchmark.registry import find_method
    from benchmark.runner import Runner

    source = find_method(args.method).source  # an unknown method is reported before any MD
    if (args.isolation or default_isolation(source)) == "none":
        runner = Runner(dataclasses.replace(_config(args), prepare_corpus=not args.no_prepare))
        try:
            _prepare_missing_data(args, corpus=False)
        except BaseException:
            runner.close()
            raise
        return runner
    _prepare_missing_data(args, corpus=True)
    return Runner(_config(args))


def _run(args: argparse.Namespace) -> int:
    runner = _runner(args)
    record = runner.run()
    print(f"{record.method['name']} on {record.task['name']} ({record.task['tier']} tier, budget {record.budget}, "
          f"seed {record.seed}, isolation {record.isolation}); set scored: {record.final_set or '-'}")
    print_rows(summary_rows(record), as_json=False)
    print(f"record: {runner.out}")
    if record.failed:
        print(f"{len(record.failed)} system(s) failed: {', '.join(record.failed)}")
        return 1
    return 0


def _train(args: argparse.Namespace) -> int:
    runner = _runner(args)
    ctx = runner.train()
    print(f"{runner.method.name} is set up for {runner.task.name} ({args.tier} tier); weights under {ctx.weights.root}")
    return 0


def _methods(args: argparse.Namespace) -> int:
    """Every method a run accepts, with its family, the tasks it applies to and whether it needs a GPU.

    Built-ins are described from the registry table, submission folders from their yaml: listing
    never imports a model or runs a submission's code.
    """
    from benchmark.registry import available_methods

    rows = []
    for spec in available_methods(include_folders=True).values():
        builtin = spec.info.get("builtin")
        rows.append({
            "method": spec.name,
            "family": builtin.family if builtin else spec.info.get("family", "-"),
            "tasks": builtin.applies_to if builtin else spec.info.get("applies_to", "all"),
            "GPU": ("required" if builtin.requires_gpu else "optional") if builtin else spec.info.get("gpu", "-"),
            "source": spec.target if spec.source == "folder" else (
                f"recipe: {spec.info['recipe']['method']} + --sampler {spec.info['recipe']['sampler']}"
                if spec.source == "recipe" else spec.source),
        })
    print_rows(rows, args.json)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", required=True, help="method name (bgbench methods) or a submission folder")
    p.add_argument("--task", required=True, help="task name (bgbench tasks)")
    p.add_argument("--tier", default="quick", choices=("quick", "paper"))
    p.add_argument("--seed", type=int, default=None, help="run seed (default: the protocol's first seed)")
    p.add_argument("--device", default="cpu", help="torch device for the method, e.g. cuda")
    p.add_argument("--config", action="append", metavar="KEY=VALUE", help="method option (repeatable)")
    p.add_argument("--work-dir", type=Path, default=None, help="checkpoint directory (default BGBENCH_WORK or user cache)")
    p.add_argument("--data-dir", type=Path, default=None, help="reference data directory (default BGBENCH_DATA)")
    p.add_argument("--isolation", default=None, choices=("none", "process", "sandbox"),
                   help="where the method runs: in its own process (default for submission folders and plugins), "
                        "that process in a bubblewrap sandbox, or inside the harness (default for built-in methods)")
    p.add_argument("--no-prepare", action="store_true",
                   help="quick tier: stop with the command that makes missing reference data instead of making it here "
                        "(replica MD, minutes on 2 cores; the run says how long before it starts)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="wall-clock limit for setup and for each system of an isolated method (default: none)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a method on a task and write a result record",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _common(p)
    p.add_argument("--budget", type=int, default=None, help="energy evaluations per system (default: protocol)")
    p.add_argument("--sampler", default=None, help="harness sampler for proposal methods: snis (default) or smc")
    p.add_argument("--sampler-option", action="append", metavar="KEY=VALUE", help="sampler setting (repeatable)")
    p.add_argument("--systems", default=None, help="comma-separated subset of the task's systems")
    p.add_argument("--out", type=Path, default=None, help="record path (default results/<method>-<task>-...json)")
    p.add_argument("--resume", action="store_true", help="skip systems already finished in --out")
    p.add_argument("--overwrite", action="store_true", help="replace an existing record at --out")
    p.add_argument("--save-samples", action="store_true",
                   help="also write each system's scored sets to <record>.sets/<system>.npz (input of bgbench evaluate)")
    p.add_argument("--no-chirality-fix", action="store_true", help="score samples without mirroring wrong-handed ones")
    p.add_argument("--energy", default="torch", choices=("torch", "openmm"),
                   help="target energy: batched torch (equal to OpenMM Reference; runs on --device) or the OpenMM loop")
    p.add_argument("--energy-precision", default="float64", choices=("float64", "float32"),
                   help="arithmetic of the torch energy (float32: ~1e-6 relative error, see benchmark/energy/torch_energy.py)")
    p.add_argument("--platform", default="auto", choices=("auto", "Reference", "CPU"), help="OpenMM platform (--energy openmm)")
    p.set_defaults(func=_run)

    p = sub.add_parser("train", help="train (or load) a method's weights for a task without evaluating",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _common(p)
    p.set_defaults(func=_train)

    p = sub.add_parser("methods", help="list the available methods")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_methods)
