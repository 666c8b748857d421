"""Presentation schema: how metrics are named, ordered and ranked (kept apart from the maths)."""

from __future__ import annotations

from benchmark.tasks import ALL_METRICS, HEADLINE_METRICS

#: Metrics where a larger value is better; every other metric is a distance (lower is better).
HIGHER_IS_BETTER = frozenset({"effective-sample-size", "samples-per-second"})

#: Short names used in table headers (the papers' spelling where there is one).
DISPLAY_NAMES = {
    "energy-w2": "E-W2",
    "torus-w2": "T-W2",
    "tica-w2": "TICA-W2",
    "effective-sample-size": "ESS",
    "energy-w1": "E-W1",
    "mean-energy": "mean E",
    "median-energy": "median E",
    "tica-k-jsd": "TICA-JSD",
    "torus-k-jsd": "T-JSD",
    "samples-per-second": "samples/s",
}

#: Columns shown in leaderboard tables, in this order, when any row has them.
TABLE_METRICS = HEADLINE_METRICS + ("effective-sample-size", "samples-per-second")

#: Every metric the schema knows, for ordering the per-system pages.
METRIC_ORDER = tuple(dict.fromkeys(TABLE_METRICS + ALL_METRICS))


def higher_is_better(metric: str) -> bool:
    return metric in HIGHER_IS_BETTER


def display_name(metric: str) -> str:
    """Header text with the direction arrow, e.g. ``E-W2 ↓``."""
    arrow = "↑" if higher_is_better(metric) else "↓"
    return f"{DISPLAY_NAMES.get(metric, metric)} {arrow}"


def order_metrics(metrics: set[str] | list[str]) -> list[str]:
    """Known metrics in schema order, then unknown ones alphabetically."""
    known = [m for m in METRIC_ORDER if m in metrics]
    return known + sorted(set(metrics) - set(known))
