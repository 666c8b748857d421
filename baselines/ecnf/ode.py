"""Continuous-flow sampling and likelihoods: positions and log-density integrated together.

The flow maps the mean-free standard normal prior (t = 0) to the data (t = 1) along
dx/dt = v(t, x). Along a path the log-density obeys d log p_t(x_t)/dt = -div v(t, x_t), so the
solver integrates the augmented state (x, l) with dl/dt = -div v:

* sampling: z ~ prior, integrate 0 -> 1 from l = 0: log q(x_1) = log p(z) + l(1);
* likelihood of given x: integrate 1 -> 0 from l = 0: log q(x) = log p(z) - l(0) with z = x(0).

Solver: torchdiffeq's adaptive dopri5 (Dormand-Prince 5(4)), atol = rtol = 1e-4 as published (the
reference uses torchdyn, whose dopri5 is the same tableau). torchdiffeq is maintained, plain torch
(CPU and CUDA alike), solves a tuple state in one call and differentiates through its steps, so
``log_prob`` is differentiable in x for SMC. The whole batch shares one adaptive step sequence (the
error norm is over the batch), as in the reference: a sample's result depends on its batch mates
at the level of the tolerance.

Divergence, per sample, one trace per field evaluation:

* ``exact``: the trace of the Jacobian of v with respect to the 3N coordinates, from 3N
  reverse passes (one per coordinate, each over the whole batch); the published default. Correct
  per sample because samples of a batch never interact in the network.
* ``hutchinson``: eps^T (dv/dx) eps with one Rademacher probe per sample, fixed over the solve
  (FFJORD): unbiased for the divergence, one vector-Jacobian product per evaluation, but log q is
  then a noisy estimate (its exponential is biased), so the method declares its density inexact.

The density lives on the (3N - 3)-dimensional CoM-free subspace: the prior is a standard normal
there, log p(z) = -|z|^2/2 - (3N - 3)/2 log 2 pi for centred z (the reference sums the normal
log-density over all 3N coordinates, a constant 3/2 log 2 pi higher, which cancels in
self-normalised weights). The full 3N trace equals the divergence on the subspace because the
EGNN field is translation-invariant with zero-mean output (its Jacobian annihilates translations
on both sides).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torchdiffeq import odeint

from baselines.toolkit.coordinates import centre

#: v(t, x): t a scalar tensor, x (B, N, 3) -> (B, N, 3)
Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Divergence = Literal["exact", "hutchinson"]


@dataclass(frozen=True)
class SolverSettings:
    """The ODE solver and the divergence estimator (published: dopri5, 1e-4, exact)."""

    method: str = "dopri5"
    atol: float = 1e-4
    rtol: float = 1e-4
    divergence: Divergence = "exact"
    step_size: float | None = None  # fixed-grid solvers only (rk4, euler, midpoint)


@dataclass
class Solve:
    """One integration: end state, the accumulated -div integral, and the field evaluations it took."""

    x: torch.Tensor
    delta_logp: torch.Tensor
    nfe: int


def mean_free_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) on the CoM-free subspace for centred z (B, N, 3): dimension 3(N - 1)."""
    d = 3 * (z.shape[-2] - 1)
    return -0.5 * (z * z).flatten(1).sum(-1) - 0.5 * d * math.log(2 * math.pi)


def mean_free_normal(n: int, n_atoms: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """n centred standard-normal draws (n, N, 3) (their law is the mean-free normal)."""
    return centre(torch.randn(n, n_atoms, 3, generator=generator, dtype=dtype))


def exact_divergence(v: torch.Tensor, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """tr(dv_b/dx_b) per sample (B,): one reverse pass per coordinate (3N), each over the whole batch.

    Summing output coordinate k over the batch before differentiating is exact because samples of a
    batch never interact in the network. (Batching the 3N cotangents with ``is_grads_batched`` was
    measured 2x slower on CPU, so the plain loop stays.)
    """
    b = v.shape[0]
    flat = v.reshape(b, -1)
    total = torch.zeros(b, dtype=v.dtype, device=v.device)
    for k in range(flat.shape[1]):
        (g,) = torch.autograd.grad(flat[:, k].sum(), x, retain_graph=True, create_graph=create_graph)
        total = total + g.reshape(b, -1)[:, k]
    return total


def hutchinson_divergence(v: torch.Tensor, x: torch.Tensor, probe: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """probe^T (dv/dx) probe per sample (B,): an unbiased estimate of the divergence."""
    (vjp,) = torch.autograd.grad(v, x, probe, retain_graph=True, create_graph=create_graph)
    return (vjp * probe).flatten(1).sum(-1)


class _Augmented(nn.Module):
    """d(x, l)/dt = (v, -div v), counting evaluations; gradients are kept only when the caller needs them."""

    def __init__(self, field: Field, settings: SolverSettings, probe: torch.Tensor | None, keep_graph: bool):
        super().__init__()
        self.field, self.settings, self.probe, self.keep_graph = field, settings, probe, keep_graph
        self.nfe = 0

    def forward(self, t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = state[0]
        self.nfe += 1
        with torch.enable_grad():
            if not self.keep_graph:
                x = x.detach().requires_grad_(True)
            v = self.field(t, x)
            if self.settings.divergence == "exact":
                div = exact_divergence(v, x, self.keep_graph)
            else:
                div = hutchinson_divergence(v, x, self.probe, self.keep_graph)
        if not self.keep_graph:
            v, div = v.detach(), div.detach()
        return v, -div


def integrate(field: Field, x: torch.Tensor, t0: float, t1: float, settings: SolverSettings,
              generator: torch.Generator | None = None) -> Solve:
    """Integrate (x, l) from t0 to t1 starting at l = 0; differentiable in x when x requires grad.

    ``generator`` draws the Hutchinson probe (one per sample, fixed over the solve).
    """
    keep_graph = x.requires_grad and torch.is_grad_enabled()
    probe = None
    if settings.divergence == "hutchinson":
        probe = torch.randint(0, 2, x.shape, generator=generator, dtype=torch.int64).to(x) * 2 - 1
    func = _Augmented(field, settings, probe, keep_graph)
    t = torch.tensor([t0, t1], dtype=torch.float64 if x.dtype == torch.float64 else torch.float32, device=x.device)
    l0 = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    options = None if settings.step_size is None else {"step_size": settings.step_size}
    xs, ls = odeint(func, (x, l0), t, rtol=settings.rtol, atol=settings.atol, method=settings.method, options=options)
    return Solve(xs[-1], ls[-1], func.nfe)


def sample(field: Field, z: torch.Tensor, settings: SolverSettings, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Push centred prior draws z (B, N, 3) to t = 1: (x, log q(x), field evaluations), model units."""
    with torch.no_grad():
        solve = integrate(field, z, 0.0, 1.0, settings, generator)
    return solve.x, mean_free_log_prob(z) + solve.delta_logp, solve.nfe


def log_prob(field: Field, x: torch.Tensor, settings: SolverSettings, generator: torch.Generator | None = None) -> tuple[torch.Tensor, int]:
    """log q(x) of centred x (B, N, 3) by integrating back to the prior: (log q, field evaluations)."""
    solve = integrate(field, x, 1.0, 0.0, settings, generator)
    return mean_free_log_prob(solve.x) - solve.delta_logp, solve.nfe


__all__ = ["Divergence", "Field", "Solve", "SolverSettings", "exact_divergence", "hutchinson_divergence", "integrate",
           "log_prob", "mean_free_log_prob", "mean_free_normal", "sample"]
