"""The shared training loop: optimizers, schedule, EMA, skipped steps, exact resume, train_or_load."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

from baselines.toolkit.config import TrainingConfig
from baselines.toolkit.data import FrameBatches
from baselines.toolkit.ema import EMA
from baselines.toolkit.optim import Muon, newton_schulz
from baselines.toolkit.schedules import one_cycle
from baselines.toolkit.training import TrainingJob, final_loss, to_device, train, train_or_load
from benchmark.config import ConfigError
from benchmark.weights import WeightsKey, WeightsStore


def test_newton_schulz_pushes_singular_values_towards_one():
    g = torch.randn(48, 96, generator=torch.Generator().manual_seed(0)) * torch.logspace(-2, 1, 96)
    for m in (g, g.T):  # wide and tall
        s = torch.linalg.svdvals(newton_schulz(m).float())
        assert s.min() > 0.5 and s.max() < 1.3  # the quintic iteration's known band, not exactly 1


def test_muon_minimizes_a_quadratic_and_uses_adamw_for_vectors():
    torch.manual_seed(0)
    target_w, target_b = torch.randn(8, 8), torch.randn(8)
    w, b = torch.nn.Parameter(torch.zeros(8, 8)), torch.nn.Parameter(torch.zeros(8))
    opt = Muon([w, b], lr=0.05, weight_decay=0.0, adamw_lr_ratio=1.0)
    with torch.no_grad():
        start = float(((w - target_w) ** 2).sum() + ((b - target_b) ** 2).sum())
    for _ in range(300):
        loss = ((w - target_w) ** 2).sum() + ((b - target_b) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * start
    assert "exp_avg" in opt.state[b] and "momentum_buffer" in opt.state[w]


def test_one_cycle_is_cosine_warmup_then_cosine_decay():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1.0)
    sched = one_cycle(opt, max_lr=1.0, total_steps=101, warmup_fraction=0.1)
    lrs = []
    for _ in range(101):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    lo = 1.0 / 500
    warm = 0.1 * 101 - 1  # OneCycleLR's phase end (pct_start * total - 1)
    assert lrs[0] == pytest.approx(lo)
    assert max(lrs) == pytest.approx(1.0, abs=1e-3) and lrs[-1] == pytest.approx(lo)
    t = 5 / warm  # cosine warm-up: lo + (1 - lo) (1 - cos(pi t)) / 2
    assert lrs[5] == pytest.approx(lo + (1 - lo) * (1 - math.cos(math.pi * t)) / 2, rel=1e-9)
    t = (60 - warm) / (100 - warm)
    assert lrs[60] == pytest.approx(lo + (1 - lo) * (1 + math.cos(math.pi * t)) / 2, rel=1e-9)


def test_ema_is_the_closed_form_average():
    net = torch.nn.Linear(2, 1)
    ema = EMA(net, decay=0.9)
    start = net.weight.detach().clone()
    values = [torch.full_like(start, v) for v in (1.0, 2.0, 3.0)]
    for v in values:
        with torch.no_grad():
            net.weight.copy_(v)
        ema.update(net)
    want = 0.9**3 * start + 0.1 * (0.9**2 * 1.0 + 0.9 * 2.0 + 3.0)
    assert torch.allclose(ema.shadow["weight"], want, atol=1e-6)
    ema.copy_to(net)
    assert torch.allclose(net.weight, want, atol=1e-6)


def test_training_config_overrides_are_checked_and_epochs_count_steps():
    cfg = TrainingConfig().override({"lr": 1, "steps": 7, "optimizer": "muon", "betas": [0.9, 0.95]})
    assert cfg.lr == 1.0 and cfg.total_steps(10) == 7 and cfg.betas == (0.9, 0.95)
    assert TrainingConfig(epochs=3, batch_size=4).total_steps(10) == 9  # 3 x ceil(10 / 4)
    with pytest.raises(ConfigError, match="Valid keys"):
        TrainingConfig().override({"setps": 3})
    with pytest.raises(ConfigError):
        TrainingConfig().override({"optimizer": "sgd"})
    assert "checkpoint_every" not in TrainingConfig().training_key()


class Regressor(torch.nn.Module):
    """y = w . x + b with dropout on the input: a loss whose minimum is known, and a use of global RNG."""

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.lin = torch.nn.Linear(3, 1)
        self.drop = torch.nn.Dropout(dropout)

    def forward(self, x):
        return self.lin(self.drop(x)).squeeze(-1)


TRUE_W = torch.tensor([1.5, -2.0, 0.5])


def regression_data(n: int = 64) -> torch.Tensor:
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(0))


def mse(model, x):
    return ((model(x) - x @ TRUE_W - 0.3) ** 2).mean()


def test_the_loop_fits_a_known_linear_model():
    torch.manual_seed(0)
    net = Regressor()
    cfg = TrainingConfig(steps=300, batch_size=16, lr=0.05, weight_decay=0.0)
    result = train(net, mse, FrameBatches(regression_data(), 16), cfg, 300, seed=0, progress=False)
    assert len(result.losses) == 300 and result.skipped_steps == 0
    assert torch.allclose(net.lin.weight[0], TRUE_W, atol=1e-2) and net.lin.bias.item() == pytest.approx(0.3, abs=1e-2)
    assert not net.training


def test_non_finite_steps_are_skipped():
    torch.manual_seed(0)
    net = Regressor()
    calls = []

    def loss_fn(model, x):
        calls.append(1)
        loss = mse(model, x)
        return loss * float("nan") if len(calls) == 3 else loss

    seen = {}

    class Watch(FrameBatches):
        def batch(self, generator):
            seen[len(calls)] = net.lin.weight.detach().clone()
            return super().batch(generator)

    result = train(net, loss_fn, Watch(regression_data(), 8), TrainingConfig(steps=5, batch_size=8, lr=0.01), 5,
                   seed=0, progress=False)
    assert result.skipped_steps == 1 and math.isnan(result.losses[2])
    assert torch.equal(seen[2], seen[3])  # step 3 (NaN) did not move the weights
    assert not torch.equal(seen[3], seen[4]) and torch.isfinite(net.lin.weight).all()


def entry_for(tmp_path, name: str):
    key = WeightsKey(method="toy", task="T", tier="quick", subject=name, seed=0, config={"x": 1}, data_hash="h")
    return WeightsStore(tmp_path / "weights").entry(key)


class Killed(Exception):
    pass


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_resume_after_a_kill_gives_the_uninterrupted_result(tmp_path, optimizer):
    cfg = TrainingConfig(steps=12, batch_size=8, lr=0.02, optimizer=optimizer, ema_decay=0.8, checkpoint_every=4)
    data = FrameBatches(regression_data(), 8)

    def fresh():
        torch.manual_seed(1)
        return Regressor(dropout=0.2)  # dropout: the global RNG must be restored too

    torch.manual_seed(7)
    whole_net = fresh()
    whole = train(whole_net, mse, data, cfg, 12, seed=3, entry=entry_for(tmp_path, "a"), progress=False)

    steps = []

    def dies_at_step_10(model, x):  # checkpoints were written after steps 4 and 8
        steps.append(1)
        if len(steps) == 10:
            raise Killed
        return mse(model, x)

    entry = entry_for(tmp_path, "b")
    with pytest.raises(Killed):
        train(fresh(), dies_at_step_10, data, cfg, 12, seed=3, entry=entry, progress=False)
    assert entry.manifest["step"] == 8 and entry.manifest["status"] == "training"
    torch.manual_seed(99)  # whatever the global RNG is now, the checkpoint restores it
    resumed_net = fresh()
    rest = train(resumed_net, mse, data, cfg, 12, seed=3, entry=entry, progress=False)
    assert rest.losses == whole.losses[8:]  # bitwise
    for a, b in zip(whole_net.state_dict().values(), resumed_net.state_dict().values()):
        assert torch.equal(a, b)


def test_train_or_load_trains_once_then_loads(tmp_path):
    entry = entry_for(tmp_path, "c")
    jobs = []

    def make_job():
        jobs.append(1)
        return TrainingJob(mse, FrameBatches(regression_data(), 8), TrainingConfig(steps=6, batch_size=8, lr=0.01,
                                                                                   checkpoint_every=4), 6, seed=0,
                           info={"sigma": 0.25})

    torch.manual_seed(0)
    first = Regressor()
    out = train_or_load(entry, first, make_job, progress=False)
    assert out.trained is not None and out.trained.step == 6 and out.info["sigma"] == 0.25
    assert entry.complete and out.info["parameters"] == 4
    assert out.info["final_loss"] == pytest.approx(sum(out.trained.losses) / 6)  # fewer steps than the window
    second = Regressor()
    again = train_or_load(entry, second, make_job, progress=False)
    assert jobs == [1] and again.trained is None and again.info["sigma"] == 0.25
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def test_final_loss_averages_the_last_finite_steps():
    assert final_loss([9.0] * 10 + [1.0, 3.0], window=2) == 2.0
    assert final_loss([1.0, float("nan"), 3.0], window=3) == 2.0  # a skipped (NaN) step does not poison it
    assert final_loss([]) is None and final_loss([float("inf")]) is None


def test_to_device_moves_nested_batches():
    @dataclass
    class Pair:
        a: torch.Tensor
        b: list

    moved = to_device({"x": Pair(torch.zeros(1), [torch.ones(1), 3])}, "cpu")
    assert isinstance(moved["x"], Pair) and moved["x"].b[1] == 3 and torch.equal(moved["x"].b[0], torch.ones(1))
