"""Presentation schema: how metrics are named, ordered, ranked and what units they carry (kept apart from the maths)."""

from __future__ import annotations

from benchmark.tasks import ALL_METRICS, HEADLINE_METRICS

#: Metrics where a larger value is better.
HIGHER_IS_BETTER = frozenset({"effective-sample-size", "samples-per-second"})
#: Distances between sample sets: lower is better.
LOWER_IS_BETTER = frozenset({"energy-w2", "energy-w1", "torus-w2", "tica-w2", "tica-k-jsd", "torus-k-jsd"})
#: Everything else (mean and median energy, model size, counts) describes a run and is never ranked:
#: a lower mean energy is not a better sampler.

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
    "parameters-millions": "parameters",
    "num-eval-samples": "samples scored",
    "n-infinite-energy": "infinite energies",
    "correct-chirality-rate": "correct chirality",
    "uncorrectable-chirality-rate": "uncorrectable chirality",
}

#: Units shown next to the name. TICA coordinates (kinetic map) and JSDs are dimensionless; ESS is the
#: Kish ESS divided by the number of samples, a fraction in (0, 1].
UNITS = {
    "energy-w2": "kT",
    "energy-w1": "kT",
    "mean-energy": "kT",
    "median-energy": "kT",
    "torus-w2": "rad",
    "effective-sample-size": "fraction",
    "samples-per-second": "1/s",
    "parameters-millions": "M",
    "correct-chirality-rate": "fraction",
    "uncorrectable-chirality-rate": "fraction",
}

#: Columns shown in leaderboard tables, in this order, when any row has them.
TABLE_METRICS = HEADLINE_METRICS + ("effective-sample-size", "samples-per-second", "parameters-millions")

#: Every metric the schema knows, for ordering the per-system pages.
METRIC_ORDER = tuple(dict.fromkeys(TABLE_METRICS + ALL_METRICS))


def higher_is_better(metric: str) -> bool:
    return metric in HIGHER_IS_BETTER


def direction(metric: str) -> str | None:
    """"higher", "lower", or None for metrics that are not ranked."""
    if metric in HIGHER_IS_BETTER:
        return "higher"
    if metric in LOWER_IS_BETTER:
        return "lower"
    return None


def unit(metric: str) -> str:
    return UNITS.get(metric, "")


def display_name(metric: str, arrow: bool = True) -> str:
    """Header text with unit and direction, e.g. ``E-W2 [kT] ↓``; unranked metrics get no arrow."""
    name = DISPLAY_NAMES.get(metric, metric)
    if unit(metric):
        name += f" [{unit(metric)}]"
    mark = {"higher": " ↑", "lower": " ↓"}.get(direction(metric) or "", "")
    return name + (mark if arrow else "")


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
