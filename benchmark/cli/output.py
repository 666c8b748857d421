"""Shared table / JSON printing for sub-commands."""

from __future__ import annotations

import json
from collections.abc import Sequence

from tabulate import tabulate


def print_rows(rows: Sequence[dict], as_json: bool, floatfmt: str = ".4g") -> None:
    """Print a list of flat dicts as a table, or as JSON for scripts."""
    if as_json:
        print(json.dumps(list(rows), indent=2, default=str))
        return
    if not rows:
        print("(nothing to show)")
        return
    print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=floatfmt))
