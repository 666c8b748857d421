"""``bgbench plan``, ``bgbench launch`` and ``bgbench merge``: runs that outgrow one process or machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.cli.output import print_rows
from benchmark.cli.run import _parse_options
from benchmark.errors import BgbenchError


def _ints(text: str | None, what: str) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise BgbenchError(f"{what} must be comma-separated integers, got {text!r}.") from None


def _plan(args: argparse.Namespace) -> int:
    from benchmark.launch.plan import make_plan, write_plan

    locations = {k: v for k, v in (("data", args.data_dir), ("work", args.work_dir)) if v}
    jobs = make_plan(args.method, args.task, tier=args.tier, seeds=_ints(args.seeds, "--seeds"),
                     budgets=_ints(args.budget, "--budget"), sampler=args.sampler,
                     sampler_options=_parse_options(args.sampler_option), method_config=_parse_options(args.config),
                     systems=args.systems.split(",") if args.systems else None, platform=args.platform,
                     energy=args.energy, energy_precision=args.energy_precision, fix_chirality=not args.no_chirality_fix, locations=locations)
    paths = write_plan(args.out, jobs)
    print_rows([{"id": j.id, "kind": j.kind, "job": j.label, "after": ",".join(j.depends_on)} for j in jobs], args.json)
    n_train = sum(j.kind == "train" for j in jobs)
    print(f"{len(paths)} job specs ({n_train} training, {len(jobs) - n_train} system) in {Path(args.out) / 'jobs'}; "
          f"run them with `bgbench launch {args.out}`")
    return 0


def _executor_options(args: argparse.Namespace) -> dict:
    if args.executor == "local":
        return {"workers": args.workers}
    if args.executor == "slurm":
        return {"folder": args.submitit_folder or Path(args.plan) / "submitit", "cluster": args.submitit_cluster,
                "workers": args.workers, "partition": args.partition, "gpus_per_job": args.gpus_per_job,
                "cpus_per_job": args.cpus_per_job, "timeout_min": args.time, "mem_gb": args.mem_gb,
                "slurm_options": _parse_options(args.slurm_option)}
    return {"address": args.ray_address, "workers": args.workers, "gpus_per_job": args.gpus_per_job,
            "cpus_per_job": args.cpus_per_job, "num_cpus": args.ray_num_cpus, "num_gpus": args.ray_num_gpus,
            "object_store_mb": args.ray_object_store_mb}


def _launch(args: argparse.Namespace) -> int:
    from benchmark.launch.choose import make_executor
    from benchmark.launch.launcher import launch

    device = args.device or ("cuda" if args.gpus_per_job else "cpu")

    def report(o) -> None:
        detail = f"  {o.detail}" if o.detail else ""
        print(f"{o.status:8s} {o.kind:6s} {o.label}  {o.wall_s:.1f} s {o.host}{detail}", flush=True)

    with make_executor(args.executor, **_executor_options(args)) as executor:
        result = launch(args.plan, executor, results=args.results, data_dir=args.data_dir, work_dir=args.work_dir,
                        device=device, report=report)
    counts = ", ".join(f"{result.count(s)} {s}" for s in ("ok", "skipped", "failed", "blocked") if result.count(s))
    print(f"{len(result.outcomes)} jobs in {result.wall_s:.1f} s: {counts or 'nothing to do'}")
    if not result.ok:
        print(f"relaunch with the same command to retry what did not finish; logs under "
              f"{Path(args.results or Path(args.plan) / 'results') / 'logs'}")
    return 0 if result.ok else 1


def _merge(args: argparse.Namespace) -> int:
    from benchmark.launch.merge import expected_systems, merge_records, read_shards, write_merged
    from benchmark.launch.plan import JOBS_DIR

    sources = [Path(s) for s in args.sources]
    if len(sources) == 1 and (sources[0] / JOBS_DIR).is_dir():
        return _merge_plan(sources[0], args)
    if args.out is None:
        raise BgbenchError("bgbench merge SHARDS... needs --out RECORD.json.")
    records, paths = read_shards(sources)
    merged = merge_records(records, [str(p) for p in paths])
    write_merged(merged, paths, args.out)
    missing = [s for s in expected_systems(merged.record) if s not in merged.record.systems]
    for i in merged.replaced:
        print(f"{paths[i]}: every system it holds is in a newer shard; left out")
    print(f"{args.out}: {len(merged.record.systems)} systems from {len(merged.used)} shards"
          + (f"; failed: {', '.join(merged.record.failed)}" if merged.record.failed else "")
          + (f"; missing: {', '.join(missing)}" if missing else ""))
    return 1 if missing or merged.record.failed else 0


def _merge_plan(plan: Path, args: argparse.Namespace) -> int:
    """One merged record per run of the plan; systems without an intact shard are named."""
    from benchmark.launch.merge import merge_plan, write_merged

    out_dir = Path(args.out or plan / "merged")
    runs = merge_plan(plan, args.results)
    names = [r.name for r in runs]
    incomplete = 0
    for run in runs:
        name = run.name if names.count(run.name) == 1 else f"{run.name}-{run.run_id}"
        if run.merged is None:
            print(f"{name}: no shard yet; missing: {', '.join(run.missing)}")
            incomplete += 1
            continue
        path = write_merged(run.merged, run.paths, out_dir / f"{name}.json")
        problems = (f"; failed: {', '.join(run.failed)}" if run.failed else "") + \
                   (f"; missing: {', '.join(run.missing)}" if run.missing else "")
        incomplete += bool(problems)
        print(f"{path}: {len(run.merged.record.systems)} systems{problems}")
    return 1 if incomplete else 0


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = sub.add_parser("plan", formatter_class=fmt,
                       help="write content-hashed job specs (training per seed, one job per system) for bgbench launch")
    p.add_argument("--method", required=True, help="method name (bgbench methods) or a submission folder")
    p.add_argument("--task", required=True, help="task name (bgbench tasks)")
    p.add_argument("--tier", default="quick", choices=("quick", "paper"))
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: the protocol's seeds)")
    p.add_argument("--budget", default=None, help="comma-separated energy budgets (default: the protocol's first)")
    p.add_argument("--sampler", default=None, help="harness sampler for proposal methods: snis (default) or smc")
    p.add_argument("--sampler-option", action="append", metavar="KEY=VALUE", help="sampler setting (repeatable)")
    p.add_argument("--config", action="append", metavar="KEY=VALUE", help="method option (repeatable)")
    p.add_argument("--systems", default=None, help="comma-separated subset of the task's systems")
    p.add_argument("--platform", default="auto", choices=("auto", "Reference", "CPU"), help="OpenMM platform")
    p.add_argument("--energy", default="torch", choices=("torch", "openmm"), help="target energy (as bgbench run)")
    p.add_argument("--energy-precision", default="float64", choices=("float64", "float32"), help="as bgbench run")
    p.add_argument("--no-chirality-fix", action="store_true", help="score samples without mirroring wrong-handed ones")
    p.add_argument("--data-dir", default=None, help="data location as $VARIABLE[/path], expanded on each worker "
                   "(default $BGBENCH_DATA); explicit paths belong to bgbench launch")
    p.add_argument("--work-dir", default=None, help="weights location as $VARIABLE[/path] (default $BGBENCH_WORK)")
    p.add_argument("--out", type=Path, required=True, help="plan folder (plans add up: plan several methods into one)")
    p.add_argument("--json", action="store_true", help="list the jobs as JSON")
    p.set_defaults(func=_plan)

    p = sub.add_parser("launch", formatter_class=fmt,
                       help="run a plan's jobs locally, on SLURM (submitit) or on Ray; finished jobs are skipped")
    p.add_argument("plan", type=Path, help="plan folder written by bgbench plan")
    p.add_argument("--executor", default="local", choices=("local", "slurm", "ray"))
    p.add_argument("--workers", type=int, default=None,
                   help="jobs at once (local: pool size, default 1; slurm: array parallelism; ray: tasks in flight)")
    p.add_argument("--results", type=Path, default=None, help="results folder (default PLAN/results)")
    p.add_argument("--data-dir", type=Path, default=None, help="explicit data path for every job (default: the plan's)")
    p.add_argument("--work-dir", type=Path, default=None, help="explicit weights/work path for every job")
    p.add_argument("--device", default=None, help="torch device of the methods (default cuda with --gpus-per-job, else cpu)")
    p.add_argument("--gpus-per-job", type=int, default=0, help="slurm/ray: GPUs each job gets")
    p.add_argument("--cpus-per-job", type=int, default=1, help="slurm/ray: CPUs each job gets")
    g = p.add_argument_group("slurm (submitit)")
    g.add_argument("--partition", default=None, help="SLURM partition")
    g.add_argument("--time", type=int, default=240, help="time limit per job in minutes (preempted jobs are requeued)")
    g.add_argument("--mem-gb", type=float, default=None, help="memory per job")
    g.add_argument("--slurm-option", action="append", metavar="KEY=VALUE", help="extra sbatch option, e.g. account=abc")
    g.add_argument("--submitit-cluster", default="slurm", choices=("slurm", "local"),
                   help="local: submitit runs the same jobs as subprocesses here (no cluster needed)")
    g.add_argument("--submitit-folder", type=Path, default=None, help="submitit's logs and pickles (default PLAN/submitit)")
    g = p.add_argument_group("ray")
    g.add_argument("--ray-address", default=None, help="running cluster to join, e.g. auto (default: start a local one)")
    g.add_argument("--ray-num-cpus", type=int, default=None, help="local instance: CPUs")
    g.add_argument("--ray-num-gpus", type=int, default=None, help="local instance: GPUs")
    g.add_argument("--ray-object-store-mb", type=int, default=100, help="local instance: object store size")
    p.set_defaults(func=_launch)

    p = sub.add_parser("merge", formatter_class=fmt,
                       help="combine shard records into run records (from a plan folder, or shard files/folders)")
    p.add_argument("sources", nargs="+", help="a plan folder, or shard records and folders of one run")
    p.add_argument("--out", type=Path, default=None,
                   help="merged record (shards), or folder of merged records (plan; default PLAN/merged)")
    p.add_argument("--results", type=Path, default=None, help="the plan's results folder (default PLAN/results)")
    p.set_defaults(func=_merge)
