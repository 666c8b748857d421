"""Job specs: what one job of a plan does, content-hashed, written before anything runs.

A plan is a folder of JSON specs (``jobs/<id>.json``): one training job per (method, task, tier,
seed) and one system job per (method, task, tier, budget, seed, system) that depends on it. A spec
holds everything a job needs on any machine (the method reference and its resolved config, the
task version, the run settings, where data and weights live as environment-variable-relative
paths) and nothing of the machine it was planned on, so the same plan gives the same ids on a
laptop and on a cluster. The id is the SHA-256 of the spec's canonical JSON: a job whose result
carries the same id ran exactly this spec, which is what lets a relaunch skip finished work.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import BgbenchError
from benchmark.io import atomic_write_text

SPEC_VERSION = 1
JOBS_DIR = "jobs"
#: Where jobs find data and weights unless the launch names explicit paths (expanded on the worker).
DEFAULT_LOCATIONS = {"data": "$BGBENCH_DATA", "work": "$BGBENCH_WORK"}
#: Files of a submission folder whose content the spec pins (the code that will run).
CODE_SUFFIXES = (".py", ".yaml", ".yml")


class PlanError(BgbenchError):
    """A plan that cannot be made, read or run as it stands."""


def canonical(obj: Any) -> str:
    """The one JSON text of ``obj`` that is hashed: sorted keys, no whitespace."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(obj: Any) -> str:
    return hashlib.sha256(canonical(obj).encode()).hexdigest()


@dataclass(frozen=True)
class JobSpec:
    """One job: ``content`` is what is hashed; ``id`` the first 16 hex digits of its SHA-256."""

    content: dict[str, Any]

    @property
    def id(self) -> str:
        return digest(self.content)[:16]

    @property
    def kind(self) -> str:
        return str(self.content["kind"])

    @property
    def label(self) -> str:
        return str(self.content["label"])

    @property
    def depends_on(self) -> list[str]:
        return list(self.content.get("depends_on", []))

    @property
    def run_id(self) -> str:
        """What the system jobs of one run share: everything but the system (8 hex digits)."""
        keep = {k: v for k, v in self.content.items() if k not in ("kind", "label", "system", "depends_on")}
        return digest(keep)[:8]

    @property
    def run_name(self) -> str:
        """``<method>[-<sampler>]-<task>-<tier>-b<budget>-s<seed>``, as ``bgbench run`` names records."""
        return self.label.split("/", 1)[0]


def code_hash(folder: Path) -> str:
    """SHA-256 over the relative paths and bytes of a submission folder's code and yaml files."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix in CODE_SUFFIXES
                       and "__pycache__" not in p.parts):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def method_reference(method: str | type) -> dict[str, Any]:
    """How a worker finds the method: a registered name, a submission folder relative to the
    launch directory (with the hash of its code), or ``module:Class`` for a class given directly."""
    if isinstance(method, type):
        return {"source": "class", "ref": f"{method.__module__}:{method.__qualname__}"}
    from benchmark.registry import find_method

    spec = find_method(method)
    if spec.source != "folder":
        return {"source": spec.source, "ref": spec.name}
    folder = Path(spec.target)
    if folder.is_absolute():
        try:
            folder = folder.relative_to(Path.cwd())
        except ValueError:
            raise PlanError(f"Submission folder {folder} is outside the current directory; plan from a directory "
                            "that contains it and give it as a relative path (jobs run in the launch directory).") from None
    return {"source": "folder", "ref": folder.as_posix(), "code_sha256": code_hash(folder)}


def check_location(value: str) -> str:
    """A plan names data and weights locations only relative to environment variables."""
    if not value.startswith("$"):
        raise PlanError(f"Plan locations must start with an environment variable (e.g. '$SCRATCH/bgbench'), got "
                        f"{value!r}: a plan must not hold paths of the machine it was made on. Give explicit "
                        "paths to `bgbench launch --data-dir/--work-dir` instead.")
    return value


def make_plan(method: str | type, task: str, tier: str = "quick", seeds: list[int] | None = None,
              budgets: list[int] | None = None, sampler: str | None = None,
              sampler_options: dict[str, Any] | None = None, method_config: dict[str, Any] | None = None,
              systems: list[str] | None = None, platform: str = "auto", energy: str = "torch",
              energy_precision: str = "float64", fix_chirality: bool = True,
              locations: dict[str, str] | None = None) -> list[JobSpec]:
    """The training job of each seed, then the system jobs (seed x budget x system).

    Everything is checked here, as ``bgbench run`` checks it, by building the run without doing
    any work: unknown methods, tasks, systems, config keys and sampler settings fail at planning.
    """
    from benchmark.runner import RunConfig, Runner

    locations = {k: check_location(v) for k, v in {**DEFAULT_LOCATIONS, **(locations or {})}.items()}
    ref = method_reference(method)
    first = Runner(RunConfig(method=method, task=task, tier=tier, sampler=sampler,
                             sampler_options=dict(sampler_options or {}), method_config=dict(method_config or {}),
                             systems=systems, energy=energy, energy_precision=energy_precision))
    seeds = list(seeds) if seeds else list(first.protocol.seeds)
    budgets = list(budgets) if budgets else [first.budget]
    if len(set(seeds)) != len(seeds) or len(set(budgets)) != len(budgets):
        raise PlanError(f"Seeds {seeds} and budgets {budgets} must not repeat.")
    common = {
        "spec_version": SPEC_VERSION,
        "method": {**ref, "name": first.method.name, "version": str(first.method.version),
                   "overrides": dict(method_config or {}), "config": first.method.config},
        "task": {"name": first.task.name, "version": int(first.task.version), "tier": tier},
        "locations": locations,
    }
    system_names = [s.name for s in first.systems]
    jobs: list[JobSpec] = []
    for seed in seeds:
        train = JobSpec({**common, "kind": "train", "seed": int(seed), "systems": system_names,
                         "label": f"{_slug(first.method.name)}-{first.task.name}-{tier}-s{seed}/train"})
        jobs.append(train)
        for budget in budgets:
            runner = Runner(RunConfig(method=method, task=task, tier=tier, budget=budget, seed=seed, sampler=sampler,
                                      sampler_options=dict(sampler_options or {}),
                                      method_config=dict(method_config or {}), systems=systems))
            run_name = Path(runner.out).stem
            for name in system_names:
                jobs.append(JobSpec({
                    **common, "kind": "system", "seed": int(seed), "budget": int(runner.budget), "system": name,
                    "sampler": _sampler(runner), "fix_chirality": bool(fix_chirality), "platform": platform,
                    "energy": {"backend": energy, "precision": energy_precision},
                    "depends_on": [train.id], "label": f"{run_name}/{name}",
                }))
    return jobs


def _sampler(runner) -> dict[str, Any] | None:
    """The sampler as the run's record will state it (None for methods that sample by themselves)."""
    if runner.sampler_name is None:
        return None
    return {"name": runner.sampler_name, "options": dict(runner.config.sampler_options)}


