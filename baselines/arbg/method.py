"""ARBG as a bgbench ``ProposalMethod``, and the one adapter every head on its backbone shares.

``AutoregressiveMethod`` does the work of ARBG, GIVT and the PixelCNN++ mixtures alike: one model per
system trained through the weights store (toolkit ``train_or_load``), ``propose``, ``log_q``, the
source facts and the record's diagnostics. A family supplies its config presets and the head seam
(heads.py): ``make_head``, optionally ``make_network`` (a head's own input embedding) and
``training_loss``. ARBG below is the categorical head.

``propose`` returns positions in nm, in the system's topology atom order, and the exact log
density of the proposal in nm^-3N: the density in standardized units (density.py; for binned heads
the log bin masses minus d log w) minus d log sigma (the standardization Jacobian). The proposal is
x_nm = sigma * x_hat with no centring or rotation, so ``log_q`` of a translated or rotated copy of a
sample is a different number; that is the density of what was sampled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from tqdm.auto import tqdm

from baselines.arbg.binning import EmpiricalOffsets, UniformBinning, clip_census
from baselines.arbg.config import ARBGConfig, ARConfig, BinnedConfig, default_config
from baselines.arbg.density import ARDensity, bin_loss, settle
from baselines.arbg.heads import CategoricalHead, OutputHead
from baselines.arbg.session import DensitySession
from baselines.arbg.transformer import CausalTransformer
from baselines.toolkit.coordinates import Standardizer, align_to, centre, fit_sigma
from baselines.toolkit.data import FrameBatches
from baselines.toolkit.training import LossFn, TrainingJob, train_or_load
from benchmark.adapter import AutoregressiveProposal, ProposalMethod, RunContext, SourceFacts
from benchmark.errors import BgbenchError

if TYPE_CHECKING:
    import numpy as np

    from benchmark.systems import System
    from benchmark.tasks import Task

ORDERING = "n2c_residue-by-residue_standard"
CLIP_SEED_OFFSET = 1  # the clip census draws its augmentation from seed + this, never from training's stream
POSE_NOTES = {
    "haar": "Haar-random rotation per training frame (as the paper and its code)",
    "aligned": "BIASED: Kabsch-aligned training frames; the proposal has almost no mass on rotated copies, so "
               "SNIS weights carry a per-conformation rotational-volume factor",
    "none": "BIASED: centred, unrotated training frames (tests only)",
}


class AutoregressiveMethod(ProposalMethod, AutoregressiveProposal):
    """One autoregressive model per system on ARBG's backbone; the head is the pluggable part."""

    family = "autoregressive"
    applies_to = "single-system"
    config_class: ClassVar[type[ARConfig]] = ARConfig

    def __init__(self, **overrides: Any):
        super().__init__(**overrides)
        self.models: dict[str, tuple[ARDensity, Standardizer]] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self._training_seconds: dict[str, float] = {}

    # --- the head seam ------------------------------------------------------------------------
    def make_head(self, cfg: ARConfig, binning: UniformBinning | None) -> OutputHead:
        """The output head of this family, from its resolved config (and the binning, for binned heads)."""
        raise NotImplementedError

    def make_network(self, cfg: ARConfig, seq_len: int, head: OutputHead) -> CausalTransformer:
        """The backbone with the head's output width; binned heads embed bin tokens (ARBG's embedding)."""
        num_bins = cfg.num_bins if isinstance(cfg, BinnedConfig) else 0
        return CausalTransformer(num_bins, seq_len, cfg.channels, cfg.layers, cfg.heads, cfg.head_dim, cfg.expansion,
                                 cfg.dropout, out_features=head.out_features())

    def training_loss(self, density: ARDensity) -> LossFn:
        """The objective the shared loop minimizes on standardized frames: the head's mean NLL per coordinate."""
        return lambda model, x_hat: density.nll(x_hat)

    # --- setup ---------------------------------------------------------------------------------
    def setup(self, task: "Task", ctx: RunContext) -> None:
        """Load (or train, resuming a checkpoint) one model per system of the run, via the weights store."""
        if self.cfg is None:
            self.configure(task, ctx.tier)
        for spec in ctx.systems:
            self.models[spec.name] = self._fit_or_load(spec.build(), ctx)

    def _fit_or_load(self, system: "System", ctx: RunContext) -> tuple[ARDensity, Standardizer]:
        cfg: ARConfig = self.cfg  # type: ignore[assignment]
        binned = isinstance(cfg, BinnedConfig)
        perm = system.orderings[ORDERING]
        binning = UniformBinning(cfg.num_bins, cfg.bin_lo, cfg.bin_hi, cfg.bin_width) if binned else None
        head = self.make_head(cfg, binning)
        net = self.make_network(cfg, 3 * system.n_atoms, head)
        dequantization = cfg.dequantization if binned else "uniform"
        density = ARDensity(net, binning, dequantization=dequantization, head=head)
        frames: list[torch.Tensor] = []

        def job() -> TrainingJob:
            x = torch.as_tensor(ctx.training_positions(system.name), dtype=torch.float32)
            sigma = fit_sigma(x)
            if cfg.pose == "aligned":
                x = align_to(x, x[0])
            frames.append(x)
            std = Standardizer(perm, sigma)
            rotate = cfg.pose == "haar"

            def view(batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
                return std.training_view(batch, gen, rotate, cfg.com_augmentation)

            census: dict[str, Any] = {}
            if binning is not None:
                census = clip_census(binning, view, x, torch.Generator().manual_seed(ctx.seed + CLIP_SEED_OFFSET))
            clipped = f", {100 * census['clipped_frame_fraction']:.3g}% of frames clipped" if census else ""
            ctx.logger.info("%s %s: sigma = %.4f nm, %d frames, pose %s%s", self.name, system.name, sigma, len(x),
                            cfg.pose, clipped)
            return TrainingJob(self.training_loss(density), FrameBatches(x, cfg.batch_size, view), cfg,
                               cfg.total_steps(len(x)), ctx.seed, {"sigma": sigma, "pose": cfg.pose, **census})

        entry = ctx.weights.entry(ctx.weights_key(self, system.name))  # type: ignore[union-attr]
        loaded = train_or_load(entry, net, job, device=ctx.device, desc=f"{self.name} train {system.name}",
                               logger=ctx.logger)
        if loaded.trained is not None:
            self._training_seconds[system.name] = loaded.trained.seconds
        self.info[system.name] = loaded.info
        std = Standardizer(perm, loaded.info["sigma"])
        if binning is not None and dequantization == "empirical":
            x = frames[0] if frames else torch.as_tensor(ctx.training_positions(system.name), dtype=torch.float32)
            if cfg.pose == "aligned" and not frames:
                x = align_to(x, x[0])
            density.offsets = EmpiricalOffsets(binning, (centre(x[:, std.perm]) / std.sigma).flatten(1))
        if not density.exact:
            ctx.logger.warning("%s de-quantization %r: log q is not the exact proposal density", self.name, dequantization)
        return density, std

    # --- what the record says --------------------------------------------------------------------
    def parameter_count(self) -> int | None:
        if not self.models:
            return None
        return sum(p.numel() for density, _ in self.models.values() for p in density.net.parameters())

    def training_seconds(self) -> dict[str, float]:
        return dict(self._training_seconds)

    def diagnostics(self, system: "System", ctx: RunContext) -> dict[str, Any]:
        """Training pose (aligned is labelled biased) and, for binned heads, how many training coordinates
        the bin range clips."""
        info = self.info.get(system.name, {})
        keys = ("pose", "clipped_coordinates", "clipped_coordinate_fraction", "clipped_frames", "clipped_frame_fraction",
                "census_frames", "sigma")
        out = {k: info[k] for k in keys if k in info}
        if "pose" in out:
            out["pose_note"] = POSE_NOTES[out["pose"]]
        return out

    # --- sampling ------------------------------------------------------------------------------
    def _model(self, system: "System") -> tuple[ARDensity, Standardizer]:
        if system.name not in self.models:
            raise BgbenchError(f"{self.name} has no model for system {system.name!r}; call setup(task, ctx) first.")
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
        with tqdm(total=n, desc=f"{self.name} propose {system.name}", leave=False) as bar:
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
    def _settle(density: ARDensity, std: Standardizer, x_hat: torch.Tensor, bins: torch.Tensor | None) -> torch.Tensor:
        """nm positions (topology order) whose re-binning gives the sampled bins (density.settle). A
        continuous head's density is smooth, so float32 rounding moves its log q by float32 noise only."""
        if bins is None or density.dequantization != "uniform":
            return std.to_nm(x_hat)
        return std.to_nm(settle(density.binning, x_hat, bins, std.sigma))

    def log_q(self, system: "System", positions: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        """Teacher-forced log q(x) in nm^-3N of given positions (n, N, 3), batched; no centring."""
        density, std = self._model(system)
        x = torch.as_tensor(positions, dtype=torch.float32)
        out = []
        for chunk in torch.split(x, self.cfg.sample_batch_size):
            x_hat = std.to_model(chunk.to(ctx.device))
            out.append((density.log_prob(x_hat) + std.log_abs_det()).cpu())
        return torch.cat(out)

    # --- per-token conditionals (the harness's --sampler ar-smc) ----------------------------------
    def generation_order(self, system: "System", ctx: RunContext) -> "np.ndarray":
        """Token k's atom is ``perm[k]`` (the standardizer's ordering)."""
        return self._model(system)[1].perm.numpy()

    def begin_generation(self, system: "System", n: int, ctx: RunContext) -> DensitySession:
        density, std = self._model(system)
        return DensitySession(density, std.sigma, n, ctx.generator, self.cfg.sample_batch_size)


class ARBG(AutoregressiveMethod):
    """ARBG: the categorical head over uniformly binned coordinates, tempered by T."""

    name = "arbg"
    version = "2"
    description = "Autoregressive Boltzmann generator: causal transformer over uniformly binned coordinates"
    config_class = ARBGConfig

    def default_config(self, task: "Task", tier: str) -> ARBGConfig:
        return default_config(task.name, tier)

    def make_head(self, cfg: ARBGConfig, binning: UniformBinning | None) -> CategoricalHead:  # type: ignore[override]
        return CategoricalHead(cfg.num_bins, cfg.temperature)

    def training_loss(self, density: ARDensity) -> LossFn:
        """Cross-entropy of the bins (spec 2.5): the categorical NLL, computed by torch's fused kernel."""
        binning = density.binning
        return lambda model, x_hat: bin_loss(model, binning.to_index(x_hat))

