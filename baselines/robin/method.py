"""ROBIN as a bgbench ``ProposalMethod``: one conditioned ARBG network for every peptide.

ROBIN is ARBG (baselines/arbg) with the network built ``conditioned=True``: sampling, exact log q
in nm^-3N, the KV cache and the per-token conditionals of the twisted SMC are ARBG's, per peptide,
with that peptide's conditioning (spec 3.4) computed once. What differs is setup:

* one network, trained on the tier's transferable corpus (``ctx.training_corpus()``): every frame
  centred and divided by the corpus std (the standardization scale, stated by ``source_facts``),
  Haar-rotated, no CoM noise (spec 1.3, 11), padded to the longest peptide of the batch with an
  atom mask; the loss averages each peptide's real coordinates (spec 2.5); or
* the released checkpoint (paper tier), loaded through the weights store and ``ROBIN_LAYOUT``.

Atoms are generated in topology (Amber template) order, the stored order the released model was
trained on (spec 1.4; for proline it differs from the YAML residue-by-residue order: the ring comes
before CA). One model serves all transferable tasks, so its weights-store key names the corpus,
not the task ("transferable"): a model trained for 4AA is the one 8AA uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from baselines.arbg.binning import UniformBinning
from baselines.arbg.density import ARDensity, bin_loss
from baselines.arbg.method import ARBG, POSE_NOTES, clip_census
from baselines.arbg.transformer import CausalTransformer
from baselines.robin.config import PUBLISHED_SIGMA_NM, RobinConfig, default_config
from baselines.robin.layout import ROBIN_LAYOUT
from baselines.toolkit.coordinates import Standardizer, augment, centre, pad_encodings
from baselines.toolkit.data import CorpusBatches, PaddedBatch
from baselines.toolkit.training import TrainingJob, train_or_load
from benchmark.adapter import RunContext
from benchmark.errors import BgbenchError
from benchmark.systems.encodings import atom_encodings

if TYPE_CHECKING:
    from benchmark.systems import System
    from benchmark.tasks import Task

CLIP_SEED_OFFSET = 1  # the clip census draws from seed + this, never from training's stream


class Robin(ARBG):
    name = "robin"
    version = "1"
    description = "ROBIN: transferable autoregressive Boltzmann generator (ARBG conditioned on atoms and residues)"
    family = "autoregressive"
    applies_to = "transferable"
    config_class = RobinConfig

    def __init__(self, **overrides: Any):
        super().__init__(**overrides)
        self.net: CausalTransformer | None = None
        self.sigma: float | None = None
        self.weights_info: dict[str, Any] = {}

    def default_config(self, task: "Task", tier: str) -> RobinConfig:
        return default_config(tier)

    # --- setup ---------------------------------------------------------------------------------
    def build_network(self) -> CausalTransformer:
        cfg: RobinConfig = self.cfg  # type: ignore[assignment]
        return CausalTransformer(cfg.num_bins, 3 * cfg.max_atoms, cfg.channels, cfg.layers, cfg.heads, cfg.head_dim,
                                 cfg.expansion, cfg.dropout, conditioned=True)

    def setup(self, task: "Task", ctx: RunContext) -> None:
        """Load the released weights or train (or load) the corpus model; then condition it on each system."""
        if self.cfg is None:
            self.configure(task, ctx.tier)
        cfg: RobinConfig = self.cfg  # type: ignore[assignment]
        if cfg.pose not in ("haar", "none"):
            raise BgbenchError(f"ROBIN trains on Haar-rotated frames (pose 'haar'); pose {cfg.pose!r} has no meaning "
                               "for a corpus of different peptides.")
        net = self.build_network()
        if cfg.weights == "published":
            self.weights_info = load_published(net, ctx)
        else:
            self.weights_info = self._train_or_load(net, ctx)
        self.net, self.sigma = net.to(ctx.device).eval(), float(self.weights_info["sigma"])
        for spec in ctx.systems:
            self.models[spec.name] = self.peptide_density(spec.build())

    def _train_or_load(self, net: CausalTransformer, ctx: RunContext) -> dict[str, Any]:
        cfg: RobinConfig = self.cfg  # type: ignore[assignment]
        binning = UniformBinning(cfg.num_bins, cfg.bin_lo, cfg.bin_hi, cfg.bin_width)

        def job() -> TrainingJob:
            corpus = ctx.training_corpus()
            sigma = float(corpus.std_nm)
            rotate = cfg.pose == "haar"
            batches = CorpusBatches(corpus, cfg.batch_size, sigma, rotate=rotate, com_noise=cfg.com_augmentation)
            longest = max(len(f[0]) for f in batches.frames)
            if longest > cfg.max_atoms:
                raise BgbenchError(f"The corpus has a peptide of {longest} atoms, more than ROBIN's max_atoms = "
                                   f"{cfg.max_atoms}; raise it with --config max_atoms={longest}.")
            census = corpus_clip_census(binning, batches, rotate, cfg.com_augmentation,
                                        torch.Generator().manual_seed(ctx.seed + CLIP_SEED_OFFSET))
            ctx.logger.info("ROBIN: sigma = %.4f nm (corpus std), %d peptides, %d frames, %.3g%% of frames clipped",
                            sigma, len(batches.frames), len(batches), 100 * census["clipped_frame_fraction"])
            info = {"sigma": sigma, "pose": cfg.pose, "corpus_sequences": len(batches.frames), **census}
            return TrainingJob(lambda m, batch: padded_loss(m, binning, batch), batches, cfg,
                               cfg.total_steps(len(batches)), ctx.seed, info)

        entry = ctx.weights.entry(ctx.weights_key(self, "corpus"))  # type: ignore[union-attr]
        loaded = train_or_load(entry, net, job, device=ctx.device, desc="robin train corpus", logger=ctx.logger)
        if loaded.trained is not None:
            self._training_seconds["corpus"] = loaded.trained.seconds
        return {**loaded.info, "weights": "trained" if loaded.trained is not None else "loaded",
                "entry": entry.folder.name, "shipped": bool(getattr(entry, "shipped", False))}

    @torch.no_grad()
    def peptide_density(self, system: "System") -> tuple[ARDensity, Standardizer]:
        """The density of one peptide: the shared network with this peptide's conditioning, 3N coordinates."""
        cfg: RobinConfig = self.cfg  # type: ignore[assignment]
        if self.net is None or self.sigma is None:
            raise BgbenchError("ROBIN has no network yet; call setup(task, ctx) first.")
        n = system.n_atoms
        if n > cfg.max_atoms:
            raise BgbenchError(f"{system.name} has {n} atoms; ROBIN holds at most max_atoms = {cfg.max_atoms}.")
        device = self.net.token_embed.weight.device
        enc = {k: v.to(device) for k, v in pad_encodings([atom_encodings(system)], n).items()}
        cond = self.net.condition(enc)
        binning = UniformBinning(cfg.num_bins, cfg.bin_lo, cfg.bin_hi, cfg.bin_width)
        density = ARDensity(self.net, binning, cfg.temperature, cfg.dequantization, cond=cond, dim=3 * n)
        return density, Standardizer(np.arange(n), self.sigma)

    # --- what the record says --------------------------------------------------------------------
    def parameter_count(self) -> int | None:
        return None if self.net is None else sum(p.numel() for p in self.net.parameters())

    def diagnostics(self, system: "System", ctx: RunContext) -> dict[str, Any]:
        """Where the weights came from, the standardization scale, and how much of the corpus the bins clip."""
        keys = ("weights", "entry", "shipped", "source", "sha256", "sigma", "pose", "corpus_sequences",
                "clipped_coordinates", "clipped_coordinate_fraction", "clipped_frames", "clipped_frame_fraction",
                "census_frames")
        out = {k: self.weights_info[k] for k in keys if k in self.weights_info}
        if out.get("pose") in POSE_NOTES:
            out["pose_note"] = POSE_NOTES[out["pose"]]
        return out


