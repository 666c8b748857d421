"""The quick-tier training corpus: seeded sequences outside the evaluation lists, stored, streamed, hashed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.data import corpus_md, load_reference, open_training_corpus
from benchmark.data.corpus import corpus_std
from benchmark.data.corpus_md import corpus_sequences, prepare_corpus
from benchmark.data.generate import prepare_system
from benchmark.errors import DataError
from benchmark.tasks.protocol import LocalMD
from benchmark.tasks.sequences import ALL_EVALUATION_SEQUENCES

TINY = LocalMD(replicas=(2, 0, 0), frames_per_replica=5, frame_interval_steps=10, warmup_steps=10)


def test_corpus_sequences_are_seeded_and_held_out():
    seqs = corpus_sequences()
    assert seqs == corpus_sequences()
    assert seqs != corpus_sequences(seed=1)
    assert sorted({len(s) for s in seqs}) == list(range(2, 9))
    assert not set(seqs) & ALL_EVALUATION_SEQUENCES and len(set(seqs)) == len(seqs)


def _no_md(*args, **kwargs):
    raise AssertionError("cached data should have been reused")


def test_tiny_corpus_streams_hashes_and_std(tmp_path, tiny_task, monkeypatch):
    with pytest.raises(DataError, match="prepare-corpus"):
        open_training_corpus("quick", tmp_path)
    prepare_corpus("quick", tmp_path, progress=False, per_length=1, md=TINY, lengths=(2, 3))
    corpus = open_training_corpus("quick", tmp_path)
    expected = corpus_sequences(per_length=1, lengths=(2, 3))
    assert corpus.sequences == expected and corpus.n_frames == 20
    got = list(corpus)
    assert [e.sequence for e in got] == expected and [e.spec.name for e in got] == expected
    for entry in got:  # two replicas of 5 frames, in the atom order of the system built from the sequence
        assert entry.frames.shape == (10, entry.spec.build().n_atoms, 3) and entry.frames.dtype == np.float32
    pooled = torch.cat([(torch.from_numpy(e.frames).double() - torch.from_numpy(e.frames).double().mean(1, keepdim=True)).flatten()
                        for e in got])
    assert corpus.std_nm == pytest.approx(pooled.std().item(), rel=1e-10)
    assert corpus_std("quick", tmp_path) == corpus.std_nm
    described = corpus.describe()
    assert described["source"] == "local-md" and described["content_hash"] == corpus.content_hash
    assert len(corpus.content_hash) == 64
    # a second call finds the intact corpus and simulates nothing; the hash is stable
    monkeypatch.setattr(corpus_md, "simulate_replicas", _no_md)
    prepare_corpus("quick", tmp_path, progress=False, per_length=1, md=TINY, lengths=(2, 3))
    assert open_training_corpus("quick", tmp_path).content_hash == corpus.content_hash
    monkeypatch.undo()
    # other data, another hash
    prepare_corpus("quick", tmp_path / "other", progress=False, per_length=1, md=TINY, lengths=(2,), seed=7)
    assert open_training_corpus("quick", tmp_path / "other").content_hash != corpus.content_hash
    # a transferable quick-tier reference takes its std from the corpus
    task = tiny_task("2AA", replicas=(1, 0, 1), frames=20, interval=2, warmup=2)
    spec = task.systems_for("quick")[0]
    prepare_system(task, "quick", spec, tmp_path, progress=False)
    assert load_reference(task, "quick", spec, tmp_path).std == corpus.std_nm


def test_a_transferable_reference_loads_without_the_corpus(tmp_path, tiny_task):
    """Sampling and scoring a transferable task never need the training corpus; only its scale does."""
    task = tiny_task("2AA", replicas=(1, 0, 1), frames=20, interval=2, warmup=2)
    spec = task.systems_for("quick")[0]
    prepare_system(task, "quick", spec, tmp_path, progress=False)
    ref = load_reference(task, "quick", spec, tmp_path)
    assert len(ref.eval_positions) > 0
    with pytest.raises(DataError, match="prepare-corpus"):
        ref.std


def test_the_corpus_card_names_the_corpus_by_its_content_hash(tmp_path):
    from benchmark.data import cards

    prepare_corpus("quick", tmp_path, progress=False, per_length=1, md=TINY, lengths=(2,))
    path = cards.corpus_card(tmp_path / "cards", [tmp_path])
    assert cards.card_corpus_hash(tmp_path / "cards") == open_training_corpus("quick", tmp_path).content_hash
    path.write_text(path.read_text().replace("settings_sha256: ", "settings_sha256: 0"))  # made for other settings
    assert cards.card_corpus_hash(tmp_path / "cards") is None


def test_corrupt_corpus_is_refused(tmp_path):
    prepare_corpus("quick", tmp_path, progress=False, per_length=1, md=TINY, lengths=(2,))
    corpus = open_training_corpus("quick", tmp_path)
    path = corpus.folder / corpus.manifest["roles"][corpus.sequences[0]]
    path.write_bytes(path.read_bytes()[:-4] + b"\0\0\0\1")
    with pytest.raises(DataError, match="corrupt"):
        open_training_corpus("quick", tmp_path)
