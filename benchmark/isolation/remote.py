"""The harness's stand-ins for an isolated method: the runner and the samplers use them like any Method.

``MethodHost`` owns the run's method process: it starts it, has it load and configure the method,
sets it up, restarts it after a failure, and puts a deadline on every call. ``IsolatedMethod``
(self-sampling methods) and ``IsolatedProposalMethod`` are ``Method`` / ``ProposalMethod``
subclasses whose work is a call to the process, so the runner's sampler seam is the same for both
kinds of isolation. Calls are generic (a method name and arguments), so a new proposal call (e.g.
per-token conditionals for autoregressive SMC) is one more name on both sides.

Every answer is checked here before the harness uses it: shapes, dtypes, the source facts, the
samples; ``log_q`` comes back with its gradient and is wrapped in an autograd Function, so SMC
differentiates it as it would in-process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from benchmark.adapter import Method, ProposalMethod, RunContext, Samples, SourceFacts
from benchmark.isolation import codec
from benchmark.isolation.codec import ProtocolViolation
from benchmark.isolation.launch import Launch
from benchmark.isolation.process import MethodProcess, MethodProcessError



#: Registry objects of this process in MethodSpec.info; the child looks its method up again instead.
LOCAL_ONLY_INFO = ("builtin", "entry_point")


def _sendable(info: dict) -> dict:
    """The submission facts the method process needs (plain data only)."""
    return {k: v for k, v in info.items() if k not in LOCAL_ONLY_INFO}

class MethodHost:
    """The run's method process, with the method's checked facts and the deadline of the current stage."""

    def __init__(self, spec, overrides: dict, task, tier: str, launch: Launch, timeout: float | None = None):
        self.spec, self.overrides, self.task, self.tier = spec, dict(overrides), task, tier
        self.launch = launch
        self.timeout = timeout
        self.facts: dict = {}
        self.info: dict = {}
        self.process: MethodProcess | None = None
        self._deadline: float | None = None
        self._setup_args: dict | None = None
        self.minimized: Callable[[str], Any] | None = None  # the harness's minimized positions by system name

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> dict:
        """Start a process and load the method in it; returns the method's facts."""
        self.process = MethodProcess(self.launch.argv_prefix(), self.launch.env(), self.launch.scratch)
        self.process.start()
        self.begin_stage()
        facts = codec.facts_from_method_data(self.call("load", {
            "name": self.spec.name, "source": self.spec.source, "target": self.spec.target,
            "info": codec.plain(_sendable(self.spec.info), "submission info"), "overrides": self.overrides,
            "task": codec.task_to_data(self.task), "tier": self.tier}))
        if self.facts and facts != self.facts:
            raise ProtocolViolation("the method describes itself differently after a restart")
        self.facts = facts
        return facts

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive

    def restart(self) -> None:
        """A new process after a failure, loaded and set up as the first one was (same seed, same context)."""
        self.close(cleanup=False)
        self.start()
        if self._setup_args is not None:
            self.begin_stage()
            self.reseed(self._setup_args["ctx"]["seed"])  # as the runner seeds before the first setup
            self.info = self.call("setup", self._setup_args, serve=self._serve_minimized())

    def close(self, cleanup: bool = True) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None
        if cleanup:
            self.launch.cleanup()

    def begin_stage(self) -> None:
        """Start the wall-clock limit of one stage (setup, or one system)."""
        self._deadline = None if self.timeout is None else time.monotonic() + self.timeout

    def cpu_seconds(self) -> float:
        return self.process.cpu_seconds() if self.process is not None else 0.0

    # --- calls ---------------------------------------------------------------------------------
    def call(self, op: str, args: dict, serve: dict | None = None) -> Any:
        if self.process is None:
            raise MethodProcessError("the method process is not running")
        return self.process.call(op, args, self._deadline, serve)

    def _serve_minimized(self) -> dict:
        names = set(self._setup_args["ctx"]["systems"]) if self._setup_args else set()

        def minimized(args: dict):
            name = args.get("system")
            if name not in names or self.minimized is None:
                raise ProtocolViolation(f"no system {str(name)[:80]!r} in this run")
            return self.minimized(name)

        return {"minimized": minimized}

    def setup(self, ctx: RunContext) -> None:
        self._setup_args = {"ctx": {
            "seed": int(ctx.seed), "tier": ctx.tier, "budget": int(ctx.budget), "systems": [s.name for s in ctx.systems],
            "device": ctx.device, "work_dir": str(self.launch.scratch), "n_eval_samples": ctx.n_eval_samples,
            "data_dir": str(self.launch.data_dir()), "weights_root": str(self.launch.weights_root)}}
        self.info = self.call("setup", self._setup_args, serve=self._serve_minimized())

    def reseed(self, seed: int) -> None:
        self.call("reseed", {"seed": int(seed)})


