"""Conditional flow matching on the OT path with sigma = 0 and the mean-free prior (spec flows 4.9).

Per sample: t ~ U(0, 1), z ~ mean-free N(0, I) on the real atoms, x_t = (1 - t) z + t x_1, target
u = x_1 - z; the loss is |v(t, x_t) - u|^2 summed over real coordinates and divided by 3 N_real, then
averaged over the batch. ECNF++ uses no interpolant noise (the legacy ECNF's sigma = 0.01 is not
offered). t and z come from the global torch generator, whose state the training loop saves with
every checkpoint, so a resumed run draws the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from baselines.toolkit.coordinates import centre

#: (t (B,), x_t (B, N, 3), mask (B, N) or None) -> v (B, N, 3)
BatchField = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def flow_matching_loss(field: BatchField, x1: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The batch loss for centred, standardized data x1 (B, N, 3), zero-padded where ``mask`` is False."""
    b = x1.shape[0]
    m = torch.ones(x1.shape[:2], dtype=x1.dtype, device=x1.device) if mask is None else mask.to(x1.dtype)
    z = centre(torch.randn(x1.shape, dtype=x1.dtype, device=x1.device) * m[..., None], mask)  # padding stays 0
    t = torch.rand(b, dtype=x1.dtype, device=x1.device)
    xt = (1 - t)[:, None, None] * z + t[:, None, None] * x1
    u = x1 - z
    v = field(t, xt, mask)
    per_sample = ((v - u) ** 2 * m[..., None]).flatten(1).sum(-1) / (3 * m.sum(-1))
    return per_sample.mean()


__all__ = ["BatchField", "flow_matching_loss"]
