"""Prose end to end through the runner on a tiny transferable protocol, with SNIS and with the harness SMC
(its "smc" preset is Prose's published SMC-ULA): records carry the corpus scale, the CoM adjustment and
the Prose preset, and the SMC run reuses the SNIS run's corpus model."""

from __future__ import annotations

import pytest

from benchmark.runner import RunConfig, Runner
from tests.tiny_transfer import tiny_transfer_task

TINY = dict(channels=16, head_dim=8, blocks=2, layers_per_block=1, steps=4, batch_size=4, sample_batch_size=16)


@pytest.mark.slow  # minutes on a loaded shared CPU: local MD of one dipeptide, training, both samplers, evaluation
def test_prose_runs_with_snis_and_with_smc(tmp_path, monkeypatch):
    task, corpus = tiny_transfer_task("TINYPROSE", tmp_path / "data", monkeypatch)
    records = {}
    for sampler, options in (("snis", {}), ("smc", {"num_annealing_steps": 3})):
        records[sampler] = Runner(RunConfig(method="prose", task=task, tier="quick", sampler=sampler,
                                            sampler_options=options, data_dir=tmp_path / "data",
                                            work_dir=tmp_path / "work", out=tmp_path / f"{sampler}.json",
                                            method_config=TINY)).run()
    snis, smc = records["snis"].systems["AA"], records["smc"].systems["AA"]
    assert snis.status == "ok" and smc.status == "ok", (snis.error, smc.error)
    assert snis.energy_evaluations["used"] == 90 and smc.energy_evaluations["used"] <= 90
    settings = smc.diagnostics["sampler"]
    assert settings["coordinate_scale"] == pytest.approx(corpus.std_nm) and settings["com_adjustment"]
    assert (settings["ess_threshold"], settings["resampling"], settings["init_eps"]) == (1.0, "systematic", 1e-5)
    assert smc.diagnostics["method"]["weights"] == "loaded"  # trained once (SNIS run), then reused
    assert records["smc"].final_set == "smc" and records["snis"].method["parameters"] > 0
