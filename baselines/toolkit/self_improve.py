"""Self-improvement fine-tuning (Prose, specs/flows-and-protocol.md 3.4) for any model with exact log q.

One round: draw proposals from the current model, weight them by exp(-u(x)) / q(x) (SNIS, top
``logw_quantile_filter`` of log-weights removed), resample them into a replay buffer, and fine-tune
on uniform draws from that buffer with

    loss = mean_batch( -log q_student(x) / dim ) + teacher_weight * mean_batch( (log q_student(x) - log q_teacher(x))^2 )

where the teacher is a frozen copy of the model at the start (spec: weight 0.5, AdamW lr 5e-6, betas
(0.9, 0.95), wd 4e-4, one-cycle, batch 32 x 8 accumulated, clipping 1.0, 4 rounds of 1000 batches,
200 000 proposals a round, rotation augmentation only, no EMA). Every energy evaluation goes through
the caller's ``energy`` (a budgeted energy counts and caps them) and is tallied in the reports.

Model-agnostic on purpose: the model is reached only through ``log_prob(model, x)`` and
``propose(model, n)``, both in the model's own units (the Jacobian to nm is a constant that cancels
in the self-normalised weights), so any flow family can reuse it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from baselines.toolkit.schedules import one_cycle
from benchmark.sampling.weights import normalized_ess, quantile_filter_mask, resample_indices

LogProb = Callable[[nn.Module, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class SelfImproveConfig:
    """The published settings (spec 3.4); ``steps_per_round`` counts batches (optimizer steps x accumulate)."""

    rounds: int = 4
    proposals: int = 200_000
    logw_quantile_filter: float | None = 0.002
    resampling: str = "multinomial"
    steps_per_round: int = 1000
    batch_size: int = 32
    accumulate: int = 8
    lr: float = 5e-6
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 4e-4
    warmup_fraction: float = 0.05
    grad_clip: float = 1.0
    teacher_weight: float = 0.5

    @property
    def optimizer_steps(self) -> int:
        return self.rounds * self.steps_per_round // self.accumulate


def distillation_loss(student: nn.Module, teacher: nn.Module, x: torch.Tensor, log_prob: LogProb,
                      teacher_weight: float) -> torch.Tensor:
    """NLL per dimension of the batch plus ``teacher_weight`` x the mean squared log-density gap to the teacher."""
    lq = log_prob(student, x)
    with torch.no_grad():
        lq_teacher = log_prob(teacher, x)
    dim = x[0].numel()
    return (-lq / dim).mean() + teacher_weight * (lq - lq_teacher).pow(2).mean()


def snis_buffer(x: torch.Tensor, log_q: torch.Tensor, u: torch.Tensor, cfg: SelfImproveConfig,
                generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
    """The resampled set of one SNIS round (as many draws as proposals kept) and its ESS facts."""
    logw = (-u - log_q).to(torch.float64)
    logw = torch.where(torch.isfinite(logw), logw, torch.full_like(logw, -torch.inf))
    keep = quantile_filter_mask(logw, cfg.logw_quantile_filter)
    kept_x, kept_w = x[keep], logw[keep]
    idx = resample_indices(cfg.resampling, kept_w, generator)
    return kept_x[idx], {"ess": normalized_ess(kept_w), "kept": int(keep.sum()), "distinct": int(idx.unique().numel())}


def self_improve(model: nn.Module, log_prob: LogProb, propose: Callable[[nn.Module, int], tuple[torch.Tensor, torch.Tensor]],
                 energy: Callable[[torch.Tensor], torch.Tensor], cfg: SelfImproveConfig, generator: torch.Generator,
                 transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] = lambda x, g: x,
                 evaluate: Callable[[nn.Module, int, torch.Tensor], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Fine-tune ``model`` in place for ``cfg.rounds`` rounds; one report per round (and a final one).

    ``propose(model, n)`` -> (x (n, ...), log q (n,)) without gradients; ``energy(x)`` -> reduced
    energies (n,) (pass a budgeted energy to count against a run's budget); ``transform`` augments a
    buffer batch (spec: random rotation). ``evaluate(model, round, buffer)``, if given, adds its
    metrics to the round's report (spec: the evaluator run at the start of each round). The last
    report (round = rounds) measures the model after all fine-tuning, spending one more SNIS round.
    """
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    sched = one_cycle(opt, cfg.lr, max(1, cfg.optimizer_steps), cfg.warmup_fraction)
    reports, spent = [], 0
    for r in range(cfg.rounds + 1):
        model.eval()
        with torch.no_grad():
            x, log_q = propose(model, cfg.proposals)
        u = energy(x).detach().to(log_q.dtype)
        spent += len(x)
        buffer, facts = snis_buffer(x, log_q, u, cfg, generator)
        report: dict[str, Any] = {"round": r, "energy_evaluations": len(x), "energy_evaluations_total": spent, **facts}
        if evaluate is not None:
            report.update(evaluate(model, r, buffer))
        if r == cfg.rounds:
            reports.append(report)
            break
        model.train()
        losses = []
        for step in range(cfg.steps_per_round):
            idx = torch.randint(len(buffer), (cfg.batch_size,), generator=generator)
            loss = distillation_loss(model, teacher, transform(buffer[idx], generator), log_prob, cfg.teacher_weight)
            (loss / cfg.accumulate).backward()
            losses.append(float(loss.detach()))
            if (step + 1) % cfg.accumulate == 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                opt.zero_grad(set_to_none=True)
                if sched.last_epoch < sched.total_steps - 1:
                    sched.step()
        report["mean_loss"] = sum(losses) / max(1, len(losses))
        reports.append(report)
    model.eval()
    return reports


__all__ = ["SelfImproveConfig", "distillation_loss", "self_improve", "snis_buffer"]
