"""Where bgbench keeps things on disk: two environment variables, one user cache default.

``BGBENCH_DATA``: reference data and training corpora (large, shareable between users if read-only).
``BGBENCH_WORK``: the weights store (trained and imported checkpoints) and other per-user work.
Both default to folders under the user cache directory (``~/.cache/bgbench`` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "BGBENCH_DATA"
WORK_ENV = "BGBENCH_WORK"


def _cache_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("bgbench"))


def data_dir() -> Path:
    """The root of all reference data: ``$BGBENCH_DATA`` or ``<user cache>/bgbench/data``."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else _cache_root() / "data"


def work_dir() -> Path:
    """The root of per-user work (weights store): ``$BGBENCH_WORK`` or ``<user cache>/bgbench/work``."""
    env = os.environ.get(WORK_ENV)
    return Path(env).expanduser() if env else _cache_root() / "work"


__all__ = ["DATA_ENV", "WORK_ENV", "data_dir", "work_dir"]
