"""The method process: ``python -m benchmark.isolation.child --fd N --bulk-in A --bulk-out B``.

A fresh interpreter (never a fork of the harness, which would inherit the harness's memory and with
it any reference data already loaded) that loads one method and answers the harness's calls over
the channel on fd N. It holds the method, the systems it builds from their specs, and a RunContext
whose data folder is a view with the training split only. It holds no target energy: a
self-sampling method gets ``EnergyProxy``, whose every evaluation is a request to the harness,
which owns the meter.

Everything here runs next to untrusted code and trusts nothing of its own state: it is the
harness's side that checks what comes back.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import signal
import socket
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from benchmark.adapter import Method, ProposalMethod, RunContext
from benchmark.energy.base import TargetEnergy
from benchmark.errors import BgbenchError, BudgetExceeded, InvalidSamplesError
from benchmark.isolation import codec
from benchmark.isolation.channel import BulkFile, Channel, ChannelClosed
from benchmark.isolation.wire import WireError
from benchmark.systems import System, SystemSpec

log = logging.getLogger("bgbench.isolation.child")

#: Errors the harness reports that the method should see as the same exception as in-process.
REMOTE_ERRORS: dict[str, type[Exception]] = {"BudgetExceeded": BudgetExceeded, "ValueError": ValueError,
                                             "InvalidSamplesError": InvalidSamplesError}


class HarnessError(BgbenchError):
    """The harness refused a request of the method process."""


def error_reply(err: BaseException) -> dict:
    """An error as data: type name, message and the last lines of the traceback (all truncated)."""
    try:
        message = str(err)
    except Exception:  # a method's exception whose __str__ raises
        message = "<unprintable>"
    tb = "".join(traceback.format_exception(type(err), err, err.__traceback__)[-6:])
    return {"ok": False, "error": {"type": type(err).__name__[:100], "message": message[:2000], "traceback": tb[-4000:]}}


class MethodSideSystem(System):
    """A system as a method sees it: the molecule and its metadata, and no force field.

    ``create_openmm_system`` gives the particles and masses (what MD needs to integrate) with every
    force removed, since the target energy is the harness's; ``minimized_positions`` come from the
    harness, which minimizes with the real force field.
    """

    fetch_minimized: Callable[[str], np.ndarray] | None = None

    def create_openmm_system(self):
        omm = super().create_openmm_system()
        while omm.getNumForces():
            omm.removeForce(omm.getNumForces() - 1)
        return omm

    @property
    def minimized_positions(self) -> np.ndarray:
        if "minimized" not in self._cache:
            self._cache["minimized"] = np.array(self.fetch_minimized(self.name), dtype=np.float64)
        return self._cache["minimized"].copy()


class EnergyProxy(TargetEnergy):
    """The metered energy, seen from the method process: every call is a request to the harness."""

    def __init__(self, server: "MethodServer", n_atoms: int, kT_kJ_per_mol: float, description: dict):
        self._server = server
        self.n_atoms = n_atoms
        self.kT_kJ_per_mol = kT_kJ_per_mol
        self._description = description

    def _evaluate(self, x, forces: bool):
        device = x.device if isinstance(x, torch.Tensor) else torch.device("cpu")
        out = self._server.request("energy", {"x": torch.as_tensor(x), "forces": forces})
        return out["energy"].to(device), (out["forces"].to(device) if forces else None)

    def energy(self, x) -> torch.Tensor:
        return self._evaluate(x, False)[0]

    def energy_and_forces(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        return self._evaluate(x, True)

    def report(self) -> dict:
        return self._server.request("meter", {})

    @property
    def budget(self) -> int:
        return int(self.report()["budget"])

    @property
    def used(self) -> int:
        return int(self.report()["used"])

    @property
    def remaining(self) -> int:
        return int(self.report()["remaining"])

    @property
    def force_evaluations(self) -> int:
        return int(self.report()["force_evaluations"])

    def describe(self) -> dict:
        return dict(self._description)


def reseed_globals(seed: int) -> None:
    """The global RNGs, seeded exactly as the runner seeds them in-process."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