def _slug(name: str) -> str:
    return name.replace("/", "_")


def write_plan(plan_dir: Path, jobs: list[JobSpec]) -> list[Path]:
    """Write each spec as ``jobs/<id>.json`` (a spec already there is left as it is: same id, same content).

    Plans add up: several ``bgbench plan`` calls into one folder make one board.
    """
    folder = Path(plan_dir) / JOBS_DIR
    paths = []
    for job in jobs:
        path = folder / f"{job.id}.json"
        if not path.exists():
            atomic_write_text(path, json.dumps({"id": job.id, "spec": job.content}, indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths


def read_spec(path: Path) -> JobSpec:
    """A spec file, checked: its content must hash to the id it carries and its file is named by."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        job = JobSpec(data["spec"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise PlanError(f"{path} is not a bgbench job spec ({err}).") from err
    if job.id != data.get("id") or path.stem != job.id:
        raise PlanError(f"{path} does not match its id (the file was edited or renamed); plan again.")
    if job.content.get("spec_version") != SPEC_VERSION:
        raise PlanError(f"{path} has spec_version {job.content.get('spec_version')}; this bgbench reads {SPEC_VERSION}.")
    return job


def read_plan(plan_dir: Path) -> list[JobSpec]:
    """Every spec of a plan, training jobs first, then system jobs in label order."""
    folder = Path(plan_dir) / JOBS_DIR
    if not folder.is_dir():
        raise PlanError(f"{plan_dir} is not a plan folder (no {JOBS_DIR}/); make one with `bgbench plan ... --out {plan_dir}`.")
    jobs = [read_spec(p) for p in sorted(folder.glob("*.json"))]
    ids = {j.id for j in jobs}
    for job in jobs:
        missing = [d for d in job.depends_on if d not in ids]
        if missing:
            raise PlanError(f"Job {job.label} ({job.id}) depends on {missing}, which the plan lacks.")
    return sorted(jobs, key=lambda j: (j.kind != "train", j.label, j.id))


def expand_location(value: str) -> str | None:
    """A spec location on this machine: variables expanded; None where the variable is unset and it is
    one of bgbench's own (the harness then uses its default, as ``bgbench run`` would)."""
    expanded = os.path.expandvars(value)
    if "$" not in expanded:
        return str(Path(expanded).expanduser())
    if value in DEFAULT_LOCATIONS.values():
        return None
    raise PlanError(f"Location {value!r} names an environment variable that is not set on this machine.")


__all__ = [
    "DEFAULT_LOCATIONS", "JOBS_DIR", "JobSpec", "PlanError", "SPEC_VERSION", "canonical", "code_hash", "digest",
    "expand_location", "make_plan", "method_reference", "read_plan", "read_spec", "write_plan",
]
