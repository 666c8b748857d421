"""The Evaluator: one method's Samples against a system's reference samples, as in the published protocol.

Order of work (specs/flows-and-protocol.md 2.2-2.5): chirality detection and fix on the whole set (rates
kept for the proposal set, or for the final set when there is no proposal), then the first
n = min(n_eval_samples, len(set), len(reference)) samples of the set and of the reference, in stored order,
then the metrics. E_target comes from an unmetered TargetEnergy (the reference's energies are computed
once and cached).

Infinite energies (clashes): the reference code raises on them; bgbench keeps such samples for the
geometric metrics, counts them as ``n-infinite-energy`` and computes the energy metrics on the finite
energies only.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.errors import InvalidSamplesError
from benchmark.metrics.chirality import apply_chirality_fix, chiral_centres, chirality_signs
from benchmark.sampling.weights import normalized_ess
from benchmark.metrics.features import dihedral_sincos, tica_features, torus_angles
from benchmark.metrics.jsd import kmeans_jsd
from benchmark.metrics.tica import TICA_DIM, TICA_LAGTIME, TicaProjection, fit_tica
from benchmark.metrics.wasserstein import energy_w1, energy_w2, tica_w2, torus_w2

log = logging.getLogger(__name__)

#: Fewest samples a set may have: the k-means metrics need at least one sample per cluster (20).
MIN_EVAL_SAMPLES = 20
#: Below this fraction of n_eval_samples a warning is logged (the reference warns below 9 000 of 10 000).
WARN_FRACTION = 0.9
ENERGY_BATCH = 512


@dataclass(frozen=True)
class FeatureSet:
    """What the metrics need of one sample set (first n samples, in order)."""

    energies: np.ndarray  # (n,) kT, may contain +inf
    torus: np.ndarray  # (n, 2m) phi then psi, radians
    sincos: np.ndarray  # (n, 6k) sin/cos of phi, psi, omega
    tica: np.ndarray  # (n, dim) TICA coordinates

    def head(self, n: int) -> "FeatureSet":
        return FeatureSet(self.energies[:n], self.torus[:n], self.sincos[:n], self.tica[:n])


def featurize(positions: np.ndarray, energies: np.ndarray, system, tica: TicaProjection) -> FeatureSet:
    """Geometric features of positions (B, N, 3) plus their energies."""
    return FeatureSet(
        np.asarray(energies, dtype=np.float64),
        torus_angles(positions, system),
        dihedral_sincos(positions, system),
        tica.project(positions, system),
    )


def set_metrics(ref: FeatureSet, gen: FeatureSet, log_weights: np.ndarray | None = None, solver: str = "auto") -> dict[str, float]:
    """All per-set metrics on n = min(len(ref), len(gen)) pairs (the first n of each)."""
    n = min(len(ref.energies), len(gen.energies))
    ref, gen = ref.head(n), gen.head(n)
    out: dict[str, float] = {"num-eval-samples": float(n)}
    if log_weights is not None:
        out["effective-sample-size"] = normalized_ess(log_weights[:n])
    finite = np.isfinite(gen.energies)
    out["n-infinite-energy"] = float(n - finite.sum())
    e_gen, e_ref = gen.energies[finite], ref.energies[np.isfinite(ref.energies)]
    if len(e_gen) and len(e_ref):
        out["mean-energy"] = float(e_gen.mean())
        out["median-energy"] = float(np.sort(e_gen)[(len(e_gen) - 1) // 2])  # lower middle, like torch
        out["energy-w2"] = energy_w2(e_ref, e_gen)
        out["energy-w1"] = energy_w1(e_ref, e_gen)
    else:
        for key in ("mean-energy", "median-energy", "energy-w2", "energy-w1"):
            out[key] = math.inf
    out["torus-w2"] = torus_w2(ref.torus, gen.torus, solver)
    out["tica-w2"] = tica_w2(ref.tica, gen.tica, solver)
    out["tica-k-jsd"] = kmeans_jsd(ref.tica[:, :2], gen.tica[:, :2])
    out["torus-k-jsd"] = kmeans_jsd(ref.sincos, gen.sincos)
    return out


def as_numpy_positions(x, n_atoms: int, what: str) -> np.ndarray:
    """Validate a (B, N, 3) positions array (torch or numpy) and return it as float64 numpy."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (n_atoms, 3):
        raise InvalidSamplesError(
            f"{what} must have shape (B, {n_atoms}, 3) in nm for this system, got {tuple(x.shape)}; "
            "return positions in the system's atom order."
        )
    bad = ~np.isfinite(x).all(axis=(1, 2))
    if bad.any():
        raise InvalidSamplesError(
            f"{what} contains {int(bad.sum())} conformation(s) with NaN or infinite coordinates "
            f"(first at index {int(np.argmax(bad))}); drop or fix them before returning Samples."
        )
    return x


def as_log_weights(logw, what: str) -> np.ndarray:
    if isinstance(logw, torch.Tensor):
        logw = logw.detach().cpu().numpy()
    logw = np.asarray(logw, dtype=np.float64).reshape(-1)
    if np.isnan(logw).any() or np.isposinf(logw).any():
        raise InvalidSamplesError(f"{what} contains NaN or +inf log weights; log weights must be finite or -inf.")
    return logw


