"""Map a published state-dict layout onto bgbench's modules: the one place where keys are renamed.

A method family that can load published weights writes a ``Layout``: a prefix to strip (``net.``),
ordered regex renames from published keys to its own module keys, and published keys to drop
(buffers bgbench recomputes, e.g. causal masks, or ``teacher.`` copies). ``load_into`` then loads
strictly: every module key must be filled, every published key used, every shape equal; otherwise
a WeightsError lists what is missing, unexpected or mis-shaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
from torch import nn

from benchmark.weights.store import WeightsError


@dataclass(frozen=True)
class Layout:
    """How one published checkpoint family's keys correspond to a bgbench module's keys."""

    name: str
    strip_prefix: str = ""
    renames: tuple[tuple[str, str], ...] = ()  # (regex on the published key, replacement), applied in order
    drop: tuple[str, ...] = ()  # regexes of published keys to ignore (recomputed buffers, teacher copies)
    transforms: dict[str, str] = field(default_factory=dict)  # module key regex -> "float32" etc. (optional)

    def module_key(self, published_key: str) -> str | None:
        """The module key of a published key, or None when the key is dropped."""
        key = published_key
        if self.strip_prefix:
            if not key.startswith(self.strip_prefix):
                return None
            key = key[len(self.strip_prefix):]
        if any(re.fullmatch(p, key) for p in self.drop):
            return None
        for pattern, repl in self.renames:
            key = re.sub(pattern, repl, key)
        return key

    def convert(self, published: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for k, v in published.items():
            mk = self.module_key(k)
            if mk is None:
                continue
            if mk in out:
                raise WeightsError(f"Layout {self.name}: two published keys map to {mk!r}.")
            out[mk] = v
        return out


def load_into(module: nn.Module, published: dict[str, torch.Tensor], layout: Layout) -> None:
    """Load published tensors into ``module`` strictly through ``layout``; WeightsError on any mismatch."""
    converted = layout.convert(published)
    own = module.state_dict()
    missing = sorted(set(own) - set(converted))
    unexpected = sorted(set(converted) - set(own))
    shapes = sorted(f"{k}: published {tuple(converted[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in set(own) & set(converted) if tuple(own[k].shape) != tuple(converted[k].shape))
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s), e.g. {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s), e.g. {unexpected[:5]}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es), e.g. {shapes[:3]}")
        raise WeightsError(f"Checkpoint does not fit layout {layout.name}: " + "; ".join(parts)
                           + ". Check that the model config matches the published one.")
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in converted.items()}, strict=True)


__all__ = ["Layout", "load_into"]
