"""Training corpora for transferable methods: a small local one (quick tier) or the published shards.

The quick corpus is a fixed, seeded set of peptides of lengths 2 to 8, none of them a published
validation or test peptide, each simulated briefly with the ManyPeptidesMD recipe (amber14 + OBC1,
310 K). It exists so that transferable methods can be trained end to end here; it is far too small
and short to train a good model (see data_cards/quick-training-corpus.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmark.data import store
from benchmark.io import atomic_save_npy
from benchmark.data.generate import MDRun, simulate
from benchmark.seeding import derived_seed
from benchmark.errors import DataError
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec
from benchmark.systems.residues import ONE_TO_THREE
from benchmark.tasks.protocol import LocalMD
from benchmark.tasks.sequences import ALL_EVALUATION_SEQUENCES

CORPUS_SEED = 20_240_601
CORPUS_LENGTHS = (2, 3, 4, 5, 6, 7, 8)
PER_LENGTH = 2
#: 5 ps per peptide after 1 ps warm-up, a frame every 25 fs -> 200 frames each.
CORPUS_MD = LocalMD(length_ns=0.005, frame_interval_steps=25, warmup_steps=1_000, split_fractions=(1.0, 0.0, 0.0))


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


def corpus_dir(tier: str, root: Path | None = None) -> Path:
    return (root or store.data_dir()) / "corpus" / tier


def _settings(sequences: list[str], md: LocalMD, seed: int) -> dict:
    from dataclasses import asdict

    record = {"sequences": sequences, "local_md": asdict(md), "forcefield": AMBER14_OBC1.describe(), "seed": seed}
    return json.loads(json.dumps(record))  # as stored in (and read back from) the JSON manifest


def prepare_corpus(tier: str = "quick", root: Path | None = None, progress: bool = True, seed: int = CORPUS_SEED,
                   per_length: int = PER_LENGTH, md: LocalMD = CORPUS_MD, lengths: tuple[int, ...] = CORPUS_LENGTHS) -> Path:
    """Simulate the quick-tier corpus (skipped when an up-to-date, intact copy exists); returns its folder."""
    if tier != "quick":
        raise DataError("The paper-tier corpus is the published ManyPeptidesMD shards: run `bgbench data import 8AA --from DIR`.")
    folder = corpus_dir(tier, root)
    sequences = corpus_sequences(seed, per_length, lengths)
    settings = _settings(sequences, md, seed)
    manifest = store.read_manifest(folder)
    if manifest is not None and manifest.get("settings") == settings:
        try:
            store.verify_files(folder, manifest, "")
            return folder
        except DataError:
            pass
    t0 = time.perf_counter()
    arrays = []
    version = store.next_version(folder)  # the cached corpus stays readable until the commit
    for seq in sequences:
        path = version / f"{seq}.npy"
        spec = SystemSpec(seq, seq, ZWITTERION, AMBER14_OBC1)
        run = MDRun.from_local_md(md, derived_seed(seed, "corpus", seq), spec)
        positions, _ = simulate(spec.build(), run, folder / ".work" / seq, progress=progress)
        atomic_save_npy(path, positions)
        arrays.append(positions)
    pooled = np.concatenate([(a - a.mean(axis=1, keepdims=True)).reshape(-1) for a in (x.astype(np.float64) for x in arrays)])
    std = float(pooled.std(ddof=1))
    store.commit_version(folder, version, [f"{s}.npy" for s in sequences], source="local-md", tier=tier, settings=settings,
                         roles={s: f"{version.name}/{s}.npy" for s in sequences},
                         std_nm=std, frames_per_sequence={s: len(a) for s, a in zip(sequences, arrays)},
                         generation_seconds=round(time.perf_counter() - t0, 1), units={"positions": "nm"})
    import shutil

    shutil.rmtree(folder / ".work", ignore_errors=True)
    return folder


def corpus_std(tier: str, root: Path | None = None) -> float:
    """Standardisation scale of the quick corpus (std of all centred training coordinates, nm)."""
    manifest = store.read_manifest(corpus_dir(tier, root))
    if manifest is None or "std_nm" not in manifest:
        raise DataError(f"The {tier}-tier training corpus is not prepared; run `bgbench data prepare-corpus --tier {tier}`.")
    return float(manifest["std_nm"])


def iter_training_corpus(tier: str, data_dir: Path | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """(sequence, (T, N, 3) nm) for the quick corpus, or for runs of frames in the published shards (paper)."""
    folder = corpus_dir(tier, data_dir)
    manifest = store.read_manifest(folder)
    if tier == "quick":
        if manifest is None:
            raise DataError("The quick-tier training corpus is not prepared; run `bgbench data prepare-corpus --tier quick`.")
        store.verify_files(folder, manifest, "Run `bgbench data prepare-corpus --tier quick` to regenerate it.")
        for seq in manifest["settings"]["sequences"]:
            yield seq, np.load(folder / manifest["roles"][seq], allow_pickle=False)
        return
    if manifest is None:
        raise DataError("The published training shards are not registered; run `bgbench data import 8AA --from DIR` "
                        "with a copy of ManyPeptidesMD that includes webdatasets/single_frames/.")
    from benchmark.data.published import iter_shards

    shard_dir = Path(manifest["shard_dir"])
    paths = [shard_dir / name for name in sorted(manifest["shards"])]
    for p in paths:
        if not p.is_file() or p.stat().st_size != manifest["shards"][p.name]:
            raise DataError(f"Training shard {p} is missing or changed size since it was imported; import the data again.")
    yield from iter_shards(paths)


def corpus_summary(tier: str, root: Path | None = None) -> dict | None:
    manifest = store.read_manifest(corpus_dir(tier, root))
    return None if manifest is None else json.loads(json.dumps(manifest))
