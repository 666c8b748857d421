"""Harness samplers: reweight a ProposalMethod's proposals inside the energy budget.

``make_sampler("snis" | "smc" | "smc-mala", **overrides)`` builds one; presets carry the
published settings (flows-and-protocol spec §3.5) and ``settings()`` reports every value.
"""

from __future__ import annotations

from typing import Any

from benchmark.errors import UnknownNameError
from benchmark.sampling.base import Sampler, SamplerError
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
}


def make_sampler(name: str, **overrides: Any) -> Sampler:
    """The sampler ``name`` with its preset, then ``overrides`` (setting name -> value)."""
    if name not in PRESETS:
        raise UnknownNameError("sampler", name, PRESETS)
    cls, preset = PRESETS[name]
    valid = cls.setting_names()
    for key in overrides:
        if key not in valid:
            raise UnknownNameError(f"{name} setting", key, valid)
    sampler = cls(**{**preset, **overrides})
    sampler.preset = name
    return sampler


__all__ = ["PRESETS", "SMCSampler", "SNISSampler", "Sampler", "SamplerError", "make_sampler"]
