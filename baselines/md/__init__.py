"""Molecular dynamics at equal budget: the papers' reference row for any learned sampler."""

from baselines.md.method import MDBaseline

__all__ = ["MDBaseline"]
