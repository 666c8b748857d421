"""One check shared by the autoregressive methods' tests: a resampled generation session continues the
prefixes it selected, and its per-token terms still add up to the method's log q."""

from __future__ import annotations

import numpy as np
import torch


def check_resampled_session_continues_ancestors(method, system, ctx, chunk: int, atol: float) -> None:
    """select() keeps the chosen prefixes (cache re-indexed with one chunk, rebuilt with several)."""
    from baselines.arbg.session import DensitySession

    density, std = method.models[system.name]
    session = DensitySession(density, std.sigma, 6, torch.Generator().manual_seed(0), chunk_size=chunk)
    first = session.extend(30)
    idx = torch.tensor([5, 5, 0, 2, 2, 2])
    before = session.positions()[idx]
    session.select(idx)
    rest = session.extend(3 * system.n_atoms)
    x = session.positions()
    assert torch.equal(x[:, :10], before)
    x_nm = x[:, np.argsort(method.generation_order(system, ctx))]  # generation order back to topology order
    with torch.no_grad():
        assert torch.allclose(first[idx].sum(1) + rest.sum(1), method.log_q(system, x_nm, ctx), atol=atol, rtol=0)
