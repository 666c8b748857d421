"""Helpers of the ECNF++ tests."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

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


def published_layout(in_nf: int, channels: int, layers: int) -> dict[str, tuple]:
    """Key -> shape of a published ECNF++ file, written out from spec 5.4 (not from the model)."""
    c = channels
    shapes = {"net.egnn.embedding.weight": (c, in_nf), "net.egnn.embedding.bias": (c,),
              "net.egnn.embedding_out.weight": (in_nf, c), "net.egnn.embedding_out.bias": (in_nf,)}
    for k in range(layers):
        p = f"net.egnn.gcl_{k}."
        shapes.update({p + "edge_mlp.0.weight": (c, 2 * c + 2), p + "edge_mlp.0.bias": (c,),
                       p + "edge_mlp.2.weight": (c, c), p + "edge_mlp.2.bias": (c,),
                       p + "node_mlp.0.weight": (c, 2 * c), p + "node_mlp.0.bias": (c,),
                       p + "node_mlp.2.weight": (c, c), p + "node_mlp.2.bias": (c,),
                       p + "coord_mlp.0.weight": (c, c), p + "coord_mlp.0.bias": (c,),
                       p + "coord_mlp.2.weight": (1, c), p + "att_mlp.0.weight": (1, c), p + "att_mlp.0.bias": (1,)})
    return shapes


def random_state(shapes: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: (torch.randn(s, generator=gen) / math.sqrt(s[-1] if k.endswith("weight") else 20)).float()
            for k, s in shapes.items()}


def direct_velocity(state: dict[str, torch.Tensor], layers: int, h0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Spec 4.8 written out on explicit edge lists (i -> j, i != j) of one conformation, from the raw tensors."""
    def lin(name, v):
        w, b = state[f"net.egnn.{name}.weight"].double(), state.get(f"net.egnn.{name}.bias")
        return v @ w.T + (0 if b is None else b.double())

    n = len(x)
    rows, cols = zip(*[(i, j) for i in range(n) for j in range(n) if i != j])
    rows, cols = torch.tensor(rows), torch.tensor(cols)
    x0 = x.clone()
    e = ((x0[rows] - x0[cols]) ** 2).sum(-1, keepdim=True)
    h = lin("embedding", h0)
    for k in range(layers):
        g = f"gcl_{k}"
        diff = x[rows] - x[cols]
        r = (diff ** 2).sum(-1, keepdim=True)
        d = diff / (torch.sqrt(r + 1e-8) + 1)
        m = F.silu(lin(f"{g}.edge_mlp.2", F.silu(lin(f"{g}.edge_mlp.0", torch.cat([h[rows], h[cols], r, e], -1)))))
        m = m * torch.sigmoid(lin(f"{g}.att_mlp.0", m))
        step = d * torch.tanh(lin(f"{g}.coord_mlp.2", F.silu(lin(f"{g}.coord_mlp.0", m)))) * (15.0 / layers)
        x = x + torch.zeros_like(x).index_add_(0, rows, step)
        agg = torch.zeros_like(h).index_add_(0, rows, m)
        h = h + lin(f"{g}.node_mlp.2", F.silu(lin(f"{g}.node_mlp.0", torch.cat([h, agg], -1))))
    v = x - x0
    return v - v.mean(0, keepdim=True)
