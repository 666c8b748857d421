"""The method contract: what a submission implements and what the harness hands it.

A method is one class. ``setup(task, ctx)`` trains or loads weights once per run for the systems
in ``ctx.systems``. Boltzmann generators subclass ``ProposalMethod`` and write ``propose`` (and
``log_q`` for SMC, ``source_facts`` to describe their density): the harness applies the
reweighting sampler chosen for the run (SNIS, SMC, AR-SMC), evaluates the energies and forms the
weights itself, inside the budget, so that methods compete on their proposals under one set of
rules. Methods that sample by themselves (MD) subclass ``Method`` and write ``sample(system,
energy, ctx)``, spending at most the budget of the ``BudgetedEnergy`` they are handed.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch

from benchmark.config import MethodConfig
from benchmark.errors import BgbenchError, DeviceError, InvalidSamplesError

if TYPE_CHECKING:  # imported for type hints only; keeps `import benchmark.adapter` light
    from benchmark.data import TrainingCorpus
    from benchmark.energy import BudgetedEnergy
    from benchmark.systems import System, SystemSpec
    from benchmark.tasks import Task
    from benchmark.weights import WeightsKey, WeightsStore


@dataclass
class Samples:
    """What a method returns for one system.

    ``positions`` is the final sample set, scored as set ``set_name``. ``log_weights`` are the
    importance log-weights behind it (for SNIS: the filtered proposal log-weights, in proposal
    order), used for the ESS. ``proposal`` is the raw proposal set, scored as set "proposal".
    """

    positions: torch.Tensor  # (M, N, 3), nm
    set_name: str = "samples"
    log_weights: torch.Tensor | None = None  # (K,)
    proposal: torch.Tensor | None = None  # (K, N, 3), nm
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def validate(self, n_atoms: int) -> "Samples":
        """Raise InvalidSamplesError unless shapes and values are usable; return self."""
        for name, x in (("positions", self.positions), ("proposal", self.proposal)):
            if x is None:
                continue
            if not isinstance(x, torch.Tensor):
                raise InvalidSamplesError(f"Samples.{name} must be a torch.Tensor, got {type(x).__name__}.")
            if x.ndim != 3 or x.shape[1:] != (n_atoms, 3) or x.shape[0] == 0:
                raise InvalidSamplesError(
                    f"Samples.{name} must have shape (M, {n_atoms}, 3) with M > 0 (nm), got {tuple(x.shape)}."
                )
            if not torch.isfinite(x).all():
                bad = int((~torch.isfinite(x)).flatten(1).any(1).sum())
                raise InvalidSamplesError(f"Samples.{name} has {bad} conformations with NaN or infinite coordinates.")
        if self.log_weights is not None:
            if self.log_weights.ndim != 1:
                raise InvalidSamplesError("Samples.log_weights must be one-dimensional.")
            if torch.isnan(self.log_weights).any():
                raise InvalidSamplesError("Samples.log_weights contains NaN.")
        return self


@dataclass(frozen=True)
class SourceFacts:
    """What the harness must know about a proposal density to weight it correctly (per system).

    ``coordinate_scale_nm``: the scale (nm) of the method's standardization. SMC takes its Langevin
    steps in these units, as the published samplers do; None means the method has no such scale and
    the sampler refuses to guess one for a single-system task.
    ``com``: how the density treats the centre of mass.
      * "com-noise": trained on centred frames plus CoM noise N(0, scale^2/N I) (TarFlow, Prose): the
        samplers add the chi_3 CoM adjustment of SBG Prop. 1 to -log q.
      * "mean-free": a density on the CoM-free subspace, proposals centred (ECNF++): no adjustment.
      * "absolute": a density over all 3N coordinates exactly as sampled (ARBG, the example): none.
    ``batch_size``: proposals per ``propose`` call; ``device``: where the method computes;
    ``exact_density``: False when log q is not the exact density of what ``propose`` draws (recorded).
    """

    coordinate_scale_nm: float | None = None
    com: Literal["com-noise", "mean-free", "absolute"] = "absolute"
    batch_size: int = 1000
    device: str = "cpu"
    exact_density: bool = True

    def __post_init__(self) -> None:
        if self.com not in ("com-noise", "mean-free", "absolute"):
            raise ValueError(f"SourceFacts.com must be 'com-noise', 'mean-free' or 'absolute', not {self.com!r}.")
        if self.coordinate_scale_nm is not None and not self.coordinate_scale_nm > 0:
            raise ValueError("SourceFacts.coordinate_scale_nm must be positive (nm).")
        if self.batch_size < 1:
            raise ValueError("SourceFacts.batch_size must be at least 1.")


#: The task field of a corpus model's weights key: one model serves every transferable task of a tier.
CORPUS_KEY_TASK = "transferable"


@dataclass
class RunContext:
    """Everything a run hands a method besides the system and the energy.

    ``systems`` are the systems this run will sample (a method trains only those); ``weights`` is
    the harness's weights store, where a method keeps what it trains (``weights_key`` builds its key).
    Training data comes only through ``training_positions`` (single systems) and
    ``training_corpus`` (transferable tasks): never the evaluation split.
    """

    seed: int
    tier: str
    budget: int
    task: "Task | None" = None
    systems: "tuple[SystemSpec, ...]" = ()
    device: str = "cpu"
    work_dir: Path = Path(".")  # scratch space of the method
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("bgbench.method"))
    n_eval_samples: int | None = None  # how many samples the evaluator will score per set
    data_dir: Path | None = None
    weights: "WeightsStore | None" = None
    # quick tier: make a missing training corpus when a method first asks for it (MD processes to use)
    prepare_corpus: bool = False
    md_workers: int = 1
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.work_dir = Path(self.work_dir)
        self.generator = torch.Generator(device="cpu").manual_seed(int(self.seed))
        if self.weights is None:
            from benchmark.weights import WeightsStore

            self.weights = WeightsStore()

    def numpy_rng(self, offset: int = 0) -> np.random.Generator:
        """A NumPy generator derived from the run seed (offset separates independent streams)."""
        return np.random.default_rng([int(self.seed), int(offset)])

    def _task(self) -> "Task":
        if self.task is None:
            raise BgbenchError("This RunContext has no task; the runner sets one.")
        return self.task

    def training_positions(self, system_name: str) -> np.ndarray:
        """Training frames (T, N, 3) nm of one system of a single-system task, in this run's tier."""
        from benchmark.data import load_training_positions

        task = self._task()
        return load_training_positions(task, self.tier, task.system(system_name), data_dir=self.data_dir)

    def training_corpus(self) -> "TrainingCorpus":
        """The training corpus of a transferable task in this run's tier, streamed peptide by peptide."""
        from benchmark.data import open_training_corpus

        task = self._task()
        if not task.transferable:
            raise BgbenchError(f"Task {task.name} is a single-system task; use ctx.training_positions(system).")
        if self.prepare_corpus and self.tier == "quick":
            from benchmark.data.on_demand import ensure_quick_corpus

            ensure_quick_corpus(self.tier, self.data_dir, workers=self.md_workers)
        return open_training_corpus(self.tier, self.data_dir)

    def training_data_hash(self, system_name: str | None = None) -> str:
        """Content hash of the training data a model of ``system_name`` (None: the corpus) learns from."""
        from benchmark.data import training_data_hash

        task = self._task()
        if system_name is None:
            return self.training_corpus().content_hash
        return training_data_hash(task, self.tier, task.system(system_name), data_dir=self.data_dir)

    def weights_key(self, method: "Method", subject: str) -> "WeightsKey":
        """The weights-store key of ``method``'s model of ``subject`` (a system name, or "corpus").

        A corpus model serves every transferable task of its tier, so its key names the task
        ``CORPUS_KEY_TASK``. Its data hash is the corpus's content hash; when the quick corpus is not
        made here yet, but weights exist under the hash the committed corpus card records (shipped
        weights, say), those are named without making the corpus: they were trained on those bytes.
        """
        from benchmark.weights import WeightsKey

        cfg = method.cfg
        config = cfg.training_key() if isinstance(cfg, MethodConfig) else dict(method.config)

        def key(task: str, data_hash: str) -> WeightsKey:
            return WeightsKey(method=method.name, task=task, tier=self.tier, subject=subject,
                              seed=int(self.seed), config=config, data_hash=data_hash)

        if subject != "corpus":
            return key(self._task().name, self.training_data_hash(subject))
        recorded = self._card_corpus_hash()
        named = None if recorded is None or self.weights is None else key(CORPUS_KEY_TASK, recorded)
        if named is not None and self.weights.entry(named).complete:  # type: ignore[union-attr]
            self.logger.info("Using weights trained on the quick corpus that data_cards records (content %s); "
                             "the corpus itself is not needed for this run.", recorded[:12])
            return named
        return key(CORPUS_KEY_TASK, self.training_data_hash(None))

    def _card_corpus_hash(self) -> str | None:
        """The committed card's quick-corpus hash, where no corpus was made here (else its own hash names models)."""
        if self.tier != "quick":
            return None
        from benchmark.data import store
        from benchmark.data.cards import card_corpus_hash

        if store.read_manifest(store.corpus_dir(self.tier, self.data_dir)) is not None:
            return None
        return card_corpus_hash()


