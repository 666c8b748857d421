"""Shared fixtures of the ROBIN tests: one thread, and an in-memory corpus with the duck type of
``benchmark.data.open_training_corpus`` (entries with .sequence, .spec, .frames; .std_nm, .content_hash)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec
from tests.threads import one_torch_thread  # noqa: F401  (autouse: one torch thread for these tests)


@dataclass(frozen=True)
class Entry:
    sequence: str
    spec: SystemSpec
    frames: np.ndarray


class FakeCorpus:
    """Jittered copies of the built structures of a few peptides, in topology atom order (nm)."""

    def __init__(self, sequences=("AG", "GPA", "KAE"), frames: int = 12, jitter: float = 0.01):
        self.entries = []
        rng = np.random.default_rng(0)
        for seq in sequences:
            spec = SystemSpec(seq, seq, ZWITTERION, AMBER14_OBC1)
            x0 = spec.build().initial_positions
            self.entries.append(Entry(seq, spec, (x0[None] + jitter * rng.standard_normal((frames, *x0.shape))).astype(np.float32)))
        pooled = np.concatenate([(e.frames - e.frames.mean(1, keepdims=True)).ravel() for e in self.entries])
        self.std_nm = float(pooled.astype(np.float64).std(ddof=1))
        self.content_hash = "fake-corpus-" + "-".join(sequences)
        self.sequences = list(sequences)

    def __iter__(self):
        return iter(self.entries)


@pytest.fixture(scope="session")
def fake_corpus() -> FakeCorpus:
    return FakeCorpus()
