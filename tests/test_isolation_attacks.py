"""Hostile submissions (tests/attacks/) against the harness: each one fails with a clear reason or is
scored honestly under --isolation process, and a record made with --isolation none says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.data import generate
from benchmark.results import read_record
from benchmark.runner import RunConfig, Runner
from tests.test_runner import tiny_two_system_task

ATTACKS = Path(__file__).parent / "attacks"
FIRST, SECOND = "Ace-A-Nme", "Ace-AA-Nme"
BUDGET = 300
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bgdata")
    generate.prepare_task(tiny_two_system_task(), "quick", root=root, progress=False)
    return root


def run(data_dir, tmp_path, attack: str, isolation: str, systems=(FIRST,), out: str = "rec.json", **kw):
    cfg = RunConfig(method=str(ATTACKS / attack), task=tiny_two_system_task(), tier="quick", data_dir=data_dir,
                    work_dir=tmp_path / "work", out=tmp_path / out, systems=list(systems), budget=BUDGET,
                    isolation=isolation, seed=0, **kw)
    record = Runner(cfg).run()
    assert record.isolation == isolation
    assert read_record(tmp_path / out).isolation == isolation
    return record


def method_reported(result) -> dict:
    return result.diagnostics["method_reported"]


@pytest.mark.parametrize("isolation, reason", [
    ("process", "AttributeError: 'EnergyProxy' object has no attribute '_target'"),
    ("none", "MeterTampered"),
])
def test_energy_through_the_wrapped_target_fails(data_dir, tmp_path, isolation, reason):
    res = run(data_dir, tmp_path, "meter_bypass_target", isolation).systems[FIRST]
    assert res.status == "failed" and reason in res.error


def test_energy_through_create_openmm_system_has_no_forces(data_dir, tmp_path):
    res = run(data_dir, tmp_path, "meter_bypass_openmm", "process").systems[FIRST]
    assert res.status == "ok", res.error
    assert method_reported(res)["private_energy_span"] == 0.0  # the method side's OpenMM System has no forces
    assert res.energy_evaluations["used"] == 0
    res = run(data_dir, tmp_path, "meter_bypass_openmm", "none", out="none.json").systems[FIRST]
    assert res.status == "ok" and method_reported(res)["private_energy_span"] > 0  # in-process: unverified


def test_own_energy_is_scored_with_its_hidden_cost_recorded(data_dir, tmp_path):
    res = run(data_dir, tmp_path, "own_energy", "process").systems[FIRST]
    assert res.status == "ok", res.error
    assert method_reported(res)["private_energy_span"] > 0  # computing cannot be prevented...
    assert res.energy_evaluations["used"] == 0  # ...but the meter counts only what the harness evaluated
    assert res.diagnostics["method_process"]["cpu_s"] > 0  # and the method's CPU time is on the record


@pytest.mark.parametrize("isolation, reason", [("process", "BudgetExceeded"), ("none", "MeterTampered")])
def test_raising_the_budget_or_resetting_the_counts_fails(data_dir, tmp_path, isolation, reason):
    res = run(data_dir, tmp_path, "counter_reset", isolation).systems[FIRST]
    assert res.status == "failed" and reason in res.error
    if isolation == "process":
        assert res.energy_evaluations["used"] == BUDGET and res.energy_evaluations["budget"] == BUDGET


def test_reading_the_evaluation_split(data_dir, tmp_path):
    res = run(data_dir, tmp_path, "eval_data_read", "process").systems[FIRST]
    assert res.status == "failed" and "setup failed: DataError" in res.error
    res = run(data_dir, tmp_path, "eval_data_read", "none", out="none.json").systems[FIRST]
    assert res.status == "ok" and res.metrics["stolen/energy-w2"] < 1e-9  # possible in-process: unverified


@pytest.fixture
def shared_systems_restored():
    """The in-process attacks change the cached Systems of this test process: forget them afterwards."""
    from benchmark.systems.system import _build_cached

    yield
    _build_cached.cache_clear()


@pytest.fixture
def metrics_restored(monkeypatch):
    """The in-process metric patch changes this test process's evaluator module: undo it afterwards."""
    import benchmark.metrics.evaluator as evaluator

    for name in ("energy_w2", "energy_w1", "torus_w2", "tica_w2"):
        monkeypatch.setattr(evaluator, name, getattr(evaluator, name))


@pytest.mark.parametrize("isolation", ["process", "none"])
def test_mutating_reference_and_system_in_memory_changes_nothing(data_dir, tmp_path, isolation, shared_systems_restored):
    attacked = run(data_dir, tmp_path, "memory_mutation", isolation).systems[FIRST]
    # The honest baseline runs in-process: the same seed gives the same record at every isolation level.
    honest = run(data_dir, tmp_path, "memory_mutation", "none", out="honest.json",
                 method_config={"attack": False}).systems[FIRST]
    assert attacked.status == honest.status == "ok"
    assert attacked.metrics == honest.metrics


