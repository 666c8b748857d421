"""Batch sources: one system's frames, and a fake in-memory corpus of peptides of two lengths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from baselines.toolkit.coordinates import centre, random_rotations
from baselines.toolkit.data import CorpusBatches, FrameBatches
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec
from benchmark.systems.encodings import atom_encodings


def test_frame_batches_draw_uniform_indices_from_the_generator():
    frames = torch.arange(10.0)[:, None, None].expand(10, 2, 3)
    src = FrameBatches(frames, 4, lambda x, g: x[:, 0, 0])
    a = src.batch(torch.Generator().manual_seed(0))
    want = torch.randint(10, (4,), generator=torch.Generator().manual_seed(0)).float()
    assert torch.equal(a, want) and len(src) == 10


@dataclass
class Entry:
    """The duck type of benchmark.data.open_training_corpus entries."""

    sequence: str
    spec: SystemSpec
    frames: np.ndarray


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    out = []
    for seq, n_frames in (("AA", 30), ("GYD", 90)):
        spec = SystemSpec(seq, seq, ZWITTERION, AMBER14_OBC1)
        n = spec.build().n_atoms
        out.append(Entry(seq, spec, (rng.normal(size=(n_frames, n, 3)) * 0.3 + 5.0).astype(np.float32)))
    return out


def test_corpus_batches_are_padded_masked_and_encoded(corpus):
    src = CorpusBatches(iter(corpus), batch_size=64, sigma=0.5, rotate=False, com_noise=False)
    assert len(src) == 120
    b = src.batch(torch.Generator().manual_seed(1))
    n_atoms = {e.sequence: e.frames.shape[1] for e in corpus}
    assert b.x.shape == (64, max(n_atoms.values()), 3)
    by_seq = {e.sequence: e for e in corpus}
    for i, seq in enumerate(b.sequences):
        n = n_atoms[seq]
        assert b.mask[i].sum() == n and b.mask[i, :n].all()
        assert (b.x[i, n:] == 0).all() and (b.encodings["atom_type"][i, n:] == 0).all()
        assert b.encodings["atom_type"][i, :n].tolist() == atom_encodings(by_seq[seq].spec.build()).atom_type.tolist()
        assert b.encodings["seq_len"][i] == len(seq)
        # the row is one of this peptide's frames, centred and divided by sigma
        frames = centre(torch.as_tensor(by_seq[seq].frames)) / 0.5
        assert (frames - b.x[i, :n]).abs().flatten(1).max(1).values.min() < 1e-6
    # frames are drawn uniformly over all 120, so the 90-frame peptide is drawn about 3x as often
    many = CorpusBatches(corpus, 3000, 0.5, rotate=False, com_noise=False).batch(torch.Generator().manual_seed(2))
    assert sum(s == "GYD" for s in many.sequences) / 3000 == pytest.approx(0.75, abs=0.03)


def test_corpus_augmentation_rotates_real_atoms_and_leaves_padding(corpus):
    plain = CorpusBatches(corpus, 8, 0.5, rotate=False, com_noise=False, pad_to=60)
    rotated = CorpusBatches(corpus, 8, 0.5, rotate=True, com_noise=True, pad_to=60)
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = plain.batch(gen_a), rotated.batch(gen_b)
    assert b.x.shape == (8, 60, 3) and a.sequences == b.sequences
    gen = torch.Generator().manual_seed(3)
    torch.randint(120, (8,), generator=gen)  # the frame draw, then rotations, then CoM noise
    rot, eps = random_rotations(8, gen), torch.randn(8, 1, 3, generator=gen)
    for i in range(8):
        n = int(a.mask[i].sum())
        want = a.x[i, :n] @ rot[i].T + eps[i] / n**0.5
        assert torch.allclose(b.x[i, :n], want, atol=1e-5) and (b.x[i, n:] == 0).all()


def test_corpus_entries_must_match_their_topology(corpus):
    bad = Entry("AA", corpus[0].spec, np.zeros((3, 5, 3), np.float32))
    with pytest.raises(ValueError, match="do not match"):
        CorpusBatches([bad], 4, 0.5)
    with pytest.raises(ValueError, match="empty"):
        CorpusBatches([], 4, 0.5)
