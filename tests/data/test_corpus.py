"""The quick-tier training corpus: seeded sequences outside the evaluation lists, stored and iterated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.data import corpus, iter_training_corpus, load_reference
from benchmark.data.corpus import corpus_sequences, corpus_std, prepare_corpus
from benchmark.data.generate import prepare_system
from benchmark.errors import DataError
from benchmark.tasks.protocol import LocalMD
from benchmark.tasks.sequences import ALL_EVALUATION_SEQUENCES


def test_corpus_sequences_are_seeded_and_held_out():
    seqs = corpus_sequences()
    assert seqs == corpus_sequences()
    assert seqs != corpus_sequences(seed=1)
    assert sorted({len(s) for s in seqs}) == list(range(2, 9))
    assert not set(seqs) & ALL_EVALUATION_SEQUENCES and len(set(seqs)) == len(seqs)


def _no_md(*args, **kwargs):
    raise AssertionError("cached data should have been reused")


def test_tiny_corpus_roundtrip_and_std(tmp_path, tiny_task, monkeypatch):
    md = LocalMD(length_ns=0.0002, frame_interval_steps=10, warmup_steps=20, split_fractions=(1.0, 0.0, 0.0))
    with pytest.raises(DataError, match="prepare-corpus"):
        corpus_std("quick", tmp_path)
    prepare_corpus("quick", tmp_path, progress=False, per_length=1, md=md, lengths=(2, 3))
    got = list(iter_training_corpus("quick", tmp_path))
    assert [s for s, _ in got] == corpus_sequences(per_length=1, lengths=(2, 3))
    assert all(x.shape == (20, x.shape[1], 3) and x.dtype == np.float32 for _, x in got)
    pooled = torch.cat([(torch.from_numpy(x).double() - torch.from_numpy(x).double().mean(1, keepdim=True)).flatten() for _, x in got])
    assert corpus_std("quick", tmp_path) == pytest.approx(pooled.std().item(), rel=1e-12)
    # a second call finds the intact corpus and simulates nothing
    monkeypatch.setattr(corpus, "simulate", _no_md)
    prepare_corpus("quick", tmp_path, progress=False, per_length=1, md=md, lengths=(2, 3))
    monkeypatch.undo()
    # a transferable quick-tier reference takes its std from the corpus
    task = tiny_task("2AA", interval=5, warmup=20, length_ns=0.0005, n_eval=20)
    spec = task.systems_for("quick")[0]
    prepare_system(task, "quick", spec, tmp_path, progress=False)
    assert load_reference(task, "quick", spec, tmp_path).std == corpus_std("quick", tmp_path)
