"""Target energies (OpenMM reference) and the budget wrapper that methods see."""

from benchmark.energy.base import TargetEnergy
from benchmark.energy.budget import BudgetedEnergy
from benchmark.energy.openmm_energy import OpenMMEnergy, choose_platform

__all__ = ["BudgetedEnergy", "OpenMMEnergy", "TargetEnergy", "choose_platform"]
