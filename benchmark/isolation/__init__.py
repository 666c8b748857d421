"""Isolation of a method from the harness: ``--isolation none | process | sandbox``.

* ``none``: the method runs inside the harness process (built-in methods by default; debugging).
  Nothing stops it from reaching the harness's objects; its record says isolation "none", and the
  leaderboard shows it as unverified.
* ``process``: the method runs in a fresh interpreter (``benchmark.isolation.child``) that gets the
  task, the system specs, a run context and a view of its tier's training data, and nothing of the
  evaluation split. The target energy, its meter, the sampler, the reference data, the Evaluator and
  the record stay in the harness; the two talk through ``wire`` messages (no pickle).
* ``sandbox``: the same process inside bubblewrap (``launch.bwrap_command``): no network and a
  file system that holds only the system, the code, the training view, a scratch folder and the
  method's own weights.

Modules: ``wire`` (message format), ``channel`` (framing, shared-memory bulk buffers, deadlines),
``codec`` (tasks, facts and samples as checked data), ``child`` (the method process), ``process``
(starting, calling and ending it), ``remote`` (the Method stand-ins the runner uses), ``launch``
(training view, environment, bubblewrap), ``tamper`` (evidence of in-process meddling).
"""

from __future__ import annotations

from benchmark.errors import BgbenchError

ISOLATION_LEVELS = ("none", "process", "sandbox")


def default_isolation(source: str) -> str:
    """``process`` for third-party code (submission folders, plugins), ``none`` for built-in methods."""
    return "process" if source in ("folder", "plugin") else "none"


def check_level(level: str) -> str:
    if level not in ISOLATION_LEVELS:
        raise BgbenchError(f"--isolation must be one of {', '.join(ISOLATION_LEVELS)}, not {level!r}.")
    return level


__all__ = ["ISOLATION_LEVELS", "check_level", "default_isolation"]