class Method(ABC):
    """Base class of every method. Subclasses set ``name`` and implement ``sample``.

    A method with a typed configuration sets ``config_class`` (a ``MethodConfig`` dataclass) and
    may override ``default_config`` to give presets per task and tier; the harness resolves it
    once per run (``configure``) and records every resolved field.
    """

    name: ClassVar[str] = "unnamed"
    version: ClassVar[str] = "0"
    description: ClassVar[str] = ""
    family: ClassVar[str] = ""  # e.g. "autoregressive", "normalizing flow", "molecular dynamics"
    applies_to: ClassVar[str] = "all"  # "single-system", "transferable" or "all"
    requires_gpu: ClassVar[bool] = False
    config_class: ClassVar[type[MethodConfig] | None] = None

    def __init__(self, **overrides: Any):
        self.overrides = dict(overrides)
        self.cfg: MethodConfig | None = None

    # --- configuration ---------------------------------------------------------------------
    def default_config(self, task: "Task", tier: str) -> MethodConfig:
        """The preset for (task, tier); families with presets override this."""
        if self.config_class is None:
            raise BgbenchError(f"Method {self.name!r} has no config_class.")
        return self.config_class()

    def configure(self, task: "Task", tier: str) -> None:
        """Resolve the configuration of a run (preset + overrides); unknown keys are errors."""
        if self.applies_to == "single-system" and task.transferable:
            raise BgbenchError(f"Method {self.name!r} is a single-system method; task {task.name} is transferable.")
        if self.applies_to == "transferable" and not task.transferable:
            raise BgbenchError(f"Method {self.name!r} is a transferable method; task {task.name} is a single system.")
        if self.config_class is not None:
            self.cfg = self.default_config(task, tier).override(self.overrides)

    @property
    def config(self) -> dict[str, Any]:
        """The resolved configuration as plain data (the overrides, for methods without a config class)."""
        return self.cfg.to_dict() if self.cfg is not None else dict(self.overrides)

    def check_device(self, ctx: RunContext) -> None:
        """Fail early and clearly when a GPU method is run without one."""
        if self.requires_gpu and not (ctx.device.startswith("cuda") and torch.cuda.is_available()):
            raise DeviceError(
                f"Method {self.name!r} needs a CUDA GPU, but the run has device {ctx.device!r}"
                f" (cuda available: {torch.cuda.is_available()}). Run with --device cuda on a GPU machine."
            )

    # --- the work --------------------------------------------------------------------------
    def setup(self, task: "Task", ctx: RunContext) -> None:
        """Train or load weights for ``ctx.systems``. Called once per run, before any sampling."""

    def sample(self, system: "System", energy: "BudgetedEnergy", ctx: RunContext) -> Samples:
        """Samples of one system, using at most ``energy.budget`` evaluations (methods that sample by themselves)."""
        raise NotImplementedError(f"Method {self.name!r} implements neither sample() nor propose().")

    # --- what the record says --------------------------------------------------------------
    def parameter_count(self) -> int | None:
        """Trainable parameters of the method's model(s), if it has any."""
        return None

    def training_seconds(self) -> dict[str, float]:
        """Wall time of training done in this run, per system or corpus."""
        return {}

    def diagnostics(self, system: "System", ctx: RunContext) -> dict[str, Any]:
        """Facts about the method's model of ``system`` for the record (e.g. training data clipped by a
        discretization, a training choice that biases the weights); the runner stores them under
        ``diagnostics["method"]`` of the system's result."""
        return {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "description": self.description, "family": self.family,
                "config": self.config, "parameters": self.parameter_count(), "training_seconds": self.training_seconds()}