@dataclass
class MethodServer:
    """Answers the harness's requests with one method; ``serve`` returns when the harness says shutdown."""

    channel: Channel
    method: Method | None = None
    task: Any = None
    ctx: RunContext | None = None
    systems: dict[str, MethodSideSystem] | None = None

    # --- talking to the harness ----------------------------------------------------------------
    def request(self, op: str, args: dict) -> Any:
        """A request of the method process to the harness (energy, meter, minimized positions)."""
        self.channel.send({"op": op, "args": args})
        reply = self.channel.recv()
        if reply.get("ok"):
            return reply["value"]
        err = reply.get("error", {})
        raise REMOTE_ERRORS.get(err.get("type"), HarnessError)(err.get("message", "the harness refused the request"))

    def serve(self) -> None:
        handlers = {"load": self.load, "setup": self.setup, "reseed": self.reseed, "call": self.call,
                    "sample": self.sample, "describe": self.describe, "shutdown": lambda args: None}
        while True:
            try:
                msg = self.channel.recv()
            except ChannelClosed:
                return
            op = msg.get("op") if isinstance(msg, dict) else None
            if op not in handlers:
                self.channel.send({"ok": False, "error": {"type": "ProtocolError", "message": f"unknown op {op!r}"}})
                continue
            try:
                reply = {"ok": True, "value": handlers[op](msg.get("args") or {})}
            except BaseException as err:  # SystemExit and KeyboardInterrupt of a method are answers too
                reply = error_reply(err)
            try:
                self.channel.send(reply)
            except ChannelClosed:
                return
            except WireError as err:  # the method returned something the wire cannot carry
                what = (msg.get("args") or {}).get("name", op) if op == "call" else op
                self.channel.send(error_reply(InvalidSamplesError(f"{what} returned a value that cannot be sent: {err}")))
            if op == "shutdown":
                return

    # --- the harness's calls -------------------------------------------------------------------
    def load(self, args: dict) -> dict:
        from benchmark.registry import MethodSpec

        spec = MethodSpec(args["name"], args["source"], args["target"], args.get("info") or {})
        if spec.source == "plugin":
            from benchmark.registry import available_methods

            spec = available_methods()[spec.name]
        self.task = codec.task_from_data(args["task"])
        self.method = spec.load()(**args["overrides"])
        self.method.configure(self.task, args["tier"])
        return codec.method_facts(self.method)

    def setup(self, args: dict) -> dict:
        from benchmark.weights import WeightsStore

        c = args["ctx"]
        specs = [self.task.system(name) for name in c["systems"]]
        self.systems = {s.name: self._build(s) for s in specs}
        self.ctx = RunContext(seed=c["seed"], tier=c["tier"], budget=c["budget"], task=self.task, systems=tuple(specs),
                              device=c["device"], work_dir=Path(c["work_dir"]), n_eval_samples=c["n_eval_samples"],
                              data_dir=Path(c["data_dir"]), weights=WeightsStore(Path(c["weights_root"])),
                              logger=logging.getLogger(f"bgbench.method.{self.method.name}"))
        self.method.setup(self.task, self.ctx)
        return self.describe({})

    def _build(self, spec: SystemSpec) -> MethodSideSystem:
        built = spec.build()
        system = MethodSideSystem(spec=spec, topology=built.topology, initial_positions=built.initial_positions.copy(),
                                  amber_types=built.amber_types)
        system.fetch_minimized = lambda name: self.request("minimized", {"system": name})
        return system

    def reseed(self, args: dict) -> None:
        """Per system, as the runner reseeds in-process: the method's generator and the global RNGs."""
        seed = int(args["seed"])
        if self.ctx is not None:
            self.ctx.generator.manual_seed(seed)
        reseed_globals(seed)

    def describe(self, args: dict) -> dict:
        info = self.method.describe()
        return {"parameters": info.get("parameters"), "training_seconds": info.get("training_seconds")}

    def _system(self, name: str) -> MethodSideSystem:
        if self.systems is None or name not in self.systems:
            raise BgbenchError(f"system {name!r} was not set up in the method process")
        return self.systems[name]

    def call(self, args: dict) -> Any:
        """A ProposalMethod call: propose, log_q (with its gradient when asked), source_facts."""
        if not isinstance(self.method, ProposalMethod):
            raise BgbenchError("only proposal methods answer proposal calls")
        system, name = self._system(args["system"]), args["name"]
        if name == "propose":
            x, log_q = self.method.propose(system, int(args["n"]), self.ctx)
            return {"x": x, "log_q": log_q}
        if name == "log_q":
            x = args["x"].to(device=self.ctx.device)
            if not args.get("grad"):
                with torch.no_grad():
                    return {"log_q": self.method.log_q(system, x, self.ctx)}
            x.requires_grad_(True)
            with torch.enable_grad():
                log_q = self.method.log_q(system, x, self.ctx)
                (grad,) = torch.autograd.grad(log_q.sum(), x)
            return {"log_q": log_q.detach(), "grad": grad}
        if name == "source_facts":
            return codec.facts_to_data(self.method.source_facts(system, self.ctx))
        raise BgbenchError(f"unknown proposal call {name!r}")

    def sample(self, args: dict) -> dict:
        """A self-sampling method's samples, drawn with the harness's metered energy."""
        system = self._system(args["system"])
        energy = EnergyProxy(self, system.n_atoms, system.kT_kJ_per_mol, args.get("energy") or {})
        samples = self.method.sample(system, energy, self.ctx)
        if not hasattr(samples, "positions"):
            raise InvalidSamplesError(f"sample() returned {type(samples).__name__}, not Samples")
        return codec.samples_to_data(samples)


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the harness dies, so no method outlives its run."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.isolation.child")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--bulk-in", type=int, required=True)
    parser.add_argument("--bulk-out", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_parent()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s [method process]: %(message)s")
    channel = Channel(socket.socket(fileno=args.fd), bulk_out=BulkFile(args.bulk_out), bulk_in=BulkFile(args.bulk_in))
    MethodServer(channel).serve()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
