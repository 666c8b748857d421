"""Exponential moving average of a model's weights (the flows evaluate and publish the averaged weights).

After every optimizer step: avg <- decay * avg + (1 - decay) * current, for every floating-point
entry of the state dict (spec flows 4.10: decay 0.999, Lightning WeightAveraging).
"""

from __future__ import annotations

import torch
from torch import nn


class EMA:
    """Averaged copies of a model's floating-point state; ``copy_to`` loads them into the model."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for k, v in model.state_dict().items():
            if k in self.shadow:
                self.shadow[k].lerp_(v.detach(), 1.0 - self.decay)

    def copy_to(self, model: nn.Module) -> None:
        model.load_state_dict({**model.state_dict(), **self.shadow})

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for k, v in state.items():
            self.shadow[k].copy_(v)


__all__ = ["EMA"]
