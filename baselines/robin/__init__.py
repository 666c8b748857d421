"""ROBIN: the transferable autoregressive Boltzmann generator (ARBG + per-atom conditioning + padding)."""

from baselines.robin.method import Robin

__all__ = ["Robin"]
