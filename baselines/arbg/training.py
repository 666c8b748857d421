"""Training loop: cross-entropy on bins, Muon (or AdamW), OneCycle cosine schedule, resumable.

Schedule (specs/autoregressive.md 5.2): OneCycleLR stepped per optimizer step, 5% cosine
warm-up from max_lr/500, cosine down to max_lr/500. Global-norm gradient clip 1.0; a step whose
gradients are not finite is skipped. A checkpoint (model, optimizer, scheduler, RNG, step) is
written every ``checkpoint_every`` steps and at the end; an interrupted run resumes from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from baselines.arbg.binning import UniformBinning
from baselines.arbg.density import teacher_forcing_input
from baselines.arbg.muon import Muon
from baselines.arbg.preprocessing import Standardizer
from baselines.arbg.transformer import CausalTransformer


@dataclass
class TrainSettings:
    steps: int
    batch_size: int
    lr: float
    optimizer: str = "muon"  # "muon" (AdamW for 1-D params inside) or "adamw"
    weight_decay: float = 0.01
    adamw_lr_ratio: float = 0.1
    warmup_fraction: float = 0.05
    grad_clip: float = 1.0
    rotate: bool = True
    com_noise: bool = True
    checkpoint_every: int = 200
    seed: int = 0


def make_optimizer(net: torch.nn.Module, s: TrainSettings) -> torch.optim.Optimizer:
    if s.optimizer == "muon":
        return Muon(net.parameters(), lr=s.lr, weight_decay=s.weight_decay, adamw_lr_ratio=s.adamw_lr_ratio)
    if s.optimizer == "adamw":
        return torch.optim.AdamW(net.parameters(), lr=s.lr, betas=(0.9, 0.999), weight_decay=s.weight_decay)
    raise ValueError(f"optimizer must be 'muon' or 'adamw', not {s.optimizer!r}")


def make_scheduler(opt: torch.optim.Optimizer, s: TrainSettings) -> torch.optim.lr_scheduler.OneCycleLR:
    total = max(4, s.steps)
    warmup = max(s.warmup_fraction, 2.0 / total)  # OneCycleLR needs at least two warm-up steps
    return torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=s.lr, total_steps=total, pct_start=warmup, anneal_strategy="cos",
        div_factor=500.0, final_div_factor=1.0, cycle_momentum=False,
    )


def bin_loss(net: CausalTransformer, bins: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per coordinate) of predicting every bin from the previous ones."""
    logits = net(teacher_forcing_input(bins))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), bins.reshape(-1))


def train(
    net: CausalTransformer,
    binning: UniformBinning,
    standardizer: Standardizer,
    frames_nm: torch.Tensor,
    settings: TrainSettings,
    checkpoint: Path | None = None,
    device: str = "cpu",
    extra_state: dict | None = None,
    progress: bool = True,
) -> list[float]:
    """Train ``net`` on frames (T, N, 3) nm; returns the loss per step taken in this call.

    ``checkpoint`` (if given) is loaded when present and rewritten as training proceeds; it
    stores ``extra_state`` alongside (e.g. sigma and the config) so it is self-describing.
    """
    net.to(device).train()
    opt, sched = make_optimizer(net, settings), None
    sched = make_scheduler(opt, settings)
    gen = torch.Generator().manual_seed(settings.seed)
    step = 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        net.load_state_dict(state["model"])
        if state.get("optimizer") is not None:
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            gen.set_state(state["generator"])
        step = state["step"]
    frames = torch.as_tensor(frames_nm, dtype=torch.float32)
    losses: list[float] = []
    bar = tqdm(total=settings.steps, initial=step, desc="arbg train", disable=not progress, leave=False)
    while step < settings.steps:
        idx = torch.randint(len(frames), (settings.batch_size,), generator=gen)
        x_hat = standardizer.training_view(frames[idx], gen, settings.rotate, settings.com_noise)
        bins = binning.to_index(x_hat).to(device)
        loss = bin_loss(net, bins)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(net.parameters(), settings.grad_clip)
        if torch.isfinite(norm):
            opt.step()
        else:
            for g in grads:
                g.zero_()
        sched.step()
        step += 1
        losses.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{sched.get_last_lr()[0]:.2e}")
        if checkpoint is not None and (step % settings.checkpoint_every == 0 or step == settings.steps):
            save_checkpoint(checkpoint, net, opt, sched, gen, step, extra_state)
    bar.close()
    net.eval()
    return losses


def save_checkpoint(path: Path, net, opt, sched, gen, step: int, extra_state: dict | None) -> None:
    """Write atomically (tmp file + rename) so an interrupted save never leaves a broken file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "generator": gen.get_state(),
        "step": step,
        **(extra_state or {}),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def steps_for_epochs(n_frames: int, batch_size: int, epochs: int) -> int:
    return epochs * math.ceil(n_frames / batch_size)
