"""Presentation schema: which metrics tables show and in what order, and what each sample set is in words.

What a metric is called, its unit and its direction live in benchmark/units.py (shared with the CLI)."""

from __future__ import annotations

from benchmark.tasks import ALL_METRICS, HEADLINE_METRICS

#: Columns shown in leaderboard tables, in this order, when any row has them.
TABLE_METRICS = HEADLINE_METRICS + ("effective-sample-size", "samples-per-second", "parameters-millions")

#: Every metric the schema knows, for ordering the per-system pages.
METRIC_ORDER = tuple(dict.fromkeys(TABLE_METRICS + ALL_METRICS))


def order_metrics(metrics: set[str] | list[str]) -> list[str]:
    """Known metrics in schema order, then unknown ones alphabetically."""
    known = [m for m in METRIC_ORDER if m in metrics]
    return known + sorted(set(metrics) - set(known))


#: What each sample set is, in words (the record's ``final_set`` names the one that is scored).
SET_WORDS = {
    "proposal": "raw proposals, before any reweighting",
    "resampled": "proposals importance-resampled by their Boltzmann weights (SNIS)",
    "smc": "particles after sequential Monte Carlo",
    "md": "frames of a molecular-dynamics run",
    "samples": "the method's own samples (no harness reweighting)",
}
SET_ORDER = ("proposal", "resampled", "smc", "md", "samples")


def set_words(name: str) -> str:
    return SET_WORDS.get(name, f"the method's {name!r} set")
