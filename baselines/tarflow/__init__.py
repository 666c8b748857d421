"""Single-system TarFlow (the SBG proposal): flow.py the network, config.py the presets, method.py the
ProposalMethod, published.py the published checkpoint layout. ``sbg`` is the registry recipe TarFlow +
the harness SMC with the published per-system settings (benchmark/sampling/sbg.py)."""

from baselines.tarflow.method import TarFlow

__all__ = ["TarFlow"]
