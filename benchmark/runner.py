"""Run one method on one task: set up once, then sample and evaluate system by system.

Every system's result is written to the record as soon as it is known, so a killed run
resumes with ``resume=True`` and skips the systems that finished. A system whose method
raises, exits, times out, returns unusable samples or overruns its budget, or whose evaluation
fails, is recorded as failed with the reason, and the run goes on.

Trust: the method is third-party code. With ``isolation`` "process" or "sandbox" it runs in its
own process (``benchmark.isolation``) and the runner holds a stand-in; with "none" it runs here
and the record says so. Either way the harness forms the weights of proposal methods with its
own sampler and its own random generator, ignores the weights of self-sampling methods, checks
the meter against a second tally, and evaluates with a freshly built system and reference data
loaded after sampling, checked against the hashes taken before.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.adapter import AutoregressiveProposal, Method, ProposalMethod, RunContext, Samples, SourceFacts
from benchmark.energy import BudgetedEnergy, TargetEnergy, check_energy_choice, make_target_energy
from benchmark.energy.budget import EnergyMeter
from benchmark.errors import BgbenchError, DataError, InvalidSamplesError
from benchmark.isolation import check_level, default_isolation
from benchmark.isolation.codec import RESERVED_SETS, ProtocolViolation, check_name
from benchmark.isolation.process import RemoteError
from benchmark.isolation.tamper import CountedTarget, check_meter
from benchmark.paths import work_dir
from benchmark.evaluate import saved_sets_dir, write_samples_file
from benchmark.plot_data import read_plot_data, sidecar_path, write_plot_data
from benchmark.provenance import environment
from benchmark.registry import MethodSpec, find_method
from benchmark.results import RunRecord, SystemResult, plain_data, read_record, write_record
from benchmark.seeding import derived_seed, system_seed
from benchmark.systems import System, build_peptide
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
    platform: str = "auto"  # OpenMM platform of the openmm energy backend
    energy: str = "torch"  # target-energy backend: "torch" (batched, equal to OpenMM Reference) or "openmm"
    energy_precision: str = "float64"  # torch backend only: "float64" or "float32"
    work_dir: Path | None = None  # method scratch space and the weights store; default BGBENCH_WORK
    data_dir: Path | None = None
    isolation: str | None = None  # "none", "process" or "sandbox"; default: process for submissions and plugins
    timeout: float | None = None  # wall-clock seconds for setup and for each system (isolated methods only)
    save_samples: bool = False  # write each system's scored sets for `bgbench evaluate` (saved_sets_dir)
    prepare_corpus: bool = False  # quick tier: make a missing training corpus when an in-process method asks for it


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
    if isinstance(err, RemoteError):  # raised in the method process: its own type name and message
        return str(err)
    return f"{type(err).__name__}: {err}"


#: What a method may raise without ending the run (SystemExit too: a method's sys.exit is a failed system).
#: KeyboardInterrupt in-process is the user's Ctrl-C and ends the run; in a method process it is the method's.
METHOD_FAILURES = (Exception, SystemExit)


def fresh_system(spec) -> System:
    """A System built now, not the shared cached one that an in-process method could have changed."""
    built = build_peptide(spec.sequence, spec.termini, spec.forcefield)
    return System(spec=spec, topology=built.topology, initial_positions=built.positions, amber_types=built.amber_types)


class _OwnContext(ProposalMethod):
    """An in-process proposal method as the sampler sees it: its calls get the method's own RunContext.

    The sampler's context carries the harness's generator (resampling, Langevin noise); the method
    draws from its own, as it does in a method process, so it can neither read nor steer the
    harness's random choices, and the same seed gives the same record with and without isolation.
    """

    def __init__(self, inner: ProposalMethod, ctx: RunContext):
        super().__init__()
        self.inner, self.ctx = inner, ctx
        self.name = inner.name

    def propose(self, system, n: int, ctx: RunContext):
        return self.inner.propose(system, n, self.ctx)

    def log_q(self, system, positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        return self.inner.log_q(system, positions, self.ctx)

    def source_facts(self, system, ctx: RunContext) -> SourceFacts:
        return self.inner.source_facts(system, self.ctx)


class _OwnContextAR(_OwnContext, AutoregressiveProposal):
    """The same for a method with per-token conditionals (ar-smc): its sessions draw from its own generator."""

    def generation_order(self, system, ctx: RunContext):
        return self.inner.generation_order(system, self.ctx)

    def begin_generation(self, system, n: int, ctx: RunContext):
        return self.inner.begin_generation(system, n, self.ctx)


def _own_context(method: ProposalMethod, ctx: RunContext) -> _OwnContext:
    return (_OwnContextAR if isinstance(method, AutoregressiveProposal) else _OwnContext)(method, ctx)


class _Tally:
    """The harness's second count (``check_meter``) over the system's target and every prefix target
    that a twisted SMC scores: prefix evaluations are charged to the same meter, so they are counted here too."""

    def __init__(self, target):
        self.targets = [CountedTarget(target)]

    def counted(self, target) -> CountedTarget:
        self.targets.append(CountedTarget(target))
        return self.targets[-1]

    @property
    def count(self) -> int:
        return sum(t.count for t in self.targets)


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
        check_energy_choice(config.energy, config.energy_precision, self._energy_device())
        if isinstance(config.method, type):
            self.spec = MethodSpec(config.method.name, "class", f"{config.method.__module__}:{config.method.__qualname__}")
        else:
            self.spec = find_method(config.method)
        self.isolation = check_level(config.isolation or default_isolation(self.spec.source))
        if config.timeout is not None and (self.isolation == "none" or not config.timeout > 0):
            raise BgbenchError("--timeout needs a positive number of seconds and --isolation process or sandbox.")
        self.systems = self._select_systems()
        self.host = None
        overrides = {**self.spec.info.get("config", {}), **config.method_config}
        if self.isolation == "none":
            method_cls = config.method if isinstance(config.method, type) else self.spec.load()
            self.method: Method = method_cls(**overrides)
            self.method.configure(self.task, config.tier)
        else:
            self.method = self._start_isolated(overrides)
        # A registry recipe (e.g. sbg = tarflow + smc) names the run and fixes its sampler and settings.
        self.recipe: dict[str, Any] | None = self.spec.info.get("recipe")
        self.name = self.spec.name if self.recipe else self.method.name
        self.sampler_options = {**(self.recipe["sampler_options"] if self.recipe else {}), **config.sampler_options}
        try:
            self.sampler_name = self._sampler_name()
        except BaseException:
            self.close()
            raise
        self.out = Path(config.out or default_output(self.name, self.sampler_name, self.task.name,
                                                     config.tier, self.budget, self.seed))

    def _start_isolated(self, overrides: dict) -> Method:
        """Start the method process; nothing of the method is imported here."""
        from benchmark.isolation.launch import Launch, training_view
        from benchmark.isolation.remote import MethodHost, isolated_method
        from benchmark.weights.store import _slug

        if self.isolation == "sandbox" and self.config.device.startswith("cuda"):
            raise BgbenchError("--isolation sandbox gives the method no GPU; use --isolation process on a GPU machine.")
        check_name(self.spec.name, "A submission's name")  # it names the scratch and weights folders
        work = self._work_root()
        weights = work / "weights"
        launch = Launch(self.isolation, training_view(self.task, self.config.tier, self.systems, self.config.data_dir),
                        scratch=work / "scratch" / self.spec.name, weights_root=weights,
                        weights_own=weights / "local" / _slug(self.spec.name),
                        submission=Path(self.spec.target).resolve() if self.spec.source == "folder" else None)
        if launch.submission is not None:
            self.spec = MethodSpec(self.spec.name, "folder", str(launch.submission), self.spec.info)
        self.host = MethodHost(self.spec, overrides, self.task, self.config.tier, launch, self.config.timeout)
        # Minimization is part of the system, done by the harness with the real force field (not charged).
        self.host.minimized = lambda name: self.task.system(name).build().minimized_positions
        try:
            facts = self.host.start()
            if self.isolation == "sandbox" and facts["name"] != self.spec.name:
                raise BgbenchError(f"Under --isolation sandbox the method's name ({facts['name']!r}) must equal its "
                                   f"registered name ({self.spec.name!r}): its weights folder is chosen before it loads.")
        except BaseException as err:
            self.close()
            if isinstance(err, RemoteError):  # e.g. an unknown config key: the user's to fix, said as in-process
                raise BgbenchError(f"Method {self.spec.name!r} cannot be loaded: {err}") from None
            raise
        return isolated_method(self.host)

    def close(self) -> None:
        """End the method process, if any (a run ends it itself)."""
        if self.host is not None:
            self.host.close()

    def _work_root(self) -> Path:
        return Path(self.config.work_dir) if self.config.work_dir else work_dir()

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
            isolation=self.isolation,
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
        ours, theirs = self._energy_choice(), {k: record.energy.get(k) for k in self._energy_choice()}
        if record.energy and ours != theirs:
            raise BgbenchError(f"--resume: {self.out} was run with the energy {theirs}, not {ours}; one record has one "
                               "target energy. Resume with the same --energy settings, or choose another --out.")
        if record.isolation != self.isolation:
            raise BgbenchError(f"--resume: {self.out} was run with --isolation {record.isolation}, not {self.isolation}; "
                               "one record has one isolation level. Resume with the same level, or choose another --out.")
        return record

    def _context(self, systems) -> RunContext:
        from benchmark.data.replica_md import default_workers
        from benchmark.weights import WeightsStore

        work = self._work_root()
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
            prepare_corpus=self.config.prepare_corpus,
            md_workers=default_workers(),
        )

    def _reseed(self, ctx: RunContext, seed: int) -> None:
        """Seed the method's generator and the global RNGs, here and in the method process."""
        _reseed(ctx, seed)
        if self.host is not None:
            self.host.reseed(seed)

    def _reference_info(self, spec) -> dict:
        """Source and content hashes of a system's reference data (DataError if it is missing).

        Only the hashes are kept: the data itself is loaded again after sampling, so that nothing of
        the evaluation split is in the harness's memory while a method runs in it.
        """
        from benchmark.data import content_hashes, load_reference

        ref = load_reference(self.task, self.config.tier, spec, data_dir=self.config.data_dir)
        return {"source": ref.source, "hashes": content_hashes(ref)}

    def _setup(self, ctx: RunContext) -> str | None:
        """Set the method up; the failure reason, or None."""
        log.info("setting up %s for %s (%s tier): %s", self.method.name, self.task.name, self.config.tier,
                 ", ".join(s.name for s in ctx.systems))
        try:
            if self.host is not None:
                self.host.begin_stage()
            self._reseed(ctx, self.seed)
            self.method.setup(self.task, ctx)
        except METHOD_FAILURES as err:  # the method's failure is recorded for every system, never raised
            log.error("setup of %s failed: %s", self.method.name, _error(err))
            log.debug("%s", traceback.format_exc())
            return f"setup failed: {_error(err)}"
        return None

    def train(self) -> RunContext:
        """Set the method up for all the run's systems (``bgbench train``); raises if setup fails."""
        ctx = self._context(self.systems)
        try:
            self.method.check_device(ctx)
            error = self._setup(ctx)
        finally:
            self.close()
        if error is not None:
            raise BgbenchError(error)
        return ctx

    def run(self) -> RunRecord:
        try:
            record = self._load_or_create_record()
            todo = [s for s in self.systems if s.name not in record.systems or record.systems[s.name].status != "ok"]
            # Missing reference data is a user error to report before any time is spent.
            ref_info = {s.name: self._reference_info(s) for s in todo}
            ctx = self._context(todo)
            self.method.check_device(ctx)
            t0 = time.perf_counter()
            setup_error = None
            if todo:
                cpu0 = self._method_cpu()
                setup_error = self._setup(ctx)
                if self.host is not None:
                    record.method["setup_cpu_s"] = round(self._method_cpu() - cpu0, 3)
            record.wall_time_s["setup"] = record.wall_time_s.get("setup", 0.0) + time.perf_counter() - t0
            if setup_error is None:
                record.method.update({k: v for k, v in self.method.describe().items()
                                      if k in ("parameters", "training_seconds")})
            for spec in todo:
                if setup_error is not None:
                    record.systems[spec.name] = SystemResult(status="failed", error=setup_error, reference=ref_info[spec.name])
                else:
                    record.systems[spec.name] = self._run_system(spec, ctx, record, ref_info[spec.name])
                write_record(record, self.out)
        finally:
            # The method process ends before the last write: nothing it left behind (an atexit hook) runs after it.
            self.close()
        record.wall_time_s["total"] = record.wall_time_s.get("total", 0.0) + time.perf_counter() - t0
        write_record(record, self.out)
        return record

    def _method_cpu(self) -> float:
        return self.host.cpu_seconds() if self.host is not None else 0.0

    def _energy_device(self) -> str:
        """The torch energy computes where the method runs (a GPU method's tensors stay on the GPU)."""
        return self.config.device if self.config.energy == "torch" else "cpu"

    def _energy_choice(self) -> dict[str, str]:
        """What a resumed record's energy must match: the backend, and the precision the torch backend was asked for."""
        if self.config.energy == "torch":
            return {"backend": "torch", "precision": self.config.energy_precision}
        platform = {} if self.config.platform == "auto" else {"platform": self.config.platform}
        return {"backend": "openmm", **platform}

    def _target(self, system) -> TargetEnergy:
        """The target energy of a system (sampling, prefixes, evaluation): one backend for the whole run."""
        return make_target_energy(system, self.config.energy, precision=self.config.energy_precision,
                                  device=self._energy_device(), platform=self.config.platform)

    def _prefix_energy(self, meter: EnergyMeter, tally: "_Tally"):
        """The seam for samplers that score prefixes (ar-smc): the budgeted energy of a prefix system.

        The runner owns building energies: a prefix system's target is built like the system's own
        (``_target``), counted by the harness's second tally and charged, as "partial", to the
        system's meter, so prefix and full evaluations share one budget and are reported separately.
        """
        return lambda prefix: BudgetedEnergy(tally.counted(self._target(prefix)), meter=meter, kind="partial")

    def _sampler_context(self, ctx: RunContext, system_name: str) -> RunContext:
        """The sampler's context: the method's settings, and the harness's own generator."""
        sctx = dataclasses.replace(ctx)
        sctx.generator.manual_seed(derived_seed(self.seed, system_name, "sampler"))
        return sctx

    def _sample(self, system, energy: BudgetedEnergy, ctx: RunContext, prefix_energy=None) -> Samples:
        """The method's samples: the harness applies the sampler to a proposal method."""
        if isinstance(self.method, ProposalMethod):
            from benchmark.sampling import sampler_for

            facts = self.method.source_facts(system, ctx)
            if not isinstance(facts, SourceFacts):
                raise ProtocolViolation(f"source_facts() returned {type(facts).__name__}, not SourceFacts")
            sampler = sampler_for(self.sampler_name, self.sampler_options, facts, self.task.transferable,
                                  task=self.task.name)
            method = self.method if self.host is not None else _own_context(self.method, ctx)
            extra = {"prefix_energy": prefix_energy} if sampler.uses_prefix_energies else {}
            samples = sampler.run(method, system, energy, self._sampler_context(ctx, system.name), **extra)
            samples.diagnostics["source_facts"] = asdict(facts)
            return self._with_method_facts(samples.validate(system.n_atoms), system, ctx)
        samples = self.method.sample(system, energy, ctx)
        if not isinstance(samples, Samples):
            raise BgbenchError(f"sample() returned {type(samples).__name__}, not Samples")
        return self._with_method_facts(self._checked_self_samples(samples.validate(system.n_atoms)), system, ctx)

    def _with_method_facts(self, samples: Samples, system, ctx: RunContext) -> Samples:
        """The method's own facts about its model of the system (method.diagnostics) in the record."""
        facts = self.method.diagnostics(system, ctx)
        if facts:
            samples.diagnostics["method"] = facts
        return samples

    @staticmethod
    def _checked_self_samples(samples: Samples) -> Samples:
        """A self-sampling method's Samples as the harness scores them.

        The set name becomes part of metric keys and file names, so it is held to a safe form. The
        method's log-weights are not used: an ESS is only reported where the harness formed the
        weights itself (proposal methods); a self-reported one could claim anything (all-zero
        log-weights give an ESS of 1) and would sit in the same column as verified ones.
        """
        name = check_name(samples.set_name, "Samples.set_name")
        if name in RESERVED_SETS:
            raise InvalidSamplesError(f"Samples.set_name {name!r} is reserved for the harness's own sets; choose another.")
        diagnostics = {"method_reported": samples.diagnostics}
        if samples.log_weights is not None:
            diagnostics["log_weights"] = "ignored: self-sampling methods' weights are not verified, so no ESS is reported"
        return Samples(positions=samples.positions, set_name=name, log_weights=None, proposal=samples.proposal,
                       diagnostics=diagnostics)

    def _run_system(self, spec, ctx: RunContext, record: RunRecord, ref_info: dict) -> SystemResult:
        from benchmark.data import content_hashes, load_reference
        from benchmark.metrics import Evaluator

        times: dict[str, float] = {}
        t = time.perf_counter()
        stage = "sample"
        energy = None
        cpu0 = self._method_cpu()
        try:
            if self.host is not None and not self.host.alive:
                stage = "restart"
                log.info("starting a new method process for %s", spec.name)
                self.host.restart()
                stage, cpu0 = "sample", self._method_cpu()
            system = spec.build()
            target = self._target(system)
            record.energy = target.describe()
            tally = _Tally(target)
            meter = EnergyMeter(self.budget)  # one meter per system: full and partial (prefix) evaluations
            energy = BudgetedEnergy(tally.targets[0], meter=meter)
            if self.host is not None:
                self.host.begin_stage()
            self._reseed(ctx, system_seed(self.seed, spec.name))
            log.info("%s: sampling with budget %d", spec.name, self.budget)
            samples = self._sample(system, energy, ctx, self._prefix_energy(meter, tally))
            check_meter(energy.report(), tally, self.budget)
            times["sample"] = time.perf_counter() - t
            stage, t = "evaluate", time.perf_counter()
            # Evaluate with a system built now and reference data read now, checked against the hashes
            # taken before sampling: nothing a method did to the objects or files it could reach counts.
            reference = load_reference(self.task, self.config.tier, spec, data_dir=self.config.data_dir)
            if content_hashes(reference) != ref_info["hashes"]:
                raise DataError(f"the reference data of {spec.name} changed on disk during the run")
            eval_system = fresh_system(spec)
            evaluator = Evaluator(eval_system, reference, energy=self._target(eval_system),
                                  n_eval_samples=self.protocol.n_eval_samples, fix_chirality=self.config.fix_chirality)
            metrics = {k: float(v) for k, v in evaluator.evaluate(samples).items()}
            diagnostics = plain_data(samples.diagnostics)
            times["evaluate"] = time.perf_counter() - t
            stage = "plot data"
            self._write_plot_data(spec.name, evaluator)
            if self.config.save_samples:
                stage = "save samples"
                write_samples_file(saved_sets_dir(self.out) / f"{spec.name}.npz", samples)
        except METHOD_FAILURES as err:  # the method's (or evaluation's) failure is recorded, the run goes on
            log.error("%s failed in %s: %s", spec.name, stage, _error(err))
            log.debug("%s", traceback.format_exc())
            times.setdefault(stage, time.perf_counter() - t)
            report = energy.report() if energy is not None else {}
            return SystemResult(status="failed", error=f"{stage}: {_error(err)}", energy_evaluations=report,
                                wall_time_s=times, reference=ref_info, diagnostics=self._process_diagnostics(cpu0))
        record.evaluation = evaluator.settings
        record.final_set = samples.set_name
        return SystemResult(
            status="ok",
            metrics=metrics,
            energy_evaluations=energy.report(),
            wall_time_s=times,
            reference=ref_info,
            diagnostics={**diagnostics, **self._process_diagnostics(cpu0)},
        )

    def _process_diagnostics(self, cpu0: float) -> dict:
        """CPU seconds the method process spent on a system, measured by the harness (hidden work shows here)."""
        if self.host is None:
            return {}
        cpu = self._method_cpu()
        return {"method_process": {"cpu_s": round(cpu - cpu0, 3) if cpu >= cpu0 else None, "isolation": self.isolation}}

    def _write_plot_data(self, system_name: str, evaluator) -> None:
        """Small arrays next to the record for the leaderboard's plots (all systems so far)."""
        path = sidecar_path(self.out)
        data = read_plot_data(path) if path.exists() else {}
        data = {k: v for k, v in data.items() if not k.startswith(f"{system_name}/")}
        data.update({f"{system_name}/{k}": v for k, v in evaluator.plot_arrays().items()})
        write_plot_data(self.out, data)


def run(config: RunConfig) -> RunRecord:
    return Runner(config).run()
