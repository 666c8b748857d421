"""The mixture arithmetic against independent references: scipy's distributions and mpmath at 50 digits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from baselines.ar_heads.mixture import Logistic, MixtureParameterization, Normal, log1mexp, log_interval_mass
from baselines.arbg.heads import Preceding

SCIPY = {"logistic": stats.logistic, "normal": stats.norm}
DISTS = {"logistic": Logistic, "normal": Normal}


def test_log1mexp_matches_the_definition_and_both_asymptotes():
    x = torch.tensor([-50.0, -5.0, -0.7, -0.69, -1e-3, -1e-12], dtype=torch.float64)
    got = log1mexp(x).numpy()
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    want = [float(mp.log(1 - mp.exp(mp.mpf(float(v))))) for v in x]
    assert np.allclose(got, want, rtol=1e-13, atol=0)


@pytest.mark.parametrize("kind", ["logistic", "normal"])
def test_component_functions_match_scipy(kind):
    dist, ref = DISTS[kind], SCIPY[kind]
    z = torch.linspace(-30, 30, 121, dtype=torch.float64)
    assert np.allclose(dist.log_cdf(z).numpy(), ref.logcdf(z.numpy()), rtol=1e-12, atol=1e-300)
    assert np.allclose(dist.log_sf(z).numpy(), ref.logsf(z.numpy()), rtol=1e-12, atol=1e-300)
    u = torch.linspace(1e-6, 1 - 1e-6, 101, dtype=torch.float64)
    assert np.allclose(dist.icdf(u).numpy(), ref.ppf(u.numpy()), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["logistic", "normal"])
def test_interval_masses_are_exact_in_the_body_and_both_tails(kind):
    """log(F(b) - F(a)) for narrow intervals from -35 to 35 sigma, against 50-digit arithmetic."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    cdf = (lambda t: 1 / (1 + mp.exp(-t))) if kind == "logistic" else (lambda t: mp.ncdf(t))
    lo = torch.tensor([-35.0, -8.0, -1.0, -1e-3, 0.5, 8.0, 35.0], dtype=torch.float64)
    hi = lo + 1e-3
    no = torch.zeros_like(lo, dtype=torch.bool)
    got = log_interval_mass(lo, hi, DISTS[kind], no, no).numpy()
    # F(b) - F(a) = F(-a) - F(-b) (both distributions are symmetric): keeps 50 digits enough above the median
    want = [float(mp.log(cdf(mp.mpf(float(b))) - cdf(mp.mpf(float(a))) if a < 0 else cdf(mp.mpf(float(-a))) - cdf(mp.mpf(float(-b)))))
            for a, b in zip(lo, hi)]
    assert np.allclose(got, want, rtol=1e-9, atol=0)
    # open ends: the first bin is (-inf, b], the last [a, +inf)
    yes = torch.ones_like(no)
    assert np.allclose(log_interval_mass(lo, hi, DISTS[kind], yes, no).numpy(), SCIPY[kind].logcdf(hi.numpy()), rtol=1e-12)
    assert np.allclose(log_interval_mass(lo, hi, DISTS[kind], no, yes).numpy(), SCIPY[kind].logsf(lo.numpy()), rtol=1e-12)


@pytest.mark.parametrize("kind", ["logistic", "normal"])
def test_gradients_stay_finite_far_in_the_tails(kind):
    """Training must not see NaN from the branch torch.where discards (0 * inf)."""
    z = torch.tensor([-60.0, -9.0, 0.0, 9.0, 60.0], dtype=torch.float64, requires_grad=True)
    no = torch.zeros(5, dtype=torch.bool)
    for open_lo, open_hi in ((no, no), (~no, no), (no, ~no)):
        (g,) = torch.autograd.grad(log_interval_mass(z, z + 1e-3, DISTS[kind], open_lo, open_hi).sum(), z)
        assert torch.isfinite(g).all()


def _outputs(k: int, logits, means, raw_scales, coefficients) -> torch.Tensor:
    out = torch.tensor([*logits, *means, *raw_scales, *coefficients], dtype=torch.float64)
    assert out.numel() == 3 * k + 2
    return out


def test_outputs_are_read_as_weights_means_scales_and_two_coefficients():
    p = MixtureParameterization(2, "exp", -7.0, "none")
    out = _outputs(2, [0.0, math.log(3.0)], [0.5, -1.0], [0.0, -100.0], [3.0, 3.0])
    mix = p(out, Preceding(torch.tensor(1.0), torch.tensor(1.0), torch.tensor(2)))
    assert torch.allclose(mix.log_weights.exp(), torch.tensor([0.25, 0.75], dtype=torch.float64))
    assert torch.allclose(mix.means, torch.tensor([0.5, -1.0], dtype=torch.float64))  # "none": no shift
    assert torch.allclose(mix.scales, torch.tensor([1.0, math.exp(-7.0)], dtype=torch.float64))  # floor at exp(-7)
    soft = MixtureParameterization(2, "softplus", -7.0, "none")(out, Preceding(torch.tensor(0.0), torch.tensor(0.0), torch.tensor(0)))
    assert torch.allclose(soft.scales, torch.tensor([math.log(2.0), math.exp(-7.0)], dtype=torch.float64))


@pytest.mark.parametrize("dependency,axis,expected", [
    ("atom", 0, 0.0),  # x of an atom: nothing of this atom generated yet
    ("atom", 1, 0.25 * 2.0),  # y: c1 * x (x is one place back)
    ("atom", 2, 0.25 * 3.0 + -0.5 * 2.0),  # z: c1 * x (two places back) + c2 * y (one place back)
    ("previous", 0, 0.25 * 2.0 + -0.5 * 3.0),  # c1 * x_{j-1} + c2 * x_{j-2} whatever the axis
    ("none", 2, 0.0),
])
def test_dependency_coefficients_shift_every_mean_by_earlier_values(dependency, axis, expected):
    p = MixtureParameterization(2, "exp", -7.0, dependency)
    c1, c2 = math.atanh(0.25), math.atanh(-0.5)  # tanh gives the coefficients 0.25 and -0.5
    out = _outputs(2, [0.0, 0.0], [0.5, -1.0], [0.0, 0.0], [c1, c2])
    mix = p(out, Preceding(torch.tensor(2.0, dtype=torch.float64), torch.tensor(3.0, dtype=torch.float64), torch.tensor(axis)))
    assert torch.allclose(mix.means, torch.tensor([0.5 + expected, -1.0 + expected], dtype=torch.float64))


def test_components_are_drawn_in_proportion_to_their_weights():
    p = MixtureParameterization(3, "exp", -7.0, "none")
    out = _outputs(3, [0.0, math.log(2.0), math.log(5.0)], [-10.0, 0.0, 10.0], [-3.0, -3.0, -3.0], [0.0, 0.0]).expand(40_000, -1)
    mix = p(out, Preceding(torch.zeros(40_000), torch.zeros(40_000), torch.tensor(0)))
    x = mix.draw(torch.rand(40_000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64), Normal)
    counts = np.array([(x < -5).sum(), ((x > -5) & (x < 5)).sum(), (x > 5).sum()])
    assert stats.chisquare(counts, 40_000 * np.array([1, 2, 5]) / 8).pvalue > 1e-3