def test_patching_the_metrics(data_dir, tmp_path, metrics_restored):
    honest = run(data_dir, tmp_path, "metric_patch", "none", out="honest.json",
                 method_config={"attack": False}).systems[FIRST]
    attacked = run(data_dir, tmp_path, "metric_patch", "process").systems[FIRST]
    assert attacked.metrics == honest.metrics and attacked.metrics["resampled/energy-w2"] > 0
    forged = run(data_dir, tmp_path, "metric_patch", "none", out="none.json").systems[FIRST]
    assert forged.metrics["resampled/energy-w2"] == 0.0  # possible in-process, and the record says "none"


def test_atexit_rewrite_is_overwritten_by_the_harness(data_dir, tmp_path):
    out = tmp_path / "rec.json"
    record = run(data_dir, tmp_path, "atexit_rewrite", "process", method_config={"target": str(out)})
    on_disk = read_record(out).systems[FIRST].metrics
    assert on_disk == record.systems[FIRST].metrics and on_disk["resampled/energy-w2"] > 0


@pytest.mark.slow
def test_atexit_rewrite_in_process_forges_an_unverified_record(data_dir, tmp_path):
    out = tmp_path / "none.json"
    code = (
        "from pathlib import Path\n"
        "from tests.test_runner import tiny_two_system_task\n"
        "from benchmark.runner import RunConfig, Runner\n"
        f"Runner(RunConfig(method={str(ATTACKS / 'atexit_rewrite')!r}, task=tiny_two_system_task(), tier='quick',"
        f" data_dir=Path({str(data_dir)!r}), work_dir=Path({str(tmp_path / 'work')!r}), out=Path({str(out)!r}), systems=[{FIRST!r}],"
        f" budget={BUDGET}, isolation='none', method_config={{'target': {str(out)!r}}})).run()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
    forged = json.loads(out.read_text())
    assert forged["isolation"] == "none"
    assert forged["systems"][FIRST]["metrics"]["resampled/energy-w2"] == 0.0


@pytest.mark.parametrize("isolation", ["process", "none"])
def test_zero_log_weights_claim_no_ess(data_dir, tmp_path, isolation):
    res = run(data_dir, tmp_path, "fake_log_weights", isolation).systems[FIRST]
    assert res.status == "ok", res.error
    assert not any("effective-sample-size" in key for key in res.metrics)
    assert res.diagnostics["log_weights"].startswith("ignored")


@pytest.mark.parametrize("how, reason", [
    ("sys.exit", "SystemExit: 0"),
    pytest.param("keyboard", "KeyboardInterrupt", marks=pytest.mark.slow),
    pytest.param("os._exit", "the method process exited with code 0", marks=pytest.mark.slow),
    pytest.param("abort", "the method process was killed by SIGABRT", marks=pytest.mark.slow),
])
def test_leaving_the_process_fails_the_system_and_the_run_goes_on(data_dir, tmp_path, how, reason):
    record = run(data_dir, tmp_path, "sys_exit", "process", systems=(FIRST, SECOND), method_config={"how": how})
    assert record.systems[FIRST].status == "failed" and reason in record.systems[FIRST].error
    assert record.systems[SECOND].status == "ok", record.systems[SECOND].error


def test_sys_exit_in_process_is_a_failed_system(data_dir, tmp_path):
    record = run(data_dir, tmp_path, "sys_exit", "none", systems=(FIRST, SECOND), method_config={"how": "sys.exit"})
    assert record.failed == [FIRST] and "SystemExit" in record.systems[FIRST].error


@pytest.mark.slow
def test_a_method_that_never_returns_times_out(data_dir, tmp_path):
    record = run(data_dir, tmp_path, "sleep_forever", "process", systems=(FIRST, SECOND), timeout=30)
    assert record.systems[FIRST].status == "failed" and "timed out" in record.systems[FIRST].error
    assert record.systems[SECOND].status == "ok", record.systems[SECOND].error


def test_a_forged_pickle_on_the_connection_is_never_unpickled(data_dir, tmp_path):
    marker = tmp_path / "pwned"
    res = run(data_dir, tmp_path, "wire_forgery", "process", method_config={"marker": str(marker)}).systems[FIRST]
    assert res.status == "failed" and "malformed message" in res.error
    assert not marker.exists()


@pytest.mark.slow
def test_sandbox_hides_the_data_folder(data_dir, tmp_path):
    from tests.test_isolation import bwrap_works

    bwrap_works() or pytest.skip("bubblewrap is not installed or cannot start a sandbox")
    res = run(data_dir, tmp_path, "eval_data_read", "sandbox").systems[FIRST]
    assert res.status == "failed" and "setup failed: DataError" in res.error
