"""k-means Jensen-Shannon metric: state histograms over 20 clusters fitted on the reference features."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon

N_CLUSTERS = 20
KMEANS_SEED = 0
EPSILON = 1e-10


def kmeans_jsd(ref_features: np.ndarray, gen_features: np.ndarray, n_clusters: int = N_CLUSTERS) -> float:
    """Squared base-2 JS distance between cluster histograms (KMeans(20, random_state=0) fitted on the reference)."""
    from sklearn.cluster import KMeans

    ref = np.asarray(ref_features, dtype=np.float64)
    gen = np.asarray(gen_features, dtype=np.float64)
    km = KMeans(n_clusters=n_clusters, random_state=KMEANS_SEED, n_init="auto").fit(ref)
    p = _histogram(km.labels_, n_clusters)
    q = _histogram(km.predict(gen), n_clusters)
    return float(jensenshannon(p, q, base=2) ** 2)


def _histogram(labels: np.ndarray, n_clusters: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=n_clusters).astype(np.float64)
    return (counts + EPSILON) / (counts.sum() + n_clusters * EPSILON)


__all__ = ["N_CLUSTERS", "kmeans_jsd"]
