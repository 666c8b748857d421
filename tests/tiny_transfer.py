"""A tiny transferable task for end-to-end method tests: 2AA's AA with a few hundred MD steps of
reference data, and a fake three-peptide corpus in place of the quick corpus."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import benchmark.data
import benchmark.data.corpus
from benchmark.tasks import Task, get_task
from benchmark.tasks.protocol import LocalMD
from tests.robin.conftest import FakeCorpus


def tiny_transfer_task(name: str, data_dir: Path, monkeypatch) -> tuple[Task, FakeCorpus]:
    """A 2AA-derived task (AA only, 40 evaluation samples, budget 90) with its reference data made in
    ``data_dir``, and the fake corpus every corpus reader now returns."""
    from benchmark.data import generate

    corpus = FakeCorpus(("AG", "GPA", "KAE"), frames=8)
    for module in (benchmark.data, benchmark.data.corpus):  # the runner's and the reference data's readers
        monkeypatch.setattr(module, "open_training_corpus", lambda tier, data_dir=None, verify=True: corpus)
    base = get_task("2AA")
    md = LocalMD(replicas=(2, 1, 1), frames_per_replica=120, frame_interval_steps=10, warmup_steps=200)
    quick = dataclasses.replace(base.protocol("quick"), n_eval_samples=40, budgets=(90,), systems=("AA",), local_md=md)
    task = dataclasses.replace(base, name=name, protocols={**base.protocols, "quick": quick})
    for spec in task.systems_for("quick"):  # the reference data only: the corpus is the fake above
        generate.prepare_system(task, "quick", spec, data_dir, progress=False)
    return task, corpus
