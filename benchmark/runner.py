"""Run one method on one task: set up once, then sample and evaluate system by system.

Every system's result is written to the record as soon as it is known, so a killed run
resumes with ``resume=True`` and skips the systems that finished. A system whose method
raises, returns unusable samples or overruns its budget is recorded as failed with the reason,
and the run goes on.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.adapter import Method, ProposalMethod, RunContext
from benchmark.energy import BudgetedEnergy, OpenMMEnergy
from benchmark.errors import BgbenchError
from benchmark.provenance import environment
from benchmark.registry import MethodSpec, find_method
from benchmark.seeding import system_seed
from benchmark.results import RunRecord, SystemResult, read_record, write_record
from benchmark.tasks import Task, get_task

log = logging.getLogger(__name__)


@dataclass
class RunConfig:
    """What ``bgbench run`` was asked to do."""

    method: str | type  # a registered name, a submission folder, or a Method subclass
    task: str | Task
    tier: str = "quick"
    budget: int | None = None  # default: the protocol's first budget
    sampler: str | None = None  # default "snis" for proposal methods; must be None for the others
    sampler_options: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None  # default: the protocol's first seed
    systems: list[str] | None = None
    out: Path | None = None
    device: str = "cpu"
    resume: bool = False
    fix_chirality: bool = True
    method_config: dict[str, Any] = field(default_factory=dict)
    platform: str = "auto"
    work_dir: Path | None = None  # checkpoints; default BGBENCH_WORK or the user cache dir
    data_dir: Path | None = None


def default_work_dir() -> Path:
    """Where methods cache checkpoints: BGBENCH_WORK, else <user cache>/bgbench/work."""
    import os

    import platformdirs

    return Path(os.environ.get("BGBENCH_WORK") or Path(platformdirs.user_cache_dir("bgbench")) / "work")


def default_output(config: RunConfig, method_name: str, budget: int, seed: int) -> Path:
    safe = method_name.replace("/", "_")
    sampler = f"-{config.sampler}" if config.sampler else ""
    task = config.task.name if isinstance(config.task, Task) else config.task
    return Path("results") / f"{safe}{sampler}-{task}-{config.tier}-b{budget}-s{seed}.json"


def _reseed(ctx: RunContext, seed: int) -> None:
    ctx.generator.manual_seed(seed)
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


class Runner:
    """Holds one run's method, task and record; ``run()`` does the work."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.task: Task = config.task if isinstance(config.task, Task) else get_task(config.task)
        self.protocol = self.task.protocol(config.tier)
        self.budget = int(config.budget or self.protocol.default_budget)
        self.seed = int(self.protocol.seeds[0] if config.seed is None else config.seed)
        if isinstance(config.method, type):
            self.spec = MethodSpec(config.method.name, "class", f"{config.method.__module__}:{config.method.__qualname__}")
            method_cls = config.method
        else:
            self.spec = find_method(config.method)
            method_cls = self.spec.load()
        self.method: Method = method_cls(**{**self.spec.info.get("config", {}), **config.method_config})
        self.sampler = self._make_sampler()
        if config.sampler and self.sampler is None:
            raise BgbenchError(f"Method {self.method.name!r} samples by itself; --sampler applies only to proposal methods.")
        self.systems = self._select_systems()
        self.out = Path(config.out or default_output(config, self.method.name, self.budget, self.seed))

    def _make_sampler(self):
        if not isinstance(self.method, ProposalMethod):
            return None
        from benchmark.sampling import make_sampler

        return make_sampler(self.config.sampler or "snis", **self.config.sampler_options)

    def _select_systems(self):
        specs = self.task.systems_for(self.config.tier)
        if not self.config.systems:
            return list(specs)
        return [self.task.system(name) for name in self.config.systems]

    # ------------------------------------------------------------------------------------
    def _new_record(self) -> RunRecord:
        return RunRecord(
            method={**self.method.describe(), "source": f"{self.spec.source}:{self.spec.target}"},
            task={"name": self.task.name, "version": self.task.version, "tier": self.config.tier},
            protocol=self.protocol.to_dict(),
            budget=self.budget,
            seed=self.seed,
            sampler=None if self.sampler is None else {"name": self.sampler.name, "settings": self.sampler.settings()},
            evaluation={},
            final_set="",
            environment=environment(),
        )

    def _load_or_create_record(self) -> RunRecord:
        if not (self.config.resume and self.out.exists()):
            return self._new_record()
        record = read_record(self.out)
        mine = (self.method.name, self.task.name, self.task.version, self.config.tier, self.budget, self.seed)
        theirs = (record.method["name"], record.task["name"], record.task["version"], record.task["tier"], record.budget, record.seed)
        if mine != theirs:
            raise BgbenchError(
                f"--resume: {self.out} belongs to another run {theirs}, not {mine}; choose another --out."
            )
        return record

    def _context(self) -> RunContext:
        return RunContext(
            seed=self.seed,
            tier=self.config.tier,
            budget=self.budget,
            device=self.config.device,
            work_dir=self.config.work_dir or default_work_dir(),
            logger=logging.getLogger(f"bgbench.method.{self.method.name}"),
            sampler=self.sampler,
            n_eval_samples=self.protocol.n_eval_samples,
            data_dir=self.config.data_dir,
        )

    def run(self) -> RunRecord:
        from benchmark.data import content_hashes, load_reference
        from benchmark.metrics import Evaluator

        record = self._load_or_create_record()
        todo = [s for s in self.systems if s.name not in record.systems or record.systems[s.name].status != "ok"]
        # Missing reference data is a user error to report before any time is spent.
        references = {s.name: load_reference(self.task, self.config.tier, s, data_dir=self.config.data_dir) for s in todo}
        ctx = self._context()
        self.method.check_device(ctx)
        t0 = time.perf_counter()
        if todo:
            _reseed(ctx, self.seed)
            log.info("setting up %s for %s (%s tier)", self.method.name, self.task.name, self.config.tier)
            self.method.setup(self.task, ctx)
        record.wall_time_s["setup"] = record.wall_time_s.get("setup", 0.0) + time.perf_counter() - t0
        for spec in todo:
            result = self._run_system(spec, references[spec.name], ctx, Evaluator, content_hashes, record)
            record.systems[spec.name] = result
            write_record(record, self.out)
        record.wall_time_s["total"] = record.wall_time_s.get("total", 0.0) + time.perf_counter() - t0
        write_record(record, self.out)
        return record

    def _run_system(self, spec, reference, ctx, evaluator_cls, content_hashes, record) -> SystemResult:
        system = spec.build()
        target = OpenMMEnergy(system, platform=self.config.platform)
        energy = BudgetedEnergy(target, self.budget)
        _reseed(ctx, system_seed(self.seed, spec.name))
        times: dict[str, float] = {}
        ref_info = {"source": reference.source, "hashes": content_hashes(reference)}
        log.info("%s: sampling with budget %d", spec.name, self.budget)
        t = time.perf_counter()
        try:
            samples = self.method.sample(system, energy, ctx)
            if samples is None or not hasattr(samples, "validate"):
                raise BgbenchError(f"sample() returned {type(samples).__name__}, not Samples")
            samples.validate(system.n_atoms)
        except Exception as err:  # the method's failure is recorded, the run goes on
            log.error("%s failed: %s", spec.name, err)
            log.debug("%s", traceback.format_exc())
            return SystemResult(
                status="failed",
                error=f"{type(err).__name__}: {err}",
                energy_evaluations=energy.report(),
                wall_time_s={"sample": time.perf_counter() - t},
                reference=ref_info,
            )
        times["sample"] = time.perf_counter() - t
        t = time.perf_counter()
        evaluator = evaluator_cls(
            system, reference, energy=OpenMMEnergy(system, platform=self.config.platform),
            n_eval_samples=self.protocol.n_eval_samples, fix_chirality=self.config.fix_chirality,
        )
        metrics = evaluator.evaluate(samples)
        times["evaluate"] = time.perf_counter() - t
        record.evaluation = evaluator.settings
        record.final_set = samples.set_name
        self._write_plot_data(spec.name, evaluator, samples)
        return SystemResult(
            status="ok",
            metrics={k: float(v) for k, v in metrics.items()},
            energy_evaluations=energy.report(),
            wall_time_s=times,
            reference=ref_info,
        )

    def _write_plot_data(self, system_name: str, evaluator, samples) -> None:
        """Small arrays next to the record for the leaderboard's plots (all systems so far)."""
        from benchmark.plot_data import read_plot_data, sidecar_path, write_plot_data

        path = sidecar_path(self.out)
        data = read_plot_data(path) if path.exists() else {}
        data = {k: v for k, v in data.items() if not k.startswith(f"{system_name}/")}
        data.update({f"{system_name}/{k}": v for k, v in evaluator.plot_arrays().items()})
        write_plot_data(self.out, data)


def run(config: RunConfig) -> RunRecord:
    return Runner(config).run()
