"""ARBG: the autoregressive Boltzmann generator with uniform binning (single systems)."""

from baselines.arbg.method import ARBG

__all__ = ["ARBG"]
