"""Self-improvement of Prose on one system, from the command line (spec flows 3.4):

    python -m baselines.prose.self_improve_run --task 4AA --system ARIP --tier quick

Sets Prose up as ``bgbench train`` does (trained or loaded from the weights store; published on the
paper tier), then runs the rounds through an energy with its own budget (every evaluation counted,
``--budget`` caps them) and prints one JSON line per round: the round's SNIS ESS, kept and distinct
samples, energy evaluations (that round and in total) and the mean fine-tuning loss. Round 0 measures
the model before fine-tuning, the last round after it. The fine-tuned weights are not saved.
Defaults are the published settings except where a flag says otherwise.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

from baselines.toolkit.self_improve import SelfImproveConfig


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", default="prose", choices=("prose", "tarflow-transferable"))
    p.add_argument("--task", required=True)
    p.add_argument("--system", required=True)
    p.add_argument("--tier", default="quick")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--budget", type=int, default=None, help="energy evaluations allowed (default: what the rounds need)")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="method option (repeatable)")
    for f in fields(SelfImproveConfig):
        if f.type in ("int", "float", "float | None"):
            p.add_argument(f"--{f.name.replace('_', '-')}", type=float if "float" in f.type else int, default=f.default)
    args = p.parse_args(argv)

    from benchmark.cli.run import _parse_options
    from benchmark.energy import make_target_energy
    from benchmark.energy.budget import BudgetedEnergy
    from benchmark.runner import RunConfig, Runner
    from benchmark.tasks import get_task

    cfg = SelfImproveConfig(**{f.name: getattr(args, f.name) for f in fields(SelfImproveConfig) if hasattr(args, f.name)})
    task = get_task(args.task)
    runner = Runner(RunConfig(method=args.method, task=task, tier=args.tier, seed=args.seed,
                              method_config=_parse_options(args.config)))
    ctx = runner.train()
    system = next(s for s in ctx.systems if s.name == args.system).build()
    budget = args.budget if args.budget is not None else (cfg.rounds + 1) * cfg.proposals
    energy = BudgetedEnergy(make_target_energy(system), budget=budget)
    for report in runner.method.self_improve(system, energy, ctx, cfg):
        print(json.dumps({"system": system.name, **report}), flush=True)
    print(json.dumps({"system": system.name, "energy_evaluations_used": energy.used, "budget": budget}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
