"""Transferable ECNF++ (``ecnf-transferable``): one EGNN vector field for every peptide of 2 to 4 residues.

Why a method of its own rather than a ``variant`` of ``ecnf``: it applies to other tasks
(transferable, not single-system; the registry and ``bgbench methods`` list that per name), it has
its own config fields (residue range, corpus scale) and its own weights (one corpus model under the
"transferable" key, as ROBIN and Prose). Everything after setup is ``ECNF``'s: each system of a run
gets a ``SystemModel`` holding the shared network with that peptide's conditioning (spec 4.8:
one-hots of atom type, residue position, residue type and sequence length, unpadded), so sampling,
log q by the ODE with the exact or Hutchinson divergence, the mean-free source facts and the cost
diagnostics are the single-system code.

Setup either

* trains on the tier's corpus (``ctx.training_corpus()``; peptides outside ``num_aa_min`` ..
  ``num_aa_max`` residues are skipped, as the published length filter does): frames centred on
  their atoms, divided by sigma (``sigma_nm``, default the corpus std), Haar-rotated, no CoM noise,
  padded to the longest peptide of the batch with a mask (toolkit ``CorpusBatches``); flow matching
  with sigma = 0 on the masked mean-free prior (matching.py); EMA; or
* loads the published ``transferable/ecnf++_up_to_4aa.pth`` (``ecnfpp_up_to_4aa``) through the
  weights store, with the published scale 0.28 nm (the paper tier's default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from baselines.ecnf.config import TransferableConfig, transferable_config
from baselines.ecnf.egnn import EGNNVectorField
from baselines.ecnf.features import system_encodings, transferable_features, transferable_width
from baselines.ecnf.matching import flow_matching_loss
from baselines.ecnf.method import ECNF, SystemModel, build_field, new_cost
from baselines.ecnf.published import (TRANSFERABLE_NAME, TRANSFERABLE_RESIDUES, TRANSFERABLE_SIGMA_NM,
                                      load_published_file)
from baselines.toolkit.data import CorpusBatches, PaddedBatch
from baselines.toolkit.training import TrainingJob, train_or_load
from benchmark.adapter import RunContext
from benchmark.errors import BgbenchError

if TYPE_CHECKING:
    from benchmark.systems import System
    from benchmark.tasks import Task


def build_transferable_field(cfg: TransferableConfig) -> EGNNVectorField:
    """The shared vector field a config describes (in_features = conditioning width + time)."""
    return build_field(cfg, transferable_width(cfg.num_aa_min, cfg.num_aa_max))


def peptide_features(system: "System", cfg: TransferableConfig) -> torch.Tensor:
    """(1, N, width) conditioning of one unpadded peptide (BgbenchError if its length is out of range)."""
    enc, mask = system_encodings(system)
    return transferable_features(enc, mask, cfg.num_aa_min, cfg.num_aa_max)


def corpus_loss(cfg: TransferableConfig):
    """Flow-matching loss of a padded corpus batch: the field conditioned on each row's encodings, masked."""

    def loss(net: EGNNVectorField, batch: PaddedBatch) -> torch.Tensor:
        feats = transferable_features(batch.encodings, batch.mask, cfg.num_aa_min, cfg.num_aa_max)
        return flow_matching_loss(lambda t, x, mask: net(t, x, feats, mask), batch.x, batch.mask)

    return loss


