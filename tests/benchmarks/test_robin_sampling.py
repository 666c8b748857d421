"""ROBIN sampling throughput (samples/s, KV cache on) for an 8AA peptide on the CPU (and CUDA when present).

Run: pytest tests/benchmarks/test_robin_sampling.py -m benchmark --benchmark-enable
(on a shared CPU set OMP_WAIT_POLICY=PASSIVE). Weights are random: throughput does not depend on
training. The paper reports 29 samples/s for ROBIN on 8AA on its GPU (spec 6, Table A.2); the
quick model is bgbench's small CPU one, and the paper-size model is timed on a few samples only.
"""

from __future__ import annotations

import pytest
import torch

from baselines.robin import Robin
from baselines.robin.config import PAPER_CONFIG, QUICK_CONFIG
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec

PEPTIDE = "PGESTAES"  # a quick-tier 8AA test peptide, 100 atoms (300 coordinates)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SIZES = {"quick": (QUICK_CONFIG, 500), "paper": (PAPER_CONFIG, 4)}


def _method(config, device: str) -> Robin:
    method = Robin()
    method.cfg = config
    torch.manual_seed(0)
    method.net, method.sigma = method.build_network().to(device).eval(), 0.35
    return method


@pytest.mark.benchmark
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", list(SIZES))
def test_robin_8aa_sampling_throughput(benchmark, device, size):
    config, n = SIZES[size]
    method = _method(config, device)
    system = SystemSpec(PEPTIDE, PEPTIDE, ZWITTERION, AMBER14_OBC1).build()
    density, _ = method.peptide_density(system)
    gen = torch.Generator().manual_seed(0)

    def run():
        x, lq, _ = density.sample(n, gen, use_cache=True)
        if device == "cuda":
            torch.cuda.synchronize()
        return x

    x = benchmark.pedantic(run, rounds=1 if size == "paper" else 2, iterations=1, warmup_rounds=0)
    assert x.shape == (n, 3 * system.n_atoms)
    benchmark.extra_info["samples_per_second"] = n / benchmark.stats.stats.mean
    benchmark.extra_info["n_samples"] = n
    benchmark.extra_info["threads"] = torch.get_num_threads()
