"""Helpers of the ECNF++ tests."""

from __future__ import annotations

import torch

from baselines.ecnf.egnn import EGNNVectorField


def lively(net: EGNNVectorField, std: float = 0.3, seed: int = 0) -> EGNNVectorField:
    """Give every coordinate head a sizeable weight (initialised at gain 0.001, which would make the field
    almost zero and every equivariance or divergence test trivially pass)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("coord_mlp.2.weight"):
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    return net


def random_rotation(seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A proper rotation (det +1) from the QR of a seeded Gaussian matrix."""
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.to(dtype)