class ECNFTransferable(ECNF):
    name = "ecnf-transferable"
    version = "1"
    description = ("Transferable ECNF++: one EGNN flow-matching CNF conditioned on atom and residue encodings "
                   "(2-4 residues, 4.19 M published)")
    family = "continuous normalizing flow"
    applies_to = "transferable"
    config_class = TransferableConfig

    def __init__(self, **overrides: Any):
        super().__init__(**overrides)
        self.net: EGNNVectorField | None = None
        self.weights_info: dict[str, Any] = {}

    def default_config(self, task: "Task", tier: str) -> TransferableConfig:
        return transferable_config(tier)

    def setup(self, task: "Task", ctx: RunContext) -> None:
        """Load the published weights or train (or load) the corpus model; then condition it on each system."""
        if self.cfg is None:
            self.configure(task, ctx.tier)
        cfg: TransferableConfig = self.cfg  # type: ignore[assignment]
        features = {spec.name: peptide_features(spec.build(), cfg) for spec in ctx.systems}  # refuse early
        net = build_transferable_field(cfg)
        self.weights_info = self._load_published_net(net, ctx) if cfg.weights == "published" else self._train_corpus(net, ctx)
        self.net = net.to(ctx.device).eval()
        for spec in ctx.systems:
            system = spec.build()
            self.models[system.name] = SystemModel(self.net, features[spec.name].to(ctx.device),
                                                   self.weights_info["sigma"], system.n_atoms)
            self.info[system.name] = self.weights_info
            self.cost[system.name] = new_cost()

    def _train_corpus(self, net: EGNNVectorField, ctx: RunContext) -> dict[str, Any]:
        cfg: TransferableConfig = self.cfg  # type: ignore[assignment]

        def job() -> TrainingJob:
            corpus = ctx.training_corpus()
            sigma = float(cfg.sigma_nm if cfg.sigma_nm is not None else corpus.std_nm)
            skipped: list[str] = []

            def in_range(entries):
                for entry in entries:
                    if cfg.num_aa_min <= len(entry.sequence) <= cfg.num_aa_max:
                        yield entry
                    else:
                        skipped.append(entry.sequence)

            batches = CorpusBatches(in_range(corpus), cfg.batch_size, sigma, rotate=True, com_noise=False)
            ctx.logger.info("%s: sigma = %.4f nm, %d peptides of %d-%d residues (%d others skipped), %d frames",
                            self.name, sigma, len(batches.frames), cfg.num_aa_min, cfg.num_aa_max, len(skipped),
                            len(batches))
            info = {"sigma": sigma, "corpus_sequences": len(batches.frames), "skipped_sequences": len(skipped),
                    "training_frames": len(batches)}
            return TrainingJob(corpus_loss(cfg), batches, cfg, cfg.total_steps(len(batches)), ctx.seed, info)

        entry = ctx.weights.entry(ctx.weights_key(self, "corpus"))  # type: ignore[union-attr]
        loaded = train_or_load(entry, net, job, device=ctx.device, desc=f"{self.name} train corpus", logger=ctx.logger)
        if loaded.trained is not None:
            self._training_seconds["corpus"] = loaded.trained.seconds
        return {**loaded.info, "weights": "trained" if loaded.trained is not None else "loaded",
                "entry": entry.folder.name}

    def _load_published_net(self, net: EGNNVectorField, ctx: RunContext) -> dict[str, Any]:
        from benchmark.weights import published_file

        cfg: TransferableConfig = self.cfg  # type: ignore[assignment]
        if (cfg.num_aa_min, cfg.num_aa_max) != TRANSFERABLE_RESIDUES:
            raise BgbenchError(f"The published ECNF++ covers {TRANSFERABLE_RESIDUES[0]}-{TRANSFERABLE_RESIDUES[1]} "
                               f"residues; num_aa_min/num_aa_max must be those to load it.")
        load_published_file(net, published_file(TRANSFERABLE_NAME, ctx.weights))
        ctx.logger.info("%s: published weights %s, sigma = %.2f nm", self.name, TRANSFERABLE_NAME, TRANSFERABLE_SIGMA_NM)
        return {"weights": "published", "published": TRANSFERABLE_NAME, "sigma": TRANSFERABLE_SIGMA_NM}

    def diagnostics(self, system: "System", ctx: RunContext) -> dict[str, Any]:
        out = super().diagnostics(system, ctx)
        for key in ("weights", "entry", "corpus_sequences", "skipped_sequences"):
            if key in self.weights_info:
                out[key] = self.weights_info[key]
        return out


__all__ = ["ECNFTransferable", "build_transferable_field", "corpus_loss", "peptide_features"]
