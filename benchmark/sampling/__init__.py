"""Harness samplers: reweight a ProposalMethod's proposals inside the energy budget.

``make_sampler("snis" | "smc" | "smc-mala" | "ar-smc", **overrides)`` builds one; presets carry the
published settings (flows-and-protocol spec §3.5, autoregressive spec 7) and ``settings()`` reports
every value. "ar-smc" (autoregressive twisted SMC) needs a method with per-token conditionals and
budgeted prefix energies from the runner (``Sampler.uses_prefix_energies``). On a
single-system task ``sampler_for`` replaces the transferable "smc" preset by SBG's published
per-system settings (sbg.py).
"""

from __future__ import annotations

from typing import Any

from benchmark.adapter import SourceFacts
from benchmark.errors import UnknownNameError
from benchmark.sampling.ar_smc import ARSMCSampler
from benchmark.sampling.base import Sampler, SamplerError
from benchmark.sampling.sbg import SBG_SMC
from benchmark.sampling.smc import SMCSampler
from benchmark.sampling.snis import SNISSampler

#: name -> (class, preset settings). "smc" = Prose SMC-ULA eval config, "smc-mala" = Prose SMC-MALA.
PRESETS: dict[str, tuple[type[Sampler], dict[str, Any]]] = {
    "snis": (SNISSampler, {}),
    "smc": (SMCSampler, {}),
    "smc-mala": (
        SMCSampler,
        {"init_eps": 5e-4, "num_annealing_steps": 50, "use_metropolis": True, "adaptive_step_size": True},
    ),
    "ar-smc": (ARSMCSampler, {}),
}


#: Presets that replace ``PRESETS[name]``'s settings on a single-system task: sampler -> task -> settings.
TASK_PRESETS: dict[str, dict[str, dict[str, Any]]] = {"smc": SBG_SMC}


def task_preset(name: str, task: str | None, transferable: bool) -> dict[str, Any]:
    """The published settings of sampler ``name`` for a single-system ``task`` ({} where there are none)."""
    if transferable or task is None:
        return {}
    return dict(TASK_PRESETS.get(name, {}).get(task.upper(), {}))


def make_sampler(name: str, **overrides: Any) -> Sampler:
    """The sampler ``name`` with its preset, then ``overrides`` (setting name -> value)."""
    if name not in PRESETS:
        raise UnknownNameError("sampler", name, PRESETS)
    cls, preset = PRESETS[name]
    check_options(name, overrides)
    sampler = cls(**{**preset, **overrides})
    sampler.preset = name
    return sampler


def check_options(name: str, options: dict[str, Any]) -> None:
    """Reject an unknown sampler or setting before any work is done."""
    if name not in PRESETS:
        raise UnknownNameError("sampler", name, PRESETS)
    cls, _ = PRESETS[name]
    valid = cls.setting_names()
    for key in options:
        if key not in valid:
            raise UnknownNameError(f"{name} setting", key, valid)


def settings_from_facts(name: str, facts: SourceFacts) -> dict[str, Any]:
    """The settings a method's source facts fix: batch size, CoM adjustment, coordinate scale."""
    cls, _ = PRESETS[name]
    valid = set(cls.setting_names())
    derived: dict[str, Any] = {}
    if "chunk_size" in valid:
        derived["chunk_size"] = int(facts.batch_size)
    if "com_adjustment" in valid:
        derived["com_adjustment"] = facts.com == "com-noise"
    if "coordinate_scale" in valid and facts.coordinate_scale_nm is not None:
        derived["coordinate_scale"] = float(facts.coordinate_scale_nm)
    return derived


def sampler_for(name: str, options: dict[str, Any], facts: SourceFacts, transferable: bool,
                task: str | None = None) -> Sampler:
    """The sampler of one system: preset, the task's published settings (``task_preset``), then what the
    method's facts fix, then the user's options.

    A single-system run never falls back to the transferable coordinate scale (0.35 nm, the
    up-to-8AA std): on ALDP that would make Langevin steps about 4.5x too large and the CoM
    adjustment wrong, so a method without a scale must state one (or the user must).
    """
    per_task = task_preset(name, task, transferable)
    settings = {**per_task, **settings_from_facts(name, facts), **options}
    cls, _ = PRESETS[name]
    needs_scale = "coordinate_scale" in cls.setting_names() and (
        issubclass(cls, SMCSampler) or settings.get("com_adjustment"))
    if needs_scale and "coordinate_scale" not in settings and not transferable:
        raise SamplerError(
            f"--sampler {name} needs the coordinate scale of the method's standardization on a single-system task, "
            "and the method states none (SourceFacts.coordinate_scale_nm). The transferable default of 0.35 nm is "
            "refused here; pass --sampler-option coordinate_scale=<nm> if you know it.")
    sampler = make_sampler(name, **settings)
    if per_task:
        sampler.preset = f"{name} (SBG {task.upper()})"  # type: ignore[union-attr]
    return sampler


__all__ = ["ARSMCSampler", "PRESETS", "SMCSampler", "SNISSampler", "Sampler", "SamplerError", "TASK_PRESETS",
           "check_options", "make_sampler", "sampler_for", "settings_from_facts", "task_preset"]
