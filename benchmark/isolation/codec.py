"""Plain-data forms of what crosses the boundary: tasks, systems, source facts, samples, method facts.

Tasks travel to the method process as data (not by name) so that a run of an unregistered task (a
test's tiny task, a user's variant) is isolated exactly like a registered one. What comes back from
the method process is checked here field by field before the harness builds anything from it: a
method's facts and samples are claims, and a claim of the wrong type is a failed system, not a
traceback in the harness.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Any

import torch

from benchmark.adapter import Samples, SourceFacts
from benchmark.errors import BgbenchError
from benchmark.names import RULE, is_safe_name
from benchmark.systems import ForceFieldRecipe, SystemSpec
from benchmark.tasks import Task
from benchmark.tasks.protocol import LocalMD, Protocol

#: Method and set names become file names and metric keys: letters, digits, '.', '_' and '-' only.
#: Set names the harness itself scores; a method's final set may not take them.
RESERVED_SETS = ("proposal", "reference")
MAX_TEXT = 2_000


class ProtocolViolation(BgbenchError):
    """The method process answered with something the contract does not allow."""


# --- harness -> method (trusted data) --------------------------------------------------------


def recipe_to_data(recipe: ForceFieldRecipe) -> dict:
    return recipe.describe()


def spec_to_data(spec: SystemSpec) -> dict:
    return {"name": spec.name, "sequence": spec.sequence, "termini": spec.termini,
            "forcefield": recipe_to_data(spec.forcefield), "split": spec.split}


def spec_from_data(data: dict) -> SystemSpec:
    ff = dict(data["forcefield"])
    ff["files"] = tuple(ff["files"])
    return SystemSpec(name=data["name"], sequence=data["sequence"], termini=data["termini"],
                      forcefield=ForceFieldRecipe(**ff), split=data.get("split"))


def task_to_data(task: Task) -> dict:
    return {
        "name": task.name, "version": task.version, "description": task.description,
        "systems": [spec_to_data(s) for s in task.systems], "training_data": task.training_data,
        "protocols": {tier: p.to_dict() for tier, p in task.protocols.items()},
        "validation_systems": [spec_to_data(s) for s in task.validation_systems], "transferable": task.transferable,
    }


def _protocol_from_data(data: dict) -> Protocol:
    data = dict(data)
    md = data.get("local_md")
    if md is not None:
        data["local_md"] = LocalMD(**{k: tuple(v) if isinstance(v, list) else v for k, v in md.items()})
    for key in ("budgets", "seeds", "metrics"):
        data[key] = tuple(data[key])
    if data.get("systems") is not None:
        data["systems"] = tuple(data["systems"])
    return Protocol(**data)


def task_from_data(data: dict) -> Task:
    return Task(
        name=data["name"], version=data["version"], description=data["description"],
        systems=tuple(spec_from_data(s) for s in data["systems"]), training_data=data["training_data"],
        protocols={tier: _protocol_from_data(p) for tier, p in data["protocols"].items()},
        validation_systems=tuple(spec_from_data(s) for s in data["validation_systems"]),
        transferable=bool(data["transferable"]),
    )


# --- method -> harness (untrusted claims) ----------------------------------------------------


def check_name(value: Any, what: str) -> str:
    if not is_safe_name(value):
        raise ProtocolViolation(f"{what} must be {RULE}; got {str(value)[:80]!r}")
    return value


def text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise ProtocolViolation(f"{what} must be a string, got {type(value).__name__}")
    return value[:limit]


def plain(value: Any, what: str, depth: int = 0) -> Any:
    """JSON-like data only (no arrays): what a record may store from a method."""
    if depth > 16:
        raise ProtocolViolation(f"{what} is nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [plain(v, what, depth + 1) for v in value[:10_000]]
    if isinstance(value, dict):
        return {str(k)[:200]: plain(v, what, depth + 1) for k, v in list(value.items())[:1_000]}
    if isinstance(value, torch.Tensor) and value.numel() <= 10_000:
        return plain(value.tolist(), what, depth + 1)
    raise ProtocolViolation(f"{what} holds a {type(value).__name__}, which a record cannot store")


def facts_to_data(facts: SourceFacts) -> dict:
    return asdict(facts)


def facts_from_data(data: Any) -> SourceFacts:
    """SourceFacts from a method's answer; wrong keys or types are a ProtocolViolation."""
    names = {f.name for f in fields(SourceFacts)}
    if not isinstance(data, dict) or not set(data) <= names:
        raise ProtocolViolation(f"source_facts must be a SourceFacts (fields {sorted(names)})")
    scale = data.get("coordinate_scale_nm")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))):
        raise ProtocolViolation("SourceFacts.coordinate_scale_nm must be a number or None")
    batch = data.get("batch_size", 1000)
    if isinstance(batch, bool) or not isinstance(batch, int):
        raise ProtocolViolation("SourceFacts.batch_size must be an integer")
    for key in ("com", "device"):
        if key in data and not isinstance(data[key], str):
            raise ProtocolViolation(f"SourceFacts.{key} must be a string")
    if "exact_density" in data and not isinstance(data["exact_density"], bool):
        raise ProtocolViolation("SourceFacts.exact_density must be a boolean")
    try:
        return SourceFacts(**data)
    except (TypeError, ValueError) as err:
        raise ProtocolViolation(f"invalid SourceFacts: {err}") from None


