"""Prose and the transferable TarFlow as bgbench ``ProposalMethod``s: one conditioned flow for every peptide.

They are TarFlow (baselines/tarflow/method.py) with one shared network instead of one per system:
sampling (redrawing non-finite draws), exact log q in nm^-3N by the reverse pass, ``log_q`` by a
differentiable forward pass, and the source facts (CoM noise, the scale sigma) are TarFlow's, each
peptide seen through a ``PeptideFlow`` (its encodings, orderings, no padding). What differs is setup:

* train on the tier's transferable corpus (``ctx.training_corpus()``): frames centred, divided by
  the corpus std, Haar-rotated, CoM-noised (spec 4.6), padded to the longest peptide of the batch
  with a mask; loss -log q / (3 N_real) per row (spec 4.1); or
* load the published checkpoint (paper tier default) through the weights store (spec 5.1/5.2),
  with the published scale 0.35 nm.

One model serves every transferable task, so its weights-store key names the corpus
("transferable"), not the task: the model trained for 2AA is the one 8AA uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from baselines.prose.config import ProseConfig, default_config
from baselines.prose.flow import PROSE_ORDERS, TARFLOW_ORDERS, PeptideFlow, TransferableFlow, padded_nll
from baselines.prose.published import LAYOUTS, PUBLISHED_FILES, PUBLISHED_SIGMA_NM
from baselines.tarflow.method import TarFlow
from baselines.tarflow.published import load_published_file
from baselines.toolkit.coordinates import Standardizer, augment, centre, pad_encodings
from baselines.toolkit.data import CorpusBatches, PaddedBatch
from baselines.toolkit.self_improve import SelfImproveConfig, self_improve
from baselines.toolkit.training import TrainingJob, train_or_load
from benchmark.adapter import RunContext
from benchmark.errors import BgbenchError
from benchmark.systems.encodings import atom_encodings

if TYPE_CHECKING:
    from benchmark.systems import System
    from benchmark.tasks import Task



def build_net(cfg: ProseConfig) -> TransferableFlow:
    """The network a config describes (one for every peptide up to ``max_tokens`` atoms)."""
    prose = cfg.architecture == "prose"
    return TransferableFlow(cfg.channels, cfg.blocks, cfg.layers_per_block, cfg.head_dim, cfg.expansion, cfg.dropout,
                            cfg.max_tokens, adaptive=prose, lookahead=prose,
                            orders=PROSE_ORDERS if prose else TARFLOW_ORDERS)


def peptide_flow(net: TransferableFlow, system: "System") -> PeptideFlow:
    """The density of one peptide: the shared network with its conditioning and orderings, no padding."""
    n = system.n_atoms
    if n > net.max_tokens:
        raise BgbenchError(f"{system.name} has {n} atoms; the model holds at most max_tokens = {net.max_tokens}.")
    device = next(net.parameters()).device
    enc = {k: v.to(device) for k, v in pad_encodings([atom_encodings(system)], n).items()}
    return PeptideFlow(net, enc, system.orderings, n).eval()


def corpus_loss(orderings: dict[str, dict[str, np.ndarray]]):
    """The padded training loss of a corpus batch; ``orderings`` maps a corpus sequence to its orderings."""

    def loss(net: TransferableFlow, batch: PaddedBatch) -> torch.Tensor:
        context = net.context(batch.encodings, [orderings[s] for s in batch.sequences], batch.mask)
        return padded_nll(net, batch.x, context)

    return loss


class Prose(TarFlow):
    name = "prose"
    version = "1"
    description = "Prose: transferable TarFlow with adaptive LayerNorm, gates and SwiGLU transitions (285 M published)"
    family = "normalizing flow"
    applies_to = "transferable"
    config_class = ProseConfig

    def __init__(self, **overrides: Any):
        super().__init__(**overrides)
        self.net: TransferableFlow | None = None
        self.weights_info: dict[str, Any] = {}

    def default_config(self, task: "Task", tier: str) -> ProseConfig:
        return default_config(self.name, tier)

    # --- setup ---------------------------------------------------------------------------------
    def setup(self, task: "Task", ctx: RunContext) -> None:
        """Load the published weights or train (or load) the corpus model; then condition it on each system."""
        if self.cfg is None:
            self.configure(task, ctx.tier)
        cfg: ProseConfig = self.cfg  # type: ignore[assignment]
        net = build_net(cfg)
        self.weights_info = self._load_published_net(net, ctx) if cfg.weights == "published" else self._train_corpus(net, ctx)
        self.net = net.to(ctx.device).eval()
        sigma = float(self.weights_info["sigma"])
        for spec in ctx.systems:
            system = spec.build()
            self.models[system.name] = (peptide_flow(self.net, system), Standardizer(np.arange(system.n_atoms), sigma))  # type: ignore[assignment]
            self.info[system.name] = self.weights_info
            self.redrawn[system.name] = 0

    def _train_corpus(self, net: TransferableFlow, ctx: RunContext) -> dict[str, Any]:
        cfg: ProseConfig = self.cfg  # type: ignore[assignment]

        def job() -> TrainingJob:
            corpus = ctx.training_corpus()
            sigma = float(corpus.std_nm)
            orderings: dict[str, dict[str, np.ndarray]] = {}

            def encoder(spec):
                system = spec.build()
                orderings[spec.name] = system.orderings
                return atom_encodings(system)

            batches = CorpusBatches(corpus, cfg.batch_size, sigma, rotate=cfg.rotate, com_noise=cfg.com_augmentation,
                                    encoder=encoder)
            longest = max(len(f[0]) for f in batches.frames)
            if longest > cfg.max_tokens:
                raise BgbenchError(f"The corpus has a peptide of {longest} atoms, more than max_tokens = "
                                   f"{cfg.max_tokens}; raise it with --config max_tokens={longest}.")
            ctx.logger.info("%s: sigma = %.4f nm (corpus std), %d peptides, %d frames", self.name, sigma,
                            len(batches.frames), len(batches))
            info = {"sigma": sigma, "corpus_sequences": len(batches.frames), "training_frames": len(batches)}
            return TrainingJob(corpus_loss(orderings), batches, cfg, cfg.total_steps(len(batches)), ctx.seed, info)

        entry = ctx.weights.entry(ctx.weights_key(self, "corpus"))  # type: ignore[union-attr]
        loaded = train_or_load(entry, net, job, device=ctx.device, desc=f"{self.name} train corpus", logger=ctx.logger)
        if loaded.trained is not None:
            self._training_seconds["corpus"] = loaded.trained.seconds
        return {**loaded.info, "weights": "trained" if loaded.trained is not None else "loaded",
                "entry": entry.folder.name}

    def _load_published_net(self, net: TransferableFlow, ctx: RunContext) -> dict[str, Any]:
        from benchmark.weights import published_file

        name = PUBLISHED_FILES[self.name]
        load_published_file(net, published_file(name, ctx.weights), LAYOUTS[self.name])
        ctx.logger.info("%s: published weights %s, sigma = %.2f nm", self.name, name, PUBLISHED_SIGMA_NM)
        return {"weights": "published", "published": name, "sigma": PUBLISHED_SIGMA_NM}

    # --- self-improvement (spec 3.4) ---------------------------------------------------------------
    def self_improve(self, system: "System", energy, ctx: RunContext,
                     cfg: SelfImproveConfig = SelfImproveConfig()) -> list[dict[str, Any]]:
        """Fine-tune the shared network on one system by self-improvement (toolkit/self_improve.py).

        ``energy`` is the system's target energy on nm positions (pass the run's ``BudgetedEnergy`` so
        every evaluation is charged to the run's budget); proposals are the current model's, without
        EMA; buffer batches get a Haar rotation, no CoM noise (spec 3.4). The network is changed in
        place, so afterwards every system's proposals come from the fine-tuned model. Returns one
        report per round (ESS of the round's SNIS, energy evaluations, mean loss).
        """
        flow, std = self._model(system)
        gen = torch.Generator().manual_seed(ctx.seed)

        def propose(model: PeptideFlow, n: int) -> tuple[torch.Tensor, torch.Tensor]:
            xs, lqs = [], []
            for m in [min(self.cfg.sample_batch_size, n - i) for i in range(0, n, self.cfg.sample_batch_size)]:  # type: ignore[union-attr]
                x, lq, _ = self._draw(model, m, ctx)  # type: ignore[arg-type]
                xs.append(x)
                lqs.append(lq)
            return torch.cat(xs), torch.cat(lqs)

        def target(x_hat: torch.Tensor) -> torch.Tensor:
            return torch.as_tensor(energy.energy(std.to_nm(x_hat).cpu()))

        def rotate(x_hat: torch.Tensor, g: torch.Generator) -> torch.Tensor:
            frames = x_hat.reshape(len(x_hat), -1, 3)
            return augment(centre(frames), g, rotate=True, add_com_noise=False).flatten(1)

        reports = self_improve(flow, lambda m, x: m.log_prob(x), propose, target, cfg, gen, transform=rotate)
        for other, _ in self.models.values():
            other.eval()  # the shared embedder changed: every peptide recomputes its conditioning
        return reports

    # --- what the record says --------------------------------------------------------------------
    def parameter_count(self) -> int | None:
        return None if self.net is None else sum(p.numel() for p in self.net.parameters())

    def diagnostics(self, system: "System", ctx: RunContext) -> dict[str, Any]:
        out = super().diagnostics(system, ctx)
        for key in ("weights", "entry", "corpus_sequences"):
            if key in self.weights_info:
                out[key] = self.weights_info[key]
        return out


class TransferableTarFlow(Prose):
    name = "tarflow-transferable"
    version = "1"
    description = "Transferable TarFlow: TarFlow conditioned on atom and residue encodings (116 M published)"


__all__ = ["Prose", "TransferableTarFlow", "build_net", "corpus_loss", "peptide_flow"]
