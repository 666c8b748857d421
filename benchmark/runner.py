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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.adapter import Method, ProposalMethod, RunContext, Samples
from benchmark.energy import BudgetedEnergy, OpenMMEnergy
from benchmark.errors import BgbenchError
from benchmark.paths import work_dir
from benchmark.plot_data import read_plot_data, sidecar_path, write_plot_data
from benchmark.provenance import environment
from benchmark.registry import MethodSpec, find_method
from benchmark.results import RunRecord, SystemResult, plain_data, read_record, write_record
from benchmark.seeding import system_seed
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
    overwrite: bool = False  # replace an existing record at ``out`` (else: an error that says what to do)
    fix_chirality: bool = True
    method_config: dict[str, Any] = field(default_factory=dict)
    platform: str = "auto"
    work_dir: Path | None = None  # method scratch space and the weights store; default BGBENCH_WORK
    data_dir: Path | None = None


def default_output(method_name: str, sampler: str | None, task_name: str, tier: str, budget: int, seed: int) -> Path:
    """``results/<method>[-<sampler>]-<task>-<tier>-b<budget>-s<seed>.json`` with canonical names."""
    safe = method_name.replace("/", "_")
    sampler_part = f"-{sampler}" if sampler else ""
    return Path("results") / f"{safe}{sampler_part}-{task_name}-{tier}-b{budget}-s{seed}.json"


def _reseed(ctx: RunContext, seed: int) -> None:
    ctx.generator.manual_seed(seed)
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def _error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


