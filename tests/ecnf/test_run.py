"""Transferable ECNF++ end to end through the runner on a tiny 2AA protocol: one corpus model, SNIS proposals
for the system, and the ODE cost (field evaluations, seconds per proposal) in the record."""

from __future__ import annotations

import pytest

from benchmark.runner import RunConfig, Runner
from tests.tiny_transfer import tiny_transfer_task

TINY = dict(channels=8, layers=1, steps=4, batch_size=4, sample_batch_size=30, divergence="hutchinson",
            solver="rk4", step_size=0.5)


@pytest.mark.slow  # minutes on a loaded shared CPU: local MD of one dipeptide, training, sampling, evaluation
def test_ecnf_transferable_runs_with_snis_and_records_its_cost(tmp_path, monkeypatch):
    task, _ = tiny_transfer_task("TINYECNF", tmp_path / "data", monkeypatch)
    record = Runner(RunConfig(method="ecnf-transferable", task=task, tier="quick", data_dir=tmp_path / "data",
                              work_dir=tmp_path / "work", out=tmp_path / "snis.json", method_config=TINY)).run()
    aa = record.systems["AA"]
    assert aa.status == "ok", aa.error
    assert aa.energy_evaluations["used"] == 90
    diag = aa.diagnostics["method"]
    assert diag["weights"] == "trained" and diag["corpus_sequences"] == 3
    assert diag["cost"]["proposals"] == 90 and diag["cost"]["proposal_evaluations"] > 0
    assert diag["cost"]["seconds_per_proposal"] > 0 and diag["ode"]["divergence"] == "hutchinson"
    assert record.method["parameters"] > 0
