"""The reference-data cache: one folder per (task, tier, system), files hashed in a manifest.

Why a manifest: evaluation numbers are only comparable if the reference data is the same. The
manifest records the sha256 of every file, how the data was made (generator settings, software
versions, task version) and where it came from, so loading can tell missing, stale and corrupt data
apart and say what to run. Files are written to a temporary name and moved into place with
``os.replace``; the manifest is written last, so an interrupted write never leaves a folder that
looks complete.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import DataError
from benchmark.io import atomic_write_text, sha256_file
from benchmark.paths import data_dir

MANIFEST = "manifest.json"
WORK = ".work"


def system_dir(task: str, tier: str, system: str, root: Path | None = None) -> Path:
    """Folder of one (task, tier, system); system names are used verbatim (they are file-safe)."""
    return (root or data_dir()) / task / tier / system


def corpus_dir(tier: str, root: Path | None = None) -> Path:
    """Folder of a tier's training corpus (the quick corpus, or the registration of the published shards)."""
    return (root or data_dir()) / "corpus" / tier


def scratch_dir(folder: Path) -> Path:
    """Scratch folder of an unfinished generation inside ``folder`` (segments that let a killed run resume)."""
    return folder / WORK


def clear_scratch(folder: Path) -> None:
    """Forget every unfinished segment of ``folder``: the next generation starts from scratch."""
    shutil.rmtree(scratch_dir(folder), ignore_errors=True)


def software_versions() -> dict[str, str]:
    """Versions that can change generated data or its interpretation."""
    import mdtraj
    import openmm

    from benchmark import __version__

    return {
        "bgbench": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "openmm": openmm.__version__,
        "mdtraj": mdtraj.__version__,
    }


def write_manifest(folder: Path, files: list[str], **fields: Any) -> dict:
    """Hash ``files`` (names inside ``folder``) and write the manifest last, atomically."""
    manifest = dict(fields)
    manifest["files"] = {name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size} for name in sorted(files)}
    manifest.setdefault("software", software_versions())
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return manifest


def read_manifest(folder: Path) -> dict | None:
    """The manifest of a folder, or None if the folder holds no complete data."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"The manifest {path} is corrupt ({err}). Delete {folder} and prepare the data again.") from err


def verify_files(folder: Path, manifest: dict, how_to_fix: str) -> None:
    """Raise DataError naming the first file that is missing or whose sha256 differs."""
    for name, info in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            raise DataError(f"Reference data file {path} is missing. {how_to_fix}")
        digest = sha256_file(path)
        if digest != info["sha256"]:
            raise DataError(
                f"Reference data file {path} is corrupt or was changed: sha256 {digest[:12]}... does not match "
                f"the manifest ({info['sha256'][:12]}...). {how_to_fix}"
            )


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def next_version(folder: Path) -> Path:
    """A fresh ``v{k}`` sub-folder for a new version of a folder's files.

    New files go there while the manifest still names the previous version, so an interrupted
    write leaves the previous data readable; ``commit_version`` switches over atomically.
    """
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name[1:]) for p in folder.glob("v*") if p.is_dir() and p.name[1:].isdigit()]
    version = folder / f"v{max(numbers, default=0) + 1}"
    version.mkdir()
    return version


def commit_version(folder: Path, version: Path, names: list[str], **fields: Any) -> dict:
    """Write the manifest naming ``version``'s files (the atomic switch), then drop older versions."""
    manifest = write_manifest(folder, [f"{version.name}/{n}" for n in names], **fields)
    for old in folder.glob("v*"):
        if old.is_dir() and old != version:
            shutil.rmtree(old, ignore_errors=True)
    return manifest
