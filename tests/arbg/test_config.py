"""Paper configs reproduce the parameter counts derived in specs/autoregressive.md 3.3; presets and overrides."""

from __future__ import annotations

import pytest

from baselines.arbg import ARBG
from baselines.arbg.config import PAPER_CONFIGS, QUICK_CONFIGS, ARBGConfig, default_config
from baselines.arbg.transformer import CausalTransformer
from baselines.toolkit.config import TrainingConfig
from benchmark.config import ConfigError
from benchmark.tasks import get_task


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
    paper = PAPER_CONFIGS["ALDP"]
    assert (paper.optimizer, paper.lr, paper.adamw_lr_ratio, paper.weight_decay, paper.epochs, paper.steps) == (
        "muon", 5e-4, 0.1, 0.01, 1000, None)
    assert (paper.pose, paper.com_augmentation, paper.warmup_fraction, paper.grad_clip, paper.ema_decay) == (
        "haar", True, 0.05, 1.0, 0.0)


def test_every_preset_trains_with_haar_rotations():
    assert {c.pose for c in (*PAPER_CONFIGS.values(), *QUICK_CONFIGS.values())} == {"haar"}


def test_overrides_apply_and_unknown_keys_fail():
    assert isinstance(default_config("ALDP", "quick"), TrainingConfig)
    assert default_config("ALDP", "quick").override({"steps": 7}).steps == 7
    assert default_config("ALDP", "quick").num_bins == QUICK_CONFIGS["ALDP"].num_bins
    assert default_config("NOPE", "paper") == ARBGConfig(optimizer="muon", lr=5e-4, batch_size=512, epochs=1000)
    method = ARBG(steps=7, pose="aligned")
    method.configure(get_task("ALDP"), "quick")
    assert method.cfg.steps == 7 and method.cfg.pose == "aligned" and method.config["num_bins"] == 1024
    with pytest.raises(ConfigError, match="Unknown ARBGConfig key"):
        ARBG(nope=1).configure(get_task("ALDP"), "paper")
    with pytest.raises(ConfigError):
        ARBG(pose="tilted").configure(get_task("ALDP"), "paper")


def test_sampling_only_fields_do_not_key_the_weights():
    base = default_config("ALDP", "quick")
    key = base.training_key()
    for field, value in (("temperature", 1.5), ("sample_batch_size", 7), ("use_kv_cache", False), ("bin_width", "range"),
                         ("dequantization", "centre"), ("checkpoint_every", 3)):
        assert base.override({field: value}).training_key() == key
    for field, value in (("pose", "none"), ("steps", 5), ("num_bins", 64), ("lr", 0.1)):
        assert base.override({field: value}).training_key() != key
