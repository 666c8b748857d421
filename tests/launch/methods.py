"""A test-only method that trains: it writes a weights-store entry per model and logs every training.

``CountingTrainer`` "trains" one model per system (single-system tasks) or one for the corpus
(transferable tasks) by drawing a noise scale from the run's generator and saving it as weights, and
appends one line per training to ``<work>/trainings.log``; then it samples the minimized structure
plus that noise. Its records therefore depend on training (a retrained model with another RNG state
would change every metric), and the log counts how often training happened.
"""

from __future__ import annotations

from pathlib import Path

import torch

from benchmark.adapter import Method, RunContext, Samples
from benchmark.weights import WeightsKey


def trainings(work_dir: Path) -> list[str]:
    """Every training the method did under ``work_dir`` (one line each: task, subject, seed)."""
    path = Path(work_dir) / "trainings.log"
    return path.read_text().splitlines() if path.exists() else []


class CountingTrainer(Method):
    name = "counting-trainer"
    version = "1"
    description = "test-only: trains a noise scale into the weights store, samples around the minimum"

    def setup(self, task, ctx: RunContext) -> None:
        self.scale: dict[str, float] = {}
        log = Path(ctx.work_dir).parent.parent / "trainings.log"  # <work>/scratch/<method> -> <work>
        for spec in ctx.systems:
            subject = "corpus" if task.transferable else spec.name
            entry = ctx.weights.entry(self._key(ctx, subject))
            with entry.lock():
                if not entry.complete:
                    with open(log, "a") as fh:
                        fh.write(f"{task.name} {subject} {ctx.seed}\n")
                    scale = 0.002 + 0.01 * torch.rand(1, generator=ctx.generator, dtype=torch.float64)
                    entry.save_weights({"scale": scale})
            self.scale[spec.name] = float(entry.load_weights()["scale"][0])

    def _key(self, ctx: RunContext, subject: str) -> WeightsKey:
        if subject != "corpus":
            return ctx.weights_key(self, subject)
        # ctx.weights_key(self, "corpus") needs benchmark.data.open_training_corpus, which does not exist
        # yet; the corpus model is keyed without a training-data hash here.
        return WeightsKey(method=self.name, task=ctx.task.name, tier=ctx.tier, subject=subject, seed=int(ctx.seed),
                          config=dict(self.config))

    def sample(self, system, energy, ctx: RunContext) -> Samples:
        x = torch.as_tensor(system.minimized_positions, dtype=torch.float64).repeat(ctx.n_eval_samples or 100, 1, 1)
        noise = torch.randn(x.shape, generator=ctx.generator, dtype=torch.float64)
        return Samples(positions=x + self.scale[system.name] * noise)
