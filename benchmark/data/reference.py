"""What evaluation reads: the reference set of one system, with provenance, checked on load.

Readers only: nothing here makes data (that is ``generate`` and ``published``), so evaluation
code can import this module without pulling in the MD engine or the hub client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.data import store
from benchmark.data.corpus import corpus_std
from benchmark.data.formats import (
    PUBLISHED_TRANSFER_STD, load_positions, local_settings_record, read_subsampled_npz, stride_subsample,
)
from benchmark.errors import DataError
from benchmark.metrics.tica import TicaProjection
from benchmark.systems import SystemSpec
from benchmark.tasks.registry import Task


@dataclass
class ReferenceData:
    """Reference conformations of one system in one tier, and where they came from."""

    task: str
    tier: str
    system: str
    source: str  # "local-md" or "published"
    eval_positions: np.ndarray  # (n, N, 3) nm
    test_positions: np.ndarray  # (T, N, 3) nm, trajectories concatenated in time order
    tica: TicaProjection | None  # the published TICA model (ManyPeptidesMD), else None
    manifest: dict
    folder: Path | None = None
    _perm: np.ndarray | None = field(default=None, repr=False)
    _task: Task | None = field(default=None, repr=False)
    _data_dir: Path | None = field(default=None, repr=False)

    @property
    def std(self) -> float:
        """Standardisation scale (nm): the system's own for single systems, the corpus's for transferable
        tasks. Read on demand, so that sampling and evaluating a transferable task never need the
        training corpus (only a method that trains on it does)."""
        if self._task is None:
            return float(self.manifest["std_nm"])
        return _std(self._task, self.tier, self.manifest, self._data_dir)

    def _role(self, role: str) -> np.ndarray:
        name = self.manifest.get("roles", {}).get(role)
        if name is None or self.folder is None:
            raise DataError(f"No {role} split is stored for {self.system} ({self.source} data of task {self.task}).")
        return load_positions(self.folder / name, self._perm)

    def train_positions(self) -> np.ndarray:
        return self._role("train")

    def val_positions(self) -> np.ndarray:
        return self._role("val")

    @property
    def test_trajectories(self) -> list[np.ndarray]:
        """The test split cut into its independent trajectories (one per MD replica; one if unknown).

        Time-lagged statistics (the TICA fit) must not pair frames across two replicas.
        """
        lengths = self.manifest.get("segments", {}).get("test")
        if not lengths:
            return [self.test_positions]
        return np.split(self.test_positions, np.cumsum(lengths)[:-1])


def missing_hint(task: Task, tier: str) -> str:
    if task.protocol(tier).reference == "local-md":
        return f"Run `bgbench data prepare {task.name} --tier {tier}`."
    return f"Run `bgbench data fetch {task.name}` (online) or `bgbench data import {task.name} --from DIR` (a downloaded copy)."


def _training_file(task: Task, tier: str, system: SystemSpec, data_dir: Path | None) -> tuple[Path, dict, dict]:
    """The train split file of a system, its manifest entry and the manifest, checked (never the eval split)."""
    folder = store.system_dir(task.name, tier, system.name, data_dir)
    manifest = store.read_manifest(folder)
    hint = missing_hint(task, tier)
    if manifest is None:
        raise DataError(f"No data for {system.name} (task {task.name}, tier {tier}) in {folder}. {hint}")
    name = manifest.get("roles", {}).get("train")
    if name is None:
        raise DataError(f"No training split is stored for {system.name} (task {task.name}, tier {tier}).")
    info = manifest["files"][name]
    path = folder / name
    if not path.is_file() or store.sha256_file(path) != info["sha256"]:
        raise DataError(f"Training split {path} is missing or changed. Delete {folder} and {hint[0].lower()}{hint[1:]}")
    return path, info, manifest


def load_training_positions(task: Task, tier: str, system: SystemSpec, data_dir: Path | None = None) -> np.ndarray:
    """Training frames (T, N, 3) nm of one system: reads the train split only, hash-checked."""
    path, _, manifest = _training_file(task, tier, system, data_dir)
    perm = np.asarray(manifest["atom_permutation"]) if manifest.get("atom_permutation") is not None else None
    return load_positions(path, perm)


def training_data_hash(task: Task, tier: str, system: SystemSpec, data_dir: Path | None = None) -> str:
    """sha256 of a system's training split (what keys the weights trained on it)."""
    return _training_file(task, tier, system, data_dir)[1]["sha256"]


def load_reference(task: Task, tier: str, system: SystemSpec, data_dir: Path | None = None) -> ReferenceData:
    """Load and check the cached reference data of ``system``; DataError says what to run if it is unusable."""
    folder = store.system_dir(task.name, tier, system.name, data_dir)
    hint = missing_hint(task, tier)
    manifest = store.read_manifest(folder)
    if manifest is None:
        raise DataError(f"No reference data for {system.name} (task {task.name}, tier {tier}) in {folder}. {hint}")
    if manifest.get("task_version") != task.version:
        raise DataError(f"Reference data in {folder} is stale: made for task version {manifest.get('task_version')}, "
                        f"task {task.name} is now version {task.version}. {hint}")
    protocol = task.protocol(tier)
    if manifest["source"] == "local-md" and manifest.get("settings") != local_settings_record(system, protocol.local_md):
        raise DataError(f"Reference data in {folder} is stale: its MD settings differ from task {task.name}'s. "
                        f"Run `bgbench data prepare {task.name} --tier {tier}` to regenerate it.")
    store.verify_files(folder, manifest, f"Delete {folder} and {hint[0].lower()}{hint[1:]}")

    perm = np.asarray(manifest["atom_permutation"]) if manifest.get("atom_permutation") is not None else None
    roles = manifest["roles"]
    tica = None
    if "npz" in roles:  # published ManyPeptidesMD evaluation file
        test, tica = read_subsampled_npz(folder / roles["npz"], system.build())
        if perm is not None:
            test = test[:, perm]
            # the published model was fitted on features of the file's atom order: compute them in that order
            tica = tica.in_atom_order(np.argsort(perm))
        eval_positions = test[: protocol.n_eval_samples]
    else:
        test = load_positions(folder / roles["test"], perm)
        eval_positions = stride_subsample(test, protocol.n_eval_samples)
    return ReferenceData(task=task.name, tier=tier, system=system.name, source=manifest["source"],
                         eval_positions=eval_positions, test_positions=test, tica=tica,
                         manifest=manifest, folder=folder, _perm=perm, _task=task, _data_dir=data_dir)


def _std(task: Task, tier: str, manifest: dict, data_dir: Path | None) -> float:
    if not task.transferable:
        return float(manifest["std_nm"])
    if tier == "paper":
        return PUBLISHED_TRANSFER_STD
    return corpus_std(tier, data_dir)


def content_hashes(ref: ReferenceData) -> dict[str, str]:
    """sha256 of every file behind ``ref`` (what a result record stores)."""
    return {Path(name).name: info["sha256"] for name, info in ref.manifest.get("files", {}).items()}


__all__ = ["ReferenceData", "content_hashes", "load_reference", "missing_hint"]
