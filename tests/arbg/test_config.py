"""Paper configs reproduce the parameter counts derived in specs/autoregressive.md 3.3."""

from __future__ import annotations

import pytest

from baselines.arbg.config import PAPER_CONFIGS, QUICK_CONFIGS, resolve_config
from baselines.arbg.transformer import CausalTransformer
from benchmark.errors import BgbenchError


@pytest.mark.parametrize("task,n_atoms,expected", [("ALDP", 22, 8_397_312), ("AL3", 33, 8_400_128), ("AL6", 63, 10_504_960)])
def test_paper_parameter_counts_match_the_spec(task, n_atoms, expected):
    c = PAPER_CONFIGS[task]
    net = CausalTransformer(c.num_bins, 3 * n_atoms, c.channels, c.layers, c.heads, c.head_dim, c.expansion)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_paper_sampling_temperatures_and_bins_are_the_published_ones():
    got = {k: (v.num_bins, v.temperature, v.bin_lo, v.bin_hi) for k, v in PAPER_CONFIGS.items()}
    assert got == {
        "ALDP": (4096, 1.03, -3.0, 3.0), "AL3": (4096, 0.99, -3.0, 3.0), "AL4": (4096, 1.02, -3.0, 3.0),
        "AL6": (8192, 0.98, -3.0, 3.0), "CHIGNOLIN": (8192, 0.88, -3.0, 3.0),
    }


def test_overrides_apply_and_unknown_keys_fail():
    assert resolve_config("ALDP", "quick", {"steps": 7}).steps == 7
    assert resolve_config("ALDP", "quick").num_bins == QUICK_CONFIGS["ALDP"].num_bins
    with pytest.raises(BgbenchError):
        resolve_config("ALDP", "paper", {"nope": 1})
