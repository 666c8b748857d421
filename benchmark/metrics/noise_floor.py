"""Noise floor of each metric: its value between two independent halves of one system's reference data.

Why: every distance the Evaluator reports (E-W2, T-W2, TICA-W2, ...) is an estimate from finitely many,
correlated reference frames. Scoring the reference against itself tells how large a distance is
produced by the reference's own sampling noise at the evaluated sample size; two methods whose scores
differ by less than that are not distinguishable, and no method can be shown to be better than it.

How the reference is split. ``reference.test_positions`` is the reference trajectory in time order
(the test block of the quick tier's local MD, or the published evaluation frames). It is cut into two
**contiguous halves**, frames [0, T/2) and [T/2, T), and each half is thinned with an even stride to at
most ``n_eval_samples`` frames (the stride rule the reference set itself is made with). Contiguous halves
rather than interleaved blocks: interleaved blocks share every slow excursion of the trajectory (a basin
visited once lands in both halves), so they would call an unconverged reference precise; two separated
halves see the slow modes independently, the nearest thing to two independent runs that one trajectory
offers. They touch at a single boundary, so frame-to-frame correlation links only a handful of the T/2
frames of each half. When a half holds fewer than ``n_eval_samples`` frames the floor is measured on
fewer samples than methods are scored on, which overestimates it (distances between small samples are
larger); ``num-eval-samples`` in the result says how many were used.

Scoring uses the Evaluator's own pieces: its TICA projection (published, or fitted on the whole
reference trajectory), ``featurize`` and ``set_metrics``, so a floor is the same quantity as a score.

``noise_floor`` is a pure function (reference in, numbers out). ``cached_noise_floor`` loads a system's
reference data, computes its floor once and keeps it in ``<data dir>/noise-floor/<task>/<tier>/<system>.json``,
keyed by the reference's content hashes and the sample size, so new data means a new floor.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.metrics.evaluator import Evaluator, featurize, set_metrics

log = logging.getLogger(__name__)

#: Metrics with a floor: the distances. (ESS, mean and median energy are not distances between sets.)
FLOOR_METRICS = ("energy-w2", "energy-w1", "torus-w2", "tica-w2", "tica-k-jsd", "torus-k-jsd")
SPLIT = "contiguous halves of the reference trajectory, each thinned by an even stride to the evaluated sample size"
#: Bump when the way floors are computed changes; cached floors of another version are recomputed.
FLOOR_VERSION = 1
CACHE_FOLDER = "noise-floor"


def split_halves(trajectory: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames [0, T/2) and [T/2, T) of a time-ordered array, each thinned by an even stride to at most ``n``."""
    half = len(trajectory) // 2
    if half < 1 or n < 1:
        raise ValueError(f"cannot split {len(trajectory)} frames into two halves of up to {n} samples")

    def thin(block: np.ndarray) -> np.ndarray:
        return block[:: max(1, len(block) // n)][:n]

    return thin(trajectory[:half]), thin(trajectory[half : 2 * half])


def noise_floor(system, reference, energy, n_eval_samples: int, solver: str = "auto") -> dict[str, float]:
    """{metric: value} between the two halves of ``reference`` (a ReferenceData), plus ``num-eval-samples``.

    ``energy`` is a TargetEnergy of ``system`` (unmetered, as the Evaluator's); ``n_eval_samples`` is the
    protocol's evaluated sample size.
    """
    evaluator = Evaluator(system, reference, energy, n_eval_samples=n_eval_samples, solver=solver)
    first, second = split_halves(np.asarray(reference.test_positions, dtype=np.float64), n_eval_samples)
    features = [featurize(x, evaluator._energies(x, name), system, evaluator.tica) for x, name in ((first, "half 1"), (second, "half 2"))]
    scores = set_metrics(features[0], features[1], None, solver)
    return {"num-eval-samples": scores["num-eval-samples"], **{m: float(scores[m]) for m in FLOOR_METRICS if m in scores}}


def cache_key(reference_hashes: dict[str, str], n_eval_samples: int) -> str:
    """What a cached floor depends on: the reference files, the sample size and the floor's definition."""
    text = json.dumps({"hashes": reference_hashes, "n": int(n_eval_samples), "version": FLOOR_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(task: str, tier: str, system: str, data_dir: Path | None = None) -> Path:
    from benchmark.data import data_dir as default_data_dir

    return Path(data_dir or default_data_dir()) / CACHE_FOLDER / task / tier / f"{system}.json"


def cached_noise_floor(task, tier: str, system, data_dir: Path | None = None, energy=None, solver: str = "auto") -> dict[str, Any]:
    """The floor entry of one system (computed once per reference content, then read from the cache).

    ``task`` is a Task or a task name, ``system`` a SystemSpec or a system name. The entry holds the task,
    tier, system, reference hashes, sample sizes, how the split was made and ``metrics``; it is what the
    leaderboard's floors file (``bgbench leaderboard floors``) and the data cards copy.
    """
    from benchmark.data import content_hashes, load_reference
    from benchmark.data.store import atomic_write_text
    from benchmark.tasks import get_task

    task = get_task(task) if isinstance(task, str) else task
    spec = task.system(system) if isinstance(system, str) else system
    n_eval = task.protocol(tier).n_eval_samples
    reference = load_reference(task, tier, spec, data_dir=data_dir)
    hashes = content_hashes(reference)
    key = cache_key(hashes, n_eval)
    path = cache_path(task.name, tier, spec.name, data_dir)
    if path.is_file():
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                return cached
        except (OSError, ValueError):
            log.warning("unreadable noise-floor cache %s; recomputing", path)
    if energy is None:
        from benchmark.energy import OpenMMEnergy

        energy = OpenMMEnergy(spec.build())
    log.info("%s: noise floor of the %s reference (two halves of %d frames)", spec.name, tier, len(reference.test_positions) // 2)
    metrics = noise_floor(spec.build(), reference, energy, n_eval, solver)
    entry = {
        "key": key,
        "floor_version": FLOOR_VERSION,
        "task": task.name,
        "task_version": task.version,
        "tier": tier,
        "system": spec.name,
        "reference_source": reference.source,
        "reference_hashes": hashes,
        "n_eval_samples": n_eval,
        "num_samples_per_half": int(metrics.pop("num-eval-samples")),
        "split": SPLIT,
        "metrics": metrics,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_text(path, json.dumps(entry, indent=1, sort_keys=True) + "\n")
    return entry


__all__ = ["FLOOR_METRICS", "SPLIT", "cache_key", "cache_path", "cached_noise_floor", "noise_floor", "split_halves"]
