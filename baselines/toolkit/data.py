"""Batch sources for the training loop: frames of one system, or a corpus of peptides of mixed lengths.

A batch source draws a batch from an explicit torch generator and nothing else, so the loop's
checkpoint (which stores the generator) makes training resumable exactly. Frames are drawn with
replacement, uniformly over all frames held (for a corpus: every frame of every peptide, so a
peptide counts by its number of frames, as the published shard stream does).

The corpus is held in memory: fine for the quick corpus (MBs); the published shards need a
streaming source with its own resumable state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from baselines.toolkit.coordinates import augment, centre, pad_encodings, pad_positions


class BatchSource(Protocol):
    """What the training loop draws from."""

    def __len__(self) -> int:
        """Number of training examples (what an epoch counts)."""

    def batch(self, generator: torch.Generator) -> Any:
        """One batch, using only ``generator`` for randomness."""


class FrameBatches:
    """Batches of one system's frames (T, N, 3): ``transform(frames[idx], generator)`` for idx drawn uniformly."""

    def __init__(self, frames: torch.Tensor | np.ndarray, batch_size: int,
                 transform: Callable[[torch.Tensor, torch.Generator], Any] = lambda x, g: x):
        self.frames = torch.as_tensor(frames, dtype=torch.float32)
        self.batch_size, self.transform = int(batch_size), transform

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, generator: torch.Generator) -> Any:
        idx = torch.randint(len(self.frames), (self.batch_size,), generator=generator)
        return self.transform(self.frames[idx], generator)


@dataclass
class PaddedBatch:
    """Conformations of mixed lengths, standardized and augmented, zero-padded to (B, L, 3).

    ``mask`` (B, L) is True on real atoms; ``encodings`` holds atom_type, aa_type, aa_pos, atom_index
    (B, L) zero-padded and seq_len (B,); ``sequences`` names the peptide of each row.
    """

    x: torch.Tensor
    mask: torch.Tensor
    encodings: dict[str, torch.Tensor]
    sequences: list[str] = field(default_factory=list)

    def to(self, device: torch.device | str) -> "PaddedBatch":
        return PaddedBatch(self.x.to(device), self.mask.to(device),
                           {k: v.to(device) for k, v in self.encodings.items()}, self.sequences)


def default_encoder(spec: Any) -> Any:
    """Per-atom encodings of a corpus peptide (benchmark.systems.encodings), from its SystemSpec."""
    from benchmark.systems.encodings import atom_encodings

    return atom_encodings(spec.build())


class CorpusBatches:
    """Padded batches from a corpus: an iterable of entries with ``.sequence``, ``.spec`` and ``.frames``
    (T, N, 3) float32 nm (``benchmark.data.open_training_corpus``).

    Each frame is centred on its real atoms and divided by ``sigma``; frames are then padded to
    ``pad_to`` atoms (None: the longest in the batch) and augmented (Haar rotation, CoM noise with
    N = the real atom count). ``encoder(spec)`` gives the per-atom encodings (default: built from the spec).
    """

    def __init__(self, corpus: Iterable[Any], batch_size: int, sigma: float, rotate: bool = True,
                 com_noise: bool = True, pad_to: int | None = None,
                 encoder: Callable[[Any], Any] = default_encoder):
        self.batch_size, self.sigma, self.pad_to = int(batch_size), float(sigma), pad_to
        self.rotate, self.com_noise = rotate, com_noise
        self.sequences: list[str] = []
        self.frames: list[torch.Tensor] = []
        self.encodings: list[Any] = []
        for entry in corpus:
            frames = torch.as_tensor(np.asarray(entry.frames), dtype=torch.float32)
            enc = encoder(entry.spec)
            if frames.ndim != 3 or frames.shape[1] != len(enc.atom_type) or len(frames) == 0:
                raise ValueError(f"corpus entry {entry.sequence}: frames {tuple(frames.shape)} do not match its "
                                 f"{len(enc.atom_type)} atoms")
            self.sequences.append(entry.sequence)
            self.frames.append(frames)
            self.encodings.append(enc)
        if not self.frames:
            raise ValueError("the training corpus is empty")
        self.cumulative = torch.cumsum(torch.tensor([len(f) for f in self.frames]), 0)

    def __len__(self) -> int:
        return int(self.cumulative[-1])

    def batch(self, generator: torch.Generator) -> PaddedBatch:
        flat = torch.randint(len(self), (self.batch_size,), generator=generator)
        which = torch.searchsorted(self.cumulative, flat, right=True)
        start = torch.cat([torch.zeros(1, dtype=torch.long), self.cumulative[:-1]])
        rows = [centre(self.frames[int(p)][int(i - start[p])]) / self.sigma for p, i in zip(which, flat)]
        x, mask = pad_positions(rows, self.pad_to)
        x = augment(x, generator, self.rotate, self.com_noise, mask)
        enc = pad_encodings([self.encodings[int(p)] for p in which], x.shape[1])
        return PaddedBatch(x, mask, enc, [self.sequences[int(p)] for p in which])


__all__ = ["BatchSource", "CorpusBatches", "FrameBatches", "PaddedBatch", "default_encoder"]
