"""The harness-sampler contract and the proposal drawing shared by SNIS and SMC.

A sampler turns a ``ProposalMethod`` (proposals with exact log densities) into a sample set of
one system, spending only the ``BudgetedEnergy`` it is given, so that every method is reweighted
under the same rules. Samplers take any ``system`` object with ``n_atoms``: they never look at
molecular details, which keeps them testable on toy targets.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from tqdm.auto import tqdm

from benchmark.errors import BgbenchError, BudgetExceeded, InvalidSamplesError

if TYPE_CHECKING:
    from benchmark.adapter import ProposalMethod, RunContext, Samples
    from benchmark.energy import BudgetedEnergy


class SamplerError(BgbenchError):
    """A sampler cannot be applied to this method (e.g. SMC without a differentiable log_q)."""


class Sampler(ABC):
    """A reweighting sampler applied by the harness to a ProposalMethod."""

    name: ClassVar[str]
    #: True for samplers that score prefixes (ar-smc): the runner then passes ``prefix_energy``, a
    #: factory of budgeted partial energies on the system's meter, to ``run``.
    uses_prefix_energies: ClassVar[bool] = False

    def settings(self) -> dict:
        """Every setting of the sampler (recorded in the result record)."""
        # samplers are dataclasses; ``preset`` is the make_sampler name (e.g. "smc-mala")
        return {"name": self.name, "preset": getattr(self, "preset", self.name), **asdict(self)}

    @abstractmethod
    def run(self, method: "ProposalMethod", system: Any, energy: "BudgetedEnergy", ctx: "RunContext") -> "Samples":
        """A sample set of ``system``; every target evaluation goes through ``energy``."""

    @classmethod
    def setting_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]  # type: ignore[arg-type]


def check_common_settings(resampling: str, logw_quantile_filter: float | None, chunk_size: int) -> None:
    """Reject bad settings at construction, before any budget is spent."""
    if resampling not in ("systematic", "multinomial"):
        raise SamplerError(f"Unknown resampling {resampling!r}; use 'systematic' or 'multinomial'.")
    if logw_quantile_filter is not None and not 0.0 <= logw_quantile_filter < 1.0:
        raise SamplerError(f"logw_quantile_filter must be in [0, 1) or None, got {logw_quantile_filter}.")
    if chunk_size < 1:
        raise SamplerError(f"chunk_size must be >= 1, got {chunk_size}.")


def check_affordable(n_evaluations: int, energy: "BudgetedEnergy", what: str) -> None:
    """Refuse up front a run that would pass the budget, instead of failing half-way."""
    if n_evaluations > energy.remaining:
        raise BudgetExceeded(
            f"{what} needs {n_evaluations} energy evaluations but only {energy.remaining} of "
            f"{energy.budget} are left; lower the sampler's sample count or run with a larger --budget."
        )
    if n_evaluations <= 0:
        raise BudgetExceeded(f"{what} has no energy evaluations to spend (budget {energy.budget}); run with a larger --budget.")


def draw_proposals(
    method: "ProposalMethod", system: Any, n: int, chunk_size: int, ctx: "RunContext", desc: str = "proposals"
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` proposals (n, N, 3) on the CPU and their log q (n,) float64, drawn in chunks."""
    xs, lqs = [], []
    n_atoms = int(system.n_atoms)
    with tqdm(total=n, desc=desc, unit="conf", disable=None, leave=False) as bar:
        while sum(len(x) for x in xs) < n:
            m = min(chunk_size, n - sum(len(x) for x in xs))
            x, lq = method.propose(system, m, ctx)
            if not isinstance(x, torch.Tensor) or tuple(x.shape) != (m, n_atoms, 3):
                shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise InvalidSamplesError(f"propose(system, {m}) must return positions of shape ({m}, {n_atoms}, 3) in nm, got {shape}.")
            lq = torch.as_tensor(lq)
            if tuple(lq.shape) != (m,):
                raise InvalidSamplesError(f"propose(system, {m}) must return log q of shape ({m},), got {tuple(lq.shape)}.")
            xs.append(x.detach().cpu())
            lqs.append(lq.detach().cpu().to(torch.float64))
            bar.update(m)
    return torch.cat(xs), torch.cat(lqs)


def log_weights(u_target: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """logw = -u(x) - log q(x); any non-finite term gives -inf (zero weight), never NaN."""
    logw = -u_target.to(torch.float64) - log_q.to(torch.float64)
    return torch.where(torch.isfinite(logw), logw, torch.full_like(logw, -torch.inf))