class Runner:
    """Holds one run's method, task and record; ``run()`` does the work.

    Everything that can be checked without work is checked here, before any data is loaded or
    any model trained: the method, its resolved config, the sampler and its settings, the systems.
    """

    def __init__(self, config: RunConfig):
        self.config = config
        self.task: Task = config.task if isinstance(config.task, Task) else get_task(config.task)
        self.protocol = self.task.protocol(config.tier)
        self.budget = int(config.budget or self.protocol.default_budget)
        if self.budget <= 0:
            raise BgbenchError(f"--budget must be a positive number of energy evaluations, got {self.budget}.")
        self.seed = int(self.protocol.seeds[0] if config.seed is None else config.seed)
        if isinstance(config.method, type):
            self.spec = MethodSpec(config.method.name, "class", f"{config.method.__module__}:{config.method.__qualname__}")
            method_cls = config.method
        else:
            self.spec = find_method(config.method)
            method_cls = self.spec.load()
        self.method: Method = method_cls(**{**self.spec.info.get("config", {}), **config.method_config})
        self.method.configure(self.task, config.tier)
        # A registry recipe (e.g. sbg = tarflow + smc) names the run and fixes its sampler and settings.
        self.recipe: dict[str, Any] | None = self.spec.info.get("recipe")
        self.name = self.spec.name if self.recipe else self.method.name
        self.sampler_options = {**(self.recipe["sampler_options"] if self.recipe else {}), **config.sampler_options}
        self.sampler_name = self._sampler_name()
        self.systems = self._select_systems()
        self.out = Path(config.out or default_output(self.name, self.sampler_name, self.task.name,
                                                     config.tier, self.budget, self.seed))

    def _sampler_name(self) -> str | None:
        if not isinstance(self.method, ProposalMethod):
            if self.config.sampler or self.config.sampler_options:
                raise BgbenchError(f"Method {self.method.name!r} samples by itself; --sampler applies only to proposal methods.")
            return None
        from benchmark.sampling import check_options

        name = self.config.sampler or (self.recipe["sampler"] if self.recipe else "snis")
        if self.recipe and name != self.recipe["sampler"]:
            method, fixed = self.recipe["method"], self.recipe["sampler"]
            raise BgbenchError(f"{self.name} is {method} sampled with --sampler {fixed}; "
                               f"for another sampler run --method {method} --sampler {name}.")
        check_options(name, self.sampler_options)
        return name

    def _select_systems(self):
        specs = self.task.systems_for(self.config.tier)
        if not self.config.systems:
            return list(specs)
        return [self.task.system(name) for name in self.config.systems]

    # ------------------------------------------------------------------------------------
    def _sampler_record(self) -> dict[str, Any] | None:
        if self.sampler_name is None:
            return None
        return {"name": self.sampler_name, "options": dict(self.sampler_options)}

    def _submission_facts(self) -> dict[str, Any]:
        """Who made a submitted method and where its code is (from submission.yaml)."""
        return {k: self.spec.info[k] for k in ("authors", "code_url", "disclosure") if k in self.spec.info}

    def _new_record(self) -> RunRecord:
        return RunRecord(
            method={**self.method.describe(), **self._submission_facts(), "name": self.name,
                    **({"recipe": self.recipe} if self.recipe else {}),
                    "source": f"{self.spec.source}:{self.spec.target}"},
            task={"name": self.task.name, "version": self.task.version, "tier": self.config.tier},
            protocol=self.protocol.to_dict(),
            budget=self.budget,
            seed=self.seed,
            sampler=self._sampler_record(),
            evaluation={},
            final_set="",
            environment=environment(),
            track=str(self.spec.info.get("track", "closed")),
        )

    def _load_or_create_record(self) -> RunRecord:
        if self.out.exists() and not (self.config.resume or self.config.overwrite):
            raise BgbenchError(f"{self.out} already exists. Pass --resume to continue it, --overwrite to replace it, "
                               "or --out to write another file.")
        if not (self.config.resume and self.out.exists()):
            return self._new_record()
        record = read_record(self.out)
        mine = (self.name, self.method.version, self.task.name, self.task.version, self.config.tier,
                self.budget, self.seed)
        theirs = (record.method["name"], record.method["version"], record.task["name"], record.task["version"],
                  record.task["tier"], record.budget, record.seed)
        if mine != theirs:
            raise BgbenchError(f"--resume: {self.out} belongs to another run {theirs}, not {mine}; choose another --out.")
        if record.method.get("config") != self.method.config or record.sampler != self._sampler_record():
            raise BgbenchError(f"--resume: {self.out} was run with another method config or sampler settings; "
                               "resume only with the same settings, or choose another --out.")
        return record

    def _context(self, systems) -> RunContext:
        from benchmark.weights import WeightsStore

        work = Path(self.config.work_dir) if self.config.work_dir else work_dir()
        return RunContext(
            seed=self.seed,
            tier=self.config.tier,
            budget=self.budget,
            task=self.task,
            systems=tuple(systems),
            device=self.config.device,
            work_dir=work / "scratch" / self.method.name,
            logger=logging.getLogger(f"bgbench.method.{self.method.name}"),
            n_eval_samples=self.protocol.n_eval_samples,
            data_dir=self.config.data_dir,
            weights=WeightsStore(work / "weights"),
        )

    def run(self) -> RunRecord:
        from benchmark.data import content_hashes, load_reference

        record = self._load_or_create_record()
        todo = [s for s in self.systems if s.name not in record.systems or record.systems[s.name].status != "ok"]
        # Missing reference data is a user error to report before any time is spent.
        references = {s.name: load_reference(self.task, self.config.tier, s, data_dir=self.config.data_dir) for s in todo}
        ctx = self._context(todo)
        self.method.check_device(ctx)
        t0 = time.perf_counter()
        setup_error = None
        if todo:
            _reseed(ctx, self.seed)
            log.info("setting up %s for %s (%s tier): %s", self.method.name, self.task.name, self.config.tier,
                     ", ".join(s.name for s in todo))
            try:
                self.method.setup(self.task, ctx)
            except Exception as err:  # the method's failure is recorded for every system, never raised
                log.error("setup of %s failed: %s", self.method.name, err)
                log.debug("%s", traceback.format_exc())
                setup_error = f"setup failed: {_error(err)}"
        record.wall_time_s["setup"] = record.wall_time_s.get("setup", 0.0) + time.perf_counter() - t0
        record.method.update({k: v for k, v in self.method.describe().items() if k in ("parameters", "training_seconds")})
        for spec in todo:
            ref_info = {"source": references[spec.name].source, "hashes": content_hashes(references[spec.name])}
            if setup_error is not None:
                record.systems[spec.name] = SystemResult(status="failed", error=setup_error, reference=ref_info)
            else:
                record.systems[spec.name] = self._run_system(spec, references[spec.name], ctx, record, ref_info)
            write_record(record, self.out)
        record.wall_time_s["total"] = record.wall_time_s.get("total", 0.0) + time.perf_counter() - t0
        write_record(record, self.out)
        return record

    def _target(self, system) -> OpenMMEnergy:
        return OpenMMEnergy(system, platform=self.config.platform)

    def _sample(self, system, energy: BudgetedEnergy, ctx: RunContext) -> Samples:
        """The method's samples: the harness applies the sampler to a proposal method."""
        if isinstance(self.method, ProposalMethod):
            from benchmark.sampling import sampler_for

            facts = self.method.source_facts(system, ctx)
            sampler = sampler_for(self.sampler_name, self.sampler_options, facts, self.task.transferable,
                                  task=self.task.name)
            samples = sampler.run(self.method, system, energy, ctx)
            samples.diagnostics["source_facts"] = asdict(facts)
        else:
            samples = self.method.sample(system, energy, ctx)
        if not isinstance(samples, Samples):
            raise BgbenchError(f"sample() returned {type(samples).__name__}, not Samples")
        method_facts = self.method.diagnostics(system, ctx)
        if method_facts:
            samples.diagnostics["method"] = method_facts
        return samples.validate(system.n_atoms)

    def _run_system(self, spec, reference, ctx: RunContext, record: RunRecord, ref_info: dict) -> SystemResult:
        from benchmark.metrics import Evaluator

        system = spec.build()
        target = self._target(system)
        record.energy = target.describe()
        energy = BudgetedEnergy(target, self.budget)
        _reseed(ctx, system_seed(self.seed, spec.name))
        times: dict[str, float] = {}
        log.info("%s: sampling with budget %d", spec.name, self.budget)
        t = time.perf_counter()
        stage = "sample"
        try:
            samples = self._sample(system, energy, ctx)
            times["sample"] = time.perf_counter() - t
            stage, t = "evaluate", time.perf_counter()
            evaluator = Evaluator(system, reference, energy=self._target(system),
                                  n_eval_samples=self.protocol.n_eval_samples, fix_chirality=self.config.fix_chirality)
            metrics = evaluator.evaluate(samples)
            times["evaluate"] = time.perf_counter() - t
            stage = "plot data"
            self._write_plot_data(spec.name, evaluator)
        except Exception as err:  # the method's (or evaluation's) failure is recorded, the run goes on
            log.error("%s failed in %s: %s", spec.name, stage, err)
            log.debug("%s", traceback.format_exc())
            times.setdefault(stage, time.perf_counter() - t)
            return SystemResult(status="failed", error=f"{stage}: {_error(err)}", energy_evaluations=energy.report(),
                                wall_time_s=times, reference=ref_info)
        record.evaluation = evaluator.settings
        record.final_set = samples.set_name
        return SystemResult(
            status="ok",
            metrics={k: float(v) for k, v in metrics.items()},
            energy_evaluations=energy.report(),
            wall_time_s=times,
            reference=ref_info,
            diagnostics=plain_data(samples.diagnostics),
        )

    def _write_plot_data(self, system_name: str, evaluator) -> None:
        """Small arrays next to the record for the leaderboard's plots (all systems so far)."""
        path = sidecar_path(self.out)
        data = read_plot_data(path) if path.exists() else {}
        data = {k: v for k, v in data.items() if not k.startswith(f"{system_name}/")}
        data.update({f"{system_name}/{k}": v for k, v in evaluator.plot_arrays().items()})
        write_plot_data(self.out, data)


def run(config: RunConfig) -> RunRecord:
    return Runner(config).run()
