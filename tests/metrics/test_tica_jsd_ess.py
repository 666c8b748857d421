"""TICA projection vs deeptime's own transform, k-means JSD vs a hand-written histogram, Kish ESS closed forms."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from deeptime.decomposition import TICA
from scipy.spatial.distance import jensenshannon
from sklearn.cluster import KMeans

from benchmark.errors import DataError
from benchmark.metrics import TicaProjection, fit_tica, kmeans_jsd
from benchmark.sampling.weights import normalized_ess


def _trajectory(n: int = 1500, f: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    slow = np.cumsum(rng.normal(size=(n, 2)), axis=0) * 0.05
    return np.concatenate([slow, rng.normal(size=(n, f - 2))], axis=1) @ rng.normal(size=(f, f))


def test_fit_tica_reproduces_deeptime_transform():
    f = _trajectory()
    model = TICA(lagtime=100, dim=2).fit(f).fetch_model()
    tica = fit_tica(f)
    assert tica.dim == 2
    np.testing.assert_allclose(tica.transform(f), model.transform(f), atol=1e-10)
    assert "unweighted" in tica.source


def test_published_projection_formula_and_mismatch():
    rng = np.random.default_rng(1)
    mean, proj = rng.normal(size=5), rng.normal(size=(5, 3))
    tica = TicaProjection.published(mean, proj, 2)
    f = rng.normal(size=(4, 5))
    expected = np.array([[sum((f[i, k] - mean[k]) * proj[k, j] for k in range(5)) for j in range(2)] for i in range(4)])
    np.testing.assert_allclose(tica.transform(f), expected, atol=1e-12)
    with pytest.raises(DataError, match="expects 5 features"):
        tica.transform(rng.normal(size=(4, 6)))
    with pytest.raises(DataError):
        fit_tica(f, lagtime=100)


def test_kish_ess_closed_forms():
    assert normalized_ess(np.zeros(10)) == pytest.approx(1.0)
    assert normalized_ess(np.array([0.0, -1e4, -1e4, -1e4])) == pytest.approx(0.25)
    # weights 1, 1, 2, 2: (6)^2 / (4 * 10)
    assert normalized_ess(np.log([1.0, 1.0, 2.0, 2.0]) + 700.0) == pytest.approx(0.9)


def test_kmeans_jsd_matches_hand_computation():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(600, 2))
    gen = rng.normal(loc=0.7, size=(600, 2))
    km = KMeans(n_clusters=20, random_state=0, n_init="auto").fit(ref)
    p = np.array([(np.sum(km.labels_ == c) + 1e-10) / (600 + 20e-10) for c in range(20)])
    labels = km.predict(gen)
    q = np.array([(np.sum(labels == c) + 1e-10) / (600 + 20e-10) for c in range(20)])
    m = 0.5 * (p + q)
    js = 0.5 * sum(p * np.log2(p / m)) + 0.5 * sum(q * np.log2(q / m))
    assert kmeans_jsd(ref, gen) == pytest.approx(js, rel=1e-8)
    assert kmeans_jsd(ref, gen) == pytest.approx(jensenshannon(p, q, base=2) ** 2, rel=1e-8)
    assert kmeans_jsd(ref, ref) == pytest.approx(0.0, abs=1e-12)
    assert kmeans_jsd(ref, ref + 100.0) > 0.5 and math.isfinite(kmeans_jsd(ref, ref + 100.0))
