"""Molecular dynamics on a TargetEnergy: the one LangevinMiddle integrator that baselines and data generation share."""

from benchmark.dynamics.langevin import LangevinMiddle, LangevinState, maxwell_boltzmann

__all__ = ["LangevinMiddle", "LangevinState", "maxwell_boltzmann"]
