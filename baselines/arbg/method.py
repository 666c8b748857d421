"""ARBG as a bgbench ``ProposalMethod``: one autoregressive model per system.

``propose`` returns positions in nm, in the system's topology atom order, and the exact log
density of the proposal in nm^-3N (uniform de-quantization): the tempered categorical
log-probabilities, minus d log w (bin width, standardized units), minus d log sigma (the
standardization Jacobian). The proposal is x_nm = sigma * x_hat with no centring or rotation,
so ``log_q`` of a translated or rotated copy of a sample is a different number (see
preprocessing.py); that is the density of what was sampled.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from baselines.arbg.binning import EmpiricalOffsets, UniformBinning
from baselines.arbg.config import ARBGConfig, resolve_config
from baselines.arbg.density import ARDensity
from baselines.arbg.preprocessing import Standardizer, align_to, centre, fit_sigma
from baselines.arbg.training import TrainSettings, steps_for_epochs, train
from baselines.arbg.transformer import CausalTransformer
from benchmark.adapter import ProposalMethod, RunContext, SourceFacts
from benchmark.errors import BgbenchError

if TYPE_CHECKING:
    from benchmark.systems import System
    from benchmark.tasks import Task

ORDERING = "n2c_residue-by-residue_standard"


class ARBG(ProposalMethod):
    name = "arbg"
    version = "1"
    description = "Autoregressive Boltzmann generator: causal transformer over uniformly binned coordinates"
    family = "autoregressive"
    applies_to = "single-system"

    def __init__(self, **config: Any):
        super().__init__(**config)
        self.models: dict[str, tuple[ARDensity, Standardizer]] = {}
        self.cfg: ARBGConfig | None = None
        self.training_seconds: dict[str, float] = {}

    # --- setup ---------------------------------------------------------------------------------
    def checkpoint_path(self, task: "Task", system_name: str, ctx: RunContext) -> Path:
        return Path(ctx.work_dir) / "arbg" / f"{task.name}-{ctx.tier}-{system_name}-seed{ctx.seed}.pt"

    def setup(self, task: "Task", ctx: RunContext) -> None:
        """Load (or train, resuming a partial checkpoint) one model per system of the tier."""
        if getattr(task, "transferable", False):
            raise BgbenchError(
                f"ARBG is a single-system method; task {task.name} is transferable. "
                "The transferable autoregressive model (ROBIN) is a separate method."
            )
        self.cfg = resolve_config(task.name, ctx.tier, self.overrides)
        for spec in ctx.systems:
            system = spec.build()
            path = self.checkpoint_path(task, spec.name, ctx)
            frames = None
            if not self._is_complete(path) or self.cfg.dequantization == "empirical":
                frames = torch.as_tensor(ctx.training_positions(spec.name), dtype=torch.float32)
            self.models[spec.name] = self.fit_or_load(system, path, ctx, frames)

    def _is_complete(self, path: Path) -> bool:
        if not path.exists():
            return False
        state = torch.load(path, map_location="cpu", weights_only=False)
        done = state.get("step", 0) >= state.get("total_steps", float("inf"))
        return done and state.get("training_key") == self.cfg.training_key()

    def fit_or_load(
        self, system: "System", path: Path, ctx: RunContext, frames_nm: torch.Tensor | None
    ) -> tuple[ARDensity, Standardizer]:
        """Train on ``frames_nm`` (T, N, 3) nm unless a finished checkpoint for this config exists."""
        cfg = self.cfg
        assert cfg is not None
        state = torch.load(path, map_location="cpu", weights_only=False) if path.exists() else None
        if state is not None and state.get("training_key") != cfg.training_key():
            ctx.logger.warning("ARBG checkpoint %s has another config; retraining", path)
            path.unlink()
            state = None
        if state is None:
            if frames_nm is None:
                raise BgbenchError(f"No ARBG checkpoint at {path} and no training data given.")
            sigma = fit_sigma(frames_nm)
        else:
            sigma = state["sigma"]
        std = Standardizer(system.orderings[ORDERING], sigma)
        binning = UniformBinning(cfg.num_bins, cfg.bin_lo, cfg.bin_hi, cfg.bin_width)
        net = CausalTransformer(
            cfg.num_bins, std.dim, cfg.channels, cfg.layers, cfg.heads, cfg.head_dim, cfg.expansion, cfg.dropout
        )
        if cfg.steps is not None:
            total = cfg.steps
        else:
            total = steps_for_epochs(len(frames_nm) if frames_nm is not None else 0, cfg.batch_size, cfg.epochs or 0)
        if state is not None and state.get("step", 0) >= state.get("total_steps", float("inf")):
            net.load_state_dict(state["model"])
        else:
            settings = TrainSettings(
                steps=total, batch_size=cfg.batch_size, lr=cfg.lr, optimizer=cfg.optimizer,
                weight_decay=cfg.weight_decay, adamw_lr_ratio=cfg.adamw_lr_ratio,
                warmup_fraction=cfg.warmup_fraction, grad_clip=cfg.grad_clip, rotate=cfg.rotate,
                com_noise=cfg.com_augmentation, checkpoint_every=cfg.checkpoint_every, seed=ctx.seed,
            )
            extra = {
                "sigma": sigma, "config": cfg.to_dict(), "training_key": cfg.training_key(),
                "total_steps": total, "system": system.name,
            }
            if cfg.align_frames:
                frames_nm = align_to(frames_nm, frames_nm[0])
            t0 = time.perf_counter()
            ctx.logger.info("ARBG: training %s for %d steps (sigma = %.4f nm)", system.name, total, sigma)
            train(net, binning, std, frames_nm, settings, checkpoint=path, device=ctx.device, extra_state=extra)
            self.training_seconds[system.name] = time.perf_counter() - t0
        net.to(ctx.device).eval()
        offsets = None
        if cfg.dequantization == "empirical":
            if frames_nm is None:
                raise BgbenchError("Empirical de-quantization needs the training frames to fit its offsets.")
            offsets = EmpiricalOffsets(binning, (centre(frames_nm[:, std.perm]) / sigma).flatten(1))
        if cfg.dequantization != "uniform":
            ctx.logger.warning("ARBG de-quantization %r: log q is not the exact proposal density", cfg.dequantization)
        density = ARDensity(net, binning, cfg.temperature, cfg.dequantization, offsets)
        return density, std

    # --- sampling ------------------------------------------------------------------------------
    def _model(self, system: "System") -> tuple[ARDensity, Standardizer]:
        if system.name not in self.models:
            raise BgbenchError(f"ARBG has no model for system {system.name!r}; call setup(task, ctx) first.")
        return self.models[system.name]

    def source_facts(self, system: "System", ctx: RunContext) -> SourceFacts:
        """A density over all 3N coordinates as sampled (no centring), standardized by one scalar sigma."""
        density, std = self._model(system)
        return SourceFacts(coordinate_scale_nm=std.sigma, com="absolute", batch_size=self.cfg.sample_batch_size,
                           device=ctx.device, exact_density=density.exact)

    def propose(self, system: "System", n: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        density, std = self._model(system)
        cfg = self.cfg
        xs, lqs = [], []
        with tqdm(total=n, desc=f"arbg propose {system.name}", leave=False) as bar:
            done = 0
            while done < n:
                m = min(cfg.sample_batch_size, n - done)
                x_hat, lq, bins = density.sample(m, ctx.generator, cfg.use_kv_cache)
                x_nm = self._settle(density, std, x_hat, bins)
                xs.append(x_nm.cpu())
                lqs.append((lq + std.log_abs_det()).cpu())
                done += m
                bar.update(m)
        return torch.cat(xs), torch.cat(lqs)

    @staticmethod
    def _settle(density: ARDensity, std: Standardizer, x_hat: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
        """nm positions whose re-binning gives the sampled bins.

        Float32 rounding in x_hat -> nm -> x_hat can move a value that sits within ~1e-7 of a bin
        edge into the neighbouring bin; such values are pulled halfway towards their bin centre
        so that ``log_q(propose(...))`` scores the same bins that were sampled.
        """
        if density.dequantization != "uniform":
            return std.to_nm(x_hat)
        binning = density.binning
        for _ in range(4):
            x_nm = std.to_nm(x_hat)
            bad = binning.to_index(std.to_model(x_nm)) != bins
            if not bad.any():
                break
            c = binning.centres(bins)
            x_hat = torch.where(bad, c + 0.5 * (x_hat - c), x_hat)
        return x_nm

    def log_q(self, system: "System", positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        """Teacher-forced log q(x) in nm^-3N of given positions (n, N, 3), batched; no centring."""
        density, std = self._model(system)
        x = torch.as_tensor(positions, dtype=torch.float32)
        out = []
        for chunk in torch.split(x, self.cfg.sample_batch_size):
            x_hat = std.to_model(chunk.to(ctx.device))
            out.append((density.log_prob(x_hat) + std.log_abs_det()).cpu())
        return torch.cat(out)
