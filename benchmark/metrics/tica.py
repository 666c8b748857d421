"""TICA projections: the published one (mean, projection matrix, dim) or one fitted with deeptime.

The reference fits ``deeptime.decomposition.TICA(lagtime=100, dim=2)`` on the features of the full
reference split. It also builds a Koopman reweighting estimator but hands it to ``fit`` as a positional
extra that deeptime ignores, so the fit it actually uses is the plain (unweighted) one; ``fit_tica``
does that plain fit on purpose and says so in the projection's ``source``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from benchmark.errors import DataError
from benchmark.metrics.features import tica_features

TICA_LAGTIME = 100
TICA_DIM = 2


@dataclass(frozen=True)
class TicaProjection:
    """Affine map features -> TICA coordinates: (f - mean) @ projection[:, :dim].

    ``atom_order`` says in which atom order the model's features were computed: bgbench atom
    indices listed in the model's order, or None for bgbench's own order. A published model of a
    file whose atoms are ordered differently from bgbench's topology expects its pairwise distances
    in the file's order; ``project`` computes them so.
    """

    mean: np.ndarray  # (F,)
    projection: np.ndarray  # (F, max_dim)
    dim: int
    source: str  # "published" or a description of the local fit
    atom_order: tuple[int, ...] | None = None

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

    def in_atom_order(self, order: np.ndarray | None) -> "TicaProjection":
        """The same model, with features computed on atoms ``order`` (bgbench indices in the model's order)."""
        if order is None or np.array_equal(order, np.arange(len(order))):
            return replace(self, atom_order=None)
        return replace(self, atom_order=tuple(int(i) for i in order))

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def project(self, positions: np.ndarray, system) -> np.ndarray:
        """TICA coordinates (B, dim) of positions (B, N, 3) in bgbench's atom order."""
        return self.transform(tica_features(positions, system, self.atom_order))

    def transform(self, features: np.ndarray) -> np.ndarray:
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != self.n_features:
            raise DataError(
                f"TICA model expects {self.n_features} features, got {f.shape[-1]}: the reference data's TICA "
                "model does not match this system's topology (stale 8AA models?); re-download the data."
            )
        return (f - self.mean) @ self.projection[:, : self.dim]


def fit_tica(features: np.ndarray | list[np.ndarray], lagtime: int = TICA_LAGTIME, dim: int = TICA_DIM) -> TicaProjection:
    """Plain deeptime TICA (kinetic-map scaling, reversible, no Koopman weights) on trajectories' features.

    ``features`` is one (T, F) array or a list of them, one per independent trajectory (MD
    replicas), so that no time-lagged pair spans two trajectories.
    """
    from deeptime.decomposition import TICA

    trajs = [np.asarray(f, dtype=np.float64) for f in (features if isinstance(features, list) else [features])]
    if any(f.ndim != 2 for f in trajs) or min(len(f) for f in trajs) <= lagtime:
        raise DataError(
            f"Fitting TICA at lag {lagtime} needs trajectories longer than {lagtime} frames, got "
            f"{sorted({len(f) for f in trajs})}; generate longer local reference trajectories."
        )
    model = TICA(lagtime=lagtime, dim=dim).fit(trajs if len(trajs) > 1 else trajs[0]).fetch_model()
    projection = np.asarray(model.instantaneous_coefficients, dtype=np.float64)
    source = f"fitted: deeptime TICA lag={lagtime} frames, dim={dim}, kinetic_map, unweighted"
    source += f", {len(trajs)} trajectories" if len(trajs) > 1 else ""
    return TicaProjection(np.asarray(model.mean_0, dtype=np.float64), projection, int(model.output_dimension), source)


__all__ = ["TICA_DIM", "TICA_LAGTIME", "TicaProjection", "fit_tica"]
