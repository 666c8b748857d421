"""Defensive readers for record fields the board shows but older (or hostile) records may lack.

Records evolve: costs, track, isolation, energy backend and noise floors arrived after schema 1's first
records, and a submitted record may hold anything. The board reads every such field through these
helpers, which return None (shown as "—") instead of raising, and never take a boolean for a number.
"""

from __future__ import annotations

import math
from typing import Any

TRACKS = ("closed", "open")


def dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` through dicts only; None as soon as a level is missing or not a dict."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def number(value: Any) -> float | None:
    """A finite int or float as float; None for anything else (booleans, strings, NaN, containers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def text(value: Any, limit: int = 200) -> str | None:
    """A short, single-line string (or a number written as one); None for containers and missing values."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return None
    out = " ".join(str(value).split())
    return out[:limit] + ("…" if len(out) > limit else "")


def track(raw: dict[str, Any]) -> str:
    """The record's track: "closed" when absent (built-in methods), "open" for anything but "closed".

    An unrecognised value is not trusted to mean the closed rules were kept.
    """
    value = raw.get("track", "closed") if isinstance(raw, dict) else "closed"
    return "closed" if value == "closed" else "open"