def padded_loss(net: CausalTransformer, binning: UniformBinning, batch: PaddedBatch) -> torch.Tensor:
    """Masked bin cross-entropy of a padded corpus batch (padding never enters the loss or the conditioning)."""
    bins = binning.to_index(batch.x.flatten(1))
    return bin_loss(net, bins, net.condition(batch.encodings, batch.mask), batch.mask.repeat_interleave(3, dim=1))


def corpus_clip_census(binning: UniformBinning, batches: CorpusBatches, rotate: bool, com_noise: bool,
                       generator: torch.Generator) -> dict[str, Any]:
    """ARBG's clip census over every frame of every corpus peptide (one augmentation draw each)."""
    sigma = batches.sigma

    def view(frames: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return augment(centre(frames) / sigma, gen, rotate, com_noise).flatten(1)

    parts = [clip_census(binning, view, frames, generator) for frames in batches.frames]
    coords = sum(p["clipped_coordinates"] for p in parts)
    frames_hit = sum(p["clipped_frames"] for p in parts)
    n = sum(p["census_frames"] for p in parts)
    total = sum(len(f) * f.shape[1] * 3 for f in batches.frames)
    return {"clipped_coordinates": coords, "clipped_coordinate_fraction": coords / total, "clipped_frames": frames_hit,
            "clipped_frame_fraction": frames_hit / n, "census_frames": n}


def load_published(net: CausalTransformer, ctx: RunContext) -> dict[str, Any]:
    """The released checkpoint (spec 9) into ``net``, strictly; WeightsError saying how to get it if absent."""
    from benchmark.weights import load_into, load_state_dict, published_file

    path = published_file("robin", ctx.weights)
    load_into(net, load_state_dict(path), ROBIN_LAYOUT)
    return {"weights": "published", "source": "danyalrehman17/robin-transferable/robin.ckpt",
            "sigma": PUBLISHED_SIGMA_NM, "pose": "haar"}


__all__ = ["Robin", "corpus_clip_census", "load_published", "padded_loss"]
