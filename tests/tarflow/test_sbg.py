"""SBG = TarFlow + the harness SMC with the published per-system settings, as a registry recipe.

The recipe notion (benchmark.registry.RECIPES), SBG's per-system presets (benchmark/sampling/sbg.py),
the rule that a single-system sampler never takes the transferable 0.35 nm scale, and one tiny run of
`sbg` and `tarflow` end to end (shared weights, what the record says).
"""

from __future__ import annotations

import dataclasses
import sys

import pytest

from benchmark.adapter import SourceFacts
from benchmark.data import generate
from benchmark.errors import BgbenchError
from benchmark.registry import RECIPES, available_methods, find_method
from benchmark.runner import RunConfig, Runner
from benchmark.sampling import PRESETS, SamplerError, make_sampler, sampler_for, task_preset
from benchmark.tasks import get_task, task_names
from benchmark.tasks.protocol import LocalMD

# specs/flows-and-protocol.md 3.5, rows single_system/eval/tarflow_{SEQ}_ula: (eps, K, energy cut-off kT)
PUBLISHED_SBG = {"ALDP": (1e-5, 100, 10.0), "AL3": (1e-5, 100, -120.0), "AL4": (1e-6, 100, 50.0),
                 "AL6": (1e-6, 100, -20.0), "CHIGNOLIN": (1e-5, 500, -300.0)}
TRANSFERABLE_DEFAULT_SCALE = 0.35
SINGLE = [t for t in task_names() if not get_task(t).transferable]


def tarflow_facts(sigma: float = 0.163) -> SourceFacts:
    return SourceFacts(coordinate_scale_nm=sigma, com="com-noise", batch_size=512)


@pytest.mark.parametrize("task", list(PUBLISHED_SBG))
def test_single_system_smc_is_the_published_sbg_preset(task):
    eps, k, cutoff = PUBLISHED_SBG[task]
    s = sampler_for("smc", {}, tarflow_facts(), transferable=False, task=task).settings()
    assert (s["init_eps"], s["num_annealing_steps"], s["energy_cutoff"]) == (eps, k, cutoff)
    assert (s["ess_threshold"], s["resampling"], s["logw_quantile_filter"]) == (0.5, "multinomial", 0.002)
    assert s["use_metropolis"] is False and s["adaptive_step_size"] is False
    assert s["com_adjustment"] is True and s["coordinate_scale"] == 0.163 and s["chunk_size"] == 512
    assert s["preset"] == f"smc (SBG {task})"
    assert s["evaluations_per_particle"] == k - 1  # so a budget of 10^4 affords 10^4 // 99 = 101 particles at K=100


def test_transferable_tasks_keep_the_prose_preset_and_user_options_win():
    prose = sampler_for("smc", {}, tarflow_facts(), transferable=True, task="8AA").settings()
    assert (prose["ess_threshold"], prose["resampling"], prose["energy_cutoff"]) == (1.0, "systematic", None)
    assert task_preset("snis", "ALDP", False) == {} and task_preset("smc", "ALDP", True) == {}
    mine = sampler_for("smc", {"energy_cutoff": None, "init_eps": 1e-4}, tarflow_facts(), False, "ALDP").settings()
    assert mine["energy_cutoff"] is None and mine["init_eps"] == 1e-4 and mine["ess_threshold"] == 0.5


@pytest.mark.parametrize("task", SINGLE)
@pytest.mark.parametrize("sampler", sorted(set(PRESETS) - {"ar-smc"}))  # ar-smc moves no coordinates: no scale
def test_a_single_system_sampler_never_uses_the_transferable_scale(task, sampler):
    """Either the method's sigma or a refusal: the 0.35 nm default would make ALDP's Langevin steps ~4.5x too large."""
    assert make_sampler(sampler).settings().get("coordinate_scale", TRANSFERABLE_DEFAULT_SCALE) == 0.35
    built = sampler_for(sampler, {}, tarflow_facts(0.2), transferable=False, task=task).settings()
    assert built.get("coordinate_scale") == 0.2
    with pytest.raises(SamplerError, match="0.35"):
        sampler_for(sampler, {}, SourceFacts(com="com-noise"), transferable=False, task=task)


