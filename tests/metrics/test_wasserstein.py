"""Known answers for the Wasserstein metrics: closed forms, brute force over couplings, POT's own solver."""

from __future__ import annotations

import itertools
import math

import numpy as np
import ot
import pytest
from scipy.stats import norm

from benchmark.metrics import wasserstein
from benchmark.metrics.wasserstein import (
    energy_w1, energy_w2, euclidean_w2, exact_ot_cost, squared_cost_matrix, tica_w2, torus_w2,
)


def _quantiles(n: int, mean: float, std: float) -> np.ndarray:
    return norm.ppf((np.arange(n) + 0.5) / n, loc=mean, scale=std)


def test_energy_w2_two_gaussians_closed_form():
    # W2^2(N(m1, s1^2), N(m2, s2^2)) = (m1 - m2)^2 + (s1 - s2)^2
    a, b = _quantiles(20_000, 0.0, 1.0), _quantiles(20_000, 1.0, 2.0)
    rng = np.random.default_rng(0)
    assert energy_w2(rng.permutation(a), rng.permutation(b)) == pytest.approx(math.sqrt(2.0), rel=2e-3)


def test_energy_w1_shift_closed_form():
    a = np.random.default_rng(1).normal(size=500)
    assert energy_w1(a, a - 3.5) == pytest.approx(3.5, abs=1e-9)
    assert energy_w2(a, a + 0.25) == pytest.approx(0.25, abs=1e-9)


def test_shifted_point_cloud_w2_is_shift_length():
    x = np.random.default_rng(2).normal(size=(300, 2))
    shift = np.array([0.3, -0.4])
    assert euclidean_w2(x, x + shift) == pytest.approx(0.5, abs=1e-9)
    assert tica_w2(x, x + shift, solver="pot") == pytest.approx(0.5, abs=1e-9)


def test_self_comparison_is_zero():
    rng = np.random.default_rng(3)
    angles = rng.uniform(-math.pi, math.pi, size=(200, 6))
    assert torus_w2(angles, angles[rng.permutation(200)]) == pytest.approx(0.0, abs=1e-12)
    assert energy_w2(angles[:, 0], angles[::-1, 0]) == pytest.approx(0.0, abs=1e-12)


def test_torus_wraps_around_pi():
    a = np.array([[math.pi - 0.01, 0.0]])
    b = np.array([[-math.pi + 0.01, 0.0]])
    assert torus_w2(a, b) == pytest.approx(0.02, abs=1e-12)


def _brute_force_torus_w2(a: np.ndarray, b: np.ndarray) -> float:
    """Best permutation by enumeration, with the periodic distance written out per element."""
    n = len(a)

    def cost(i, j):
        total = 0.0
        for k in range(a.shape[1]):
            d = abs(a[i, k] - b[j, k]) % (2 * math.pi)
            total += min(d, 2 * math.pi - d) ** 2
        return total

    best = min(sum(cost(i, p[i]) for i in range(n)) for p in itertools.permutations(range(n)))
    return math.sqrt(best / n)


@pytest.mark.parametrize("solver", ["auto", "sparse", "assignment", "pot"])
def test_torus_w2_matches_brute_force(solver):
    rng = np.random.default_rng(4)
    a = rng.uniform(-math.pi, math.pi, size=(6, 3))
    b = np.angle(np.exp(1j * (a + rng.normal(scale=1.5, size=a.shape))))  # wrapped, many cross +-pi
    assert torus_w2(a, b, solver) == pytest.approx(_brute_force_torus_w2(a, b), rel=1e-12)


def test_assignment_equals_pot_network_simplex():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(150, 4)), rng.normal(loc=0.3, size=(150, 4))
    cost = ot.dist(a, b)  # POT's own squared Euclidean cost
    expected = ot.emd2(np.full(150, 1 / 150), np.full(150, 1 / 150), cost, numItermax=10**7)
    assert exact_ot_cost(squared_cost_matrix(a, b), "assignment") == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("n,m,d", [(400, 400, 2), (300, 170, 3), (250, 250, 14), (9, 4, 1)])
def test_sparse_solver_equals_dense_network_simplex(n, m, d):
    rng = np.random.default_rng(n + m + d)
    a, b = rng.normal(size=(n, d)), 1.3 * rng.normal(loc=0.3, size=(m, d))
    cost = ot.dist(a, b)
    expected = ot.emd2(np.full(n, 1 / n), np.full(m, 1 / m), cost, numItermax=10**9)
    assert exact_ot_cost(np.ascontiguousarray(cost), "sparse") == pytest.approx(expected, rel=1e-10)


def test_unequal_sizes():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(40, 2)), rng.normal(size=(25, 2))
    expected = ot.emd2(np.full(40, 1 / 40), np.full(25, 1 / 25), ot.dist(a, b))
    assert euclidean_w2(a, b) == pytest.approx(math.sqrt(expected), rel=1e-10)
    with pytest.raises(ValueError):
        exact_ot_cost(squared_cost_matrix(a, b), "assignment")


def test_chunked_cost_matrix_equals_broadcast(monkeypatch):
    monkeypatch.setattr(wasserstein, "BLOCK_ELEMENTS", 37)  # many small, uneven blocks
    rng = np.random.default_rng(7)
    a, b = rng.uniform(-4, 4, size=(23, 5)), rng.uniform(-4, 4, size=(19, 5))
    d = np.abs(a[:, None, :] - b[None, :, :])
    periodic = (np.minimum(d, 2 * math.pi - d) ** 2).sum(-1)
    np.testing.assert_allclose(squared_cost_matrix(a, b, period=2 * math.pi), periodic, rtol=1e-13)
    np.testing.assert_allclose(squared_cost_matrix(a, b), (d**2).sum(-1), rtol=1e-13)
