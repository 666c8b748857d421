"""The E(n)-equivariant vector field of ECNF++ (specs/flows-and-protocol.md 4.8), on dense atom pairs.

One layer (``EGCL``) for every directed pair (i, j), i != j, of real atoms:

    r_ij = |x_i - x_j|^2,  d_ij = (x_i - x_j) / (sqrt(r_ij + 1e-8) + 1)
    m_ij = SiLU(L2(SiLU(L1([h_i, h_j, r_ij, e_ij]))));  m_ij <- m_ij * sigmoid(att(m_ij))
    x_i <- x_i + sum_j d_ij * tanh(phi_x(m_ij)) * coords_range          (coordinates first)
    h_i <- h_i + phi_h([h_i, sum_j m_ij])

where e_ij is the squared distance at the network's *input* coordinates, and coords_range = 15 /
layers. The velocity is x_final - x_input with its (masked) mean over atoms removed, so it has no
centre-of-mass component. Every quantity that touches coordinates is built from differences and
distances, which makes the field rotation-equivariant and translation-invariant.

Why dense pairs instead of the reference's edge lists: peptides here have at most ~100 atoms, so
(B, N, N, C) tensors are small; sums over j are plain reductions; and the first edge Linear is
applied as W_i h_i + W_j h_j + w_r r + w_e e + b (its weight split by input block), which never
builds the (B, N, N, 2C+2) concatenation. The parameters keep the published module names and
shapes (spec 5.4: ``egnn.embedding``, ``egnn.gcl_{k}.edge_mlp.0`` ...), so published state dicts load
strictly; ``egnn.embedding_out`` exists for that reason only (the reference computes and discards it).
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.toolkit.coordinates import centre

#: Total coordinate step range, split evenly over the layers (reference: coords_range 15, tanh on).
COORDS_RANGE_TOTAL = 15.0


class EGCL(nn.Module):
    """One E(n)-equivariant graph layer with attention, tanh-bounded coordinate steps and a residual h."""

    def __init__(self, channels: int, coords_range: float):
        super().__init__()
        c = channels
        self.edge_mlp = nn.Sequential(nn.Linear(2 * c + 2, c), nn.SiLU(), nn.Linear(c, c), nn.SiLU())
        self.node_mlp = nn.Sequential(nn.Linear(2 * c, c), nn.SiLU(), nn.Linear(c, c))
        last = nn.Linear(c, 1, bias=False)
        nn.init.xavier_uniform_(last.weight, gain=0.001)  # near-zero coordinate steps at initialisation
        self.coord_mlp = nn.Sequential(nn.Linear(c, c), nn.SiLU(), last, nn.Tanh())
        self.att_mlp = nn.Sequential(nn.Linear(c, 1), nn.Sigmoid())
        self.coords_range = float(coords_range)

    def forward(self, h: torch.Tensor, x: torch.Tensor, e: torch.Tensor, edge_mask: torch.Tensor,
                node_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """h (B, N, C), x (B, N, 3), e and edge_mask (B|1, N, N, 1), node_mask (B, N, 1) or None."""
        c = h.shape[-1]
        diff = x[:, :, None, :] - x[:, None, :, :]  # x_i - x_j
        r = (diff * diff).sum(-1, keepdim=True)
        d = diff / (torch.sqrt(r + 1e-8) + 1.0)
        first = self.edge_mlp[0]
        w = first.weight
        pre = ((h @ w[:, :c].T)[:, :, None, :] + (h @ w[:, c:2 * c].T)[:, None, :, :]
               + r * w[:, 2 * c] + e * w[:, 2 * c + 1] + first.bias)
        m = self.edge_mlp[3](self.edge_mlp[2](self.edge_mlp[1](pre)))
        m = m * self.att_mlp(m) * edge_mask
        x = x + (d * self.coord_mlp(m) * edge_mask).sum(2) * self.coords_range
        h = h + self.node_mlp(torch.cat([h, m.sum(2)], dim=-1))
        if node_mask is not None:
            h, x = h * node_mask, x * node_mask
        return h, x


class EGNN(nn.Module):
    """Input embedding and ``layers`` EGCLs named ``gcl_0`` ... (the published key names)."""

    def __init__(self, in_features: int, channels: int, layers: int):
        super().__init__()
        self.layers = int(layers)
        self.embedding = nn.Linear(in_features, channels)
        self.embedding_out = nn.Linear(channels, in_features)  # published key; its output is unused
        for k in range(self.layers):
            self.add_module(f"gcl_{k}", EGCL(channels, COORDS_RANGE_TOTAL / self.layers))

    def forward(self, h: torch.Tensor, x: torch.Tensor, e: torch.Tensor, edge_mask: torch.Tensor,
                node_mask: torch.Tensor | None) -> torch.Tensor:
        """Final coordinates (B, N, 3)."""
        h = self.embedding(h)
        for k in range(self.layers):
            h, x = getattr(self, f"gcl_{k}")(h, x, e, edge_mask, node_mask)
        return x


class EGNNVectorField(nn.Module):
    """v(t, x | atom features): the ECNF++ velocity, equivariant and with zero centre of mass.

    ``features`` (B|1, N, F) are the per-atom conditioning one-hots (features.py), already zero on
    padding; the time t is appended as the last input feature, so ``in_features = F + 1`` as in the
    published models. ``mask`` (B, N) marks real atoms of padded batches (None: all real).
    """

    def __init__(self, in_features: int, channels: int, layers: int):
        super().__init__()
        self.in_features = int(in_features)
        self.egnn = EGNN(self.in_features, channels, layers)

    def forward(self, t: torch.Tensor | float, x: torch.Tensor, features: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, _ = x.shape
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1)
        t = t.expand(b) if t.numel() == 1 else t
        node = None if mask is None else mask.to(x.dtype)[..., None]  # (B, N, 1)
        feats = features.to(x.dtype).expand(b, n, -1)
        time = t[:, None, None].expand(b, n, 1)
        if node is not None:
            x, time = x * node, time * node
        h = torch.cat([feats, time], dim=-1)
        not_self = 1.0 - torch.eye(n, dtype=x.dtype, device=x.device)
        edge_mask = not_self[None, :, :, None] if node is None else (node[:, :, None] * node[:, None, :]) * not_self[..., None]
        diff = x[:, :, None, :] - x[:, None, :, :]
        e = (diff * diff).sum(-1, keepdim=True)
        v = self.egnn(h, x, e, edge_mask, node) - x  # zero on padding: every layer masks x
        return centre(v, mask)


__all__ = ["COORDS_RANGE_TOTAL", "EGCL", "EGNN", "EGNNVectorField"]
