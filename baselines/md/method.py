"""``md``: Langevin chains of the task's force field per system (one by default), as long as the budget allows.

Where the chain starts, and why:

* **Single-system tasks: a frame of the training split**, drawn with the run seed. The training
  split is what every learned method may see, and it is an equilibrium sample (independent MD
  replicas in the quick tier, the published trajectories in the paper tier). Starting there, the
  chain needs no warm-up, so the whole budget produces samples, and its scores measure what a
  budget of MD steps can explore, not how far the minimised structure is from equilibrium (the
  minimised structure sits in one basin at ~0 K; from it the first samples are far too cold).
* **Transferable tasks: the minimised structure, then a warm-up that is discarded and charged to the
  budget** (``warmup_fraction`` of it, 0.1 by default). A method of a transferable task may train only
  on other peptides, so no equilibrium frame of the evaluated peptide is available; the warm-up costs
  energy evaluations like every other step.

``replicas`` R > 1 runs R independent chains of budget // R steps in one batched integrator (one
energy call per step for all R: the batched torch energy evaluates them together, so the
per-call cost is shared; docs/torch-energy.md has steps per second for R = 1, 16, 256). Every
replica starts from its own training frame (single systems) or from the minimised structure with
its own warm-up; each step still costs R evaluations. R = 1 is the chain this baseline always ran.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from baselines.md.langevin import run_langevin
from benchmark.adapter import Method, RunContext, Samples
from benchmark.config import MethodConfig

#: Offset of the NumPy stream that picks the start frame (the Langevin noise uses offset 0).
START_STREAM = 1


@dataclass(frozen=True)
class MDConfig(MethodConfig):
    """None means the task's published value (friction per ps, time step in fs).

    ``warmup_fraction``: share of the budget discarded as warm-up where the chain starts from the
    minimised structure (transferable tasks); it is charged to the budget. ``replicas``: independent
    chains run as one batch (see the module docstring).
    """

    friction_per_ps: float | None = None
    timestep_fs: float | None = None
    warmup_fraction: float = 0.1
    replicas: int = 1


class MDBaseline(Method):
    """MD at equal budget: every step is one energy-and-force evaluation.

    Uses the task's published temperature, friction and time step; the recorded part of the chain is
    subsampled evenly to the run's number of evaluation samples. See the module docstring for the start.
    """

    name = "md"
    version = "2"
    description = "Langevin MD at equal energy budget from a training frame (single systems) or a charged warm-up"
    family = "molecular dynamics"
    config_class = MDConfig

    def _start(self, system, n_steps: int, ctx: RunContext) -> tuple[np.ndarray, int, dict]:
        """(start positions (R, N, 3), warm-up steps per chain, diagnostics) for one system."""
        replicas = self.cfg.replicas
        if ctx.task is not None and not ctx.task.transferable:
            train = ctx.training_positions(system.name)
            index = ctx.numpy_rng(START_STREAM).integers(len(train), size=replicas)  # R = 1: the draw it always made
            frames = [int(i) for i in index]
            start = {"start_frame": frames[0]} if replicas == 1 else {"start_frames": frames}
            return np.asarray(train[index], dtype=np.float64), 0, {"start": "training frame", **start}
        warmup = int(self.cfg.warmup_fraction * n_steps)
        x0 = np.repeat(system.minimized_positions[None], replicas, axis=0)
        return x0, warmup, {"start": "minimized structure", "warmup_steps": warmup}

    def sample(self, system, energy, ctx: RunContext) -> Samples:
        recipe = system.spec.forcefield
        replicas = self.cfg.replicas
        if replicas < 1:
            raise ValueError(f"replicas must be at least 1, got {replicas}")
        n_steps = energy.remaining // replicas  # per chain; a remainder below R stays unspent
        x0, warmup, diagnostics = self._start(system, n_steps, ctx)
        n_record = n_steps - warmup
        if n_record < 1:
            raise ValueError(f"MD needs a budget of at least {replicas} evaluations (one step of every replica) "
                             "after its warm-up")
        # Frames per chain, so that the R chains together give the evaluation samples.
        n_keep = min(-(-(ctx.n_eval_samples or n_record * replicas) // replicas), n_record)
        # Evenly spaced steps after the warm-up, ending at the last one: warmup + k * n_record / n_keep.
        record = warmup + np.unique(np.ceil(np.arange(1, n_keep + 1) * n_record / n_keep).astype(int))
        omm = system.create_openmm_system()
        masses = np.array([omm.getParticleMass(i)._value for i in range(omm.getNumParticles())])
        frames = run_langevin(
            energy,
            x0,
            masses,
            n_steps,
            record,
            kT=recipe.kT_kJ_per_mol,
            friction_per_ps=self.cfg.friction_per_ps or recipe.friction_per_ps,
            timestep_ps=(self.cfg.timestep_fs or recipe.timestep_fs) / 1000.0,
            rng=ctx.numpy_rng(),
        )
        # Time-major (step 1 of every chain, then step 2, ...): the evaluator's first n samples span all chains.
        positions = torch.from_numpy(frames.reshape(-1, *frames.shape[-2:]))
        if replicas > 1:
            diagnostics = {"replicas": replicas, **diagnostics}
        return Samples(positions=positions, set_name="md", diagnostics={"steps": n_steps, **diagnostics})
