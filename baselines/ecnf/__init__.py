"""ECNF++ (the retrained Transferable Boltzmann Generator of the flow papers), single-system: egnn.py the
equivariant vector field, features.py its atom conditioning, matching.py the flow-matching loss, ode.py
sampling and likelihood by ODE with the exact (or Hutchinson) divergence, config.py the presets,
method.py the ProposalMethod, published.py the published checkpoint layout."""

from baselines.ecnf.method import ECNF

__all__ = ["ECNF"]