def samples_to_data(samples: Samples) -> dict:
    return {"positions": samples.positions, "set_name": samples.set_name, "log_weights": samples.log_weights,
            "proposal": samples.proposal, "diagnostics": samples.diagnostics}


def _tensor(value: Any, what: str) -> torch.Tensor | None:
    if value is None:
        return None
    if not isinstance(value, torch.Tensor):
        raise ProtocolViolation(f"Samples.{what} must be a torch.Tensor")
    return value


def samples_from_data(data: Any) -> Samples:
    """Samples from a method's answer (shapes and values are checked later by ``Samples.validate``)."""
    if not isinstance(data, dict) or set(data) != {"positions", "set_name", "log_weights", "proposal", "diagnostics"}:
        raise ProtocolViolation("sample() must return a Samples")
    positions = _tensor(data["positions"], "positions")
    if positions is None:
        raise ProtocolViolation("Samples.positions is missing")
    diagnostics = data["diagnostics"]
    if not isinstance(diagnostics, dict):
        raise ProtocolViolation("Samples.diagnostics must be a dict")
    return Samples(positions=positions, set_name=data["set_name"], log_weights=_tensor(data["log_weights"], "log_weights"),
                   proposal=_tensor(data["proposal"], "proposal"), diagnostics=diagnostics)


METHOD_KINDS = ("proposal", "sampler")


def method_facts(method: Any) -> dict:
    """What the harness needs to know about a loaded, configured method (sent by the method process)."""
    from benchmark.adapter import ProposalMethod

    return {"name": method.name, "version": str(method.version), "description": str(method.description),
            "family": str(method.family), "applies_to": str(method.applies_to), "requires_gpu": bool(method.requires_gpu),
            "kind": "proposal" if isinstance(method, ProposalMethod) else "sampler", "config": method.config}


def facts_from_method_data(data: Any) -> dict:
    """Checked method facts; the name becomes part of file names, so it is held to the rule of benchmark/names.py."""
    if not isinstance(data, dict):
        raise ProtocolViolation("the method process sent no method facts")
    if data.get("kind") not in METHOD_KINDS:
        raise ProtocolViolation(f"method kind must be one of {METHOD_KINDS}")
    if not isinstance(data.get("requires_gpu"), bool):
        raise ProtocolViolation("requires_gpu must be a boolean")
    config = plain(data.get("config"), "method config")
    if not isinstance(config, dict):
        raise ProtocolViolation("method config must be a dict")
    return {"name": check_name(data.get("name"), "method name"), "version": text(data.get("version"), "version", 64),
            "description": text(data.get("description"), "description"), "family": text(data.get("family"), "family", 200),
            "applies_to": text(data.get("applies_to"), "applies_to", 32), "requires_gpu": data["requires_gpu"],
            "kind": data["kind"], "config": config}


__all__ = [
    "RESERVED_SETS", "ProtocolViolation", "check_name", "facts_from_data", "facts_from_method_data", "facts_to_data",
    "method_facts", "plain", "samples_from_data", "samples_to_data", "spec_from_data", "spec_to_data", "task_from_data",
    "task_to_data", "text",
]
