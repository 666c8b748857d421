"""Parameter counts of the mixture heads' paper configs, from the spec's ARBG counts (specs/autoregressive.md 3.3).

The spec counts ARBG's network as 2·B·C (bin-token table + bin head) plus the rest of the backbone.
The mixture heads keep the backbone and change only the two ends (§4): the head becomes C·(3K + 2)
(no bias), the input is a table of 2048 bin tokens (PixelCNN++) or GIVT's Linear(1 → C) (C + C).
The expected numbers are that arithmetic on the spec's counts, not a count of our modules.
"""

from __future__ import annotations

import pytest
import torch

from baselines.ar_heads import GIVT, GMMPixelCNN, MoLPixelCNN
from baselines.arbg.binning import UniformBinning
from benchmark.tasks import get_task

# task: (ARBG parameters counted in spec 3.3, ARBG's bins B, channels C, atoms)
SPEC_ARBG = {"ALDP": (8_397_312, 4096, 256, 22), "AL3": (8_400_128, 4096, 256, 33), "AL4": (8_402_432, 4096, 256, 42),
             "AL6": (10_504_960, 8192, 256, 63), "CHIGNOLIN": (46_222_336, 8192, 512, 138)}


def _paper_network_parameters(cls, task: str, n_atoms: int) -> int:
    method = cls()
    cfg = method.default_config(get_task(task), "paper")
    binning = UniformBinning(cfg.num_bins) if hasattr(cfg, "num_bins") else None
    head = method.make_head(cfg, binning)
    with torch.device("meta"):  # shapes only: the 46 M-parameter chignolin net costs no memory or init time
        net = method.make_network(cfg, 3 * n_atoms, head)
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("task", list(SPEC_ARBG))
def test_paper_parameter_counts_are_arbgs_with_the_two_ends_swapped(task):
    arbg, bins, c, n_atoms = SPEC_ARBG[task]
    k = 10  # README: K = 10 components
    backbone = arbg - 2 * bins * c
    head = c * (3 * k + 2)
    assert _paper_network_parameters(GIVT, task, n_atoms) == backbone + (c + c) + head
    for cls in (MoLPixelCNN, GMMPixelCNN):
        assert _paper_network_parameters(cls, task, n_atoms) == backbone + 2048 * c + head