class ProposalMethod(Method):
    """A Boltzmann generator: proposals with exact log densities; the harness reweights them.

    The runner (never the method) applies the sampler chosen for the run, evaluates the target
    energies and forms the weights, with settings derived from ``source_facts``.
    """

    @abstractmethod
    def propose(self, system: "System", n: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` proposals (n, N, 3) in nm and their log densities log q(x) (n,) in nm^-3N."""

    def log_q(self, system: "System", positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        """log q(x) of given positions, differentiable in ``positions`` (needed for SMC)."""
        raise NotImplementedError(f"Method {self.name!r} does not provide log_q; use --sampler snis.")

    def source_facts(self, system: "System", ctx: RunContext) -> SourceFacts:
        """Facts about the density of ``system``'s proposals (scale, CoM treatment, batch, device)."""
        return SourceFacts(device=ctx.device)

    def sample(self, system: "System", energy: "BudgetedEnergy", ctx: RunContext) -> Samples:
        raise BgbenchError(f"{self.name!r} is a proposal method: the runner applies the sampler, not the method.")


class AutoregressiveSession(ABC):
    """``n`` particles of one system being generated coordinate by coordinate (``begin_generation``).

    Coordinates come atom by atom in the method's generation order, x, y, z of an atom in a row:
    coordinate 3k + a is axis a of atom ``generation_order()[k]``. The harness's twisted SMC
    (``--sampler ar-smc``) extends all particles to a residue boundary, weights them with a partial
    energy, resamples them (``select``) and extends again.
    """

    n: int  # particles
    dim: int  # coordinates of a complete sample (3N)
    length: int  # coordinates generated so far

    @abstractmethod
    def extend(self, k: int) -> torch.Tensor:
        """Generate the next ``k`` coordinates of every particle; return their log q terms (n, k) float64.

        Term j is the log density of coordinate ``length + j`` given all before it, in nm^-1 (the
        de-quantization width and the standardization Jacobian included), so the terms of all 3N
        coordinates sum to ``log_q`` of the finished sample in nm^-3N.
        """

    @abstractmethod
    def select(self, indices: torch.Tensor) -> None:
        """Keep particles ``indices`` (length n, repeats allowed): the ancestors chosen by resampling."""

    @abstractmethod
    def positions(self) -> torch.Tensor:
        """(n, length // 3, 3) positions in nm of the atoms completed so far, in generation order."""


class AutoregressiveProposal(ABC):
    """A ProposalMethod that exposes its per-token conditionals (mixin), so the harness can run
    autoregressive twisted SMC on it (benchmark/sampling/ar_smc.py)."""

    @abstractmethod
    def generation_order(self, system: "System", ctx: RunContext) -> np.ndarray:
        """Atom indices (topology order) in the order the method generates them."""

    @abstractmethod
    def begin_generation(self, system: "System", n: int, ctx: RunContext) -> AutoregressiveSession:
        """``n`` fresh particles of ``system`` with nothing generated yet (randomness from ``ctx.generator``)."""
