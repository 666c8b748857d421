"""Developer check of ARBG on a locally simulated trajectory, before the harness runner exists.

    python -m baselines.arbg.local_check --task ALDP --work-dir /tmp/arbg-check

1. Short OpenMM MD of the task's system (cached as .npy): contiguous train / test blocks.
2. ``ARBG.setup`` (train or load) on the train block, ``propose`` ``--budget`` samples.
3. Energies of the proposals; self-normalized importance weights log w = -E - log q (top 0.2 %
   removed, as the reference does); multinomial resampling to ``--n-eval`` samples.
4. Energy W2 (1-D, quantile coupling) of raw proposals (finite energies only) and of the
   resampled set against the MD test block, beside MD at the same budget (a fresh trajectory of
   ``--budget`` steps from the minimized structure, one force evaluation per step, no warm-up).
   This is a stand-in for the harness SNIS, not a replacement.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import openmm
import torch
from openmm import unit
from tqdm.auto import tqdm

from baselines.arbg.method import ARBG
from benchmark.adapter import RunContext
from benchmark.energy import OpenMMEnergy
from benchmark.tasks import get_task


def simulate(system, n_frames: int, interval: int, warmup: int, seed: int) -> np.ndarray:
    """(n_frames, N, 3) nm from Langevin MD with the system's recipe (CPU platform, 1 thread)."""
    integ = system.spec.forcefield.integrator(seed)
    platform = openmm.Platform.getPlatformByName("CPU")
    ctx = openmm.Context(system.create_openmm_system(), integ, platform, {"Threads": "1"})
    ctx.setPositions(system.minimized_positions * unit.nanometer)
    ctx.setVelocitiesToTemperature(system.temperature_K * unit.kelvin, seed)
    integ.step(warmup)
    out = np.empty((n_frames, system.n_atoms, 3))
    for i in tqdm(range(n_frames), desc="local MD", leave=False, mininterval=10):
        integ.step(interval)
        out[i] = ctx.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    return out


def energy_w2(a: np.ndarray, b: np.ndarray) -> float:
    """1-D Wasserstein-2 via matched quantiles (both sets resampled to a common size)."""
    q = (np.arange(2000) + 0.5) / 2000
    return float(np.sqrt(np.mean((np.quantile(a, q) - np.quantile(b, q)) ** 2)))


def snis_resample(e: np.ndarray, log_q: np.ndarray, n: int, rng: np.random.Generator, clip: float = 0.002):
    logw = -e - log_q
    ok = np.isfinite(logw)
    if clip > 0 and ok.sum() > 1:
        ok &= logw <= np.quantile(logw[ok], 1 - clip)
    lw = np.where(ok, logw, -np.inf)
    w = np.exp(lw - lw.max())
    w /= w.sum()
    ess = 1.0 / np.sum(w**2) / len(w)
    idx = rng.choice(len(w), size=n, p=w)
    return idx, ess


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="ALDP")
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/arbg-check"))
    ap.add_argument("--frames", type=int, default=4000, help="MD frames (train + test)")
    ap.add_argument("--interval", type=int, default=200, help="MD steps between frames")
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--n-eval", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", type=json.loads, default={}, help="JSON overrides of the ARBG config")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(2)

    task = get_task(args.task)
    system = task.systems[0].build()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    md_path = args.work_dir / f"{task.name}-md-{args.frames}x{args.interval}-seed{args.seed}.npy"
    if not md_path.exists():
        np.save(md_path, simulate(system, args.frames, args.interval, 20_000, args.seed + 1000))
    md = np.load(md_path)
    n_train = int(0.6 * len(md))
    train, test = md[:n_train], md[n_train:]

    class Ctx(RunContext):
        def training_positions(self, task, system_name):  # the harness loads its reference data here
            return train

    ctx = Ctx(seed=args.seed, tier="quick", budget=args.budget, work_dir=args.work_dir)
    method = ARBG(**args.config)
    t0 = time.perf_counter()
    method.setup(task, ctx)
    t_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    x, log_q = method.propose(system, args.budget, ctx)
    t_prop = time.perf_counter() - t0
    t0 = time.perf_counter()
    energy = OpenMMEnergy(system)
    e = energy.energy(x).numpy()
    e_test = energy.energy(test).numpy()
    # MD at the same budget: one fresh trajectory of `budget` steps (one force call each), no warm-up
    md_budget = simulate(system, args.n_eval, max(1, args.budget // args.n_eval), 0, args.seed + 2000)
    e_md_budget = energy.energy(md_budget).numpy()
    t_energy = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    idx, ess = snis_resample(e, log_q.numpy(), args.n_eval, rng)
    raw = rng.choice(e[np.isfinite(e)], size=args.n_eval, replace=False)
    result = {
        "task": task.name,
        "config": method.cfg.to_dict(),
        "train_frames": n_train,
        "test_frames": len(test),
        "setup_s": round(t_setup, 1),
        "training_s": {k: round(v, 1) for k, v in method.training_seconds.items()},
        "propose_s": round(t_prop, 1),
        "energy_s": round(t_energy, 1),
        "finite_energy_fraction": float(np.isfinite(e).mean()),
        "ess_fraction": float(ess),
        "energy_w2_raw": energy_w2(raw, e_test),
        "energy_w2_resampled": energy_w2(e[idx], e_test),
        "energy_w2_md_same_budget": energy_w2(e_md_budget, e_test),
        "unique_resampled": int(len(np.unique(idx))),
        "mean_energy_test_kT": float(e_test.mean()),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
