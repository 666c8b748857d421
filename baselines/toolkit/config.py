"""The training fields every trained method shares, in one ``MethodConfig`` base class.

Why inheritance and not a nested ``train: TrainingConfig`` field: ``MethodConfig.override`` checks
flat keys against type hints, so ``--config lr=1e-4`` works for every family and an unknown key
lists every valid one; a record shows all fields at one level; and ``training_key()`` keeps
working unchanged. A family writes ``class MyConfig(TrainingConfig)`` with its model fields and
extends ``SAMPLING_ONLY`` with the fields that do not change its weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

from benchmark.config import MethodConfig


@dataclass(frozen=True)
class TrainingConfig(MethodConfig):
    """Optimizer, schedule, duration, EMA and checkpointing of the shared training loop (training.py).

    ``steps`` wins over ``epochs`` when set; an epoch is ceil(examples / batch_size) steps (batches are
    drawn with replacement). ``betas`` are AdamW's (also Muon's AdamW group); ``adamw_lr_ratio`` is
    the lr ratio of Muon's AdamW group. ``ema_decay`` 0 turns EMA off; otherwise the saved weights
    are the averaged ones. ``checkpoint_every`` changes nothing trained (resuming is exact).
    """

    SAMPLING_ONLY: ClassVar[frozenset[str]] = frozenset({"checkpoint_every"})

    optimizer: Literal["adamw", "muon"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, ...] = (0.9, 0.999)
    adamw_lr_ratio: float = 0.1
    batch_size: int = 512
    epochs: int | None = 1000
    steps: int | None = None
    warmup_fraction: float = 0.05
    grad_clip: float = 1.0
    ema_decay: float = 0.0
    checkpoint_every: int = 200

    def total_steps(self, n_examples: int) -> int:
        """Optimizer steps of a run over ``n_examples`` training examples."""
        if self.steps is not None:
            return int(self.steps)
        if self.epochs is None:
            raise ValueError("a training config needs steps or epochs")
        return int(self.epochs) * math.ceil(n_examples / self.batch_size)


__all__ = ["TrainingConfig"]
