"""Optimizers: AdamW and Muon (momentum + Newton-Schulz orthogonalized updates, AdamW for 1-D params).

Muon as described in specs/autoregressive.md 5.1: every parameter with >= 2 dims (embeddings and
the output head included) gets Nesterov momentum 0.95, 5 quintic Newton-Schulz iterations in
bfloat16 with (a, b, c) = (3.4445, -4.7750, 2.0315), a shape scale sqrt(max(1, rows/cols)) and
decoupled weight decay. 1-D parameters use AdamW at ``adamw_lr_ratio * lr``. One optimizer, so one
LR scheduler drives both groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from baselines.toolkit.config import TrainingConfig

NS_COEFFS = (3.4445, -4.7750, 2.0315)


def newton_schulz(g: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Approximately orthogonalize a 2-D matrix (its singular values pushed towards ~1)."""
    a, b, c = NS_COEFFS
    x = g.to(torch.bfloat16)
    x = x / (x.norm() + eps)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        m = x @ x.T
        x = a * x + (b * m + c * m @ m) @ x
    return (x.T if tall else x).to(g.dtype)


class Muon(torch.optim.Optimizer):
    """Muon for matrices, AdamW for vectors; ``lr`` is the Muon learning rate."""

    def __init__(
        self,
        params,
        lr: float = 0.02,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_steps: int = 5,
        weight_decay: float = 0.01,
        adamw_lr_ratio: float = 0.1,
        adamw_betas: tuple[float, float] = (0.9, 0.999),
        adamw_eps: float = 1e-8,
    ):
        defaults = dict(
            lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps, weight_decay=weight_decay,
            adamw_lr_ratio=adamw_lr_ratio, adamw_betas=adamw_betas, adamw_eps=adamw_eps,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.ndim >= 2:
                    self._muon(p, group, lr, wd)
                else:
                    self._adamw(p, group, lr * group["adamw_lr_ratio"], wd)
        return loss

    def _muon(self, p: torch.Tensor, group: dict, lr: float, wd: float) -> None:
        g = p.grad
        state = self.state[p]
        buf = state.setdefault("momentum_buffer", torch.zeros_like(g))
        buf.mul_(group["momentum"]).add_(g)
        u = g.add(buf, alpha=group["momentum"]) if group["nesterov"] else buf
        u2 = u.reshape(u.shape[0], -1)
        o = newton_schulz(u2, group["ns_steps"]).view_as(p)
        scale = max(1.0, u2.shape[0] / u2.shape[1]) ** 0.5
        p.mul_(1 - lr * wd)
        p.add_(o, alpha=-lr * scale)

    def _adamw(self, p: torch.Tensor, group: dict, lr: float, wd: float) -> None:
        g = p.grad
        state = self.state[p]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        b1, b2 = group["adamw_betas"]
        state["step"] += 1
        t = state["step"]
        state["exp_avg"].mul_(b1).add_(g, alpha=1 - b1)
        state["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (state["exp_avg_sq"] / (1 - b2**t)).sqrt_().add_(group["adamw_eps"])
        p.mul_(1 - lr * wd)
        p.addcdiv_(state["exp_avg"], denom, value=-lr / (1 - b1**t))


def make_optimizer(params: Iterable[torch.nn.Parameter], cfg: "TrainingConfig") -> torch.optim.Optimizer:
    """The optimizer a training config names: "muon" (AdamW inside for 1-D params) or "adamw"."""
    betas = (float(cfg.betas[0]), float(cfg.betas[1]))
    if cfg.optimizer == "muon":
        return Muon(params, lr=cfg.lr, weight_decay=cfg.weight_decay, adamw_lr_ratio=cfg.adamw_lr_ratio,
                    adamw_betas=betas)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
    raise ValueError(f"optimizer must be 'muon' or 'adamw', not {cfg.optimizer!r}")


__all__ = ["Muon", "NS_COEFFS", "make_optimizer", "newton_schulz"]
