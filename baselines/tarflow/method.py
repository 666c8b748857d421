"""TarFlow as a bgbench ``ProposalMethod``: one normalizing flow per system, trained on standardized,
rotated, CoM-noised frames (spec flows 4.6), sampled exactly.

Coordinates: the flow sees x_hat = x_nm / sigma flattened atom-major in the topology atom order
(``Standardizer`` with the identity order), sigma being the standardization std of the training
frames (Bessel-corrected std of every centred coordinate, spec 1.1). A proposal is x_nm = sigma *
reverse(z) with no centring: its CoM carries the training CoM noise N(0, sigma^2/N I) (nm), so
``source_facts`` declares com="com-noise" and the scale sigma, and the harness samplers add the
chi_3 CoM adjustment of SBG (benchmark/sampling/com.py) and take SMC's Langevin steps in units of
sigma. log q is in nm^-3N: the flow's log density in standardized units minus 3N log sigma.

``propose`` takes log q from the reverse pass; ``log_q`` recomputes it by a forward pass
(differentiable, for SMC); the two agree to float32 rounding. The rare draw whose reverse pass
overflows (non-finite coordinates) is redrawn and counted (``diagnostics``): the proposal is then
the flow conditioned on finite output, whose density differs from log q by a constant that
cancels in self-normalised weights.

Weights live in the harness's weights store: trained here through the toolkit's ``train_or_load``
(the key is the method name "tarflow" and its training config, so ``tarflow`` and the ``sbg``
recipe share one model), or the published checkpoints (``weights=published``, spec 5.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from baselines.tarflow.config import TarFlowConfig, default_config
from baselines.tarflow.flow import TarFlowNet, nll_per_dim
from baselines.tarflow.published import load_published_file, published_name
from baselines.toolkit.coordinates import Standardizer, fit_sigma
from baselines.toolkit.data import FrameBatches
from baselines.toolkit.training import TrainingJob, train_or_load
from benchmark.adapter import ProposalMethod, RunContext, SourceFacts
from benchmark.errors import BgbenchError

if TYPE_CHECKING:
    from benchmark.systems import System
    from benchmark.tasks import Task

MAX_REDRAWS = 10


def build_net(cfg: TarFlowConfig, n_atoms: int) -> TarFlowNet:
    """The network a config describes for a system of ``n_atoms`` atoms."""
    return TarFlowNet(n_atoms, cfg.in_channels, cfg.channels, cfg.blocks, cfg.layers_per_block, cfg.head_dim,
                      cfg.expansion, cfg.dropout)


class TarFlow(ProposalMethod):
    name = "tarflow"
    version = "1"
    description = "TarFlow: transformer autoregressive affine flow with exact likelihoods (the SBG proposal)"
    family = "normalizing flow"
    applies_to = "single-system"
    config_class = TarFlowConfig

    def __init__(self, **overrides: Any):
        super().__init__(**overrides)
        self.models: dict[str, tuple[TarFlowNet, Standardizer]] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.redrawn: dict[str, int] = {}
        self._training_seconds: dict[str, float] = {}

    def default_config(self, task: "Task", tier: str) -> TarFlowConfig:
        return default_config(task.name, tier)

    # --- setup ---------------------------------------------------------------------------------
    def setup(self, task: "Task", ctx: RunContext) -> None:
        """Load (or train, resuming a checkpoint) one flow per system of the run."""
        if self.cfg is None:
            self.configure(task, ctx.tier)
        for spec in ctx.systems:
            system = spec.build()
            net = build_net(self.cfg, system.n_atoms)  # type: ignore[arg-type]
            load = self._load_published if self.cfg.weights == "published" else self._train_or_load  # type: ignore[union-attr]
            info = load(net, system, ctx)
            self.info[system.name] = info
            self.models[system.name] = (net.to(ctx.device).eval(), Standardizer(np.arange(system.n_atoms), info["sigma"]))
            self.redrawn[system.name] = 0

    def _train_or_load(self, net: TarFlowNet, system: "System", ctx: RunContext) -> dict[str, Any]:
        cfg: TarFlowConfig = self.cfg  # type: ignore[assignment]

        def job() -> TrainingJob:
            frames = torch.as_tensor(ctx.training_positions(system.name), dtype=torch.float32)
            sigma = fit_sigma(frames)
            std = Standardizer(np.arange(system.n_atoms), sigma)

            def view(batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
                return std.training_view(batch, gen, cfg.rotate, cfg.com_augmentation)

            ctx.logger.info("TarFlow %s: sigma = %.4f nm, %d training frames", system.name, sigma, len(frames))
            return TrainingJob(nll_per_dim, FrameBatches(frames, cfg.batch_size, view), cfg, cfg.total_steps(len(frames)),
                               ctx.seed, {"sigma": sigma, "training_frames": len(frames)})

        entry = ctx.weights.entry(ctx.weights_key(self, system.name))  # type: ignore[union-attr]
        loaded = train_or_load(entry, net, job, device=ctx.device, desc=f"tarflow train {system.name}", logger=ctx.logger)
        if loaded.trained is not None:
            self._training_seconds[system.name] = loaded.trained.seconds
        return loaded.info

    def _load_published(self, net: TarFlowNet, system: "System", ctx: RunContext) -> dict[str, Any]:
        from benchmark.weights import published_file

        name = published_name(system.name, ctx.seed)
        load_published_file(net, published_file(name, ctx.weights))
        sigma = fit_sigma(torch.as_tensor(ctx.training_positions(system.name)))
        ctx.logger.info("TarFlow %s: published weights %s, sigma = %.4f nm from the %s training split", system.name,
                        name, sigma, ctx.tier)
        return {"sigma": sigma, "published": name}

    # --- what the record says --------------------------------------------------------------------
    def parameter_count(self) -> int | None:
        if not self.models:
            return None
        return sum(p.numel() for net, _ in self.models.values() for p in net.parameters())

    def training_seconds(self) -> dict[str, float]:
        return dict(self._training_seconds)

    def diagnostics(self, system: "System", ctx: RunContext) -> dict[str, Any]:
        """The standardization scale, where the weights came from, training facts, and redrawn proposals."""
        info = self.info.get(system.name, {})
        keys = ("sigma", "training_frames", "total_steps", "skipped_steps", "final_loss", "published")
        return {**{k: info[k] for k in keys if k in info}, "nonfinite_redrawn": self.redrawn.get(system.name, 0)}

    # --- sampling ------------------------------------------------------------------------------
    def _model(self, system: "System") -> tuple[TarFlowNet, Standardizer]:
        if system.name not in self.models:
            raise BgbenchError(f"TarFlow has no model for system {system.name!r}; call setup(task, ctx) first.")
        return self.models[system.name]

    def source_facts(self, system: "System", ctx: RunContext) -> SourceFacts:
        """Trained with CoM noise (the chi_3 adjustment applies), standardized by sigma (SMC's step unit)."""
        _, std = self._model(system)
        com = "com-noise" if self.cfg.com_augmentation else "absolute"  # type: ignore[union-attr]
        return SourceFacts(coordinate_scale_nm=std.sigma, com=com, batch_size=self.cfg.sample_batch_size,  # type: ignore[union-attr]
                           device=ctx.device)

    def _draw(self, net: TarFlowNet, m: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor, int]:
        """m flow samples (standardized) with log q, redrawing rows whose reverse pass overflowed."""
        z = torch.randn(m, net.dim, generator=ctx.generator)
        with torch.no_grad():
            x, lq = net.sample(z.to(ctx.device))
        redrawn = 0
        for _ in range(MAX_REDRAWS):
            bad = ~(torch.isfinite(x).all(1) & torch.isfinite(lq))
            if not bad.any():
                break
            k = int(bad.sum())
            redrawn += k
            with torch.no_grad():
                x[bad], lq[bad] = net.sample(torch.randn(k, net.dim, generator=ctx.generator).to(ctx.device))
        return x, lq, redrawn

    def propose(self, system: "System", n: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        net, std = self._model(system)
        batch = self.cfg.sample_batch_size  # type: ignore[union-attr]
        xs, lqs = [], []
        with tqdm(total=n, desc=f"tarflow propose {system.name}", leave=False, disable=None) as bar:
            done = 0
            while done < n:
                m = min(batch, n - done)
                x_hat, lq, redrawn = self._draw(net, m, ctx)
                self.redrawn[system.name] = self.redrawn.get(system.name, 0) + redrawn
                xs.append(std.to_nm(x_hat).cpu())
                lqs.append((lq + std.log_abs_det()).cpu())
                done += m
                bar.update(m)
        return torch.cat(xs), torch.cat(lqs)

    def log_q(self, system: "System", positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        """log q(x) in nm^-3N by a forward pass, differentiable in ``positions`` (n, N, 3); no centring."""
        net, std = self._model(system)
        x = positions.to(device=ctx.device, dtype=torch.float32)
        out = [net.log_prob(std.to_model(chunk)) + std.log_abs_det()
               for chunk in torch.split(x, self.cfg.sample_batch_size)]  # type: ignore[union-attr]
        return torch.cat(out).to(positions.device)


__all__ = ["TarFlow", "build_net"]