def _checked_tensor(value: Any, what: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise ProtocolViolation(f"{what} must be a floating-point tensor")
    if shape is not None and tuple(value.shape) != shape:
        raise ProtocolViolation(f"{what} must have shape {shape}, got {tuple(value.shape)}")
    return value


class _RemoteLogQ(torch.autograd.Function):
    """log q computed in the method process, with the gradient it sent: d(sum log q)/dx per sample."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, log_q: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(grad)
        ctx.x_dtype = x.dtype
        return log_q.clone()

    @staticmethod
    def backward(ctx, g_out: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return (g_out.to(grad.dtype)[:, None, None] * grad).to(ctx.x_dtype), None, None


class _Remote:
    """What both isolated stand-ins share: facts from the process, setup and description through it."""

    def __init__(self, host: MethodHost):
        Method.__init__(self)
        self.host = host
        facts = host.facts
        self.name, self.version, self.description = facts["name"], facts["version"], facts["description"]
        self.family, self.applies_to, self.requires_gpu = facts["family"], facts["applies_to"], facts["requires_gpu"]

    @property
    def config(self) -> dict:
        return dict(self.host.facts["config"])

    def configure(self, task, tier: str) -> None:
        """Configured in the method process when it loaded the method."""

    def setup(self, task, ctx: RunContext) -> None:
        self.host.setup(ctx)

    def parameter_count(self) -> int | None:
        value = self.host.info.get("parameters")
        return value if type(value) is int else None

    def training_seconds(self) -> dict[str, float]:
        value = codec.plain(self.host.info.get("training_seconds") or {}, "training_seconds")
        if not isinstance(value, dict):
            return {}
        return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class IsolatedMethod(_Remote, Method):
    """A self-sampling method in its process; its energy evaluations are requests served by the harness's meter."""

    def sample(self, system, energy, ctx: RunContext) -> Samples:
        def evaluate(args: dict) -> dict:
            x, forces = args.get("x"), args.get("forces")
            if not isinstance(x, torch.Tensor) or not x.is_floating_point() or type(forces) is not bool:
                raise ProtocolViolation("an energy request needs floating-point positions and a boolean 'forces'")
            if forces:
                e, f = energy.energy_and_forces(x)
                return {"energy": e, "forces": f}
            return {"energy": energy.energy(x)}

        serve = {**self.host._serve_minimized(), "energy": evaluate, "meter": lambda args: energy.report()}
        data = self.host.call("sample", {"system": system.name, "energy": energy.describe()}, serve=serve)
        return codec.samples_from_data(data)


class IsolatedProposalMethod(_Remote, ProposalMethod):
    """A Boltzmann generator in its process: the harness's sampler calls propose / log_q / source_facts here."""

    def _call(self, name: str, system, **args) -> Any:
        return self.host.call("call", {"name": name, "system": system.name, **args}, serve=self.host._serve_minimized())

    def propose(self, system, n: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        out = self._call("propose", system, n=int(n))
        if not isinstance(out, dict) or set(out) != {"x", "log_q"}:
            raise ProtocolViolation("propose must return (positions, log_q)")
        return out["x"], out["log_q"]

    def log_q(self, system, positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        n = positions.shape[0]
        want_grad = positions.requires_grad and torch.is_grad_enabled()
        out = self._call("log_q", system, x=positions.detach(), grad=want_grad)
        if not isinstance(out, dict):
            raise ProtocolViolation("log_q must return a tensor")
        log_q = _checked_tensor(out.get("log_q"), "log_q", (n,)).to(positions.device)
        if not want_grad:
            return log_q
        grad = _checked_tensor(out.get("grad"), "the gradient of log_q", tuple(positions.shape)).to(positions.device)
        return _RemoteLogQ.apply(positions, log_q, grad)

    def source_facts(self, system, ctx: RunContext) -> SourceFacts:
        return codec.facts_from_data(self._call("source_facts", system))


def isolated_method(host: MethodHost) -> Method:
    """The stand-in of the method ``host`` has loaded (call ``host.start()`` first)."""
    return IsolatedProposalMethod(host) if host.facts["kind"] == "proposal" else IsolatedMethod(host)


__all__ = ["IsolatedMethod", "IsolatedProposalMethod", "MethodHost", "isolated_method"]
