"""Sequential Monte Carlo along the annealing path from the proposal to the target (SBG).

E_t(x) = (1 - t) E_source(x) + t E_target(x), E_source = -log q (autograd through the method's
``log_q``), E_target = u from the budgeted energy. Particles start at (filtered) proposals with
equal weights; at each grid time t_j = j/K (j = 0..K-1) the Jarzynski increment -(E_target -
E_source) dt is added to the log-weights at the pre-move positions, then a Langevin move (ULA, or
MALA with a Metropolis test) on E_{t_j} is made with step h = eps dt; when the normalised ESS falls
below ``ess_threshold`` (and always at the last step) the particles are resampled and the weights
reset to zero.

Published grid consequences that are kept: step 0 has dt = 0 (no move, no weight change; with
MALA it counts as all-rejected, so an adaptive eps shrinks by 1.1 before step 1), and the last move
targets E_{(K-1)/K}. Deviations, none of which change the distribution of the output: step 0 makes
no energy evaluation (it could not change anything), and with ULA the energies after the last move
are not evaluated (nothing uses them).

Units. The published eps is in normalised coordinates x_n = x / std. A Langevin step of size h on
x_n is exactly a step of size std^2 h on x in nm (and the MALA ratio is unchanged), so this
sampler works in nm with h_nm = coordinate_scale^2 * eps * dt; ``coordinate_scale`` defaults to the
transferable up-to-8AA std of 0.35 nm used with the published Prose SMC configs.

Budget rule: one target evaluation (energy and forces) per proposal at the start, then one per
particle after every move that needs it: K - 1 moves, so K evaluations per particle with MALA and
K - 1 with ULA. ``n_particles`` None gives n = remaining budget // that number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from tqdm.auto import tqdm

from benchmark.adapter import Samples
from benchmark.errors import BudgetExceeded, InvalidSamplesError
from benchmark.sampling.base import (
    Sampler,
    SamplerError,
    check_affordable,
    check_common_settings,
    draw_proposals,
    log_weights,
)
from benchmark.sampling.com import com_adjustment
from benchmark.sampling.weights import normalized_ess, quantile_filter_mask, resample_indices

if TYPE_CHECKING:
    from benchmark.adapter import ProposalMethod, RunContext
    from benchmark.energy import BudgetedEnergy

#: Below this margin an ESS counts as equal to the threshold (equal weights give 1 - 1e-16).
ESS_TOLERANCE = 1e-9


@dataclass
class SMCSampler(Sampler):
    """Annealed SMC with Langevin kernels. Defaults: the published Prose SMC-ULA eval config
    (eps 1e-5, K 100, ESS threshold 1.0, systematic resampling, quantile filter 0.002), except
    ``energy_cutoff``: the published E_target cutoffs are per system (100 kT for Prose), so the
    class applies none; single-system tasks get SBG's published settings, cut-offs included
    (10, -120, 50, -20, -300 kT), from ``sbg.py`` through ``sampler_for``. A cut-off no proposal
    meets leaves no particles (an error). ``n_particles`` None spends the budget.
    """

    name: ClassVar[str] = "smc"

    n_particles: int | None = None
    num_annealing_steps: int = 100
    init_eps: float = 1e-5
    coordinate_scale: float = 0.35
    use_metropolis: bool = False
    adaptive_step_size: bool = False
    ess_threshold: float = 1.0
    resampling: str = "systematic"
    energy_cutoff: float | None = None
    logw_quantile_filter: float | None = 0.002
    com_adjustment: bool = False
    chunk_size: int = 2500

    def __post_init__(self) -> None:
        check_common_settings(self.resampling, self.logw_quantile_filter, self.chunk_size)
        if self.num_annealing_steps < 1:
            raise SamplerError(f"num_annealing_steps must be >= 1, got {self.num_annealing_steps}.")
        if self.adaptive_step_size and not self.use_metropolis:
            raise SamplerError("adaptive_step_size adapts to the MALA acceptance rate; set use_metropolis=True too.")
        if self.energy_cutoff is not None and not isinstance(self.energy_cutoff, (int, float)):
            raise SamplerError(f"energy_cutoff must be a number of kT or null (none), got {self.energy_cutoff!r}.")
        if self.init_eps < 0 or self.coordinate_scale <= 0:
            raise SamplerError("init_eps must be >= 0 and coordinate_scale > 0.")

    def evaluations_per_particle(self) -> int:
        """Target evaluations per particle (the budget rule in the module docstring)."""
        moves = self.num_annealing_steps - 1
        return 1 + (moves if self.use_metropolis else max(moves - 1, 0))

    def settings(self) -> dict:
        return {**super().settings(), "evaluations_per_particle": self.evaluations_per_particle(),
                "budget_rule": "n_particles = remaining budget // evaluations_per_particle"}

    # -- energies ---------------------------------------------------------------------------------

    def _source(self, method: "ProposalMethod", system: Any, x: torch.Tensor, ctx: "RunContext", dtype: torch.dtype):
        """E_source = -log q (+ CoM term) and its gradient, float64 on the CPU."""
        es, gs = [], []
        for start in range(0, len(x), self.chunk_size):
            xc = x[start : start + self.chunk_size].to(device=ctx.device, dtype=dtype).requires_grad_(True)
            with torch.enable_grad():
                e = -method.log_q(system, xc, ctx)
                if self.com_adjustment:
                    e = e + com_adjustment(xc, self.coordinate_scale)
                (g,) = torch.autograd.grad(e.sum(), xc)
            es.append(e.detach().to("cpu", torch.float64))
            gs.append(g.detach().to("cpu", torch.float64))
        e, g = torch.cat(es), torch.cat(gs)
        return torch.where(torch.isfinite(e), e, torch.inf), torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)

    def _check_differentiable(self, method: "ProposalMethod", system: Any, x: torch.Tensor, ctx: "RunContext") -> None:
        try:
            self._source(method, system, x.to(torch.float64), ctx, x.dtype)
        except NotImplementedError as err:
            raise SamplerError(f"{err} SMC needs log_q(system, positions, ctx) differentiable in positions.") from err
        except RuntimeError as err:  # autograd: log_q is detached from its input
            if "does not require grad" not in str(err):
                raise
            raise SamplerError(
                f"Method {method.name!r}: log_q is not differentiable in positions ({err}); SMC needs its gradient."
                " Compute log_q with torch operations on the given tensor, or run with --sampler snis."
            ) from err

    def _target(self, energy: "BudgetedEnergy", x: torch.Tensor):
        """E_target and its gradient (charged: one evaluation per particle)."""
        es, gs = [], []
        for start in range(0, len(x), self.chunk_size):
            u, f = energy.energy_and_forces(x[start : start + self.chunk_size])
            es.append(u.to(torch.float64))
            gs.append(-f.to(torch.float64))
        e, g = torch.cat(es), torch.cat(gs)
        return torch.where(torch.isfinite(e), e, torch.inf), torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)

    # -- the run ----------------------------------------------------------------------------------

    def run(self, method: "ProposalMethod", system: Any, energy: "BudgetedEnergy", ctx: "RunContext") -> Samples:
        per = self.evaluations_per_particle()
        K = self.num_annealing_steps
        n = energy.remaining // per if self.n_particles is None else int(self.n_particles)
        if n == 0:
            raise BudgetExceeded(
                f"SMC with {K} annealing steps needs {per} energy evaluations per particle but only "
                f"{energy.remaining} are left; lower num_annealing_steps or run with a larger --budget."
            )
        check_affordable(n * per, energy, f"SMC with {n} particles x {per} evaluations each")
        used_before = energy.used
        gen = ctx.generator

        proposal, log_q = draw_proposals(method, system, n, self.chunk_size, ctx)
        dtype = proposal.dtype
        self._check_differentiable(method, system, proposal[:2], ctx)  # before any budget is spent
        et, gt = self._target(energy, proposal)

        keep = torch.ones(n, dtype=torch.bool)
        if self.energy_cutoff is not None:
            keep &= et < self.energy_cutoff
        if self.logw_quantile_filter and keep.any():  # (nothing left to filter: the clear error below)
            if self.com_adjustment:
                log_q = log_q - com_adjustment(proposal, self.coordinate_scale)
            logw0 = log_weights(et, log_q)
            keep[keep.clone()] = quantile_filter_mask(logw0[keep], self.logw_quantile_filter)
        if not keep.any():
            raise InvalidSamplesError(
                f"No proposal passed the SMC filters (energy cutoff {self.energy_cutoff} kT); "
                "raise or drop the cutoff (--sampler-option energy_cutoff=null) or improve the proposal."
            )
        x = proposal[keep].to(torch.float64)
        et, gt = et[keep], gt[keep]
        es, gs = self._source(method, system, x, ctx, dtype)
        m = len(x)
        logw = torch.zeros(m, dtype=torch.float64)
        ancestors = torch.arange(m)
        eps = float(self.init_eps)
        scale2 = self.coordinate_scale**2

        steps: list[dict] = []
        t_prev = 0.0
        for j in tqdm(range(K), desc="SMC annealing", disable=None, leave=False):
            t = j / K
            dt = t - t_prev
            acceptance: float | None = 0.0 if self.use_metropolis else None  # step 0: all rejected (0/0)
            if dt > 0:
                increment = -(et - es) * dt
                logw = logw + torch.where(torch.isfinite(increment), increment, -torch.inf)
                h = scale2 * eps * dt
                grad = (1 - t) * gs + t * gt
                x_new = x - h * grad + math.sqrt(2 * h) * torch.randn(x.shape, dtype=torch.float64, generator=gen)
                if self.use_metropolis:
                    es_new, gs_new = self._source(method, system, x_new, ctx, dtype)
                    et_new, gt_new = self._target(energy, x_new)
                    grad_new = (1 - t) * gs_new + t * gt_new
                    e_cur = (1 - t) * es + t * et
                    e_new = (1 - t) * es_new + t * et_new
                    fwd = (x_new - x + h * grad).pow(2).flatten(1).sum(1)
                    bwd = (x - x_new + h * grad_new).pow(2).flatten(1).sum(1)
                    log_alpha = -e_new + e_cur - bwd / (4 * h) + fwd / (4 * h)
                    log_u = torch.log(torch.rand(m, dtype=torch.float64, generator=gen))
                    accept = log_alpha > log_u  # NaN (e.g. inf - inf) rejects
                    acceptance = float(accept.double().mean())
                    a3 = accept[:, None, None]
                    x = torch.where(a3, x_new, x)
                    es, et = torch.where(accept, es_new, es), torch.where(accept, et_new, et)
                    gs, gt = torch.where(a3, gs_new, gs), torch.where(a3, gt_new, gt)
                else:
                    x = x_new
                    if j < K - 1:
                        es, gs = self._source(method, system, x, ctx, dtype)
                        et, gt = self._target(energy, x)
            if self.adaptive_step_size and acceptance is not None:
                if acceptance > 0.6:
                    eps *= 1.1
                elif acceptance < 0.55:
                    eps /= 1.1
            ess = normalized_ess(logw)
            resampled = ess < self.ess_threshold - ESS_TOLERANCE or j == K - 1
            if resampled:
                idx = resample_indices(self.resampling, logw, gen)
                x, es, gs, et, gt, ancestors = x[idx], es[idx], gs[idx], et[idx], gt[idx], ancestors[idx]
                logw = torch.zeros(m, dtype=torch.float64)
            steps.append({"t": t, "ess": ess, "eps": eps, "acceptance": acceptance, "resampled": resampled})
            t_prev = t

        diagnostics = {
            "sampler": self.settings(),
            "n_proposals": n,
            "n_particles": m,
            "n_filtered": n - m,
            "steps": steps,
            "ess": [s["ess"] for s in steps],
            "acceptance": [s["acceptance"] for s in steps],
            "n_resamplings": sum(s["resampled"] for s in steps),
            "lineage": int(torch.unique(ancestors).numel()) / m,
            "final_eps": eps,
            "energy_evaluations": energy.used - used_before,
        }
        return Samples(
            positions=x.to(dtype), set_name="smc", log_weights=torch.zeros(m, dtype=torch.float64),
            proposal=proposal, diagnostics=diagnostics,
        )
