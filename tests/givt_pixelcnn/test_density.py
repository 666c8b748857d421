"""Exactness of the three mixture heads as densities: normalization, bin masses, sampling vs scoring, histograms.

Every expected number comes from brute force (grid integration, scipy CDFs, counting), never from
the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from baselines.ar_heads.heads import DiscretizedMixtureHead
from baselines.ar_heads.mixture import DISTRIBUTIONS, MixtureParameterization
from baselines.arbg.binning import UniformBinning
from baselines.arbg.heads import Preceding
from tests.givt_pixelcnn.toys import KINDS, toy_density

BINNED = ("logistic", "normal")
SCIPY = {"logistic": stats.logistic, "normal": stats.norm}


def _grid(lo: float, hi: float, n: int) -> tuple[torch.Tensor, float]:
    h = (hi - lo) / n
    return lo + h * (torch.arange(n, dtype=torch.float64) + 0.5), h  # midpoints


def _log_q_on_grid(dens, axis: torch.Tensor, d: int, sigma: float) -> torch.Tensor:
    """log q in 'nm' = sigma * standardized units on the product grid ``axis``^d (flattened)."""
    grid = torch.cartesian_prod(*([axis] * d)).reshape(-1, d)
    with torch.no_grad():
        return torch.cat([dens.log_prob((g / sigma).float()) for g in torch.split(grid, 65536)]) - d * math.log(sigma)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [1, 2])
def test_density_integrates_to_one(kind, d):
    sigma = 0.37  # as if nm: the Jacobian must come out right too
    dens = toy_density(kind, d, seed=d)
    if kind == "givt":  # a smooth density on R^d: midpoints over a box far beyond every component
        axis, h = _grid(-14 * sigma, 14 * sigma, 4000 if d == 1 else 350)
    else:  # piecewise constant on bins tiling [lo - s/2, hi + s/2]: 3 points per bin, a little beyond the box
        s = dens.binning.spacing
        axis, h = _grid((dens.binning.lo - 1.5 * s) * sigma, (dens.binning.hi + 1.5 * s) * sigma, 3 * (dens.binning.num_bins + 2))
    total = float(_log_q_on_grid(dens, axis, d, sigma).exp().sum() * h**d)
    assert total == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dependency", ["atom", "previous"])
def test_log_q_during_sampling_equals_teacher_forced_pass(kind, dependency):
    dens = toy_density(kind, d=7, dependency=dependency)  # 7 coordinates: every axis, across an atom boundary
    x, lq, bins = dens.sample(64, torch.Generator().manual_seed(1))
    if bins is not None:
        assert torch.equal(dens.binning.to_index(x), bins)
    assert torch.isfinite(lq).all()
    assert torch.allclose(lq, dens.log_prob(x), atol=1e-5, rtol=0)
    assert torch.allclose(dens.token_log_probs(x).sum(-1), dens.log_prob(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_kv_cache_and_full_recomputation_give_the_same_samples(kind):
    dens = toy_density(kind, d=9)
    a, la, _ = dens.sample(40, torch.Generator().manual_seed(3), use_cache=True)
    b, lb, _ = dens.sample(40, torch.Generator().manual_seed(3), use_cache=False)
    if kind == "givt":  # float32 attention sums differ in the last bits, so do continuous values
        assert torch.allclose(a, b, atol=1e-5) and torch.allclose(la, lb, atol=1e-4)
    else:
        assert torch.equal(a, b) and torch.allclose(la, lb, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_each_conditional_depends_on_earlier_coordinates_only(kind):
    dens = toy_density(kind, d=6)
    x, _, _ = dens.sample(16, torch.Generator().manual_seed(4))
    with torch.no_grad():
        before = dens.token_log_probs(x)
        for j in range(6):
            moved = x.clone()
            moved[:, j:] = -moved[:, j:] + 0.3
            after = dens.token_log_probs(moved)
            assert torch.allclose(after[:, :j], before[:, :j], atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", BINNED)
def test_bin_masses_of_every_step_sum_to_one_edge_bins_included(kind):
    dens = toy_density(kind, d=6)
    _, _, bins = dens.sample(200, torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = dens.net(dens.inputs(bins))
        masses = dens.head.bin_log_probs(out, Preceding.teacher_forced(dens.values(bins))).exp()
    assert masses.shape == (200, 6, dens.binning.num_bins)
    assert (masses.sum(-1) - 1).abs().max() < 1e-6
    assert masses[..., 0].min() > 0 and masses[..., -1].min() > 0  # the open edge bins carry the tails


@pytest.mark.parametrize("kind", BINNED)
def test_bin_masses_equal_cdf_differences_with_open_edges(kind):
    """One hand-made step, components inside, beyond and far beyond the range, against scipy."""
    binning = UniformBinning(2048, -3.0, 3.0)
    k = 4
    means, log_scales = np.array([0.3, -2.9, 4.0, -50.0]), np.array([-6.5, -1.0, 0.2, 0.0])
    logits = np.log(np.array([0.4, 0.3, 0.2, 0.1]))
    out = torch.tensor([*logits, *means, *log_scales, 0.0, 0.0], dtype=torch.float64)
    head = DiscretizedMixtureHead(binning, DISTRIBUTIONS[kind], MixtureParameterization(k, "exp", -7.0, "none"))
    got = head.bin_log_probs(out, Preceding(torch.tensor(0.0), torch.tensor(0.0), torch.tensor(0))).exp().numpy()
    s = 6.0 / 2047
    edges = np.concatenate([[-np.inf], -3.0 + s * (np.arange(1, 2048) - 0.5), [np.inf]])  # bin b = (c_b - s/2, c_b + s/2]
    cdf = SCIPY[kind].cdf((edges[None, :] - means[:, None]) / np.exp(log_scales)[:, None])
    want = (np.exp(logits)[:, None] * np.diff(cdf, axis=1)).sum(0)
    assert abs(got.sum() - 1) < 1e-12
    assert np.allclose(got, want, rtol=1e-7, atol=1e-15)
    assert got[0] > 0.1  # the component 47 scales below the range lies wholly in the open first bin


def _chi_square_p(counts: np.ndarray, probs: np.ndarray, n: int) -> float:
    """Pearson chi-square p-value, cells with fewer than 5 expected merged into one."""
    expected = probs * n
    small = expected < 5
    counts = np.append(counts[~small], counts[small].sum())
    expected = np.append(expected[~small], expected[small].sum())
    if expected[-1] == 0:
        counts, expected = counts[:-1], expected[:-1]
    return float(stats.chisquare(counts, expected * counts.sum() / expected.sum()).pvalue)


@pytest.mark.parametrize("kind", BINNED)
def test_sampled_bins_match_the_models_own_bin_probabilities(kind):
    """2-D toy: the joint histogram of sampled bin pairs against P(b1) P(b2 | b1) from the teacher-forced masses."""
    dens = toy_density(kind, d=2, bins=10)
    b = dens.binning.num_bins
    pairs = torch.cartesian_prod(torch.arange(b), torch.arange(b))  # every bin sequence
    with torch.no_grad():
        joint = dens.bin_log_prob(pairs).exp().numpy()
    assert abs(joint.sum() - 1) < 1e-6
    n = 40_000
    _, _, bins = dens.sample(n, torch.Generator().manual_seed(5))
    counts = np.bincount((bins[:, 0] * b + bins[:, 1]).numpy(), minlength=b * b)
    assert _chi_square_p(counts, joint, n) > 1e-3


def test_givt_samples_match_its_density():
    """2-D toy: counts in cells of a grid against the density integrated over each cell (midpoints)."""
    dens = toy_density("givt", d=2, seed=2)
    n = 40_000
    x, _, _ = dens.sample(n, torch.Generator().manual_seed(6))
    edges = np.linspace(-4.0, 4.0, 9)  # 8 x 8 cells, plus everything outside them as one more cell
    fine, h = _grid(-4.0, 4.0, 240)
    p = _log_q_on_grid(dens, fine, 2, 1.0).exp().reshape(240, 240).numpy() * h * h
    cell = p.reshape(8, 30, 8, 30).sum(axis=(1, 3)).flatten()
    probs = np.append(cell, 1 - cell.sum())
    ix = np.digitize(x[:, 0].numpy(), edges) - 1
    iy = np.digitize(x[:, 1].numpy(), edges) - 1
    inside = (ix >= 0) & (ix < 8) & (iy >= 0) & (iy < 8)
    counts = np.append(np.bincount(ix[inside] * 8 + iy[inside], minlength=64), (~inside).sum())
    assert _chi_square_p(counts, probs, n) > 1e-3


@pytest.mark.parametrize("kind", BINNED)
def test_points_outside_the_box_have_zero_density(kind):
    dens = toy_density(kind, d=2)
    s = dens.binning.spacing
    x = torch.tensor([[0.0, 2.0 + 0.6 * s], [0.1, -0.2]])
    with torch.no_grad():
        lq = dens.log_prob(x)
    assert lq[0] == -math.inf and math.isfinite(lq[1])
