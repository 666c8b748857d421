"""Transferable ECNF++ end to end through the runner on a tiny 2AA protocol: one corpus model, SNIS proposals
for the system, and the ODE cost (field evaluations, seconds per proposal) in the record."""

from __future__ import annotations

import dataclasses

import pytest

import benchmark.data
import benchmark.data.corpus
from benchmark.runner import RunConfig, Runner
from benchmark.tasks import get_task
from benchmark.tasks.protocol import LocalMD
from tests.robin.conftest import FakeCorpus

TINY = dict(channels=8, layers=1, steps=4, batch_size=4, sample_batch_size=30, divergence="hutchinson",
            solver="rk4", step_size=0.5)


@pytest.mark.slow  # minutes on a loaded shared CPU: local MD of one dipeptide, training, sampling, evaluation
def test_ecnf_transferable_runs_with_snis_and_records_its_cost(tmp_path, monkeypatch):
    from benchmark.data import generate

    corpus = FakeCorpus(("AG", "GPA", "KAE"), frames=8)
    for module in (benchmark.data, benchmark.data.corpus):  # the runner's and the reference data's readers
        monkeypatch.setattr(module, "open_training_corpus", lambda tier, data_dir=None, verify=True: corpus)
    base = get_task("2AA")
    md = LocalMD(replicas=(2, 1, 1), frames_per_replica=120, frame_interval_steps=10, warmup_steps=200)
    quick = dataclasses.replace(base.protocol("quick"), n_eval_samples=40, budgets=(90,), systems=("AA",), local_md=md)
    task = dataclasses.replace(base, name="TINYECNF", protocols={**base.protocols, "quick": quick})
    for spec in task.systems_for("quick"):  # the reference data only: the corpus is the fake above
        generate.prepare_system(task, "quick", spec, tmp_path / "data", progress=False)
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
