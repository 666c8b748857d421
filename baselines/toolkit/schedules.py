"""Learning-rate schedules: the one-cycle warm-up + cosine that ARBG and the flows use (spec ar 5.2, flows 4.10).

OneCycleLR stepped per optimizer step: cosine warm-up over ``warmup_fraction`` of the steps from
max_lr / 500 to max_lr, then cosine down to max_lr / 500 (final_div_factor 1), momentum cycling off.
"""

from __future__ import annotations

import torch

DIV_FACTOR = 500.0


def one_cycle(opt: torch.optim.Optimizer, max_lr: float, total_steps: int, warmup_fraction: float = 0.05,
              div_factor: float = DIV_FACTOR) -> torch.optim.lr_scheduler.OneCycleLR:
    """The published schedule; very short runs get at least two warm-up steps (OneCycleLR needs them)."""
    total = max(4, int(total_steps))
    warmup = max(warmup_fraction, 2.0 / total)
    return torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=max_lr, total_steps=total, pct_start=warmup, anneal_strategy="cos",
        div_factor=div_factor, final_div_factor=1.0, cycle_momentum=False,
    )


__all__ = ["DIV_FACTOR", "one_cycle"]
