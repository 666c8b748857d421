"""``bgbench evaluate SAMPLES --task T --system S``: score saved samples without a model."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.cli.output import print_rows


def _evaluate(args: argparse.Namespace) -> int:
    from benchmark.cli.run import summary_rows
    from benchmark.errors import BgbenchError
    from benchmark.evaluate import evaluate_saved
    from benchmark.results import write_record

    record = evaluate_saved(Path(args.samples), args.task, args.system, args.tier, name=args.name,
                            declared_evaluations=args.declared_evaluations, fix_chirality=not args.no_chirality_fix,
                            data_dir=args.data_dir, energy=args.energy, platform=args.platform)
    out = Path(args.out or Path("results") / f"{record.method['name']}-external-{record.task['name']}-"
                                              f"{args.system}-{args.tier}.json")
    if out.exists() and not args.overwrite:
        raise BgbenchError(f"{out} already exists; pass --overwrite or choose --out.")
    write_record(record, out)
    print(f"{args.samples} scored as set '{record.final_set}' of {args.system} ({args.tier} tier; externally sampled, "
          f"energy evaluations as declared: {args.declared_evaluations if args.declared_evaluations is not None else 'none'})")
    print_rows(summary_rows(record), as_json=False)
    print(f"record: {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score saved samples (npz or pt) with the harness Evaluator",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("samples", help="npz/pt with positions (M, N, 3) nm; optional log_weights, energies (kT), proposal, set_name")
    p.add_argument("--task", required=True)
    p.add_argument("--system", required=True, help="the system the samples are of (bgbench systems TASK)")
    p.add_argument("--tier", default="quick", choices=("quick", "paper"))
    p.add_argument("--name", default=None, help="the name the record and board show (default: the file name)")
    p.add_argument("--declared-evaluations", type=int, default=None, help="energy evaluations the sampler spent (declared)")
    p.add_argument("--no-chirality-fix", action="store_true")
    p.add_argument("--energy", default="torch", choices=("torch", "openmm"), help="target energy backend (as bgbench run)")
    p.add_argument("--out", default=None)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--platform", default="auto", help="OpenMM platform of the evaluation energy (as bgbench run --platform)")
    p.set_defaults(func=_evaluate)