class Evaluator:
    """Scores Samples against reference samples of one system (see module docstring for the protocol)."""

    def __init__(self, system, reference, energy, n_eval_samples: int, fix_chirality: bool = True, solver: str = "auto"):
        if n_eval_samples < MIN_EVAL_SAMPLES:
            raise InvalidSamplesError(f"n_eval_samples must be at least {MIN_EVAL_SAMPLES}, got {n_eval_samples}.")
        self.system = system
        self.energy = energy
        self.n_eval_samples = int(n_eval_samples)
        self.fix_chirality = bool(fix_chirality)
        self.solver = solver
        ref = as_numpy_positions(reference.eval_positions, system.n_atoms, "reference eval_positions")
        self.reference_positions = ref[: self.n_eval_samples]
        if len(self.reference_positions) < MIN_EVAL_SAMPLES:
            raise InvalidSamplesError(f"the reference has only {len(ref)} samples; at least {MIN_EVAL_SAMPLES} are needed.")
        published = getattr(reference, "tica", None)
        if published is not None:
            self.tica = published
        else:
            # one feature array per independent trajectory: lagged pairs never span two MD replicas
            trajectories = getattr(reference, "test_trajectories", None) or [reference.test_positions]
            features = [tica_features(as_numpy_positions(t, system.n_atoms, "reference test_positions"), system)
                        for t in trajectories]
            self.tica = fit_tica(features, TICA_LAGTIME, TICA_DIM)
        self.centres = chiral_centres(system)
        self._reference: FeatureSet | None = None
        self._scored: dict[str, FeatureSet] = {}  # features of the sets scored last, for plots
        self.settings = {
            "fix_chirality": self.fix_chirality,
            "chirality_reference_frame": 1,
            "n_eval_samples": self.n_eval_samples,
            "n_reference_samples": len(self.reference_positions),
            "tica_source": self.tica.source,
            "tica_lagtime_frames": TICA_LAGTIME if published is None else None,
            "tica_dim": self.tica.dim,
            "tica_features": self.tica.n_features,
            "ot_solver": solver,
            "infinite_energies": "counted; energy metrics on finite energies, geometric metrics on all",
        }

    def _energies(self, positions: np.ndarray, what: str) -> np.ndarray:
        out = []
        batches = range(0, len(positions), ENERGY_BATCH)
        for s in tqdm(batches, desc=f"E_target {what}", leave=False, disable=len(batches) < 4):
            out.append(np.asarray(self.energy.energy(positions[s : s + ENERGY_BATCH]).detach().cpu().numpy(), dtype=np.float64))
        e = np.concatenate(out) if out else np.zeros(0)
        e[np.isnan(e)] = math.inf  # a NaN energy is a broken conformation: count it with the infinite ones
        return e

    @property
    def reference_features(self) -> FeatureSet:
        if self._reference is None:
            x = self.reference_positions
            self._reference = featurize(x, self._energies(x, "reference"), self.system, self.tica)
        return self._reference

    def reference_signs(self) -> np.ndarray:
        frame = 1 if len(self.reference_positions) > 1 else 0
        return chirality_signs(self.reference_positions[frame : frame + 1], self.centres)[0]

    def plot_arrays(self) -> dict[str, np.ndarray]:
        """Small arrays for the leaderboard's plots: "{kind}/{set}" with kinds energies (kT),
        phi_psi (first phi and first psi, radians) and tica (first two components)."""
        out: dict[str, np.ndarray] = {}
        for name, feats in {"reference": self.reference_features, **self._scored}.items():
            n_phi = feats.torus.shape[1] // 2
            out[f"energies/{name}"] = feats.energies
            if n_phi:
                out[f"phi_psi/{name}"] = feats.torus[:, [0, n_phi]]
            out[f"tica/{name}"] = feats.tica[:, :2]
        return out

    def evaluate(self, samples) -> dict[str, float]:
        """Flat "{set}/{metric}" dict for the proposal set (if given) and the final set."""
        sets = []
        if getattr(samples, "proposal", None) is not None:
            sets.append(("proposal", samples.proposal, None))
        logw = getattr(samples, "log_weights", None)
        sets.append((samples.set_name, samples.positions, logw))
        result: dict[str, float] = {"chirality-fix": float(self.fix_chirality)}
        signs = self.reference_signs()
        for index, (name, positions, logw) in enumerate(sets):
            x = as_numpy_positions(positions, self.system.n_atoms, f"samples '{name}'")
            if len(x) < MIN_EVAL_SAMPLES:
                raise InvalidSamplesError(
                    f"samples '{name}' has {len(x)} conformations; at least {MIN_EVAL_SAMPLES} are needed to score it."
                )
            weights = None if logw is None else as_log_weights(logw, f"samples '{name}' log_weights")
            chir = apply_chirality_fix(x, signs, self.centres, self.fix_chirality)
            if index == 0:  # proposal set, or the final set when there is no proposal
                result[f"{name}/correct-chirality-rate"] = chir.correct_rate
                result[f"{name}/uncorrectable-chirality-rate"] = chir.uncorrectable_rate
            n = min(self.n_eval_samples, len(x), len(self.reference_positions))
            if n < WARN_FRACTION * self.n_eval_samples:
                log.warning("set %r: only %d of %d evaluation samples available", name, n, self.n_eval_samples)
            head = chir.positions[:n]
            gen = featurize(head, self._energies(head, name), self.system, self.tica)
            self._scored[name] = gen
            for key, value in set_metrics(self.reference_features.head(n), gen, weights, self.solver).items():
                result[f"{name}/{key}"] = value
        return result


__all__ = ["Evaluator", "FeatureSet", "MIN_EVAL_SAMPLES", "featurize", "set_metrics"]
