"""`bgbench evaluate`: the sets a run saved score exactly as in the run; files with wrong energies are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.data import generate
from benchmark.energy import OpenMMEnergy
from benchmark.errors import BgbenchError
from benchmark.evaluate import evaluate_saved, read_samples_file, saved_sets_dir
from benchmark.runner import RunConfig, Runner
from benchmark.tasks.registry import TASKS
from tests.test_runner import tiny_two_system_task

SYSTEM = "Ace-A-Nme"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bgdata")
    task = tiny_two_system_task()
    generate.prepare_system(task, "quick", task.system(SYSTEM), root, progress=False)
    return root


@pytest.fixture
def tiny(monkeypatch):
    """The tiny task, findable by name (evaluate looks tasks up by name)."""
    task = tiny_two_system_task()
    monkeypatch.setitem(TASKS, task.name, task)
    return task


def test_saved_sets_of_a_run_score_exactly_as_in_the_run(data_dir, tmp_path, tiny):
    out = tmp_path / "run.json"
    record = Runner(RunConfig(method="submissions/example_gaussian", task=tiny, tier="quick", sampler="snis", seed=3,
                              systems=[SYSTEM], data_dir=data_dir, work_dir=tmp_path / "work", out=out,
                              isolation="none", save_samples=True)).run()
    assert record.failed == []
    saved = saved_sets_dir(out) / f"{SYSTEM}.npz"
    contents = read_samples_file(saved)
    assert contents.log_weights is not None and contents.proposal is not None  # SNIS: weights and proposal kept

    external = evaluate_saved(saved, tiny.name, SYSTEM, "quick", data_dir=data_dir, declared_evaluations=300)
    assert external.final_set == record.final_set
    assert external.systems[SYSTEM].metrics == record.systems[SYSTEM].metrics  # exactly: same sets, same Evaluator
    assert external.method["source"] == "external" and external.track == "open"
    assert external.systems[SYSTEM].energy_evaluations == {"declared": 300}


def test_wrong_energies_are_refused_and_right_ones_pass(data_dir, tmp_path, tiny):
    spec = tiny.system(SYSTEM)
    system = spec.build()
    rng = np.random.default_rng(0)
    positions = np.asarray(system.minimized_positions, dtype=np.float64)[None] + 0.002 * rng.standard_normal((40, system.n_atoms, 3))
    energies = OpenMMEnergy(system, platform="Reference").energy(torch.from_numpy(positions)).numpy()

    good = tmp_path / "good.npz"
    np.savez(good, positions=positions, energies=energies)
    checked = evaluate_saved(good, tiny.name, SYSTEM, "quick", data_dir=data_dir)
    assert checked.systems[SYSTEM].diagnostics["external"]["energies_checked"] == 40

    shifted = tmp_path / "shifted.npz"
    np.savez(shifted, positions=positions, energies=energies + 1.0)  # 1 kT off: another energy function
    with pytest.raises(BgbenchError, match="not this task's energy function"):
        evaluate_saved(shifted, tiny.name, SYSTEM, "quick", data_dir=data_dir)


def test_a_file_with_unknown_keys_is_refused(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, positions=np.zeros((2, 3, 3)), forces=np.zeros((2, 3, 3)))
    with pytest.raises(BgbenchError, match="only the keys"):
        read_samples_file(path)
