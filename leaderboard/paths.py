"""File names built from record fields, kept inside the output folder.

Task, method and system names come from records and may hold ``../``, slashes, newlines or anything
else. Every file the board writes is named through ``slug``/``file_key`` and placed with ``inside``,
which refuses a path that would resolve outside the output folder (a second line of defence: slugs
already contain no separators).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def slug(text: str) -> str:
    """A file-name-safe name that stays unique (a short hash of the original is appended)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")[:60] or "x"
    return f"{base}-{hashlib.sha1(str(text).encode()).hexdigest()[:6]}"


def file_key(text: str) -> str:
    """``text`` itself when it is already a plain file name (readable, stable links), else its slug."""
    text = str(text)
    return text if _SAFE.fullmatch(text) and ".." not in text and len(text) <= 100 else slug(text)


def anchor(text: str) -> str:
    """An HTML id / URL fragment made of safe characters only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text))[:120]


def inside(out: Path, rel: str) -> Path:
    """``out / rel``, refusing any path that resolves outside ``out``."""
    root = Path(out).resolve()
    path = (root / rel).resolve()
    if path != root and root not in path.parents:
        raise ValueError(f"refusing to write {rel!r} outside {root}")
    return path
