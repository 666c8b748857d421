"""Score saved samples without loading a model: ``bgbench evaluate SAMPLES --task T --system S``.

Users of the reference codebases ask to evaluate samples they already have (and to keep their
energies). This runs the same Evaluator as ``bgbench run`` and writes a record whose method source
says "external": the harness did not draw these samples, so the energy evaluations the submitter
declares are shown as declared, never as counted. Saved energies are checked against the harness
energy on a random subset, so a file cannot bring its own (wrong) energies.

File layout (``.npz``, or ``.pt`` holding a dict of tensors): ``positions`` (M, N, 3) in nm, the
set to score; optional ``log_weights`` (M',) behind it, ``energies`` (M,) in kT of ``positions``,
``proposal`` (K, N, 3) nm, and ``set_name`` (a string; default "samples").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmark.adapter import Samples
from benchmark.errors import BgbenchError, InvalidSamplesError
from benchmark.io import atomic_save_npz, sha256_file
from benchmark.results import RunRecord, SystemResult

#: Energies in a file may differ from the harness's by this much (kT): single-precision OpenMM is ~1e-3.
ENERGY_TOLERANCE_KT = 0.05
ENERGY_CHECKS = 64
KNOWN_KEYS = ("positions", "log_weights", "energies", "proposal", "set_name")


@dataclass
class SavedSamples:
    positions: np.ndarray
    set_name: str = "samples"
    log_weights: np.ndarray | None = None
    energies: np.ndarray | None = None
    proposal: np.ndarray | None = None
    sha256: str = ""


def read_samples_file(path: Path) -> SavedSamples:
    """Read a saved-samples file (npz without pickles, or a weights-only torch file)."""
    path = Path(path)
    if not path.is_file():
        raise BgbenchError(f"No samples file at {path}.")
    digest = sha256_file(path)
    try:
        if path.suffix == ".pt":
            raw = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(raw, dict):
                raise BgbenchError(f"{path} must hold a dict of tensors with the keys {KNOWN_KEYS}.")
            data = {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in raw.items()}
        else:
            with np.load(path, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, RuntimeError) as err:
        raise BgbenchError(f"Cannot read {path}: {err}") from err
    unknown = sorted(set(data) - set(KNOWN_KEYS))
    if unknown or "positions" not in data:
        raise BgbenchError(f"{path} must have 'positions' and only the keys {KNOWN_KEYS}; found {sorted(data)}.")
    set_name = str(np.asarray(data.get("set_name", "samples")).reshape(()))
    opt = {k: _floats(data[k]) for k in ("log_weights", "energies", "proposal") if k in data}
    return SavedSamples(_floats(data["positions"]), set_name, sha256=digest, **opt)


def _floats(x) -> np.ndarray:
    """Floating arrays keep their precision (a run's float32 sets score exactly as in the run); others become float64."""
    arr = np.asarray(x)
    return arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)


def saved_sets_dir(record_path: Path) -> Path:
    """Where ``bgbench run --save-samples`` puts the scored sets of a record: ``<record>.sets/<system>.npz``."""
    record_path = Path(record_path)
    return record_path.with_name(record_path.name + ".sets")


def write_samples_file(path: Path, samples: Samples) -> Path:
    """Write the sets a run scored (final set, its log-weights, the proposal) in the layout ``bgbench evaluate`` reads."""
    arrays = {"positions": samples.positions.detach().cpu().numpy(), "set_name": np.array(samples.set_name)}
    if samples.log_weights is not None:
        arrays["log_weights"] = samples.log_weights.detach().cpu().numpy()
    if samples.proposal is not None:
        arrays["proposal"] = samples.proposal.detach().cpu().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_npz(path, **arrays)
    return path


def check_energies(saved: SavedSamples, target, rng: np.random.Generator, n_check: int = ENERGY_CHECKS) -> int:
    """Recompute the energies of a random subset; BgbenchError if any differs by more than the tolerance."""
    if saved.energies is None:
        return 0
    if saved.energies.shape != (len(saved.positions),):
        raise InvalidSamplesError(f"energies must have shape ({len(saved.positions)},), got {saved.energies.shape}.")
    idx = np.sort(rng.choice(len(saved.positions), size=min(n_check, len(saved.positions)), replace=False))
    mine = target.energy(torch.from_numpy(saved.positions[idx])).numpy()
    theirs = saved.energies[idx]
    for i, a, b in zip(idx, theirs, mine):
        same_inf = not math.isfinite(a) and not math.isfinite(b)
        if not same_inf and not abs(a - b) <= ENERGY_TOLERANCE_KT + 1e-6 * abs(b):
            raise BgbenchError(
                f"The saved energy of sample {i} is {a:.6g} kT but the harness computes {b:.6g} kT for it "
                f"(tolerance {ENERGY_TOLERANCE_KT} kT): the file's energies are not this task's energy function. "
                "Leave 'energies' out of the file, or compute them with the task's force field (kT = U / RT).")
    return len(idx)


def evaluate_saved(path: Path, task_name: str, system_name: str, tier: str = "quick", *, name: str | None = None,
                   declared_evaluations: int | None = None, fix_chirality: bool = True, seed: int = 0,
                   data_dir: Path | None = None, energy: str = "torch", platform: str = "auto") -> RunRecord:
    """Score a saved-samples file of one system; a record marked as externally sampled.

    ``energy`` and ``platform`` choose the target energy as for ``bgbench run --energy/--platform``.
    """
    from benchmark.data import content_hashes, load_reference
    from benchmark.energy import make_target_energy
    from benchmark.metrics import Evaluator
    from benchmark.provenance import environment
    from benchmark.tasks import get_task

    task = get_task(task_name)
    spec = task.system(system_name)
    protocol = task.protocol(tier)
    saved = read_samples_file(path)
    system = spec.build()
    reference = load_reference(task, tier, spec, data_dir=data_dir)
    target = make_target_energy(system, energy, platform=platform)  # as the runner builds its evaluation energy
    checked = check_energies(saved, target, np.random.default_rng(seed))
    samples = Samples(
        positions=torch.from_numpy(saved.positions), set_name=saved.set_name,
        log_weights=None if saved.log_weights is None else torch.from_numpy(saved.log_weights),
        proposal=None if saved.proposal is None else torch.from_numpy(saved.proposal),
    ).validate(system.n_atoms)
    evaluator = Evaluator(system, reference, energy=target, n_eval_samples=protocol.n_eval_samples,
                          fix_chirality=fix_chirality)
    metrics = evaluator.evaluate(samples)
    declared = {"declared": int(declared_evaluations)} if declared_evaluations is not None else {}
    result = SystemResult(
        status="ok", metrics={k: float(v) for k, v in metrics.items()}, energy_evaluations=declared,
        reference={"source": reference.source, "hashes": content_hashes(reference)},
        diagnostics={"external": {"file": Path(path).name, "sha256": saved.sha256, "energies_checked": checked}},
    )
    return RunRecord(
        method={"name": name or Path(path).stem, "version": "external", "description": "externally sampled",
                "config": {}, "source": "external"},
        task={"name": task.name, "version": task.version, "tier": tier}, protocol=protocol.to_dict(),
        budget=int(declared_evaluations or 0), seed=int(seed), sampler=None, evaluation=evaluator.settings,
        final_set=saved.set_name, systems={spec.name: result}, environment=environment(), energy=target.describe(),
        isolation="none", track="open",
    )


__all__ = ["SavedSamples", "check_energies", "evaluate_saved", "read_samples_file", "saved_sets_dir", "write_samples_file"]
