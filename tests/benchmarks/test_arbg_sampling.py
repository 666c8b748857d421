"""ARBG sampling throughput (samples/s) with and without the KV cache, quick ALDP config.

Run: pytest tests/benchmarks/test_arbg_sampling.py -m benchmark --benchmark-enable
(on a shared CPU set OMP_WAIT_POLICY=PASSIVE, or spinning OpenMP threads dominate the timing).
Weights are the random initialisation: throughput does not depend on training.
"""

from __future__ import annotations

import pytest
import torch

from baselines.arbg.binning import UniformBinning
from baselines.arbg.config import default_config
from baselines.arbg.density import ARDensity
from baselines.arbg.transformer import CausalTransformer

N_SAMPLES = 500
ALDP_DIM = 3 * 22


def _density(device: str) -> ARDensity:
    cfg = default_config("ALDP", "quick")
    net = CausalTransformer(cfg.num_bins, ALDP_DIM, cfg.channels, cfg.layers, cfg.heads, cfg.head_dim, cfg.expansion)
    return ARDensity(net.to(device).eval(), UniformBinning(cfg.num_bins, cfg.bin_lo, cfg.bin_hi), cfg.temperature)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.benchmark
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("use_cache", [True, False], ids=["kv-cache", "no-cache"])
def test_arbg_sampling_throughput(benchmark, device, use_cache):
    dens = _density(device)
    gen = torch.Generator().manual_seed(0)

    def run():
        x, lq, _ = dens.sample(N_SAMPLES, gen, use_cache=use_cache)
        if device == "cuda":
            torch.cuda.synchronize()
        return x

    x = benchmark.pedantic(run, rounds=2, iterations=1, warmup_rounds=0)
    assert x.shape == (N_SAMPLES, ALDP_DIM)
    benchmark.extra_info["samples_per_second"] = N_SAMPLES / benchmark.stats.stats.mean
    benchmark.extra_info["n_samples"] = N_SAMPLES
