"""TICA projections: the published one (mean, projection matrix, dim) or one fitted with deeptime.

The reference fits ``deeptime.decomposition.TICA(lagtime=100, dim=2)`` on the features of the full
reference split. It also builds a Koopman reweighting estimator but hands it to ``fit`` as a positional
extra that deeptime ignores, so the fit it actually uses is the plain (unweighted) one; ``fit_tica``
does that plain fit on purpose and says so in the projection's ``source``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.errors import DataError

TICA_LAGTIME = 100
TICA_DIM = 2


@dataclass(frozen=True)
class TicaProjection:
    """Affine map features -> TICA coordinates: (f - mean) @ projection[:, :dim]."""

    mean: np.ndarray  # (F,)
    projection: np.ndarray  # (F, max_dim)
    dim: int
    source: str  # "published" or a description of the local fit

    @classmethod
    def published(cls, mean: np.ndarray, projection: np.ndarray, dim: int) -> "TicaProjection":
        """The model stored in a ManyPeptidesMD npz (tica_mean, tica_projection, tica_dim), checked."""
        mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        projection = np.asarray(projection, dtype=np.float64)
        if projection.ndim != 2 or projection.shape[0] != mean.shape[0]:
            raise DataError(
                f"Published TICA model is inconsistent: mean {mean.shape} vs projection {projection.shape}; "
                "re-download the reference data (bgbench data fetch TASK)."
            )
        return cls(mean, projection, int(dim), "published")

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def transform(self, features: np.ndarray) -> np.ndarray:
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != self.n_features:
            raise DataError(
                f"TICA model expects {self.n_features} features, got {f.shape[-1]}: the reference data's TICA "
                "model does not match this system's topology (stale 8AA models?); re-download the data."
            )
        return (f - self.mean) @ self.projection[:, : self.dim]


def fit_tica(features: np.ndarray, lagtime: int = TICA_LAGTIME, dim: int = TICA_DIM) -> TicaProjection:
    """Plain deeptime TICA (kinetic-map scaling, reversible, no Koopman weights) on one trajectory's features."""
    from deeptime.decomposition import TICA

    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) <= lagtime:
        raise DataError(
            f"Fitting TICA at lag {lagtime} needs a trajectory longer than {lagtime} frames, got {len(f)}; "
            "generate a longer local reference trajectory."
        )
    model = TICA(lagtime=lagtime, dim=dim).fit(f).fetch_model()
    projection = np.asarray(model.instantaneous_coefficients, dtype=np.float64)
    source = f"fitted: deeptime TICA lag={lagtime} frames, dim={dim}, kinetic_map, unweighted"
    return TicaProjection(np.asarray(model.mean_0, dtype=np.float64), projection, int(model.output_dimension), source)


__all__ = ["TICA_DIM", "TICA_LAGTIME", "TicaProjection", "fit_tica"]
