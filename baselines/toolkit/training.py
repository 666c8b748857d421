"""The one training loop, and ``train_or_load``: the weights-store dance every trained method needs.

``train`` minimizes ``loss_fn(model, batch)`` over batches drawn from a batch source with a seeded
generator: optimizer from the config (AdamW or Muon), one-cycle schedule stepped per optimizer step,
global-norm gradient clipping, steps with non-finite gradients skipped (gradients zeroed, schedule
still advances, as the references do), optional EMA, a tqdm bar with the loss. Every
``checkpoint_every`` steps and at the end it writes a resumable checkpoint into a weights-store
entry (model, optimizer, schedule, EMA, batch generator and torch RNG states, step), atomically; a
killed run started again resumes from it and ends with the same weights as an uninterrupted one.

``train_or_load`` holds the entry's lock: finished weights are loaded; otherwise the method's job
(built lazily, so a cached model never loads training data) is trained, resuming any checkpoint,
and the final weights are saved with the facts the method needs to use them (``info``), plus the
step count, skipped steps, parameter count and the final training loss (mean of the last 50 steps
trained in this session).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from tqdm.auto import tqdm

from baselines.toolkit.config import TrainingConfig
from baselines.toolkit.data import BatchSource
from baselines.toolkit.ema import EMA
from baselines.toolkit.optim import make_optimizer
from baselines.toolkit.schedules import one_cycle

if TYPE_CHECKING:
    from benchmark.weights import WeightsEntry

LossFn = Callable[[nn.Module, Any], torch.Tensor]
log = logging.getLogger(__name__)


def to_device(batch: Any, device: torch.device | str) -> Any:
    """A batch (tensor, tuple/list, dict, dataclass or object with ``.to``) moved to ``device``."""
    if isinstance(batch, torch.Tensor) or hasattr(batch, "to"):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(v, device) for v in batch)
    if is_dataclass(batch):
        return replace(batch, **{f.name: to_device(getattr(batch, f.name), device) for f in fields(batch)})
    return batch


@dataclass
class TrainResult:
    """What one call of ``train`` did: the loss of every step it took, its last step, the non-finite
    steps skipped over the whole run (resumed sessions included), its wall time."""

    losses: list[float]
    step: int
    total_steps: int
    skipped_steps: int
    seconds: float


def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def train(model: nn.Module, loss_fn: LossFn, batches: BatchSource, cfg: TrainingConfig, total_steps: int, *,
          seed: int, entry: "WeightsEntry | None" = None, device: str | torch.device = "cpu", progress: bool = True,
          desc: str = "train") -> TrainResult:
    """Train ``model`` to ``total_steps``; resume from ``entry``'s checkpoint if it has one.

    The batch generator is ``torch.Generator().manual_seed(seed)`` (CPU); global torch RNG (dropout)
    is saved and restored with the checkpoint. On return the model is in eval mode and holds the
    EMA weights when ``cfg.ema_decay`` > 0. Call inside ``entry.lock()`` when an entry is given.
    """
    device = torch.device(device)
    t0 = time.perf_counter()
    model.to(device).train()
    opt = make_optimizer(model.parameters(), cfg)
    sched = one_cycle(opt, cfg.lr, total_steps, cfg.warmup_fraction)
    ema = EMA(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    gen = torch.Generator().manual_seed(int(seed))
    step = skipped = 0
    state = entry.load_checkpoint(device) if entry is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"].cpu())
        _set_rng_state(state["rng"], device)
        if ema is not None:
            ema.load_state_dict(state["ema"])
        step, skipped = int(state["step"]), int(state["skipped"])
        log.info("resuming %s at step %d of %d", desc, step, total_steps)
    losses: list[float] = []
    bar = tqdm(total=total_steps, initial=step, desc=desc, disable=not progress, leave=False)
    while step < total_steps:
        batch = to_device(batches.batch(gen), device)
        loss = loss_fn(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if torch.isfinite(norm):
            opt.step()
            if ema is not None:
                ema.update(model)
        else:
            skipped += 1
            for g in grads:
                g.zero_()
        sched.step()
        step += 1
        losses.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{sched.get_last_lr()[0]:.2e}")
        if entry is not None and (step % cfg.checkpoint_every == 0 or step == total_steps):
            checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                          "generator": gen.get_state(), "rng": _rng_state(device), "step": step, "skipped": skipped,
                          "ema": ema.state_dict() if ema is not None else None}
            entry.save_checkpoint(checkpoint, step, total_steps)
    bar.close()
    if skipped:
        log.warning("%s: %d of %d steps had non-finite gradients and were skipped", desc, skipped, step)
    if ema is not None:
        ema.copy_to(model)
    model.eval()
    return TrainResult(losses, step, total_steps, skipped, time.perf_counter() - t0)


#: Steps averaged into the recorded final training loss (one step's loss is too noisy to compare runs by).
FINAL_LOSS_WINDOW = 50


def final_loss(losses: list[float], window: int = FINAL_LOSS_WINDOW) -> float | None:
    """Mean of the last ``window`` finite step losses of a training session (None if there are none)."""
    tail = [v for v in losses[-window:] if math.isfinite(v)]
    return sum(tail) / len(tail) if tail else None


@dataclass
class TrainingJob:
    """Everything ``train`` needs for one model, plus ``info``: facts saved with the weights (e.g. sigma)."""

    loss_fn: LossFn
    batches: BatchSource
    config: TrainingConfig
    total_steps: int
    seed: int
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadedWeights:
    """The outcome of ``train_or_load``: the entry's info, and the training result if this call trained."""

    info: dict[str, Any]
    trained: TrainResult | None = None

    @property
    def training_seconds(self) -> float | None:
        return None if self.trained is None else self.trained.seconds


def train_or_load(entry: "WeightsEntry", model: nn.Module, make_job: Callable[[], TrainingJob], *,
                  device: str | torch.device = "cpu", progress: bool = True, desc: str = "train",
                  logger: logging.Logger | None = None) -> LoadedWeights:
    """Load ``entry``'s finished weights into ``model``, or train them (resuming a checkpoint) and save them.

    The entry's lock is held throughout, so a concurrent run waits and then loads what this one
    trained. ``make_job`` is called only when training is needed.
    """
    logger = logger or log
    with entry.lock():
        if entry.complete:
            model.load_state_dict(entry.load_weights(device))
            model.to(device).eval()
            logger.info("%s: loaded trained weights from %s", desc, entry.folder)
            return LoadedWeights(entry.info)
        job = make_job()
        logger.info("%s: training for %d steps into %s", desc, job.total_steps, entry.folder)
        result = train(model, job.loss_fn, job.batches, job.config, job.total_steps, seed=job.seed, entry=entry,
                       device=device, progress=progress, desc=desc)
        info = {**job.info, "total_steps": result.total_steps, "skipped_steps": result.skipped_steps,
                "parameters": sum(p.numel() for p in model.parameters()), "final_loss": final_loss(result.losses)}
        entry.save_weights(model.state_dict(), info)
        return LoadedWeights(entry.info, result)


__all__ = ["FINAL_LOSS_WINDOW", "LoadedWeights", "LossFn", "TrainResult", "TrainingJob", "final_loss", "to_device", "train",
           "train_or_load"]
