"""Autoregressive twisted SMC: exactness on a toy with a known target, telescoping weights, the budget
rule, and the N -> OXT prefix peptides it scores."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import openmm
import pytest
import torch
from openmm import unit

from benchmark.adapter import AutoregressiveProposal, AutoregressiveSession, ProposalMethod, RunContext
from benchmark.energy import BudgetedEnergy, OpenMMEnergy, TargetEnergy
from benchmark.energy.base import as_positions
from benchmark.energy.budget import EnergyMeter
from benchmark.errors import BudgetExceeded
from benchmark.sampling import make_sampler
from benchmark.sampling.ar_smc import ARSMCSampler, Checkpoint, residue_checkpoints
from benchmark.sampling.base import SamplerError
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec, build_peptide
from benchmark.systems.prefix import OXT_BOND_NM, prefix_system, prefix_systems
from benchmark.tasks import get_task

# --- a toy with a known target: 3 "atoms", coordinates i.i.d. N(mu_j, tau^2) under the target ---------------
ATOMS = 3
MU = 0.4 + 0.1 * np.arange(3 * ATOMS)
TAU = 0.3
RHO, SHIFT, S = 0.5, -0.2, 0.6  # the proposal: x_j | x_{j-1} ~ N(RHO x_{j-1} + SHIFT, S^2), x_{-1} = 0


def normal_logpdf(x: torch.Tensor, mean: torch.Tensor | float, std: float) -> torch.Tensor:
    return -((x - mean) ** 2) / (2 * std**2) - 0.5 * math.log(2 * math.pi * std**2)


class GaussianPrefixTarget(TargetEnergy):
    """u = sum over the first ``atoms`` atoms of (x - mu)^2 / (2 tau^2): the toy's prefix energies."""

    def __init__(self, atoms: int):
        self.n_atoms, self.kT_kJ_per_mol = atoms, 2.5
        self.mu = MU[: 3 * atoms].reshape(atoms, 3)

    def energy(self, x):
        return torch.from_numpy((((as_positions(x, self.n_atoms) - self.mu) ** 2) / (2 * TAU**2)).sum(axis=(1, 2)))

    def energy_and_forces(self, x):
        raise NotImplementedError


@dataclass(frozen=True)
class ToyPrefix:
    atoms: int

    def positions(self, full: torch.Tensor) -> torch.Tensor:
        return full[:, : self.atoms]


class ToySession(AutoregressiveSession):
    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.dim, self.length, self.gen = n, 3 * ATOMS, 0, generator
        self.values = torch.zeros(n, 0, dtype=torch.float64)

    def extend(self, k: int) -> torch.Tensor:
        terms = []
        for _ in range(k):
            prev = self.values[:, -1] if self.length else torch.zeros(self.n, dtype=torch.float64)
            mean = RHO * prev + SHIFT
            x = mean + S * torch.randn(self.n, generator=self.gen, dtype=torch.float64)
            terms.append(normal_logpdf(x, mean, S))
            self.values = torch.cat([self.values, x[:, None]], 1)
            self.length += 1
        return torch.stack(terms, 1)

    def select(self, indices: torch.Tensor) -> None:
        self.values = self.values[indices]

    def positions(self) -> torch.Tensor:
        atoms = self.length // 3
        return self.values[:, : 3 * atoms].reshape(self.n, atoms, 3)


class ToyAR(ProposalMethod, AutoregressiveProposal):
    name = "toy-ar"

    def propose(self, system, n, ctx):
        session = self.begin_generation(system, n, ctx)
        lq = session.extend(3 * ATOMS).sum(1)
        return session.positions(), lq

    def log_q(self, system, positions, ctx):
        """Closed form, written independently of the session's sampling loop."""
        x = positions.reshape(len(positions), -1).double()
        prev = torch.cat([torch.zeros(len(x), 1, dtype=torch.float64), x[:, :-1]], 1)
        return normal_logpdf(x, RHO * prev + SHIFT, S).sum(1)

    def generation_order(self, system, ctx):
        return np.arange(ATOMS)

    def begin_generation(self, system, n, ctx):
        return ToySession(n, ctx.generator)


@dataclass
class ToySystem:
    n_atoms: int = ATOMS


class ToyTwistedSMC(ARSMCSampler):
    """One twist per atom (the toy has no residues)."""

    def checkpoints(self, system, order):
        return [Checkpoint(a, a, ToyPrefix(a)) for a in range(1, ATOMS)] + [Checkpoint(ATOMS, ATOMS, None)]


