"""Self-normalised importance sampling (SNIS) of proposals, with the published quantile filter.

Draw proposals x ~ q, evaluate the target once per proposal (charged to the budget), weight
logw = -u(x) - log q(x), drop the top-f fraction of log-weights, and multinomially resample as
many samples as were kept. The published default f = 0.002 is used by the transferable TarFlow
and Prose configs; the single-system ECNF++ configs use no filter (``logw_quantile_filter=None``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from tqdm.auto import tqdm

from benchmark.adapter import Samples
from benchmark.sampling.base import Sampler, check_affordable, check_common_settings, draw_proposals, log_weights
from benchmark.sampling.com import com_adjustment
from benchmark.sampling.weights import normalized_ess, quantile_filter_mask, resample_indices

if TYPE_CHECKING:
    from benchmark.adapter import ProposalMethod, RunContext
    from benchmark.energy import BudgetedEnergy


@dataclass
class SNISSampler(Sampler):
    """SNIS with multinomial resampling.

    ``n_proposals`` None spends the whole remaining budget (one target evaluation per proposal).
    ``chunk_size`` proposals are drawn and evaluated at a time. ``resampling`` is
    "multinomial" (published: i.i.d. draws, so any prefix is an i.i.d. subset) or "systematic".
    ``com_adjustment`` adds ln chi_3(|CoM|; coordinate_scale/sqrt(N)) to -log q (SBG Prop. 1),
    for proposals trained with CoM-noise augmentation (TarFlow/Prose); off for mean-free ones.
    """

    name: ClassVar[str] = "snis"

    n_proposals: int | None = None
    chunk_size: int = 2500
    logw_quantile_filter: float | None = 0.002
    resampling: str = "multinomial"
    com_adjustment: bool = False
    coordinate_scale: float = 0.35

    def __post_init__(self) -> None:
        check_common_settings(self.resampling, self.logw_quantile_filter, self.chunk_size)

    def run(self, method: "ProposalMethod", system: Any, energy: "BudgetedEnergy", ctx: "RunContext") -> Samples:
        n = energy.remaining if self.n_proposals is None else int(self.n_proposals)
        check_affordable(n, energy, "SNIS")
        used_before = energy.used

        proposal, log_q = draw_proposals(method, system, n, self.chunk_size, ctx)
        u = torch.empty(n, dtype=torch.float64)
        for start in tqdm(range(0, n, self.chunk_size), desc="SNIS target energies", disable=None, leave=False):
            stop = min(start + self.chunk_size, n)
            u[start:stop] = energy.energy(proposal[start:stop])
        if self.com_adjustment:
            log_q = log_q - com_adjustment(proposal, self.coordinate_scale)
        logw_all = log_weights(u, log_q)

        keep = quantile_filter_mask(logw_all, self.logw_quantile_filter)
        kept_index = torch.nonzero(keep).squeeze(1)
        logw = logw_all[kept_index]
        idx = resample_indices(self.resampling, logw, ctx.generator)

        diagnostics = {
            "sampler": self.settings(),
            "n_proposals": n,
            "n_kept": int(keep.sum()),
            "n_filtered": int((~keep).sum()),
            "n_nonfinite": int((~torch.isfinite(logw_all)).sum()),
            "ess": normalized_ess(logw),
            "ess_unfiltered": normalized_ess(logw_all),
            "n_unique_resampled": int(torch.unique(idx).numel()),
            "energy_evaluations": energy.used - used_before,
        }
        return Samples(positions=proposal[kept_index[idx]], set_name="resampled", log_weights=logw, proposal=proposal, diagnostics=diagnostics)
