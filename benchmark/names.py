"""The one rule for names that become parts of file names, metric keys and records.

Method names, set names and system names end up in paths (``results/<method>-...json``, weights
folders, scratch folders) and in record keys, so they are held to a small safe alphabet.
"""

from __future__ import annotations

import re

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_safe_name(value: object) -> bool:
    return isinstance(value, str) and NAME_RE.fullmatch(value) is not None


__all__ = ["NAME_RE", "RULE", "is_safe_name"]
