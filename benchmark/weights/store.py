"""Locally trained weights, keyed by everything they depend on, hashed, locked while written.

Why keys: a model trained with another config, on other data or with another seed must never be
reused silently (a run once resumed another user's half-trained model and wrote into it). An entry
is a folder named by the key's digest; its ``manifest.json`` holds the whole key, the sha256 of every
file and the training status. Files are written atomically; a process that trains an entry holds an
exclusive lock on it, so concurrent runs never collide: the second waits and then loads the result.

Entry files: ``weights.safetensors`` (final weights, loaded without unpickling), ``checkpoint.pt``
(resumable training state: model, optimizer, schedule, RNG, step; plain tensors and numbers, loaded
with ``weights_only=True``), ``manifest.json``, ``.lock``.

Shipped entries: a read-only root inside the repository (``SHIPPED_ROOT``, laid out like ``local/``:
``<method>/<key folder>/`` with ``manifest.json`` and ``weights.safetensors``) is searched after the
local store, so a fresh clone can run a method without training it first. A shipped entry is found
only under exactly the key a trained one would have (method, config, task, tier, subject, seed and
the training data's content hash), its weights are sha256-checked like any entry's, and it is never
written. ``ship(entry)`` copies a finished local entry there (weights and manifest only).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from benchmark.errors import BgbenchError
from benchmark.io import atomic_write_bytes, atomic_write_text, sha256_file

log = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.safetensors"
CHECKPOINT_FILE = "checkpoint.pt"
MANIFEST_FILE = "manifest.json"
LOCK_FILE = ".lock"
#: Weights committed to the repository; see the module docstring and baselines/shipped_weights/README.md.
SHIPPED_ROOT = Path(__file__).resolve().parents[2] / "baselines" / "shipped_weights"


class WeightsError(BgbenchError):
    """Weights that are missing, corrupt, or do not fit the model."""


def default_weights_dir() -> Path:
    """``$BGBENCH_WORK/weights``, else ``<user cache>/bgbench/work/weights``."""
    from benchmark.paths import work_dir

    return work_dir() / "weights"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in str(text))[:60] or "x"


@dataclass(frozen=True)
class WeightsKey:
    """Everything a trained model depends on. Two runs share weights only if every field is equal."""

    method: str
    task: str
    tier: str
    subject: str  # the system name, or "corpus" for a transferable model
    seed: int
    config: dict[str, Any] = field(hash=False)  # the method config's training_key()
    data_hash: str = ""  # content hash of the training data

    def to_dict(self) -> dict[str, Any]:
        return json.loads(_canonical(asdict(self)))

    @property
    def digest(self) -> str:
        return hashlib.sha256(_canonical(self.to_dict()).encode()).hexdigest()

    @property
    def folder_name(self) -> str:
        return f"{_slug(self.task)}-{_slug(self.tier)}-{_slug(self.subject)}-s{int(self.seed)}-{self.digest[:12]}"


class WeightsEntry:
    """One keyed folder of the store. Read freely; write only inside ``with entry.lock():``."""

    def __init__(self, folder: Path, key: WeightsKey | None = None):
        self.folder = Path(folder)
        self._key = key

    # --- what is there ------------------------------------------------------------------------
    @property
    def manifest(self) -> dict[str, Any]:
        path = self.folder / MANIFEST_FILE
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise WeightsError(f"{path} is corrupt ({err}); delete {self.folder} and train again.") from err

    @property
    def key(self) -> dict[str, Any]:
        return self._key.to_dict() if self._key is not None else self.manifest.get("key", {})

    @property
    def digest(self) -> str:
        return self._key.digest if self._key is not None else self.manifest.get("digest", self.folder.name)

    @property
    def complete(self) -> bool:
        m = self.manifest
        return m.get("status") == "complete" and WEIGHTS_FILE in m.get("files", {})

    @property
    def info(self) -> dict[str, Any]:
        """Method facts stored with the weights (e.g. the standardization scale, parameter count)."""
        return dict(self.manifest.get("info", {}))

    # --- writing --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, wait_message: bool = True) -> Iterator["WeightsEntry"]:
        """Exclusive lock on the entry for training and writing (other processes wait)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / LOCK_FILE, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if wait_message:
                    log.info("waiting for another process that is training %s", self.folder)
                fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _write_manifest(self, **updates: Any) -> dict[str, Any]:
        m = self.manifest or {"created": _now()}
        if self._key is not None:
            m["key"], m["digest"] = self._key.to_dict(), self._key.digest
        m.update(updates)
        m["updated"] = _now()
        atomic_write_text(self.folder / MANIFEST_FILE, json.dumps(m, indent=2, sort_keys=True, default=str) + "\n")
        return m

    def _record_file(self, name: str, manifest_updates: dict[str, Any]) -> None:
        files = dict(self.manifest.get("files", {}))
        path = self.folder / name
        files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        self._write_manifest(files=files, **manifest_updates)

    def save_checkpoint(self, state: dict[str, Any], step: int, total_steps: int) -> None:
        """Resumable training state (plain tensors and numbers only, so it loads with weights_only)."""
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(self.folder / CHECKPOINT_FILE, buf.getvalue())
        status = "complete" if self.complete else "training"
        self._record_file(CHECKPOINT_FILE, {"status": status, "step": int(step), "total_steps": int(total_steps)})

    def save_weights(self, state_dict: dict[str, torch.Tensor], info: dict[str, Any] | None = None) -> None:
        """The final weights (safetensors) and the method facts needed to use them; marks the entry complete."""
        from safetensors.torch import save

        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
        atomic_write_bytes(self.folder / WEIGHTS_FILE, save(tensors))
        n_params = int(sum(v.numel() for v in tensors.values()))
        merged = {**self.info, **(info or {})}
        self._record_file(WEIGHTS_FILE, {"status": "complete", "info": merged, "n_tensors": len(tensors),
                                         "tensor_elements": n_params})

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- reading --------------------------------------------------------------------------------
    def verify(self, name: str) -> Path:
        """The path of ``name`` after checking its sha256 against the manifest (WeightsError if not)."""
        path = self.folder / name
        expected = self.manifest.get("files", {}).get(name)
        if expected is None or not path.is_file():
            raise WeightsError(f"{path} is missing from the weights store entry {self.folder.name}.")
        digest = sha256_file(path)
        if digest != expected["sha256"]:
            raise WeightsError(
                f"{path} does not match its manifest (sha256 {digest[:12]}... instead of {expected['sha256'][:12]}...): "
                f"the file was changed or damaged. Delete the entry (`bgbench weights rm {self.digest[:12]}`) "
                "and run again to retrain, or restore the file."
            )
        return path

    def load_weights(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        if not self.complete:
            raise WeightsError(f"Weights store entry {self.folder} has no finished weights.")
        return load_file(str(self.verify(WEIGHTS_FILE)), device=str(device))

    def load_checkpoint(self, device: str | torch.device = "cpu") -> dict[str, Any] | None:
        """The resumable training state, or None if training never wrote one."""
        if CHECKPOINT_FILE not in self.manifest.get("files", {}):
            return None
        return torch.load(self.verify(CHECKPOINT_FILE), map_location=device, weights_only=True)

    def describe(self) -> dict[str, Any]:
        """One line of ``bgbench weights list``."""
        m = self.manifest
        key = m.get("key", {})
        files = m.get("files", {})
        main = files.get(WEIGHTS_FILE) or files.get(CHECKPOINT_FILE) or next(iter(files.values()), {})
        return {
            "digest": self.digest[:12], "method": key.get("method", m.get("method")), "task": key.get("task"),
            "tier": key.get("tier"), "subject": key.get("subject"), "seed": key.get("seed"),
            "status": m.get("status"), "step": m.get("step"), "total_steps": m.get("total_steps"),
            "sha256": (main.get("sha256") or "")[:12], "bytes": sum(f.get("bytes", 0) for f in files.values()),
            "source": m.get("source", "trained"), "folder": str(self.folder),
        }


class ShippedEntry(WeightsEntry):
    """A finished entry committed to the repository: read-only (nothing is locked or written)."""

    shipped = True

    @contextlib.contextmanager
    def lock(self, wait_message: bool = True) -> Iterator["WeightsEntry"]:
        yield self

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise WeightsError(f"{self.folder} is a shipped (read-only) weights entry; it is never written.")

    save_checkpoint = save_weights = remove = _refuse  # type: ignore[assignment]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "source": "shipped"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class WeightsStore:
    """All weights under one root: ``local/<method>/<key folder>`` and ``published/<name>``; then the
    read-only ``shipped`` root (None: none)."""

    def __init__(self, root: Path | None = None, shipped: Path | None = SHIPPED_ROOT):
        self.root = Path(root) if root is not None else default_weights_dir()
        self.shipped = Path(shipped) if shipped is not None else None

    def entry(self, key: WeightsKey) -> WeightsEntry:
        """The local entry of ``key``; a shipped one instead when only that one is complete."""
        local = WeightsEntry(self.root / "local" / _slug(key.method) / key.folder_name, key)
        if local.complete or self.shipped is None:
            return local
        shipped = ShippedEntry(self.shipped / _slug(key.method) / key.folder_name)
        if shipped.complete and shipped.manifest.get("key") == key.to_dict():
            return shipped
        return local

    def entries(self) -> list[WeightsEntry]:
        found = [WeightsEntry(p.parent) for p in sorted(self.root.glob("local/*/*/" + MANIFEST_FILE))]
        found += [WeightsEntry(p.parent) for p in sorted(self.root.glob("published/*/" + MANIFEST_FILE))]
        if self.shipped is not None:
            found += [ShippedEntry(p.parent) for p in sorted(self.shipped.glob("*/*/" + MANIFEST_FILE))]
        return found

    def find(self, prefix: str) -> WeightsEntry:
        """The entry whose digest (or published name) starts with ``prefix``."""
        matches = [e for e in self.entries() if e.digest.startswith(prefix) or e.folder.name == prefix]
        if not matches:
            raise WeightsError(f"No weights entry {prefix!r} under {self.root}; `bgbench weights list` shows them.")
        if len(matches) > 1:
            raise WeightsError(f"{prefix!r} matches {len(matches)} entries; give more digits.")
        return matches[0]


def ship(entry: WeightsEntry, root: Path = SHIPPED_ROOT) -> ShippedEntry:
    """Copy a finished entry's weights and manifest (not its training checkpoint) into a shipped root."""
    if not entry.complete:
        raise WeightsError(f"{entry.folder} has no finished weights to ship.")
    target = Path(root) / entry.folder.parent.name / entry.folder.name
    target.mkdir(parents=True, exist_ok=True)
    weights = entry.verify(WEIGHTS_FILE)
    atomic_write_bytes(target / WEIGHTS_FILE, weights.read_bytes())
    # the entry's folder name, not its path: a committed manifest should not carry a local path
    manifest = {**entry.manifest, "files": {WEIGHTS_FILE: entry.manifest["files"][WEIGHTS_FILE]},
                "shipped_from": entry.folder.name}
    atomic_write_text(target / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return ShippedEntry(target)


__all__ = [
    "CHECKPOINT_FILE", "MANIFEST_FILE", "SHIPPED_ROOT", "WEIGHTS_FILE", "ShippedEntry", "WeightsEntry", "WeightsError",
    "WeightsKey", "WeightsStore", "default_weights_dir", "sha256_file", "ship",
]
