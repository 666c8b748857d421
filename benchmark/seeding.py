"""Seeds derived from a run seed and names, so that no stream depends on what ran before it.

A system's sampling seed must not change when another system is added, skipped or resumed, and
two systems (or two MD replicas) must never share random numbers: every derived seed hashes the
run seed together with the names that identify the stream.
"""

from __future__ import annotations

import zlib


def derived_seed(seed: int, *names: object) -> int:
    """A positive 31-bit seed from ``seed`` and the names of a stream (e.g. task, system, replica)."""
    key = "/".join([str(int(seed)), *map(str, names)])
    return zlib.crc32(key.encode()) & 0x7FFFFFFF or 1


def system_seed(seed: int, system_name: str) -> int:
    """The per-system seed of a run: the same for a system whatever ran before it (resume-safe)."""
    return derived_seed(seed, system_name)


__all__ = ["derived_seed", "system_seed"]
