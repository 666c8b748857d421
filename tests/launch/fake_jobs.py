"""Stand-ins for ``run_job`` that executors can pickle (light imports: spawned workers load this module)."""

from __future__ import annotations

import os
from pathlib import Path

from benchmark.launch.jobs import JobCall, Outcome


def echo(call: JobCall) -> Outcome:
    """Succeeds and says which process ran it."""
    name = Path(call.spec_path).stem
    return Outcome(name, name, "system", "ok", detail=str(os.getpid()))


def die_on_boom(call: JobCall) -> Outcome:
    """Kills its worker process on a spec named 'boom' (a crash, an OOM kill)."""
    if Path(call.spec_path).stem == "boom":
        os._exit(3)
    return echo(call)