def toy_run(budget: int, seed: int = 0, packed: bool = False, **settings):
    """(TwistedResult, or Samples when ``packed``; the meter) of a toy run under ``budget``."""
    meter = EnergyMeter(budget)
    energy = BudgetedEnergy(GaussianPrefixTarget(ATOMS), meter=meter)
    prefix = lambda p: BudgetedEnergy(GaussianPrefixTarget(p.atoms), meter=meter, kind="partial")  # noqa: E731
    ctx = RunContext(seed=seed, tier="quick", budget=budget)
    sampler = ToyTwistedSMC(**settings)
    return (sampler.run if packed else sampler.twist)(ToyAR(), ToySystem(), energy, ctx, prefix), meter


def test_twisted_smc_recovers_the_known_target_mean_and_spread():
    result, _ = toy_run(budget=3 * 20_000)
    x = result.positions.reshape(len(result.positions), -1).double()
    proposal_mean = ToyAR().propose(ToySystem(), 20_000, RunContext(seed=9, tier="quick", budget=0))[0].reshape(20_000, -1)
    assert (proposal_mean.mean(0) - torch.as_tensor(MU)).abs().min() > 0.3  # the proposal alone is far off
    assert torch.allclose(x.mean(0), torch.as_tensor(MU), atol=0.03)
    assert torch.allclose(x.std(0), torch.full((3 * ATOMS,), TAU, dtype=torch.float64), atol=0.03)


def test_weights_telescope_to_the_snis_weight():
    result, _ = toy_run(budget=3 * 500)
    x = result.positions
    snis = -GaussianPrefixTarget(ATOMS).energy(x) - ToyAR().log_q(ToySystem(), x, None)
    assert torch.allclose(result.lineage_log_weights, snis, atol=1e-9)


def test_budget_rule_counts_every_checkpoint_and_reports_partial_and_full():
    samples, meter = toy_run(budget=3 * 100 + 2, packed=True)
    assert len(samples.positions) == 100  # n = budget // checkpoints
    assert meter.report() == {"budget": 302, "used": 300, "remaining": 2, "full": 100, "partial": 200,
                              "force_evaluations": 0}
    d = samples.diagnostics
    assert d["n_particles"] == 100 and d["n_checkpoints"] == 3 and d["energy_evaluations"] == 300
    assert [c["kind"] for c in d["checkpoints"]] == ["partial", "partial", "full"]
    assert samples.set_name == "smc" and samples.log_weights.shape == (100,)
    with pytest.raises(BudgetExceeded):
        toy_run(budget=2)


def test_the_energy_filter_drops_high_partial_energies():
    samples, _ = toy_run(budget=3 * 400, packed=True, energy_filter=2.0)
    assert all(c["n_filtered"] > 0 for c in samples.diagnostics["checkpoints"])
    u = GaussianPrefixTarget(ATOMS).energy(samples.positions)
    assert float(u.max() - u.min()) <= 2.0 + 1e-9  # every survivor was within 2 kT of the minimum at the end


def test_methods_without_per_token_conditionals_are_refused():
    from tests.sampling.toys import GaussianProposal, GaussianTarget, ToySystem as OneAtom

    energy = BudgetedEnergy(GaussianTarget([0, 0, 0], 1.0), 10)
    with pytest.raises(SamplerError, match="per-token conditionals"):
        make_sampler("ar-smc").run(GaussianProposal([0, 0, 0], 1.0), OneAtom(), energy, RunContext(0, "quick", 10))


