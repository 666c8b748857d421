"""The method contract: what a submission implements and what the harness hands it.

A method is one class. ``setup(task, ctx)`` trains or loads weights once per task;
``sample(system, energy, ctx)`` returns ``Samples`` for one system, spending at most the
budget of the ``BudgetedEnergy`` it is given (the only energy a method ever sees).

Boltzmann generators subclass ``ProposalMethod`` and write only ``propose`` (and ``log_q`` if
they want SMC): the harness then applies the reweighting sampler chosen for the run (SNIS,
SMC) inside the budget, so that methods compete on their proposals under one set of rules.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import torch

from benchmark.errors import DeviceError, InvalidSamplesError

if TYPE_CHECKING:  # imported for type hints only; keeps `import benchmark.adapter` light
    from benchmark.energy import BudgetedEnergy
    from benchmark.systems import System
    from benchmark.tasks import Task


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


class Logger(Protocol):
    def info(self, msg: str, *args: Any) -> None: ...
    def warning(self, msg: str, *args: Any) -> None: ...


@dataclass
class RunContext:
    """Everything a run hands a method besides the system and the energy."""

    seed: int
    tier: str
    budget: int
    device: str = "cpu"
    work_dir: Path = Path(".")
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("bgbench.method"))
    sampler: Any = None  # the harness reweighting sampler for ProposalMethods (benchmark.sampling)
    n_eval_samples: int | None = None  # how many samples the evaluator will score per set
    data_dir: Path | None = None
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.work_dir = Path(self.work_dir)
        self.generator = torch.Generator(device="cpu").manual_seed(int(self.seed))

    def numpy_rng(self, offset: int = 0) -> np.random.Generator:
        """A NumPy generator derived from the run seed (offset separates independent streams)."""
        return np.random.default_rng([int(self.seed), int(offset)])

    def training_positions(self, task: "Task", system_name: str) -> np.ndarray:
        """Training frames (T, N, 3) nm of one system of the task, in this run's tier."""
        from benchmark.data import load_reference

        ref = load_reference(task, self.tier, task.system(system_name), data_dir=self.data_dir)
        return ref.train_positions()


class Method(ABC):
    """Base class of every method. Subclasses set ``name`` and implement ``sample``."""

    name: ClassVar[str] = "unnamed"
    version: ClassVar[str] = "0"
    description: ClassVar[str] = ""
    requires_gpu: ClassVar[bool] = False

    def __init__(self, **config: Any):
        self.config = dict(config)

    def check_device(self, ctx: RunContext) -> None:
        """Fail early and clearly when a GPU method is run without one."""
        if self.requires_gpu and not (ctx.device.startswith("cuda") and torch.cuda.is_available()):
            raise DeviceError(
                f"Method {self.name!r} needs a CUDA GPU, but the run has device {ctx.device!r}"
                f" (cuda available: {torch.cuda.is_available()}). Run with --device cuda on a GPU machine."
            )

    def setup(self, task: "Task", ctx: RunContext) -> None:
        """Train or load weights for the task. Called once per task, before any ``sample``."""

    @abstractmethod
    def sample(self, system: "System", energy: "BudgetedEnergy", ctx: RunContext) -> Samples:
        """Samples of one system, using at most ``energy.budget`` evaluations."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "description": self.description, "config": self.config}


class ProposalMethod(Method):
    """A Boltzmann generator: proposals with exact log densities; the harness reweights them."""

    @abstractmethod
    def propose(self, system: "System", n: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` proposals (n, N, 3) in nm and their log densities log q(x) (n,) in nm^-3N."""

    def log_q(self, system: "System", positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        """log q(x) of given positions, differentiable in ``positions`` (needed for SMC)."""
        raise NotImplementedError(f"Method {self.name!r} does not provide log_q; use --sampler snis.")

    def sample(self, system: "System", energy: "BudgetedEnergy", ctx: RunContext) -> Samples:
        if ctx.sampler is None:
            raise ValueError("A ProposalMethod needs a harness sampler in ctx.sampler (e.g. SNIS).")
        return ctx.sampler.run(self, system, energy, ctx)
