"""ECNF++ as a bgbench ``ProposalMethod``: one equivariant continuous flow per system, trained by flow
matching, sampled by integrating an ODE, with log q from the integrated divergence.

Coordinates: the flow sees x_hat = centre(x_nm) / sigma, (N, 3) in topology order, sigma being the
standardization std of the training frames (``fit_sigma``, spec 1.1). Training views are centred,
standardized and Haar-rotated, without CoM noise (spec 4.6): the prior is the mean-free normal and
the field has zero-mean output, so proposals are centred and the density lives on the (3N - 3)-
dimensional CoM-free subspace. ``source_facts`` declares com="mean-free" (no chi_3 adjustment) and
the scale sigma. log q in nm: log q_hat - (3N - 3) log sigma (the Jacobian of the scaling on that
subspace).

``propose`` integrates prior draws from t = 0 to 1 together with the divergence; ``log_q`` of given
positions (centred first, since the density ignores the CoM) integrates back from t = 1 to 0 and
is differentiable in the positions. The divergence is the exact Jacobian trace by default (the
published choice) or a Hutchinson estimate (``divergence=hutchinson``), in which case SourceFacts
says the density is not exact. Cost is recorded per system (``diagnostics``): field evaluations
and wall time per proposal and per likelihood.

Weights: trained through the toolkit's ``train_or_load`` into the weights store (key = method name
and training config), or the published checkpoints (``weights=published``, spec 5.4).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from baselines.ecnf.config import ECNFConfig, FieldConfig, default_config
from baselines.ecnf.egnn import EGNNVectorField
from baselines.ecnf.features import group_atoms, single_system_features
from baselines.ecnf.matching import flow_matching_loss
from baselines.ecnf.ode import SolverSettings, log_prob, mean_free_normal, sample
from baselines.ecnf.published import SEQUENCES, load_published_file, published_name
from baselines.toolkit.coordinates import augment, centre, fit_sigma
from baselines.toolkit.data import FrameBatches
from baselines.toolkit.training import TrainingJob, train_or_load
from benchmark.adapter import ProposalMethod, RunContext, SourceFacts
from benchmark.errors import BgbenchError

if TYPE_CHECKING:
    from benchmark.systems import System
    from benchmark.tasks import Task


class SystemModel:
    """One system's vector field with its conditioning features and standardization scale."""

    def __init__(self, net: EGNNVectorField, features: torch.Tensor, sigma: float, n_atoms: int):
        self.net, self.features, self.sigma, self.n_atoms = net, features, float(sigma), int(n_atoms)

    def field(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.net(t, x, self.features)

    def log_abs_det(self) -> float:
        """log |d x_hat / d x_nm| on the CoM-free subspace: -(3N - 3) log sigma."""
        return -3 * (self.n_atoms - 1) * math.log(self.sigma)


def build_field(cfg: FieldConfig, n_features: int) -> EGNNVectorField:
    """The vector field a config describes for ``n_features`` conditioning features (time is appended)."""
    return EGNNVectorField(n_features + 1, cfg.channels, cfg.layers)


def new_cost() -> dict[str, float]:
    """The per-system cost counters the diagnostics report (proposals and likelihoods: count, evaluations, seconds)."""
    return {"proposals": 0, "proposal_evaluations": 0, "proposal_seconds": 0.0,
            "likelihoods": 0, "likelihood_evaluations": 0, "likelihood_seconds": 0.0}


def solver_settings(cfg: FieldConfig) -> SolverSettings:
    return SolverSettings(method=cfg.solver, atol=cfg.atol, rtol=cfg.rtol, divergence=cfg.divergence,
                          step_size=cfg.step_size)


class ECNF(ProposalMethod):
    name = "ecnf"
    version = "1"
    description = "ECNF++: E(n)-equivariant continuous normalizing flow (EGNN) trained by flow matching, log q by ODE"
    family = "continuous normalizing flow"
    applies_to = "single-system"
    config_class = ECNFConfig

    def __init__(self, **overrides: Any):
        super().__init__(**overrides)
        self.models: dict[str, SystemModel] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.cost: dict[str, dict[str, float]] = {}
        self._training_seconds: dict[str, float] = {}

    def default_config(self, task: "Task", tier: str) -> ECNFConfig:
        return default_config(task.name, tier)

    # --- setup ---------------------------------------------------------------------------------
    def setup(self, task: "Task", ctx: RunContext) -> None:
        """Load (or train, resuming a checkpoint) one vector field per system of the run."""
        if self.cfg is None:
            self.configure(task, ctx.tier)
        cfg: ECNFConfig = self.cfg  # type: ignore[assignment]
        if cfg.weights == "published" and cfg.atom_classes != "published":
            raise BgbenchError("Published ECNF++ weights need atom_classes=published (their one-hot classes).")
        for spec in ctx.systems:
            system = spec.build()
            features = single_system_features(system, cfg.atom_classes)
            net = build_field(cfg, features.shape[-1])
            load = self._load_published if cfg.weights == "published" else self._train_or_load
            info = load(net, features, system, ctx)
            info["class_groups"] = group_atoms(system, cfg.atom_classes)
            self.info[system.name] = info
            self.models[system.name] = SystemModel(net.to(ctx.device).eval(), features.to(ctx.device), info["sigma"],
                                                   system.n_atoms)
            self.cost[system.name] = new_cost()

    def _train_or_load(self, net: EGNNVectorField, features: torch.Tensor, system: "System",
                       ctx: RunContext) -> dict[str, Any]:
        cfg: ECNFConfig = self.cfg  # type: ignore[assignment]

        def job() -> TrainingJob:
            frames = torch.as_tensor(ctx.training_positions(system.name), dtype=torch.float32)
            sigma = fit_sigma(frames)

            def view(batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
                return augment(centre(batch) / sigma, gen, rotate=True, add_com_noise=False)

            def loss(model: EGNNVectorField, x1: torch.Tensor) -> torch.Tensor:
                feats = features.to(x1.device)
                return flow_matching_loss(lambda t, x, mask: model(t, x, feats, mask), x1)

            ctx.logger.info("ECNF++ %s: sigma = %.4f nm, %d training frames", system.name, sigma, len(frames))
            return TrainingJob(loss, FrameBatches(frames, cfg.batch_size, view), cfg, cfg.total_steps(len(frames)),
                               ctx.seed, {"sigma": sigma, "training_frames": len(frames)})

        entry = ctx.weights.entry(ctx.weights_key(self, system.name))  # type: ignore[union-attr]
        loaded = train_or_load(entry, net, job, device=ctx.device, desc=f"ecnf train {system.name}", logger=ctx.logger)
        if loaded.trained is not None:
            self._training_seconds[system.name] = loaded.trained.seconds
        return dict(loaded.info)

    def _load_published(self, net: EGNNVectorField, features: torch.Tensor, system: "System",
                        ctx: RunContext) -> dict[str, Any]:
        from benchmark.weights import published_file

        task = ctx.task.name if ctx.task is not None else ""
        if task not in SEQUENCES:
            raise BgbenchError(f"ECNF++ has published single-system weights for {sorted(SEQUENCES)}, not {task!r}.")
        name = published_name(SEQUENCES[task], ctx.seed)
        load_published_file(net, published_file(name, ctx.weights))
        sigma = fit_sigma(torch.as_tensor(ctx.training_positions(system.name)))
        ctx.logger.info("ECNF++ %s: published weights %s, sigma = %.4f nm from the %s training split", system.name,
                        name, sigma, ctx.tier)
        return {"sigma": sigma, "published": name}

    # --- what the record says --------------------------------------------------------------------
    def parameter_count(self) -> int | None:
        """Parameters of the distinct networks (one per system here; one shared by all in the transferable variant)."""
        if not self.models:
            return None
        nets = {id(m.net): m.net for m in self.models.values()}
        return sum(p.numel() for net in nets.values() for p in net.parameters())

    def training_seconds(self) -> dict[str, float]:
        return dict(self._training_seconds)

    def diagnostics(self, system: "System", ctx: RunContext) -> dict[str, Any]:
        """Scale, weights source, training facts, ODE settings and the measured cost of proposals and likelihoods."""
        info = self.info.get(system.name, {})
        keys = ("sigma", "training_frames", "total_steps", "skipped_steps", "final_loss", "published", "class_groups")
        cfg: FieldConfig = self.cfg  # type: ignore[assignment]
        cost = dict(self.cost.get(system.name, {}))
        for kind in ("proposal", "likelihood"):
            n = cost.get(f"{kind}s", 0)
            if n:
                cost[f"seconds_per_{kind}"] = cost[f"{kind}_seconds"] / n
        return {**{k: info[k] for k in keys if k in info},
                "ode": {"solver": cfg.solver, "atol": cfg.atol, "rtol": cfg.rtol, "step_size": cfg.step_size,
                        "divergence": cfg.divergence},
                "cost": cost}

    # --- sampling ------------------------------------------------------------------------------
    def _model(self, system: "System") -> SystemModel:
        if system.name not in self.models:
            raise BgbenchError(f"ECNF++ has no model for system {system.name!r}; call setup(task, ctx) first.")
        return self.models[system.name]

    def source_facts(self, system: "System", ctx: RunContext) -> SourceFacts:
        """Mean-free density (no chi_3 adjustment), standardized by sigma; exact unless Hutchinson."""
        cfg: FieldConfig = self.cfg  # type: ignore[assignment]
        return SourceFacts(coordinate_scale_nm=self._model(system).sigma, com="mean-free",
                           batch_size=cfg.sample_batch_size, device=ctx.device,
                           exact_density=cfg.divergence == "exact")

    def propose(self, system: "System", n: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        model = self._model(system)
        cfg: FieldConfig = self.cfg  # type: ignore[assignment]
        settings, cost = solver_settings(cfg), self.cost[system.name]
        xs, lqs = [], []
        with tqdm(total=n, desc=f"ecnf propose {system.name}", leave=False, disable=None) as bar:
            done = 0
            while done < n:
                m = min(cfg.sample_batch_size, n - done)
                t0 = time.perf_counter()
                z = mean_free_normal(m, system.n_atoms, ctx.generator).to(ctx.device)
                x_hat, lq, nfe = sample(model.field, z, settings, ctx.generator)
                cost["proposal_seconds"] += time.perf_counter() - t0
                cost["proposal_evaluations"] += nfe
                cost["proposals"] += m
                xs.append((x_hat * model.sigma).cpu())
                lqs.append((lq + model.log_abs_det()).cpu())
                done += m
                bar.update(m)
        return torch.cat(xs), torch.cat(lqs)

    def log_q(self, system: "System", positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        """log q(x) in nm^-(3N-3) of the centred positions (n, N, 3), integrated back to the prior;
        differentiable in ``positions`` (through the solver, so expensive)."""
        model = self._model(system)
        cfg: FieldConfig = self.cfg  # type: ignore[assignment]
        settings, cost = solver_settings(cfg), self.cost[system.name]
        x = centre(positions.to(device=ctx.device, dtype=torch.float32)) / model.sigma
        out = []
        for chunk in torch.split(x, cfg.sample_batch_size):
            t0 = time.perf_counter()
            lq, nfe = log_prob(model.field, chunk, settings, ctx.generator)
            cost["likelihood_seconds"] += time.perf_counter() - t0
            cost["likelihood_evaluations"] += nfe
            cost["likelihoods"] += len(chunk)
            out.append(lq + model.log_abs_det())
        return torch.cat(out).to(positions.device)


__all__ = ["ECNF", "SystemModel", "build_field", "new_cost", "solver_settings"]
