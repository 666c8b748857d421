"""The harness's handle on one method process: start it, call it, serve its requests, end it.

The process is a fresh interpreter started with ``subprocess`` (never ``fork``), in its own session
so that ending it ends what it started, and told by the kernel to die with the harness. Every call
has an optional deadline; a call that runs past it, a process that exits or crashes, and a message
that is malformed all end the process and raise ``MethodProcessError`` with the reason, which the
runner records as the failure of the system at hand. The next system starts a new process.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.errors import BgbenchError
from benchmark.isolation.channel import BulkFile, Channel, ChannelClosed, ChannelTimeout, new_bulk_file
from benchmark.isolation.wire import Limits, WireError

log = logging.getLogger(__name__)

#: How long a process may take to leave after being asked to (then it is killed).
GRACE_S = 5.0
CHILD_MODULE = "benchmark.isolation.child"


class MethodProcessError(BgbenchError):
    """The method process failed as a process: exited, crashed, timed out or broke the protocol."""


class RemoteError(BgbenchError):
    """An exception raised by the method inside its process, reported by type name and message."""

    def __init__(self, type_name: str, message: str, traceback: str = ""):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message, self.traceback = type_name, message, traceback


Handler = Callable[[dict], Any]


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and every live descendant (read from /proc, not reported by them).

    /proc counts in clock ticks (10 ms on Linux), so work shorter than a tick can read as 0.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total, todo, seen = 0.0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue
    return total


class MethodProcess:
    """One method process. ``call`` sends a request and serves the process's own requests until the reply."""

    def __init__(self, argv_prefix: list[str], env: dict[str, str], cwd: Path, limits: Limits = Limits()):
        self.argv_prefix = list(argv_prefix)
        self.env = dict(env)
        self.cwd = Path(cwd)
        self.limits = limits
        self.proc: subprocess.Popen | None = None
        self.channel: Channel | None = None
        self._fds: list[int] = []

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.channel is not None

    def start(self) -> None:
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        to_child, to_parent = new_bulk_file("to-method"), new_bulk_file("to-harness")
        self._fds = [to_child, to_parent]
        argv = [*self.argv_prefix, "-m", CHILD_MODULE, "--fd", str(child_sock.fileno()),
                "--bulk-in", str(to_child), "--bulk-out", str(to_parent)]
        self.cwd.mkdir(parents=True, exist_ok=True)
        try:
            self.proc = subprocess.Popen(argv, pass_fds=(child_sock.fileno(), to_child, to_parent), cwd=self.cwd,
                                         env=self.env, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as err:
            parent_sock.close()
            raise MethodProcessError(f"cannot start the method process ({err})") from err
        finally:
            child_sock.close()
        self.channel = Channel(parent_sock, bulk_out=BulkFile(to_child), bulk_in=BulkFile(to_parent), limits=self.limits)
        log.debug("method process %d started: %s", self.proc.pid, " ".join(argv))

    # --- calls ---------------------------------------------------------------------------------
    def call(self, op: str, args: dict, deadline: float | None = None, serve: dict[str, Handler] | None = None) -> Any:
        """The process's answer to ``op`` (RemoteError if the method raised); ``serve`` answers its requests meanwhile."""
        if not self.alive:
            raise MethodProcessError("the method process is not running")
        msg = {"op": op, "args": args}
        try:
            self.channel.send(msg, deadline)
            while True:
                reply = self.channel.recv(deadline)
                if isinstance(reply, dict) and "op" in reply:  # the method process asks the harness
                    self.channel.send(self._serve(reply, serve or {}), deadline)
                    continue
                break
        except ChannelTimeout:
            self.kill()
            raise MethodProcessError(f"timed out in {op} (the wall-clock limit per system was reached)") from None
        except ChannelClosed:
            raise MethodProcessError(f"the method process {self._exit_reason()} during {op}") from None
        except WireError as err:
            self.kill()
            raise MethodProcessError(f"the method process sent a malformed message during {op}: {err}") from None
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            self.kill()
            raise MethodProcessError(f"the method process sent no valid reply to {op}")
        if not reply["ok"]:
            err = reply.get("error")
            err = err if isinstance(err, dict) else {}
            raise RemoteError(str(err.get("type", "Error"))[:100], str(err.get("message", ""))[:2000],
                              str(err.get("traceback", ""))[:4000])
        return reply.get("value")

    @staticmethod
    def _serve(request: dict, serve: dict[str, Handler]) -> dict:
        """Answer a request of the method process; the handlers are the harness's (e.g. the metered energy)."""
        op, args = request.get("op"), request.get("args")
        if op not in serve or not isinstance(args, dict):
            return {"ok": False, "error": {"type": "ProtocolError", "message": f"the harness serves no {op!r} now"}}
        try:
            return {"ok": True, "value": serve[op](args)}
        except Exception as err:  # refused (budget, shape): the method sees the error, the harness goes on
            return {"ok": False, "error": {"type": type(err).__name__, "message": str(err)[:2000]}}

    # --- ending --------------------------------------------------------------------------------
    def _exit_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill()
            return "closed its connection and was killed"
        self.kill()
        return f"was killed by {_signal_name(code)}" if code < 0 else f"exited with code {code}"

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid) if self.alive else 0.0

    def kill(self) -> None:
        """End the process and everything in its session now."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                log.warning("method process %d did not die", self.proc.pid)
        self._release()

    def close(self) -> None:
        """Ask the process to leave, then make sure it and its session are gone."""
        if self.alive:
            try:
                self.channel.send({"op": "shutdown", "args": {}}, time.monotonic() + GRACE_S)
                self.channel.recv(time.monotonic() + GRACE_S)
                self.proc.wait(timeout=GRACE_S)
            except (WireError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def _release(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []


__all__ = ["MethodProcess", "MethodProcessError", "RemoteError", "tree_cpu_seconds"]
