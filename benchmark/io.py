"""File writes and file hashes: readers see the old file or the new one, never half of either.

One implementation for every file bgbench writes (records, sidecars, manifests, data arrays,
checkpoints, pinned bands): write into a unique temporary file next to the target, flush and
fsync, then ``os.replace`` it over the target. A crash or a kill leaves the target untouched.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

#: Mode of every file bgbench writes, whatever the umask (records and sidecars alike).
FILE_MODE = 0o644


def atomic_write(path: Path, write: Callable[[IO[Any]], None], mode: str = "wb") -> Path:
    """Write through ``write(fh)`` into a unique temp file next to ``path``, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text), mode="w")


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_save_npy(path: Path, array: np.ndarray) -> Path:
    return atomic_write(path, lambda fh: np.save(fh, array, allow_pickle=False))


def atomic_save_npz(path: Path, compressed: bool = False, **arrays: np.ndarray) -> Path:
    save = np.savez_compressed if compressed else np.savez
    return atomic_write(path, lambda fh: save(fh, **arrays))


def atomic_copy(src: Path, dst: Path) -> Path:
    def copy(fh: IO[bytes]) -> None:
        with open(src, "rb") as inp:
            while chunk := inp.read(1 << 20):
                fh.write(chunk)

    return atomic_write(dst, copy)


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks (data arrays and weights can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


__all__ = [
    "FILE_MODE", "atomic_copy", "atomic_save_npy", "atomic_save_npz", "atomic_write", "atomic_write_bytes",
    "atomic_write_text", "sha256_file",
]
