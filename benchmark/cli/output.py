"""Shared table / JSON printing for sub-commands.

Tables for people carry units: a column named after a metric gets its display name (benchmark/units.py) with
its unit and direction (``energy-w2`` -> ``E-W2 [kT] ↓``), and a ``metric`` column of ``set/metric``
keys gets the unit appended. JSON for scripts keeps the raw keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from tabulate import tabulate

from benchmark.units import DISPLAY_NAMES, display_name, unit

#: Column names that are not metric keys but name one.
_ALIASES = {"ESS": "effective-sample-size"}


def _header(key: str) -> str:
    metric = _ALIASES.get(key, key)
    return display_name(metric) if metric in DISPLAY_NAMES else key


def _metric_with_unit(value: object) -> object:
    if not isinstance(value, str):
        return value
    u = unit(value.rsplit("/", 1)[-1])
    return f"{value} [{u}]" if u else value


def with_units(rows: Sequence[dict]) -> list[dict]:
    """Rows with metric headers renamed to display names with units, and units after ``metric`` values."""
    out = []
    for row in rows:
        new = {_header(k): v for k, v in row.items()}
        if "metric" in new:
            new["metric"] = _metric_with_unit(new["metric"])
        out.append(new)
    return out


def print_rows(rows: Sequence[dict], as_json: bool, floatfmt: str = ".4g") -> None:
    """Print a list of flat dicts as a table, or as JSON for scripts."""
    if as_json:
        print(json.dumps(list(rows), indent=2, default=str))
        return
    if not rows:
        print("(nothing to show)")
        return
    print(tabulate(with_units(rows), headers="keys", tablefmt="github", floatfmt=floatfmt))