def test_sbg_is_a_recipe_listed_without_importing_the_model():
    sys.modules.pop("baselines.tarflow", None)
    spec = available_methods()["sbg"]
    assert "baselines.tarflow" not in sys.modules
    assert spec.source == "recipe" and spec.info["recipe"] == RECIPES["sbg"].to_dict("sbg")
    assert spec.info["recipe"]["method"] == "tarflow" and spec.info["recipe"]["sampler"] == "smc"
    assert find_method("SBG").load() is find_method("tarflow").load()


def test_bgbench_methods_lists_the_recipe(capsys):
    from benchmark.cli import main

    assert main(["methods"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| sbg "))
    assert "normalizing flow" in row and "recipe: tarflow + --sampler smc" in row


def test_runner_resolves_the_recipe_without_special_cases():
    sbg = Runner(RunConfig(method="sbg", task="AL3"))
    assert (sbg.name, sbg.method.name, sbg.sampler_name) == ("sbg", "tarflow", "smc")
    assert str(sbg.out) == "results/sbg-smc-AL3-quick-b10000-s0.json"
    plain = Runner(RunConfig(method="tarflow", task="AL3", sampler="smc"))
    assert (plain.name, plain.sampler_name, plain.sampler_options) == ("tarflow", "smc", sbg.sampler_options)
    assert Runner(RunConfig(method="tarflow", task="AL3")).sampler_name == "snis"
    with pytest.raises(BgbenchError, match="--method tarflow --sampler snis"):
        Runner(RunConfig(method="sbg", task="AL3", sampler="snis"))
    with pytest.raises(BgbenchError, match="single-system"):
        Runner(RunConfig(method="sbg", task="8AA"))


# --- end to end on a tiny ALDP ---------------------------------------------------------------------
N_EVAL = 40
TINY = {"channels": 32, "blocks": 2, "layers_per_block": 1, "head_dim": 16, "steps": 4, "batch_size": 8,
        "sample_batch_size": 64, "checkpoint_every": 4}


def tiny_aldp():
    """ALDP (so the SBG preset applies) with a few thousand MD steps of data and 40 evaluation samples."""
    base = get_task("ALDP")
    md = LocalMD(replicas=(2, 1, 1), frames_per_replica=120, frame_interval_steps=10, warmup_steps=200)
    quick = dataclasses.replace(base.protocol("quick"), n_eval_samples=N_EVAL, budgets=(300,), local_md=md)
    return dataclasses.replace(base, protocols={**base.protocols, "quick": quick})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bgdata")
    generate.prepare_task(tiny_aldp(), "quick", root=root, progress=False)
    return root


def test_sbg_and_tarflow_runs_share_weights_and_record_what_ran(data_dir, tmp_path):
    def run(method, **kw):
        return Runner(RunConfig(method=method, task=tiny_aldp(), tier="quick", data_dir=data_dir, method_config=TINY,
                                work_dir=tmp_path / "work", out=tmp_path / f"{method}.json", **kw)).run()

    # a cut-off the untrained model cannot meet would leave no particles: relax it, and anneal in 3 steps
    sbg = run("sbg", sampler_options={"energy_cutoff": None, "num_annealing_steps": 3})
    res = sbg.systems["Ace-A-Nme"]
    assert res.status == "ok", res.error
    assert sbg.method["name"] == "sbg" and sbg.method["recipe"]["method"] == "tarflow" and sbg.final_set == "smc"
    assert sbg.sampler == {"name": "smc", "options": {"energy_cutoff": None, "num_annealing_steps": 3}}
    settings = res.diagnostics["sampler"]
    sigma = res.diagnostics["method"]["sigma"]
    assert settings["coordinate_scale"] == sigma != TRANSFERABLE_DEFAULT_SCALE and settings["com_adjustment"]
    assert (settings["preset"], settings["ess_threshold"], settings["resampling"]) == ("smc (SBG ALDP)", 0.5,
                                                                                      "multinomial")
    assert res.diagnostics["n_proposals"] == 300 // 2 and res.diagnostics["n_particles"] <= 150
    assert res.energy_evaluations["used"] <= 300 and sbg.method["training_seconds"]

    snis = run("tarflow")  # the SNIS run loads the model the sbg run trained
    assert snis.systems["Ace-A-Nme"].status == "ok" and snis.method["training_seconds"] == {}
    assert snis.sampler["name"] == "snis" and "recipe" not in snis.method
    assert snis.systems["Ace-A-Nme"].diagnostics["sampler"]["coordinate_scale"] == sigma
