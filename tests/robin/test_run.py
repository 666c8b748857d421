"""ROBIN end to end through the runner on a tiny transferable protocol, with SNIS and with ar-smc: the
record carries the method facts, and ar-smc's partial and full evaluations share the budget."""

from __future__ import annotations

import dataclasses

import pytest

import benchmark.data
import benchmark.data.reference
from benchmark.runner import RunConfig, Runner
from benchmark.tasks import get_task
from benchmark.tasks.protocol import LocalMD

TINY = dict(num_bins=64, channels=16, layers=1, heads=2, head_dim=8, max_atoms=60, steps=4, batch_size=4,
            sample_batch_size=16)


@pytest.mark.slow  # minutes (15 on a loaded shared CPU): local MD of one peptide, training, both samplers, evaluation
def test_robin_runs_with_snis_and_with_twisted_smc(tmp_path, monkeypatch, fake_corpus):
    from benchmark.data import generate

    # the fake corpus stands in for the quick corpus: ROBIN trains on it and the reference scale is its std
    monkeypatch.setattr(benchmark.data, "open_training_corpus", lambda tier, data_dir=None: fake_corpus, raising=False)
    monkeypatch.setattr(benchmark.data.reference, "corpus_std", lambda tier, data_dir=None: fake_corpus.std_nm)
    base = get_task("4AA")
    md = LocalMD(replicas=(2, 1, 1), frames_per_replica=120, frame_interval_steps=10, warmup_steps=200)
    quick = dataclasses.replace(base.protocol("quick"), n_eval_samples=40, budgets=(90,), systems=("GGRS",), local_md=md)
    task = dataclasses.replace(base, name="TINYROBIN", protocols={**base.protocols, "quick": quick})
    generate.prepare_system(task, "quick", task.system("GGRS"), root=tmp_path / "data", progress=False)
    records = {}
    for sampler in ("snis", "ar-smc"):
        records[sampler] = Runner(RunConfig(method="robin", task=task, tier="quick", sampler=sampler,
                                            data_dir=tmp_path / "data", work_dir=tmp_path / "work",
                                            out=tmp_path / f"{sampler}.json", method_config=TINY)).run()
    snis, smc = records["snis"].systems["GGRS"], records["ar-smc"].systems["GGRS"]
    assert snis.status == "ok" and smc.status == "ok", (snis.error, smc.error)
    assert snis.energy_evaluations["full"] == 90 and snis.energy_evaluations["partial"] == 0
    # GGRS: prefixes of 2 and 3 residues, then the full peptide: 3 checkpoints, 30 particles
    assert smc.energy_evaluations["partial"] == 60 and smc.energy_evaluations["full"] == 30
    assert smc.diagnostics["n_particles"] == 30 and smc.diagnostics["n_checkpoints"] == 3
    assert records["ar-smc"].final_set == "smc" and records["ar-smc"].sampler["name"] == "ar-smc"
    assert smc.diagnostics["method"]["weights"] == "loaded"  # trained once (SNIS run), then reused
    assert smc.diagnostics["source_facts"]["coordinate_scale_nm"] == pytest.approx(fake_corpus.std_nm)
    assert records["snis"].method["parameters"] > 0
