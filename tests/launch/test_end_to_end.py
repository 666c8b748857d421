"""Plans of the real quick tiers, run by each executor, merge to exactly what one process computes.

Slow: quick-tier reference data for AL3 and 2AA (taken from $BGBENCH_DATA when it is there, else
simulated here: about 4 and 25 minutes on 2 CPU cores), and a few minutes of evaluation per executor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.launch.jobs import is_done, shard_path
from benchmark.launch.launcher import launch
from benchmark.launch.merge import merge_plan
from benchmark.launch.plan import make_plan, read_plan, write_plan
from benchmark.results import read_record
from benchmark.runner import RunConfig, Runner
from tests.launch.methods import CountingTrainer, trainings

pytestmark = pytest.mark.slow

AL3_SEEDS = (0, 1, 2)
AL3_BUDGET = 2000  # MD steps: cheap, and enough for the metrics
SEED_2AA = 42


@pytest.fixture(scope="module")
def quick_data(tmp_path_factory) -> Path:
    from benchmark.data import generate
    from benchmark.tasks import get_task

    root = Path(os.environ["BGBENCH_DATA"]) if os.environ.get("BGBENCH_DATA") else tmp_path_factory.mktemp("data")
    for task in ("AL3", "2AA"):
        generate.prepare_task(get_task(task), "quick", root=root, progress=False)  # a no-op when it is there
    return root


def write_test_plan(plan: Path) -> None:
    """AL3 quick with MD (3 seeds, 1 system) and 2AA quick with the counting trainer (1 seed, 3 systems)."""
    write_plan(plan, make_plan("md", "AL3", seeds=list(AL3_SEEDS), budgets=[AL3_BUDGET]))
    write_plan(plan, make_plan(CountingTrainer, "2AA", seeds=[SEED_2AA]))


@pytest.fixture(scope="module")
def single_process(quick_data, tmp_path_factory) -> dict:
    """The same runs, each in one process with all its systems: {run name: record}."""
    tmp = tmp_path_factory.mktemp("single")
    out = {}
    for seed in AL3_SEEDS:
        cfg = RunConfig(method="md", task="AL3", seed=seed, budget=AL3_BUDGET, data_dir=quick_data,
                        work_dir=tmp / "work", out=tmp / f"md-{seed}.json")
        out[f"md-AL3-quick-b{AL3_BUDGET}-s{seed}"] = Runner(cfg).run()
    cfg = RunConfig(method=CountingTrainer, task="2AA", seed=SEED_2AA, data_dir=quick_data, work_dir=tmp / "work",
                    out=tmp / "counting.json")
    out[f"counting-trainer-2AA-quick-b10000-s{SEED_2AA}"] = Runner(cfg).run()
    return out


def executor(name: str, tmp_path: Path):
    if name == "local":
        from benchmark.launch.executors import LocalExecutor

        return LocalExecutor(workers=2)
    if name == "submitit-local":
        from benchmark.launch.slurm import SubmititExecutor

        return SubmititExecutor(tmp_path / "submitit", cluster="local", workers=2, timeout_min=30, poll_s=0.5)
    from benchmark.launch.ray_executor import RayExecutor

    return RayExecutor(num_cpus=2, object_store_mb=100, workers=2)


@pytest.mark.parametrize("name", ["local", "submitit-local", "ray"])
def test_plans_merge_to_the_single_process_records(name, quick_data, single_process, tmp_path):
    pytest.importorskip({"local": "benchmark", "submitit-local": "submitit", "ray": "ray"}[name])
    plan = tmp_path / "plan"
    write_test_plan(plan)
    t0 = time.perf_counter()
    with executor(name, tmp_path) as ex:
        report = launch(plan, ex, data_dir=quick_data, work_dir=tmp_path / "work")
    print(f"\n{name}: {len(report.outcomes)} jobs in {time.perf_counter() - t0:.1f} s")
    assert report.ok, [o for o in report.outcomes if o.status != "ok"]
    assert report.count("ok") == len(AL3_SEEDS) * 2 + 1 + 3
    # the 2AA model was trained once, by its training job; the three system jobs loaded it
    assert trainings(tmp_path / "work") == [f"2AA corpus {SEED_2AA}"]
    runs = {r.name: r for r in merge_plan(plan)}
    assert set(runs) == set(single_process)
    for run_name, single in single_process.items():
        run = runs[run_name]
        assert run.missing == [] and run.failed == []
        merged = run.merged.record
        assert list(merged.systems) == list(single.systems)
        for system, result in single.systems.items():
            assert merged.systems[system].metrics == result.metrics, (run_name, system)
        assert merged.aggregate() == single.aggregate()
        expected = "ray" if name == "ray" else name
        assert {s["executor"] for s in merged.environment["shards"]} == {expected}


def _launch_cli(plan: Path, data: Path, work: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "benchmark.cli", "launch", str(plan), "--data-dir", str(data), "--work-dir", str(work), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_killed_launch_resumes_and_concurrent_launches_share_results(quick_data, tmp_path):
    plan = tmp_path / "plan"
    write_plan(plan, make_plan("md", "AL3", seeds=list(AL3_SEEDS), budgets=[AL3_BUDGET]))
    systems = [j for j in read_plan(plan) if j.kind == "system"]
    results = plan / "results"
    first = _launch_cli(plan, quick_data, tmp_path / "work")
    deadline = time.time() + 900
    while not any(is_done(j, results) for j in systems):
        assert first.poll() is None and time.time() < deadline, first.stdout.read() if first.stdout else ""
        time.sleep(0.5)
    os.killpg(first.pid, signal.SIGKILL)  # the launcher and its workers, as a node failure would
    first.wait()
    finished = {j.id: (shard_path(j, results).read_bytes(), shard_path(j, results).stat().st_mtime_ns)
                for j in systems if is_done(j, results)}
    assert 1 <= len(finished) < len(systems)
    # two relaunches at once into the same results folder
    a, b = (_launch_cli(plan, quick_data, tmp_path / "work") for _ in range(2))
    out_a, out_b = a.communicate(timeout=1800)[0], b.communicate(timeout=1800)[0]
    assert a.returncode == 0 and b.returncode == 0, out_a + out_b
    for job in systems:
        assert is_done(job, results)
        read_record(shard_path(job, results))  # every record intact
    for job_id, (data, mtime) in finished.items():
        job = next(j for j in systems if j.id == job_id)
        assert (shard_path(job, results).read_bytes(), shard_path(job, results).stat().st_mtime_ns) == (data, mtime)
    ran = [line for line in (out_a + out_b).splitlines() if line.startswith("ok ") and " system " in line]
    assert len(ran) == len(systems) - len(finished), out_a + out_b  # each remaining job ran once, in one launch
