"""TarFlow throughput on the quick ALDP and AL3 configs: sampling (reverse pass with the KV cache, samples/s),
log q with its gradient (what SMC calls every step, conformations/s) and training (optimizer steps/s).

Run: pytest tests/benchmarks/test_tarflow_sampling.py -m benchmark --benchmark-enable
(on a shared CPU set OMP_WAIT_POLICY=PASSIVE, or spinning OpenMP threads dominate the timing).
Weights are a seeded random initialisation with non-zero outputs: throughput does not depend on training.
"""

from __future__ import annotations

import pytest
import torch

from baselines.tarflow.config import default_config
from baselines.tarflow.flow import nll_per_dim
from baselines.tarflow.method import build_net
from baselines.toolkit.optim import make_optimizer

ATOMS = {"ALDP": 22, "AL3": 33}
N_SAMPLES = 500
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _net(task: str, device: str):
    torch.manual_seed(0)
    cfg = default_config(task, "quick")
    net = build_net(cfg, ATOMS[task])
    with torch.no_grad():
        for b in net.blocks:
            b.proj_out.weight.normal_(0, 0.01)
    return cfg, net.to(device)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


@pytest.mark.benchmark
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("task", list(ATOMS))
def test_tarflow_sampling_throughput(benchmark, task, device):
    _, net = _net(task, device)
    net.eval()
    z = torch.randn(N_SAMPLES, net.dim, generator=torch.Generator().manual_seed(0)).to(device)

    def run():
        with torch.no_grad():
            x, lq = net.sample(z)
        _sync(device)
        return x

    x = benchmark.pedantic(run, rounds=2, iterations=1, warmup_rounds=0)
    assert x.shape == (N_SAMPLES, net.dim)
    benchmark.extra_info["samples_per_second"] = N_SAMPLES / benchmark.stats.stats.mean


@pytest.mark.benchmark
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("task", list(ATOMS))
def test_tarflow_log_q_gradient_throughput(benchmark, task, device):
    _, net = _net(task, device)
    net.eval()
    x = torch.randn(N_SAMPLES, net.dim, generator=torch.Generator().manual_seed(1)).to(device)

    def run():
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(net.log_prob(xg).sum(), xg)
        _sync(device)
        return grad

    grad = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert torch.isfinite(grad).all()
    benchmark.extra_info["conformations_per_second"] = N_SAMPLES / benchmark.stats.stats.mean


@pytest.mark.benchmark
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("task", list(ATOMS))
def test_tarflow_training_step_throughput(benchmark, task, device):
    cfg, net = _net(task, device)
    net.train()
    opt = make_optimizer(net.parameters(), cfg)
    batch = torch.randn(cfg.batch_size, net.dim, generator=torch.Generator().manual_seed(2)).to(device)

    def step():
        loss = nll_per_dim(net, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        return loss

    loss = benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=1)
    assert torch.isfinite(loss)
    benchmark.extra_info["steps_per_second"] = 1 / benchmark.stats.stats.mean
    benchmark.extra_info["batch_size"] = cfg.batch_size
