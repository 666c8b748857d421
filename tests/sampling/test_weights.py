"""Weight utilities against closed forms, numpy and Monte Carlo."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

from benchmark.errors import InvalidSamplesError
from benchmark.sampling.com import com_adjustment
from benchmark.sampling.weights import (
    multinomial_indices,
    normalized_ess,
    quantile_filter_mask,
    systematic_indices,
)


def test_ess_closed_forms():
    assert normalized_ess(torch.zeros(7, dtype=torch.float64)) == pytest.approx(1.0)
    one_hot = torch.tensor([0.0, -math.inf, -math.inf, -math.inf])
    assert normalized_ess(one_hot) == pytest.approx(0.25)
    w = [1.0, 2.0, 3.0, 4.0]
    kish = sum(w) ** 2 / sum(v * v for v in w) / len(w)
    assert normalized_ess(torch.log(torch.tensor(w, dtype=torch.float64))) == pytest.approx(kish)


@pytest.mark.parametrize("n, f, dropped", [(10_000, 0.002, 20), (1_000, 0.01, 10)])
def test_quantile_filter_drops_published_count(n, f, dropped):
    logw = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    keep = quantile_filter_mask(logw, f)
    assert int((~keep).sum()) == dropped
    threshold = np.quantile(logw.numpy(), 1 - f)  # numpy's default is linear interpolation too
    assert torch.equal(keep, torch.from_numpy(logw.numpy() <= threshold))
    assert logw[~keep].min() > logw[keep].max()  # the largest weights are the ones removed


def test_quantile_filter_keeps_minus_inf_and_none_means_no_filter():
    logw = torch.cat([torch.full((5,), -math.inf), torch.randn(995, dtype=torch.float64)])
    keep = quantile_filter_mask(logw, 0.01)
    assert keep[:5].all() and int((~keep).sum()) == 10
    assert quantile_filter_mask(logw, None).all()


def test_systematic_resampling_is_unbiased_and_low_variance():
    w = torch.tensor([0.1, 0.25, 0.0, 0.05, 0.6], dtype=torch.float64)
    logw = torch.log(w)
    n, reps = len(w), 20_000
    gen = torch.Generator().manual_seed(3)
    counts = torch.stack([torch.bincount(systematic_indices(logw, gen), minlength=n) for _ in range(reps)]).double()
    expected = n * w
    se = counts.std(0) / math.sqrt(reps) + 1e-12
    assert torch.all((counts.mean(0) - expected).abs() <= 4 * se + 1e-9)
    # each count is floor or ceil of N w_i; a zero weight is never drawn
    assert torch.all(counts >= torch.floor(expected)) and torch.all(counts <= torch.ceil(expected))
    assert counts[:, 2].sum() == 0


def test_systematic_indices_sorted_and_multinomial_frequencies():
    gen = torch.Generator().manual_seed(0)
    logw = torch.randn(50, dtype=torch.float64, generator=gen)
    idx = systematic_indices(logw, gen)
    assert len(idx) == 50 and torch.all(idx[1:] >= idx[:-1])
    w = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    draws = multinomial_indices(torch.log(w), 60_000, gen)
    freq = torch.bincount(draws, minlength=3).double() / 60_000
    assert torch.all((freq - w).abs() < 4 * torch.sqrt(w * (1 - w) / 60_000))


def test_all_zero_weights_raise_a_bgbench_error():
    with pytest.raises(InvalidSamplesError):
        systematic_indices(torch.full((4,), -math.inf), torch.Generator())


def test_com_adjustment_is_chi3_log_density():
    gen = torch.Generator().manual_seed(0)
    x = 0.05 * torch.randn(6, 10, 3, dtype=torch.float64, generator=gen)
    scale = 0.35
    r = x.mean(1).norm(dim=-1).numpy()
    expected = scipy.stats.chi.logpdf(r, 3, scale=scale / math.sqrt(10))
    assert np.allclose(com_adjustment(x, scale).numpy(), expected, atol=1e-10)
