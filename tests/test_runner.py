"""The runner end to end on tiny local data: records, failures, resume, seeds, devices."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest
import torch

from benchmark.adapter import Method, Samples
from benchmark.data import generate
from benchmark.errors import BgbenchError, DeviceError
from benchmark.results import read_record
from benchmark.runner import RunConfig, Runner
from benchmark.systems import AMBER99SBILDN_OBC, CAPPED, SystemSpec
from benchmark.tasks import Task, get_task
from benchmark.tasks.protocol import LocalMD

N_EVAL = 50


def tiny_two_system_task() -> Task:
    """Two fast capped peptides, a quick protocol of 4 replicas of 120 frames (longer than the TICA lag) and 50 evaluation samples."""
    base = get_task("ALDP")
    md = LocalMD(replicas=(2, 1, 1), frames_per_replica=120, frame_interval_steps=10, warmup_steps=200)
    quick = dataclasses.replace(base.protocol("quick"), n_eval_samples=N_EVAL, budgets=(300,), local_md=md)
    systems = (
        base.systems[0],
        SystemSpec("Ace-AA-Nme", "AA", CAPPED, AMBER99SBILDN_OBC.with_friction(1.0)),
    )
    return dataclasses.replace(base, name="TINY", systems=systems, protocols={**base.protocols, "quick": quick})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bgdata")
    generate.prepare_task(tiny_two_system_task(), "quick", root=root, progress=False)
    return root


def config(data_dir, tmp_path, method="md", **kw) -> RunConfig:
    return RunConfig(method=method, task=tiny_two_system_task(), tier="quick", data_dir=data_dir,
                     work_dir=tmp_path / "work", out=kw.pop("out", tmp_path / "rec.json"), **kw)


def test_md_run_writes_a_valid_record(data_dir, tmp_path):
    record = Runner(config(data_dir, tmp_path)).run()
    assert record.failed == [] and record.final_set == "md"
    data = json.loads((tmp_path / "rec.json").read_text())
    assert data["n_systems_ok"] == 2 and data["task"]["name"] == "TINY"
    res = data["systems"]["Ace-A-Nme"]
    assert res["energy_evaluations"] == {"budget": 300, "used": 300, "remaining": 0, "full": 300, "partial": 0,
                                         "force_evaluations": 300}
    assert res["metrics"]["md/num-eval-samples"] == N_EVAL
    assert {"md/energy-w2", "md/torus-w2", "md/tica-w2"} <= set(res["metrics"])
    assert res["reference"]["hashes"]
    assert data["environment"]["packages"]["openmm"]
    assert (tmp_path / "rec.json.samples.npz").exists()


def test_a_builtin_method_runs_in_a_method_process(data_dir, tmp_path):
    """Built-ins are found again by name in the child (their registry entry is not plain data to send)."""
    inline = Runner(config(data_dir, tmp_path, out=tmp_path / "inline.json", systems=["Ace-A-Nme"])).run()
    isolated = Runner(config(data_dir, tmp_path, out=tmp_path / "iso.json", systems=["Ace-A-Nme"],
                             isolation="process")).run()
    assert isolated.failed == [] and isolated.isolation == "process"
    assert isolated.systems["Ace-A-Nme"].metrics == inline.systems["Ace-A-Nme"].metrics


def test_same_seed_same_metrics(data_dir, tmp_path):
    a = Runner(config(data_dir, tmp_path, out=tmp_path / "a.json", seed=5)).run()
    b = Runner(config(data_dir, tmp_path, out=tmp_path / "b.json", seed=5)).run()
    c = Runner(config(data_dir, tmp_path, out=tmp_path / "c.json", seed=6)).run()
    for name in a.systems:
        assert a.systems[name].metrics == b.systems[name].metrics
    assert a.systems["Ace-A-Nme"].metrics != c.systems["Ace-A-Nme"].metrics


class Misbehaving(Method):
    """Fails in a different way on each system, chosen by ``mode``."""

    name = "misbehaving"
    mode = "raise"

    def sample(self, system, energy, ctx):
        x = torch.as_tensor(system.minimized_positions).repeat(N_EVAL, 1, 1)
        if system.name == "Ace-A-Nme":
            if self.mode == "raise":
                raise RuntimeError("the model diverged")
            if self.mode == "nan":
                x[3, 2, 1] = float("nan")
            if self.mode == "budget":
                energy.energy(torch.cat([x] * 7))  # 350 > 300
            if self.mode == "shape":
                x = x[:, :-1]
            if self.mode == "exit":
                sys.exit(3)
            if self.mode == "few":
                x = x[:10]
        x = x + 0.01 * torch.randn(x.shape, generator=ctx.generator, dtype=x.dtype)
        if system.name == "Ace-A-Nme" and self.mode in ("set_name", "reserved_set", "log_weights"):
            bad = {"set_name": Samples(positions=x, set_name="../../leaderboard/x"),
                   "reserved_set": Samples(positions=x, set_name="proposal"),
                   "log_weights": Samples(positions=x, log_weights=torch.full((len(x),), float("nan")))}
            return bad[self.mode]
        return Samples(positions=x)


@pytest.mark.parametrize(
    "mode, reason",
    [("raise", "RuntimeError: the model diverged"), ("nan", "NaN"), ("budget", "BudgetExceeded"), ("shape", "shape"),
     ("exit", "sample: SystemExit: 3"), ("few", "evaluate: InvalidSamplesError"), ("set_name", "set_name must be"),
     ("reserved_set", "reserved"), ("log_weights", "log_weights contains NaN")],
)
def test_failures_are_recorded_and_the_run_goes_on(data_dir, tmp_path, mode, reason):
    cls = type(f"Misbehaving_{mode}", (Misbehaving,), {"mode": mode})
    record = Runner(config(data_dir, tmp_path, method=cls)).run()
    assert record.failed == ["Ace-A-Nme"]
    assert reason in record.systems["Ace-A-Nme"].error
    assert record.systems["Ace-AA-Nme"].status == "ok"
    stored = read_record(tmp_path / "rec.json")  # valid JSON that passes the schema check
    assert stored.systems["Ace-A-Nme"].status == "failed"
    if mode == "budget":
        assert stored.systems["Ace-A-Nme"].energy_evaluations["used"] == 0


class FailsSetup(Misbehaving):
    name = "fails-setup"

    def setup(self, task, ctx):
        raise SystemExit("no weights")


def test_setup_failure_fails_every_system_with_the_reason(data_dir, tmp_path):
    record = Runner(config(data_dir, tmp_path, method=FailsSetup)).run()
    assert record.failed == ["Ace-A-Nme", "Ace-AA-Nme"]
    assert all(r.error == "setup failed: SystemExit: no weights" for r in record.systems.values())
    assert read_record(tmp_path / "rec.json").failed == record.failed


def test_plot_data_failure_is_a_failed_system(data_dir, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("benchmark.runner.write_plot_data", broken)
    record = Runner(config(data_dir, tmp_path)).run()
    assert record.failed == ["Ace-A-Nme", "Ace-AA-Nme"]
    assert record.systems["Ace-A-Nme"].error == "plot data: OSError: disk full"


def test_meter_tampering_in_process_is_caught(data_dir, tmp_path):
    class Resets(Misbehaving):
        name = "resets"

        def sample(self, system, energy, ctx):
            energy.energy(torch.as_tensor(system.minimized_positions)[None])
            energy._meter._counts["full"] = 0
            return super().sample(system, energy, ctx)

    record = Runner(config(data_dir, tmp_path, method=Resets, systems=["Ace-AA-Nme"])).run()
    assert "MeterTampered" in record.systems["Ace-AA-Nme"].error


@pytest.mark.parametrize("change, message", [
    ({"seed": 9}, "belongs to another run"),
    ({"method_config": {"sigma_nm": 0.02}}, "another method config"),
    ({"sampler_options": {"logw_quantile_filter": 0.01}}, "sampler settings"),
    ({"sampler": "smc"}, "belongs to another run|sampler settings"),
])
def test_resume_refuses_other_settings(data_dir, tmp_path, change, message):
    base = dict(method="submissions/example_gaussian", systems=["Ace-A-Nme"], budget=1000, sampler="snis",
                isolation="none", out=tmp_path / "r.json")
    Runner(config(data_dir, tmp_path, **base)).run()
    with pytest.raises(BgbenchError, match=message):
        Runner(config(data_dir, tmp_path, **{**base, **change, "resume": True})).run()


def test_resume_refuses_another_method_version(data_dir, tmp_path):
    Runner(config(data_dir, tmp_path, method=Misbehaving, systems=["Ace-AA-Nme"])).run()
    newer = type("Misbehaving", (Misbehaving,), {"version": "2"})
    with pytest.raises(BgbenchError, match="belongs to another run"):
        Runner(config(data_dir, tmp_path, method=newer, systems=["Ace-AA-Nme"], resume=True)).run()


class Interrupted(Method):
    """Samples the first system, then is 'killed' on the second."""

    name = "interrupted"
    calls: list[str] = []
    kill = True

    def sample(self, system, energy, ctx):
        type(self).calls.append(system.name)
        if self.kill and len(type(self).calls) == 2:
            raise KeyboardInterrupt
        x = torch.as_tensor(system.minimized_positions).repeat(N_EVAL, 1, 1)
        return Samples(positions=x + 0.01 * torch.randn(x.shape, generator=ctx.generator, dtype=x.dtype))


def test_resume_skips_finished_systems(data_dir, tmp_path):
    Interrupted.calls = []
    with pytest.raises(KeyboardInterrupt):
        Runner(config(data_dir, tmp_path, method=Interrupted)).run()
    assert list(read_record(tmp_path / "rec.json").systems) == ["Ace-A-Nme"]
    Interrupted.kill = False
    record = Runner(config(data_dir, tmp_path, method=Interrupted, resume=True)).run()
    assert Interrupted.calls == ["Ace-A-Nme", "Ace-AA-Nme", "Ace-AA-Nme"]
    assert record.failed == [] and len(record.systems) == 2
    # The resumed system equals an uninterrupted run (per-system seeds do not depend on order).
    fresh = Runner(config(data_dir, tmp_path, method=Interrupted, out=tmp_path / "fresh.json")).run()
    assert fresh.systems["Ace-AA-Nme"].metrics == record.systems["Ace-AA-Nme"].metrics


class NeedsGPU(Misbehaving):
    name = "needs-gpu"
    requires_gpu = True


def test_gpu_method_fails_early_on_cpu(data_dir, tmp_path):
    with pytest.raises(DeviceError, match="needs a CUDA GPU"):
        Runner(config(data_dir, tmp_path, method=NeedsGPU)).run()
    assert not (tmp_path / "rec.json").exists()


def test_sampler_is_refused_for_md_and_data_must_exist(data_dir, tmp_path):
    from benchmark.errors import BgbenchError, DataError

    with pytest.raises(BgbenchError, match="samples by itself"):
        Runner(config(data_dir, tmp_path, sampler="snis"))
    with pytest.raises(DataError, match="bgbench data prepare"):
        Runner(config(tmp_path / "empty", tmp_path)).run()


def test_example_submission_through_snis_and_smc(data_dir, tmp_path):
    for sampler in ("snis", "smc"):
        cfg = config(data_dir, tmp_path, method="submissions/example_gaussian", sampler=sampler,
                     out=tmp_path / f"{sampler}.json", systems=["Ace-A-Nme"], budget=3000)
        record = Runner(cfg).run()
        res = record.systems["Ace-A-Nme"]
        assert res.status == "ok", res.error
        assert res.energy_evaluations["used"] <= 3000
        assert record.sampler["name"] == ("snis" if sampler == "snis" else "smc")
        assert f"{record.final_set}/energy-w2" in res.metrics and "proposal/energy-w2" in res.metrics


class Talkative(Method):
    """Reports a fact about its model of each system through ``Method.diagnostics``."""

    name = "talkative"

    def sample(self, system, energy, ctx):
        x = torch.as_tensor(system.minimized_positions).repeat(N_EVAL, 1, 1)
        return Samples(positions=x + 0.01 * torch.randn(x.shape, generator=ctx.generator, dtype=x.dtype))

    def diagnostics(self, system, ctx):
        return {"atoms_seen": system.n_atoms}


def test_method_diagnostics_reach_the_record(data_dir, tmp_path):
    record = Runner(config(data_dir, tmp_path, method=Talkative, systems=["Ace-A-Nme"])).run()
    assert record.systems["Ace-A-Nme"].diagnostics["method"] == {"atoms_seen": 22}
    assert read_record(tmp_path / "rec.json").systems["Ace-A-Nme"].diagnostics["method"] == {"atoms_seen": 22}


# --- the target energy: --energy torch|openmm ------------------------------------------------------------


def test_torch_energy_gives_the_openmm_record(data_dir, tmp_path):
    """MD on the default torch energy and on the OpenMM Reference loop: one record, equal within float error.

    The same seed gives the same noise; the forces differ by ~1e-14 relative, which the chain
    amplifies (measured: metrics agree to ~1e-9 relative), far inside the tolerance.
    """
    runs = {backend: Runner(config(data_dir, tmp_path, out=tmp_path / f"{backend}.json", systems=["Ace-A-Nme"],
                                   energy=backend, platform="Reference")).run()
            for backend in ("torch", "openmm")}
    torch_rec, omm_rec = runs["torch"], runs["openmm"]
    assert torch_rec.energy["backend"] == "torch" and torch_rec.energy["precision"] == "float64"
    assert omm_rec.energy["backend"] == "openmm" and omm_rec.energy["platform"] == "Reference"
    assert read_record(tmp_path / "torch.json").energy == torch_rec.energy  # the stored record says it too
    a, b = torch_rec.systems["Ace-A-Nme"], omm_rec.systems["Ace-A-Nme"]
    assert a.status == b.status == "ok" and a.energy_evaluations == b.energy_evaluations
    assert a.metrics.keys() == b.metrics.keys()
    for key in a.metrics:
        assert a.metrics[key] == pytest.approx(b.metrics[key], rel=1e-6, abs=1e-9), key


def test_resume_refuses_another_energy_and_bad_choices_fail_early(data_dir, tmp_path):
    base = dict(method=Talkative, systems=["Ace-A-Nme"], out=tmp_path / "t.json")
    assert Runner(config(data_dir, tmp_path, **base)).run().energy["backend"] == "torch"  # the default
    for change in ({"energy": "openmm"}, {"energy_precision": "float32"}):
        with pytest.raises(BgbenchError, match="was run with the energy"):
            Runner(config(data_dir, tmp_path, **base, **change, resume=True)).run()
    with pytest.raises(BgbenchError, match="float32"):
        Runner(config(data_dir, tmp_path, energy="openmm", energy_precision="float32"))
    with pytest.raises(BgbenchError, match="Unknown energy backend"):
        Runner(config(data_dir, tmp_path, energy="jax"))


def test_cli_energy_options_reach_the_run_config():
    from benchmark.cli import build_parser
    from benchmark.cli.run import _config

    args = build_parser().parse_args(["run", "--method", "md", "--task", "ALDP"])
    assert (_config(args).energy, _config(args).energy_precision) == ("torch", "float64")
    args = build_parser().parse_args(["run", "--method", "md", "--task", "ALDP", "--energy", "openmm",
                                      "--energy-precision", "float32"])
    assert (_config(args).energy, _config(args).energy_precision) == ("openmm", "float32")


def test_md_replicas_share_the_budget_and_a_method_process_gets_the_same_energy(data_dir, tmp_path):
    """R chains in one batch: R evaluations per step; isolated, the harness serves the same torch energy."""
    from baselines.md.method import MDBaseline

    base = dict(method=MDBaseline, systems=["Ace-A-Nme"], method_config={"replicas": 4}, seed=2)
    inside = Runner(config(data_dir, tmp_path, out=tmp_path / "in.json", **base)).run()
    res = inside.systems["Ace-A-Nme"]
    assert res.status == "ok", res.error
    assert res.energy_evaluations["used"] == res.energy_evaluations["force_evaluations"] == 300  # 75 steps x 4
    assert res.diagnostics["method_reported"]["replicas"] == 4 and res.diagnostics["method_reported"]["steps"] == 75
    assert len(set(res.diagnostics["method_reported"]["start_frames"])) > 1
    assert res.metrics["md/num-eval-samples"] == N_EVAL
    isolated = Runner(config(data_dir, tmp_path, out=tmp_path / "proc.json", isolation="process", **base)).run()
    assert isolated.isolation == "process" and isolated.energy == inside.energy and inside.energy["backend"] == "torch"
    assert isolated.systems["Ace-A-Nme"].metrics == res.metrics