# --- the prefix peptides (N -> OXT) ------------------------------------------------------------------------
def md_frames(system, n_frames: int = 4, steps: int = 100) -> np.ndarray:
    """A few frames of Langevin MD after a short minimization of the built structure (the recipe's integrator)."""
    context = openmm.Context(system.create_openmm_system(), system.spec.forcefield.integrator(seed=1),
                             openmm.Platform.getPlatformByName("CPU"), {"Threads": "1"})
    context.setPositions(system.initial_positions * unit.nanometer)
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, 200)
    frames = []
    for _ in range(n_frames):
        context.getIntegrator().step(steps)
        frames.append(context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    return np.asarray(frames)


@pytest.fixture(scope="module")
def gpek():
    system = SystemSpec("GPEK", "GPEK", ZWITTERION, AMBER14_OBC1).build()
    return system, torch.as_tensor(md_frames(system))


def test_prefixes_are_the_zwitterions_the_builder_makes_and_score_md_frames(gpek):
    system, frames = gpek
    prefixes = prefix_systems(system)
    assert [p.n_residues for p in prefixes] == [2, 3]
    for prefix in prefixes:
        seq = system.spec.sequence[: prefix.n_residues]
        built = build_peptide(seq, ZWITTERION, AMBER14_OBC1)
        ours = [(a.residue.index, a.name) for a in prefix.topology.atoms()]
        theirs = [(a.residue.index, a.name) for a in built.topology.atoms()]
        assert sorted(ours) == sorted(theirs)
        x = prefix.positions(frames)
        # OXT sits on the C -> N(next) line, 0.125 nm from C
        c, n_next = frames[:, prefix.carbonyl_c], frames[:, prefix.next_n]
        unit_cn = (n_next - c) / (n_next - c).norm(dim=-1, keepdim=True)
        assert torch.allclose(x[:, -1], c + OXT_BOND_NM * unit_cn, atol=1e-12)
        u = OpenMMEnergy(prefix).energy(x)
        assert torch.isfinite(u).all()
        # the same conformations in the builder's own molecule give the same energy
        reorder = [ours.index(t) for t in theirs]
        ref_spec = SystemSpec(seq, seq, ZWITTERION, AMBER14_OBC1)
        u_ref = OpenMMEnergy(ref_spec.build()).energy(x[:, reorder])
        assert torch.allclose(u, u_ref, rtol=1e-6, atol=1e-4)


def test_capped_systems_score_ace_prefixes_closed_by_a_carboxylate():
    system = get_task("AL4").systems[0].build()  # ACE-AAA-NME
    prefixes = prefix_systems(system)
    assert [p.n_residues for p in prefixes] == [2, 3, 4]  # ACE + 1, 2, 3 alanines
    assert [r.name for r in prefixes[0].topology.residues()] == ["ACE", "ALA"]
    x = torch.as_tensor(system.minimized_positions)[None]
    for prefix in prefixes:
        assert torch.isfinite(OpenMMEnergy(prefix).energy(prefix.positions(x))).all()
    with pytest.raises(ValueError):
        prefix_system(system, 1)


def test_checkpoints_follow_the_generation_order(gpek):
    system, _ = gpek
    n_res = [len(list(r.atoms())) for r in system.topology.residues()]
    topo = residue_checkpoints(system, np.arange(system.n_atoms))
    # residues 1..s complete and the N of residue s+1 (its first atom in Amber order) generated
    assert [c.atoms for c in topo] == [n_res[0] + n_res[1] + 1, sum(n_res[:3]) + 1, system.n_atoms]
    assert [c.residues for c in topo] == [2, 3, 4] and topo[-1].system is None
    # reversed generation: a prefix needs almost every atom; checkpoints that coincide are merged
    reverse = residue_checkpoints(system, np.arange(system.n_atoms)[::-1])
    assert [c.atoms for c in reverse] == [system.n_atoms] and reverse[0].system is None


# --- on a real peptide with ARBG: the telescoping check with OpenMM energies -----------------------------------
@pytest.mark.parametrize("task", ["AL3", "ALDP"])
def test_arbg_twisted_smc_on_a_peptide_telescopes_with_real_energies(task, tmp_path):
    method, ctx = _arbg(tmp_path, task)
    system = ctx.task.systems[0].build()
    meter = EnergyMeter(40)
    energy = BudgetedEnergy(OpenMMEnergy(system), meter=meter)
    prefix = lambda p: BudgetedEnergy(OpenMMEnergy(p), meter=meter, kind="partial")  # noqa: E731
    result = ARSMCSampler(chunk_size=7).twist(method, system, energy, ctx, prefix)
    k = len(prefix_systems(system)) + 1
    assert len(result.positions) == 40 // k and meter.report()["partial"] == (k - 1) * (40 // k)
    snis = -OpenMMEnergy(system).energy(result.positions) - method.log_q(system, result.positions, ctx).detach()
    assert torch.allclose(result.lineage_log_weights, snis, rtol=1e-9, atol=1e-3)


def _arbg(work, task_name):
    from baselines.arbg import ARBG
    from benchmark.weights import WeightsStore

    task = get_task(task_name)

    class Ctx(RunContext):
        def training_positions(self, system_name):
            x0 = self.task.system(system_name).build().minimized_positions
            return x0[None] + 0.01 * np.random.default_rng(0).standard_normal((8, *x0.shape))

        def training_data_hash(self, system_name=None):
            return "jitter"

    ctx = Ctx(seed=0, tier="quick", budget=40, task=task, systems=task.systems, work_dir=work,
              weights=WeightsStore(work / "weights", shipped=None))
    method = ARBG(num_bins=64, channels=16, layers=1, heads=2, head_dim=8, steps=2, batch_size=4, sample_batch_size=7)
    method.configure(task, "quick")
    method.setup(task, ctx)
    return method, ctx
