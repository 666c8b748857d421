"""What each metric is called in tables, its unit, and which direction is better.

Facts about the metrics themselves, so the harness's own tables (``bgbench run``, ``check``) and the
leaderboard say the same thing. A light module: listing commands import it without the metric code.
"""

from __future__ import annotations

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
