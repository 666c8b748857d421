"""The Evaluator end to end on the zwitterionic dipeptide AA with the OpenMM energy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from benchmark.energy import OpenMMEnergy, TargetEnergy
from benchmark.errors import InvalidSamplesError
from benchmark.metrics import Evaluator, energy_w2
from benchmark.sampling.weights import normalized_ess
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec

N_EVAL = 60
SET_KEYS = {
    "num-eval-samples", "mean-energy", "median-energy", "energy-w2", "energy-w1", "torus-w2", "tica-w2",
    "tica-k-jsd", "torus-k-jsd", "n-infinite-energy",
}


@dataclass
class FakeSamples:  # the shape of benchmark.adapter.Samples
    positions: torch.Tensor
    set_name: str = "samples"
    log_weights: torch.Tensor | None = None
    proposal: torch.Tensor | None = None
    diagnostics: dict = field(default_factory=dict)


class InfAt(TargetEnergy):
    """OpenMM energies, but +inf for conformations whose first coordinate is marked (a stand-in for clashes)."""

    def __init__(self, inner):
        self.inner, self.n_atoms, self.kT_kJ_per_mol = inner, inner.n_atoms, inner.kT_kJ_per_mol

    def energy(self, x):
        e = self.inner.energy(x)
        e[torch.as_tensor(np.asarray(x)[:, 0, 0] > 50.0)] = math.inf
        return e

    def energy_and_forces(self, x):
        raise NotImplementedError


@pytest.fixture(scope="module")
def setup():
    system = SystemSpec("AA", "AA", ZWITTERION, AMBER14_OBC1).build()
    rng = np.random.default_rng(0)
    base = system.minimized_positions
    walk = np.cumsum(rng.normal(scale=0.002, size=(400, system.n_atoms, 3)), axis=0)
    test = base[None] + walk - walk.mean(axis=0, keepdims=True)
    reference = SimpleNamespace(eval_positions=test[::4], test_positions=test, tica=None)
    energy = OpenMMEnergy(system, platform="Reference")
    evaluator = Evaluator(system, reference, energy, N_EVAL)
    gen = base[None] + rng.normal(scale=0.01, size=(80, system.n_atoms, 3))
    return system, reference, energy, evaluator, gen


def test_keys_and_counts(setup):
    system, reference, energy, evaluator, gen = setup
    logw = np.random.default_rng(1).normal(size=80)
    out = evaluator.evaluate(FakeSamples(torch.tensor(gen[:70]), "resampled", torch.tensor(logw), torch.tensor(gen)))
    assert {k.split("/", 1)[1] for k in out if k.startswith("proposal/")} == SET_KEYS | {
        "correct-chirality-rate", "uncorrectable-chirality-rate"}
    assert {k.split("/", 1)[1] for k in out if k.startswith("resampled/")} == SET_KEYS | {"effective-sample-size"}
    assert out["chirality-fix"] == 1.0 and out["proposal/num-eval-samples"] == N_EVAL
    assert out["resampled/effective-sample-size"] == pytest.approx(normalized_ess(logw[:N_EVAL]))
    ref_e = energy.energy(reference.eval_positions[:N_EVAL]).numpy()
    gen_e = energy.energy(gen[:N_EVAL]).numpy()
    assert out["proposal/energy-w2"] == pytest.approx(energy_w2(ref_e, gen_e))
    assert out["proposal/mean-energy"] == pytest.approx(gen_e.mean())
    assert out["proposal/median-energy"] == pytest.approx(torch.tensor(gen_e).median().item())
    assert evaluator.settings["tica_source"].startswith("fitted") and evaluator.settings["fix_chirality"] is True


def test_self_comparison_and_rigid_motion_invariance(setup):
    system, reference, energy, evaluator, gen = setup
    own = evaluator.evaluate(FakeSamples(torch.tensor(reference.eval_positions)))
    for key in ("energy-w2", "energy-w1", "torus-w2", "tica-w2", "tica-k-jsd", "torus-k-jsd"):
        assert own[f"samples/{key}"] == pytest.approx(0.0, abs=1e-9), key
    rot = Rotation.random(random_state=5).as_matrix()
    moved = gen @ rot.T + np.array([0.7, -1.1, 2.0])
    a = evaluator.evaluate(FakeSamples(torch.tensor(gen)))
    b = evaluator.evaluate(FakeSamples(torch.tensor(moved)))
    assert a.keys() == b.keys()
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-8), key


def test_mirrored_samples_fixed_and_reported(setup):
    system, reference, energy, evaluator, gen = setup
    flipped = gen.copy()
    flipped[::4] *= -1.0
    fixed = evaluator.evaluate(FakeSamples(torch.tensor(flipped)))
    plain = evaluator.evaluate(FakeSamples(torch.tensor(gen)))
    assert fixed["samples/correct-chirality-rate"] == pytest.approx(0.75)
    assert fixed["samples/uncorrectable-chirality-rate"] == 0.0
    for key in ("torus-w2", "tica-w2", "energy-w2"):
        assert fixed[f"samples/{key}"] == pytest.approx(plain[f"samples/{key}"], rel=1e-9)
    unfixed = Evaluator(system, reference, energy, N_EVAL, fix_chirality=False)
    raw = unfixed.evaluate(FakeSamples(torch.tensor(flipped)))
    assert raw["chirality-fix"] == 0.0 and unfixed.settings["fix_chirality"] is False
    assert raw["samples/torus-w2"] > plain["samples/torus-w2"] + 0.1


def test_infinite_energies_counted_not_dropped(setup):
    system, reference, energy, evaluator, gen = setup
    ev = Evaluator(system, reference, InfAt(energy), N_EVAL)
    marked = gen.copy()
    marked[[3, 10, 70], 0, 0] = 100.0  # index 70 lies beyond the first n = 60
    out = ev.evaluate(FakeSamples(torch.tensor(marked)))
    assert out["samples/n-infinite-energy"] == 2.0
    finite_e = energy.energy(np.delete(marked[:N_EVAL], [3, 10], axis=0)).numpy()
    assert out["samples/mean-energy"] == pytest.approx(finite_e.mean())
    assert math.isfinite(out["samples/torus-w2"]) and out["samples/num-eval-samples"] == N_EVAL


def test_bad_input_raises(setup):
    system, reference, energy, evaluator, gen = setup
    nan = gen.copy()
    nan[5, 2, 1] = np.nan
    with pytest.raises(InvalidSamplesError, match="NaN"):
        evaluator.evaluate(FakeSamples(torch.tensor(nan)))
    with pytest.raises(InvalidSamplesError, match="shape"):
        evaluator.evaluate(FakeSamples(torch.tensor(gen[:, :-1])))
    with pytest.raises(InvalidSamplesError, match="at least"):
        evaluator.evaluate(FakeSamples(torch.tensor(gen[:5])))
    with pytest.raises(InvalidSamplesError, match="log weights"):
        evaluator.evaluate(FakeSamples(torch.tensor(gen), log_weights=torch.full((80,), float("nan"))))
