"""ECNF++ (the retrained Transferable Boltzmann Generator of the flow papers): egnn.py the equivariant
vector field, features.py its atom conditioning, matching.py the flow-matching loss, ode.py sampling and
likelihood by ODE with the exact (or Hutchinson) divergence, config.py the presets, method.py the
single-system ProposalMethod, transferable.py the transferable one (one conditioned field for 2-4
residue peptides), published.py the published checkpoint layout."""

from baselines.ecnf.method import ECNF
from baselines.ecnf.transferable import ECNFTransferable

__all__ = ["ECNF", "ECNFTransferable"]
