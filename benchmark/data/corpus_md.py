"""Making the quick-tier training corpus: seeded peptides of lengths 2 to 8, replica MD each.

The corpus is a fixed, seeded set of peptides, none of them a published validation or test
peptide, each simulated as a few independent replicas (basin starts, warm-up discarded; the same
engine as the quick reference data, replica_md.py) with the ManyPeptidesMD recipe (amber14 + OBC1,
310 K). It exists so that transferable methods can be trained end to end here; what a model
trained on it can and cannot show is in data_cards/quick-training-corpus.md. Reading it is
``corpus.open_training_corpus``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from benchmark.data import store
from benchmark.data.basins import backbone_residues
from benchmark.data.corpus import corpus_spec
from benchmark.data.replica_md import ReplicaPlan, cpu_seconds, get_backend, simulate_replicas
from benchmark.errors import DataError
from benchmark.io import atomic_save_npy
from benchmark.systems.residues import ONE_TO_THREE
from benchmark.tasks.protocol import LocalMD
from benchmark.tasks.sequences import ALL_EVALUATION_SEQUENCES

CORPUS_SEED = 20_240_601
CORPUS_LENGTHS = (2, 3, 4, 5, 6, 7, 8)
PER_LENGTH = 4
#: Per peptide: one replica per start basin (all "train"), 1 ps warm-up discarded, 100 frames every 20 fs.
#: Sized to what the Reference backend makes in about 15 minutes on 2 cores (28 peptides, 8 400 frames).
CORPUS_MD = LocalMD(replicas=(3, 0, 0), frames_per_replica=100, frame_interval_steps=20, warmup_steps=1_000)


def corpus_sequences(seed: int = CORPUS_SEED, per_length: int = PER_LENGTH, lengths: tuple[int, ...] = CORPUS_LENGTHS) -> list[str]:
    """The seeded corpus sequences: ``per_length`` random peptides per length, avoiding evaluation peptides."""
    rng = np.random.default_rng(seed)
    letters = sorted(ONE_TO_THREE)
    out: list[str] = []
    for length in lengths:
        while sum(len(s) == length for s in out) < per_length:
            seq = "".join(rng.choice(letters, size=length))
            if seq not in ALL_EVALUATION_SEQUENCES and seq not in out:
                out.append(seq)
    return out


def corpus_settings(sequences: list[str], md: LocalMD, seed: int) -> dict:
    """What determines the corpus (compared with the manifest to detect a stale copy)."""
    record = {"sequences": sequences, "local_md": asdict(md), "forcefield": corpus_spec("AA").forcefield.describe(),
              "seed": seed}
    return json.loads(json.dumps(record))  # as stored in (and read back from) the JSON manifest


def corpus_settings_sha256(seed: int = CORPUS_SEED, per_length: int = PER_LENGTH, md: LocalMD = CORPUS_MD,
                           lengths: tuple[int, ...] = CORPUS_LENGTHS) -> str:
    """sha256 of what determines the corpus (the card records it, so a stale card is recognised)."""
    settings = corpus_settings(corpus_sequences(seed, per_length, lengths), md, seed)
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def corpus_is_current(tier: str = "quick", root: Path | None = None, seed: int = CORPUS_SEED, per_length: int = PER_LENGTH,
                      md: LocalMD = CORPUS_MD, lengths: tuple[int, ...] = CORPUS_LENGTHS) -> bool:
    """Whether an intact corpus of these settings is cached (hashes checked)."""
    folder = store.corpus_dir(tier, root)
    manifest = store.read_manifest(folder)
    if manifest is None or manifest.get("settings") != corpus_settings(corpus_sequences(seed, per_length, lengths), md, seed):
        return False
    try:
        store.verify_files(folder, manifest, "")
    except DataError:
        return False
    return True


def prepare_corpus(tier: str = "quick", root: Path | None = None, progress: bool = True, seed: int = CORPUS_SEED,
                   per_length: int = PER_LENGTH, md: LocalMD = CORPUS_MD, lengths: tuple[int, ...] = CORPUS_LENGTHS,
                   force: bool = False, workers: int | None = None) -> Path:
    """Simulate the quick-tier corpus (skipped when an up-to-date, intact copy exists); returns its folder.

    A killed run resumes peptide by peptide and segment by segment; ``force`` starts over.
    """
    if tier != "quick":
        raise DataError("The paper-tier corpus is the published ManyPeptidesMD shards: run `bgbench data import 8AA --from DIR`.")
    folder = store.corpus_dir(tier, root)
    sequences = corpus_sequences(seed, per_length, lengths)
    settings = corpus_settings(sequences, md, seed)
    if force:
        store.clear_scratch(folder)
    elif corpus_is_current(tier, root, seed, per_length, md, lengths):
        return folder
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    backend = get_backend(md.backend, workers)
    pooled_sum = pooled_sq = 0.0
    frames_per_sequence: dict[str, int] = {}
    version = store.next_version(folder)  # the cached corpus stays readable until the commit
    try:
        for seq in sequences:
            spec = corpus_spec(seq)
            plan = ReplicaPlan.for_splits(md, len(backbone_residues(spec.build())), seed, "corpus", seq)
            frames, _ = simulate_replicas(spec, plan, store.scratch_dir(folder) / seq, backend, progress=progress)
            flat = frames.reshape(-1, *frames.shape[2:])
            atomic_save_npy(version / f"{seq}.npy", flat)
            frames_per_sequence[seq] = len(flat)
    finally:
        backend.close()
    # std of every centred coordinate of the corpus, computed one peptide at a time (as the reader streams it)
    n = 0
    for seq in sequences:
        x = np.load(version / f"{seq}.npy").astype(np.float64)
        c = (x - x.mean(axis=1, keepdims=True)).reshape(-1)
        pooled_sum, pooled_sq, n = pooled_sum + c.sum(), pooled_sq + (c * c).sum(), n + c.size
    std = float(np.sqrt((pooled_sq - pooled_sum**2 / n) / (n - 1)))
    store.commit_version(folder, version, [f"{s}.npy" for s in sequences], source="local-md", tier=tier,
                         settings=settings, sequences=sequences, roles={s: f"{version.name}/{s}.npy" for s in sequences},
                         std_nm=std, frames_per_sequence=frames_per_sequence, replicas_per_sequence=md.replicas[0],
                         md_backend=md.backend, generation_seconds=round(time.perf_counter() - t0, 1),
                         generation_cpu_seconds=round(cpu_seconds() - cpu0, 1),
                         units={"positions": "nm"})
    store.clear_scratch(folder)
    return folder


__all__ = ["CORPUS_MD", "CORPUS_SEED", "corpus_is_current", "corpus_sequences", "corpus_settings", "corpus_settings_sha256",
           "prepare_corpus"]
