"""OpenMM implementation of the target energy: the reference every faster one must match.

Platform choice, measured here (2 cores, batch 256, energy and forces, conformations per second;
tests/benchmarks/test_energy_throughput.py):

    system (atoms)         Reference   CPU, 1 thread, deterministic   CPU, 2 threads
    AA (23)                      763          791                            838
    ARIP (70)                    456          494                            627
    PGESTAES (100)               308          390                            481
    GYDPETGTWG (138)             217          290                            394
    Ace-A-Nme (22, capped)   ~15 000       ~1 100 (CPU platform)

The double-precision Reference platform is exact. The CPU platform evaluates nonbonded and GB
terms in single precision (about 5e-5 relative per term, ~1e-3 kJ/mol here); with one thread and
``DeterministicForces`` it repeats to the last bit, with more threads it does not. A benchmark
record must come out the same for the same seed, so ``"auto"`` takes the fastest repeatable
choice: Reference for the capped amber99sbildn systems (the native GBSAOBCForce, where Reference
is ~10x faster), and the one-thread deterministic CPU platform for the amber14/OBC1 systems (their
CustomGBForce is compiled there). ``threads`` > 1 trades repeatability for speed on large systems.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import openmm
import torch
from openmm import unit

from benchmark.energy.base import TargetEnergy, as_positions, output_device
from benchmark.errors import BgbenchError

log = logging.getLogger(__name__)

PLATFORMS = ("auto", "Reference", "CPU")


def choose_platform(uses_custom_gb: bool, requested: str = "auto") -> str:
    """Resolve a platform name; ``BGBENCH_OPENMM_PLATFORM`` overrides the default of "auto"."""
    requested = os.environ.get("BGBENCH_OPENMM_PLATFORM", requested) if requested == "auto" else requested
    if requested not in PLATFORMS:
        raise BgbenchError(f"Unknown OpenMM platform {requested!r}; choose one of {', '.join(PLATFORMS)}.")
    if requested != "auto":
        return requested
    return "CPU" if uses_custom_gb else "Reference"


class OpenMMEnergy(TargetEnergy):
    """Energies of one system in one OpenMM Context, conformation by conformation."""

    def __init__(self, system, platform: str = "auto", threads: int = 1):
        omm_system = system.create_openmm_system()
        uses_custom_gb = any(isinstance(f, openmm.CustomGBForce) for f in omm_system.getForces())
        self.platform_name = choose_platform(uses_custom_gb, platform)
        properties = {}
        if self.platform_name == "CPU":
            properties = {"Threads": str(int(threads)), "DeterministicForces": "true"}
        self._context = openmm.Context(
            omm_system,
            openmm.VerletIntegrator(0.001),
            openmm.Platform.getPlatformByName(self.platform_name),
            properties,
        )
        self.n_atoms = system.n_atoms
        self.kT_kJ_per_mol = system.kT_kJ_per_mol
        self.system_name = system.name
        self.threads = int(threads) if self.platform_name == "CPU" else 1

    def describe(self) -> dict:
        """Reference is double precision throughout; CPU computes nonbonded and GB terms in single precision."""
        return {
            "backend": "openmm",
            "precision": "float64" if self.platform_name == "Reference" else "mixed",
            "platform": self.platform_name,
            "threads": self.threads,
            "openmm": openmm.version.full_version,
        }

    def _evaluate(self, x, forces: bool) -> tuple[np.ndarray, np.ndarray | None]:
        pos = as_positions(x, self.n_atoms)
        energies = np.full(len(pos), np.inf)
        grads = np.zeros_like(pos) if forces else None
        bad = 0
        for i, conf in enumerate(pos):
            if not np.isfinite(conf).all():
                bad += 1
                continue
            try:
                self._context.setPositions(conf)
                state = self._context.getState(getEnergy=True, getForces=forces)
            except openmm.OpenMMException:
                bad += 1
                continue
            e = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole) / self.kT_kJ_per_mol
            if not np.isfinite(e):
                bad += 1
                continue
            energies[i] = e
            if forces:
                f = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
                f = np.asarray(f) / self.kT_kJ_per_mol
                if np.isfinite(f).all():
                    grads[i] = f
        if bad:
            log.warning("%s: %d of %d conformations had no finite energy; they get +inf", self.system_name, bad, len(pos))
        return energies, grads

    def energy(self, x) -> torch.Tensor:
        e, _ = self._evaluate(x, forces=False)
        return torch.from_numpy(e).to(output_device(x))

    def energy_and_forces(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        e, f = self._evaluate(x, forces=True)
        device = output_device(x)
        return torch.from_numpy(e).to(device), torch.from_numpy(f).to(device)

    def describe(self) -> dict:
        return {"backend": "openmm", "precision": "float64" if self.platform_name == "Reference" else "mixed",
                "platform": self.platform_name}
