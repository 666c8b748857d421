"""Prose and the transferable TarFlow: flow.py the networks (the TarFlow core with per-peptide seams),
config.py the presets, method.py the ProposalMethods, published.py the published checkpoint layouts."""

from baselines.prose.method import Prose, TransferableTarFlow

__all__ = ["Prose", "TransferableTarFlow"]
