"""Autoregressive twisted SMC (ARBG paper Algorithm 1, specs/autoregressive.md 7) for methods with per-token conditionals.

Particles are generated coordinate by coordinate by the method itself (``AutoregressiveProposal``:
the proposal kernels are its own tempered conditionals). At residue checkpoints k = 1..K the
partly generated peptides are weighted and systematically resampled; weights then reset to 1.

Twists (spec 7.1). The intermediate target at checkpoint k is gamma_k = exp(-E_k(r_k)), with E_k
the energy of the largest completed prefix r_k (benchmark/systems/prefix.py: residues 1..s closed
by the N -> OXT construction) and E_K the energy of the whole peptide. Dividing by the model's
likelihood of what was generated gives the incremental log-weight of the segment between
checkpoints k-1 and k:

    log w_k = -(E_k - E_{k-1}) - log q(segment k | everything before),   E_0 = 0,

where E_{k-1} is the energy of the particle's own (resampled) ancestor. Along any lineage the
increments sum to -E(x) - log q(x): the ordinary SNIS weight, so the scheme is an exact SMC for the
target (``TwistedResult.lineage_log_weights`` keeps that sum; a test checks it against SNIS).

Checkpoints: for each scorable prefix, the number of atoms the method must have generated for it
(its atoms and the N of the next residue) in the method's generation order; prefixes that become
available at the same atom are merged (the longer is scored). Zwitterions of L residues have L - 1
checkpoints (prefixes of 2..L-1 residues and the full peptide); a 2-residue peptide has only the
full one (SNIS with systematic resampling). Capped systems: see benchmark/systems/prefix.py.

Budget rule: every conformation whose energy is evaluated counts, prefix ("partial") or full
peptide ("full"), against the one meter of the system. Every particle is evaluated once per
checkpoint, so ``n_particles`` None gives n = remaining budget // K: at the quick budget of 10^4,
1 428 particles for an 8-residue peptide, 3 333 for a 4-residue one. Fewer particles than the
evaluation sample count is what the same budget buys; the record says so.

Energy filter (optional, spec 7.4): ``energy_filter`` = 100 discards (weight 0) a particle whose
checkpoint energy exceeds the checkpoint's minimum over particles + 100 kT. It truncates the target
slightly; it is off by default. The final population (scored as set "smc") is shuffled with the
harness's generator, so the evaluator's first-n subset is a uniform subsample rather than the
lowest-index lineages; its log-weights (for the ESS) are the last segment's, before the final resampling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.adapter import AutoregressiveProposal, AutoregressiveSession, Samples
from benchmark.errors import BudgetExceeded
from benchmark.sampling.base import Sampler, SamplerError, check_affordable, check_common_settings, log_weights
from benchmark.sampling.weights import normalized_ess, resample_indices

if TYPE_CHECKING:
    from benchmark.adapter import ProposalMethod, RunContext
    from benchmark.energy import BudgetedEnergy

#: The runner's factory of budgeted partial energies: prefix system -> BudgetedEnergy on the run's meter.
PrefixEnergy = Callable[[Any], "BudgetedEnergy"]


@dataclass(frozen=True)
class Checkpoint:
    """Where particles are weighted and resampled.

    ``atoms``: atoms generated (generation order) when the twist is evaluated. ``system``: the prefix
    system scored there (anything with ``positions(full_positions)`` and an energy from the runner's
    prefix factory), or None for the full system and the run's own energy. ``residues``: how many
    residues the scored molecule has (recorded).
    """

    atoms: int
    residues: int
    system: Any | None = None


@dataclass
class TwistedResult:
    """One twisted SMC run: the final (resampled, shuffled) population and what it took."""

    positions: torch.Tensor  # (n, N, 3) nm, topology order
    lineage_log_weights: torch.Tensor  # (n,) sum of every increment along each particle's ancestry
    final_increments: torch.Tensor  # (n,) the last segment's log-weights, before the final resampling
    checkpoints: list[dict[str, Any]]


def residue_checkpoints(system: Any, order: np.ndarray) -> list[Checkpoint]:
    """The residue checkpoints of a peptide for a generation ``order`` (atom indices)."""
    from benchmark.systems.prefix import prefix_systems

    rank = np.empty(len(order), dtype=np.int64)
    rank[np.asarray(order)] = np.arange(len(order))
    found = [Checkpoint(int(rank[p.needed_atoms].max()) + 1, p.n_residues, p) for p in prefix_systems(system)]
    found.append(Checkpoint(int(system.n_atoms), int(system.topology.getNumResidues()), None))
    kept: list[Checkpoint] = []
    for cp in reversed(found):  # atoms never decrease with the prefix length; keep the longest prefix per atom count
        if not kept or cp.atoms < kept[-1].atoms:
            kept.append(cp)
    return kept[::-1]


@dataclass
class ARSMCSampler(Sampler):
    """Twisted SMC with residue-level twists and systematic resampling at every checkpoint."""

    name: ClassVar[str] = "ar-smc"
    #: The runner hands this sampler a factory of budgeted partial energies (``prefix_energy``).
    uses_prefix_energies: ClassVar[bool] = True

    n_particles: int | None = None
    energy_filter: float | None = None  # kT above the checkpoint minimum; published value 100; None: off
    resampling: str = "systematic"
    chunk_size: int = 2500  # conformations per energy call

    def __post_init__(self) -> None:
        check_common_settings(self.resampling, None, self.chunk_size)
        if self.energy_filter is not None and not self.energy_filter > 0:
            raise SamplerError(f"energy_filter must be a positive number of kT (or None), got {self.energy_filter}.")

    def settings(self) -> dict:
        return {**super().settings(), "budget_rule": "n_particles = remaining budget // number of checkpoints "
                "(one evaluation per particle per checkpoint, partial prefixes and the full peptide alike)"}

    def checkpoints(self, system: Any, order: np.ndarray) -> list[Checkpoint]:
        """Where to weight and resample (override for other twists, e.g. toy targets or atom-level ones)."""
        return residue_checkpoints(system, order)

    def run(self, method: "ProposalMethod", system: Any, energy: "BudgetedEnergy", ctx: "RunContext",
            prefix_energy: PrefixEnergy | None = None) -> Samples:
        used_before = energy.used
        result = self.twist(method, system, energy, ctx, prefix_energy)
        diagnostics = {
            "sampler": self.settings(),
            "n_particles": len(result.positions),
            "n_checkpoints": len(result.checkpoints),
            "checkpoints": result.checkpoints,
            "ess": [c["ess"] for c in result.checkpoints],
            "energy_evaluations": energy.used - used_before,
        }
        return Samples(positions=result.positions, set_name="smc", log_weights=result.final_increments,
                       diagnostics=diagnostics)

    def twist(self, method: "ProposalMethod", system: Any, energy: "BudgetedEnergy", ctx: "RunContext",
              prefix_energy: PrefixEnergy | None = None) -> TwistedResult:
        """The SMC itself (see the module docstring); ``run`` packs its result as Samples."""
        if not isinstance(method, AutoregressiveProposal):
            raise SamplerError(f"--sampler ar-smc needs per-token conditionals; method {method.name!r} is not an "
                               "AutoregressiveProposal (benchmark/adapter.py). Use --sampler snis.")
        order = np.asarray(method.generation_order(system, ctx), dtype=np.int64)
        if sorted(order.tolist()) != list(range(system.n_atoms)):
            raise SamplerError(f"generation_order of {method.name!r} is not a permutation of the {system.n_atoms} atoms.")
        checkpoints = self.checkpoints(system, order)
        n_k = len(checkpoints)
        n = energy.remaining // n_k if self.n_particles is None else int(self.n_particles)
        if n == 0:
            raise BudgetExceeded(f"Twisted SMC evaluates every particle at {n_k} checkpoints but only "
                                 f"{energy.remaining} energy evaluations are left; run with a larger --budget.")
        check_affordable(n * n_k, energy, f"Twisted SMC with {n} particles x {n_k} checkpoints")
        if prefix_energy is None and any(cp.system is not None for cp in checkpoints):
            raise SamplerError("Twisted SMC needs budgeted prefix energies from the runner (prefix_energy).")
        energies = [energy if cp.system is None else prefix_energy(cp.system) for cp in checkpoints]  # type: ignore[misc]
        return self._smc(method.begin_generation(system, n, ctx), system.n_atoms, order, checkpoints, energies,
                         ctx.generator)

    def _energies(self, energy: "BudgetedEnergy", x: torch.Tensor) -> torch.Tensor:
        u = torch.empty(len(x), dtype=torch.float64)
        for start in range(0, len(x), self.chunk_size):
            u[start : start + self.chunk_size] = energy.energy(x[start : start + self.chunk_size]).cpu()
        return torch.where(torch.isfinite(u), u, torch.inf)

    def _smc(self, session: AutoregressiveSession, n_atoms: int, order: np.ndarray, checkpoints: list[Checkpoint],
             energies: list["BudgetedEnergy"], gen: torch.Generator) -> TwistedResult:
        n = session.n
        order_t = torch.as_tensor(order)
        previous = torch.zeros(n, dtype=torch.float64)  # E_{k-1} of each particle's ancestor (E_0 = 0)
        lineage = torch.zeros(n, dtype=torch.float64)
        report: list[dict[str, Any]] = []
        for cp, target in tqdm(list(zip(checkpoints, energies)), desc="AR-SMC residues", disable=None, leave=False):
            segment_log_q = session.extend(3 * cp.atoms - session.length).sum(1)
            generated = session.positions()
            full = torch.zeros(n, n_atoms, 3, dtype=generated.dtype)
            full[:, order_t[: generated.shape[1]]] = generated
            x = full if cp.system is None else cp.system.positions(full)
            u = self._energies(target, x)
            increments = log_weights(u - previous, segment_log_q)
            n_nonfinite = int((~torch.isfinite(increments)).sum())
            n_filtered = 0
            if self.energy_filter is not None and torch.isfinite(u).any():
                over = u > u[torch.isfinite(u)].min() + self.energy_filter
                n_filtered = int((over & torch.isfinite(u)).sum())
                increments = increments.masked_fill(over, -torch.inf)
            lineage = lineage + increments
            idx = resample_indices(self.resampling, increments, gen)
            session.select(idx)
            previous, lineage, full = u[idx], lineage[idx], full[idx]
            finite = u[torch.isfinite(u)]
            report.append({
                "atoms": cp.atoms, "residues": cp.residues, "kind": "full" if cp.system is None else "partial",
                "ess": normalized_ess(increments), "n_nonfinite": n_nonfinite, "n_filtered": n_filtered,
                "unique_ancestors": int(torch.unique(idx).numel()),
                "energy_min": float(finite.min()) if len(finite) else None,
                "energy_median": float(finite.median()) if len(finite) else None,
            })
        shuffle = torch.randperm(n, generator=gen)
        return TwistedResult(full[shuffle], lineage[shuffle], increments, report)


__all__ = ["ARSMCSampler", "Checkpoint", "PrefixEnergy", "TwistedResult", "residue_checkpoints"]
