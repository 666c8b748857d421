"""Helpers of the TarFlow tests."""

from __future__ import annotations

import torch


def randomize_outputs(net: torch.nn.Module, std: float = 0.1, seed: int = 0) -> None:
    """Give every proj_out a non-zero weight (they start at zero, which would make every test trivial)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "proj_out.weight" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * std)
