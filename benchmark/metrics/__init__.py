"""Metrics of the published protocol (E-W1/W2, torus-W2, TICA-W2, k-means JSD, ESS) and the Evaluator."""

from benchmark.metrics.chirality import ChiralityResult, apply_chirality_fix, chiral_centres, chirality_signs
from benchmark.metrics.evaluator import MIN_EVAL_SAMPLES, Evaluator, FeatureSet, featurize, set_metrics
from benchmark.metrics.features import (
    dihedral_angles, dihedral_sincos, tica_atom_indices, tica_feature_dim, tica_features, torus_angles,
)
from benchmark.metrics.jsd import kmeans_jsd
from benchmark.metrics.tica import TicaProjection, fit_tica
from benchmark.metrics.wasserstein import (
    energy_w1, energy_w2, euclidean_w2, exact_ot_cost, squared_cost_matrix, tica_w2, torus_w2,
)

__all__ = [
    "ChiralityResult", "Evaluator", "FeatureSet", "MIN_EVAL_SAMPLES", "TicaProjection", "apply_chirality_fix",
    "chiral_centres", "chirality_signs", "dihedral_angles", "dihedral_sincos", "energy_w1", "energy_w2",
    "euclidean_w2", "exact_ot_cost", "featurize", "fit_tica", "kmeans_jsd", "set_metrics",
    "squared_cost_matrix", "tica_atom_indices", "tica_feature_dim", "tica_features", "tica_w2", "torus_angles",
    "torus_w2",
]
