"""Noise floors: the split, the floor of identical and of different halves, and the cache.

Expected numbers are computed here from the inputs (sorted-energy W2, the stride rule), never taken
from the code under test.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from benchmark.energy import TargetEnergy
from benchmark.metrics.noise_floor import FLOOR_METRICS, cache_key, noise_floor, split_halves
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec

N_EVAL = 120


class SquaredDisplacement(TargetEnergy):
    """A cheap stand-in energy: sum of squared displacements from a base structure, in kT per 1e-4 nm^2."""

    def __init__(self, base: np.ndarray):
        self.base, self.n_atoms, self.kT_kJ_per_mol = base, base.shape[0], 2.5

    def energy(self, x):
        d = np.asarray(x, dtype=np.float64) - self.base[None]
        return torch.as_tensor((d**2).sum(axis=(1, 2)) / 1e-4)

    def energy_and_forces(self, x):
        raise NotImplementedError


@pytest.fixture(scope="module")
def system():
    return SystemSpec("AA", "AA", ZWITTERION, AMBER14_OBC1).build()


def _walk(rng, n, n_atoms, scale):
    walk = np.cumsum(rng.normal(scale=scale, size=(n, n_atoms, 3)), axis=0)
    return walk - walk.mean(axis=0, keepdims=True)


def _reference(test: np.ndarray):
    return SimpleNamespace(eval_positions=test[:: max(1, len(test) // N_EVAL)][:N_EVAL], test_positions=test, tica=None)


def test_split_takes_contiguous_halves_thinned_by_stride():
    x = np.arange(1000)
    a, b = split_halves(x, 100)
    assert a.tolist() == list(range(0, 500, 5)) and b.tolist() == list(range(500, 1000, 5))
    a, b = split_halves(x[:301], 1000)  # fewer frames than asked: every frame of each half, the odd one dropped
    assert a.tolist() == list(range(0, 150)) and b.tolist() == list(range(150, 300))


def test_identical_halves_have_a_zero_floor(system):
    rng = np.random.default_rng(0)
    half = system.minimized_positions[None] + _walk(rng, 400, system.n_atoms, 0.002)
    test = np.concatenate([half, half])
    floor = noise_floor(system, _reference(test), SquaredDisplacement(system.minimized_positions), N_EVAL)
    assert set(floor) == {"num-eval-samples", *FLOOR_METRICS}
    assert floor["num-eval-samples"] == N_EVAL
    for metric in FLOOR_METRICS:
        assert floor[metric] == pytest.approx(0.0, abs=1e-9), metric


def test_different_halves_have_a_floor_that_matches_an_independent_w2(system):
    rng = np.random.default_rng(1)
    base = system.minimized_positions
    calm = base[None] + rng.normal(scale=0.003, size=(400, system.n_atoms, 3))
    hot = base[None] + rng.normal(scale=0.012, size=(400, system.n_atoms, 3))
    test = np.concatenate([calm, hot])
    energy = SquaredDisplacement(base)
    floor = noise_floor(system, _reference(test), energy, N_EVAL)
    # independent E-W2: sorted energies of each thinned half, stride 400 // 120 = 3, first 120 frames
    e1 = np.sort(energy.energy(calm[::3][:N_EVAL]).numpy())
    e2 = np.sort(energy.energy(hot[::3][:N_EVAL]).numpy())
    assert floor["energy-w2"] == pytest.approx(math.sqrt(np.mean((e1 - e2) ** 2)), rel=1e-9)
    assert floor["energy-w1"] == pytest.approx(np.mean(np.abs(e1 - e2)), rel=1e-9)
    assert floor["energy-w2"] > 10 and floor["torus-w2"] > 0.05 and floor["tica-w2"] > 0


def test_cache_key_follows_the_reference_content():
    a = cache_key({"test.npy": "aa", "energies.npy": "bb"}, 1000)
    assert a == cache_key({"energies.npy": "bb", "test.npy": "aa"}, 1000)
    assert a != cache_key({"test.npy": "ab", "energies.npy": "bb"}, 1000)
    assert a != cache_key({"test.npy": "aa", "energies.npy": "bb"}, 500)


def test_cached_floor_is_computed_once(tmp_path, monkeypatch):
    """The wrapper reads a cache entry whose key matches and recomputes one whose key does not."""
    from benchmark.metrics import noise_floor as nf
    from benchmark.tasks import get_task

    task = get_task("AL3")
    spec = task.systems_for("quick")[0]
    hashes = {"test.npy": "abc"}
    fake_ref = SimpleNamespace(source="local-md", test_positions=np.zeros((10, 3, 3)), manifest={"files": {}})
    calls = []
    monkeypatch.setattr("benchmark.data.load_reference", lambda *a, **k: fake_ref)
    monkeypatch.setattr("benchmark.data.content_hashes", lambda ref: hashes)
    monkeypatch.setattr(nf, "noise_floor", lambda *a, **k: calls.append(1) or {"num-eval-samples": 5.0, "energy-w2": 0.25})
    first = nf.cached_noise_floor(task, "quick", spec, data_dir=tmp_path, energy=object())
    again = nf.cached_noise_floor(task, "quick", spec, data_dir=tmp_path, energy=object())
    assert calls == [1] and first == again and first["metrics"] == {"energy-w2": 0.25}
    path = nf.cache_path("AL3", "quick", spec.name, tmp_path)
    assert json.loads(path.read_text())["reference_hashes"] == hashes
    hashes["test.npy"] = "new data"
    nf.cached_noise_floor(task, "quick", spec, data_dir=tmp_path, energy=object())
    assert calls == [1, 1]
