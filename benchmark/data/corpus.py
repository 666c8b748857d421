"""Training corpora of transferable methods, read one peptide at a time.

One reader for both tiers, so that a method trains on the quick corpus and on ManyPeptidesMD
through the same code path:

* quick: the local corpus made by ``bgbench data prepare-corpus`` (one ``{SEQ}.npy`` per
  peptide, hashed in the manifest; see benchmark/data/corpus_md.py);
* paper: the published webdataset shards, read in place (they are large), as registered by
  ``bgbench data import 8AA --from DIR``.

``open_training_corpus(tier)`` returns a ``TrainingCorpus``: its ``sequences``, standardisation
scale ``std_nm`` and ``content_hash`` are known up front; iterating streams ``CorpusEntry``
objects, so memory holds one peptide's frames (quick) or one run of frames (shards), never the
corpus. The content hash keys trained weights: it changes whenever the data changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.data import store
from benchmark.data.formats import PUBLISHED_TRANSFER_STD, iter_shards
from benchmark.errors import DataError
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec

QUICK_HINT = "run `bgbench data prepare-corpus --tier quick`"
PAPER_HINT = ("run `bgbench data import 8AA --from DIR` with a copy of ManyPeptidesMD that includes "
              "webdatasets/single_frames/")


def corpus_spec(sequence: str) -> SystemSpec:
    """The system of a corpus peptide: a zwitterion with the ManyPeptidesMD recipe (amber14 + OBC1, 310 K)."""
    return SystemSpec(sequence, sequence, ZWITTERION, AMBER14_OBC1)


@dataclass(frozen=True)
class CorpusEntry:
    """Frames of one training peptide: (T, N, 3) float32 nm in the bgbench topology atom order."""

    sequence: str
    spec: SystemSpec
    frames: np.ndarray


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def quick_content_hash(file_hashes: dict[str, str]) -> str:
    """The quick corpus's content hash from its {file name: sha256} (a manifest's or the committed card's)."""
    return _digest({"tier": "quick", "files": dict(file_hashes)})


class TrainingCorpus:
    """A tier's training corpus: facts up front, frames streamed by iteration."""

    def __init__(self, tier: str, folder: Path, manifest: dict):
        self.tier = tier
        self.folder = folder
        self.manifest = manifest
        self.source: str = manifest.get("source", "local-md" if tier == "quick" else "published")

    # --- facts ------------------------------------------------------------------------------
    @property
    def sequences(self) -> list[str]:
        """Peptides in the corpus, in stream order (paper: the registered list, if any, else unknown until read)."""
        return list(self.manifest.get("sequences") or self.manifest.get("settings", {}).get("sequences", []))

    @property
    def std_nm(self) -> float:
        """Standardisation scale of the tier (quick: std of the centred corpus frames; paper: the published 0.35 nm)."""
        return float(self.manifest["std_nm"]) if self.tier == "quick" else PUBLISHED_TRANSFER_STD

    @property
    def n_frames(self) -> int | None:
        """Total frames, where known (the published shards are not counted, to avoid reading them)."""
        per = self.manifest.get("frames_per_sequence")
        return int(sum(per.values())) if per else None

    @property
    def content_hash(self) -> str:
        """sha256 that changes whenever the corpus data changes (keys trained weights).

        Quick: over the sha256 of every corpus file. Paper: over the fingerprint of every shard
        (its size and the sha256 of its first MiB); hashing the terabytes in full is left out.
        """
        if self.tier == "quick":
            return quick_content_hash({Path(k).name: v["sha256"] for k, v in self.manifest["files"].items()})
        return _digest({"tier": self.tier, "shards": self.manifest["shards"]})

    def describe(self) -> dict:
        """Plain data for run records and weight keys: source, tier, content hash, sizes, how it was made."""
        out = {"tier": self.tier, "source": self.source, "content_hash": self.content_hash, "std_nm": self.std_nm,
               "n_sequences": len(self.sequences) or None, "n_frames": self.n_frames}
        if self.tier == "quick":
            out["settings"] = self.manifest.get("settings")
            out["software"] = self.manifest.get("software")
        else:
            out.update(hub_repo=self.manifest.get("hub_repo"), n_shards=len(self.manifest["shards"]),
                       fingerprint="size and sha256 of the first MiB of each shard")
        return out

    # --- frames -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[CorpusEntry]:
        if self.tier == "quick":
            for seq in self.sequences:
                frames = np.load(self.folder / self.manifest["roles"][seq], allow_pickle=False)
                yield CorpusEntry(seq, corpus_spec(seq), frames)
            return
        for seq, frames in iter_shards(self.shard_paths()):
            yield CorpusEntry(seq, corpus_spec(seq), frames)

    def shard_paths(self) -> list[Path]:
        """The registered shard files, checked for presence and size (paper tier)."""
        shard_dir = Path(self.manifest["shard_dir"])
        paths = [shard_dir / name for name in sorted(self.manifest["shards"])]
        for p in paths:
            if not p.is_file() or p.stat().st_size != self.manifest["shards"][p.name]["bytes"]:
                raise DataError(f"Training shard {p} is missing or changed size since it was registered; {PAPER_HINT}.")
        return paths


def open_training_corpus(tier: str, data_dir: Path | None = None, verify: bool = True) -> TrainingCorpus:
    """The training corpus of ``tier`` ("quick" or "paper"); DataError says what to run if it is missing.

    ``verify`` re-hashes the quick corpus files (tens of MB) so that a corrupt copy is refused.
    """
    folder = store.corpus_dir(tier, data_dir)
    manifest = store.read_manifest(folder)
    hint = QUICK_HINT if tier == "quick" else PAPER_HINT
    if manifest is None:
        raise DataError(f"The {tier}-tier training corpus is not in {folder}; {hint}.")
    if tier == "quick":
        if "std_nm" not in manifest:
            raise DataError(f"The quick-tier corpus manifest in {folder} is incomplete; {hint}.")
        if verify:
            store.verify_files(folder, manifest, f"To regenerate it, {hint}.")
    elif not isinstance(next(iter(manifest.get("shards", {}).values()), {}), dict):
        raise DataError(f"The shard registration in {folder} predates shard fingerprints; {hint}.")
    return TrainingCorpus(tier, folder, manifest)


def corpus_std(tier: str, data_dir: Path | None = None) -> float:
    """Standardisation scale (nm) of a tier's transferable tasks, without reading any frames."""
    return open_training_corpus(tier, data_dir, verify=False).std_nm


__all__ = ["CorpusEntry", "TrainingCorpus", "corpus_spec", "corpus_std", "open_training_corpus", "quick_content_hash"]
