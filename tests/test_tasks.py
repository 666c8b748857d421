"""Task registry: contents, protocols and helpful errors."""

from __future__ import annotations

import pytest

from benchmark.errors import UnknownNameError
from benchmark.tasks import TASKS, get_task
from benchmark.tasks.sequences import ALL_EVALUATION_SEQUENCES, TEST_SEQUENCES, VAL_SEQUENCES


def test_eight_tasks():
    assert set(TASKS) == {"ALDP", "AL3", "AL4", "AL6", "CHIGNOLIN", "2AA", "4AA", "8AA"}


@pytest.mark.parametrize("length", [2, 4, 8])
def test_transfer_sets_have_30_test_and_10_val_sequences(length):
    task = get_task(f"{length}AA")
    assert len(task.systems) == 30 and len(task.validation_systems) == 10
    assert all(len(s.sequence) == length for s in task.systems + task.validation_systems)
    assert len({s.sequence for s in task.systems}) == 30
    assert all(s.split == "test" for s in task.systems)
    assert not set(TEST_SEQUENCES[length]) & set(VAL_SEQUENCES[length])
    assert set(task.protocol("quick").systems) <= {s.name for s in task.systems}


def test_single_systems_and_recipes():
    aldp, al3, chig = get_task("ALDP"), get_task("AL3"), get_task("CHIGNOLIN")
    assert aldp.systems[0].termini == "capped" and aldp.systems[0].forcefield.temperature_K == 300
    assert aldp.systems[0].forcefield.friction_per_ps == 1.0
    assert get_task("AL4").systems[0].forcefield.friction_per_ps == 0.3
    assert al3.systems[0].forcefield.cutoff_nm == 2.0 and al3.systems[0].forcefield.temperature_K == 310
    assert chig.systems[0].sequence == "GYDPETGTWG"


def test_protocols():
    for task in TASKS.values():
        paper, quick = task.protocol("paper"), task.protocol("quick")
        assert paper.n_eval_samples == 10_000 and paper.reference == "published"
        assert quick.reference == "local-md" and quick.local_md is not None
        assert quick.local_md.replicas[2] * quick.local_md.frames_per_replica >= quick.n_eval_samples
    assert get_task("8AA").protocol("paper").budgets == (10_000, 200_000)
    assert get_task("AL6").protocol("paper").budgets == (200_000,)


def test_evaluation_sequence_set():
    assert len(ALL_EVALUATION_SEQUENCES) == 3 * 40


@pytest.mark.parametrize("name, expected", [("8aa", "8AA"), ("aldp", "ALDP"), ("chignolin", "CHIGNOLIN")])
def test_lookup_is_case_insensitive(name, expected):
    assert get_task(name).name == expected


def test_unknown_task_suggests_nearest():
    with pytest.raises(UnknownNameError) as err:
        get_task("ALPD")
    assert "ALDP" in err.value.suggestions and "Valid tasks" in str(err.value)
    with pytest.raises(UnknownNameError, match="tier"):
        get_task("ALDP").protocol("fast")
