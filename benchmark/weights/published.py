"""Published checkpoints: where they live on the hub, and how a copy gets into the weights store.

``fetch`` downloads with huggingface_hub where the hub is reachable; ``import_published`` copies a
file from a downloaded folder (machines without internet). Either way the file lands in
``<weights root>/published/<name>/`` with a manifest holding its sha256, hub repository and path;
loading later verifies the hash and reads tensors without unpickling (safe_load.py).

Method families add their published checkpoints to ``PUBLISHED`` (one entry per file).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmark.io import atomic_copy, atomic_write_text
from benchmark.weights.store import MANIFEST_FILE, WeightsEntry, WeightsError, WeightsStore, sha256_file


@dataclass(frozen=True)
class PublishedWeights:
    """One released checkpoint file."""

    name: str  # bgbench's name, e.g. "robin"
    method: str  # the method that loads it
    hub_repo: str
    filename: str  # path inside the hub repository
    description: str
    layout: str  # the spec section that fixes its keys
    repo_type: str = "model"


PUBLISHED: dict[str, PublishedWeights] = {}


def register(weights: PublishedWeights) -> PublishedWeights:
    """Add a published checkpoint to the registry (method families call this at import)."""
    PUBLISHED[weights.name] = weights
    return weights


def published(name: str) -> PublishedWeights:
    from benchmark.errors import UnknownNameError

    _load_families()
    if name not in PUBLISHED:
        raise UnknownNameError("published checkpoint", name, PUBLISHED)
    return PUBLISHED[name]


def _load_families() -> None:
    """Import the built-in methods' weight registrations (lazy: listing weights must not need torch models)."""
    import importlib

    for module in ("baselines.weights",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            pass


def published_entry(name: str, store: WeightsStore | None = None) -> WeightsEntry:
    store = store or WeightsStore()
    return WeightsEntry(store.root / "published" / name)


def import_published(name: str, source: Path, store: WeightsStore | None = None) -> WeightsEntry:
    """Copy ``source`` (the file itself, or a folder holding it at its hub path) into the store."""
    spec = published(name)
    source = Path(source)
    candidates = [source] if source.is_file() else [source / spec.filename, source / Path(spec.filename).name]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise WeightsError(f"{spec.filename} not found under {source}; download {spec.hub_repo} "
                           f"(`huggingface-cli download {spec.hub_repo} {spec.filename} --local-dir DIR`) and pass DIR.")
    entry = published_entry(name, store)
    with entry.lock():
        target = entry.folder / Path(spec.filename).name
        atomic_copy(found, target)
        manifest = {"source": "published", "method": spec.method, "published": asdict(spec), "digest": name,
                    "status": "complete", "key": {"method": spec.method, "subject": name, "hub_repo": spec.hub_repo},
                    "files": {target.name: {"sha256": sha256_file(target), "bytes": target.stat().st_size}},
                    "imported_from": str(found)}
        atomic_write_text(entry.folder / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return entry


def fetch(name: str, store: WeightsStore | None = None) -> WeightsEntry:
    """Download a published checkpoint (needs the hub) and import it."""
    from benchmark.data.published import hub_reachable

    spec = published(name)
    if not hub_reachable():
        raise WeightsError(
            f"The Hugging Face hub cannot be reached from here. On a machine with internet run "
            f"`huggingface-cli download {spec.hub_repo} {spec.filename} --local-dir DIR`, copy DIR here and run "
            f"`bgbench weights import {name} --from DIR`.")
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(repo_id=spec.hub_repo, filename=spec.filename, repo_type=spec.repo_type)
    return import_published(name, Path(path), store)


def published_file(name: str, store: WeightsStore | None = None) -> Path:
    """The verified local copy of a published checkpoint, or a WeightsError saying how to get it."""
    spec = published(name)
    entry = published_entry(name, store)
    if not (entry.folder / MANIFEST_FILE).is_file():
        raise WeightsError(f"The published {name} checkpoint is not in the weights store. Run `bgbench weights fetch "
                           f"{name}` (online) or `bgbench weights import {name} --from DIR` with a download of "
                           f"{spec.hub_repo}/{spec.filename}.")
    return entry.verify(Path(spec.filename).name)


__all__ = ["PUBLISHED", "PublishedWeights", "fetch", "import_published", "published", "published_entry",
           "published_file", "register"]
