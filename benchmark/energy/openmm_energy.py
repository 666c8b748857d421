"""OpenMM implementation of the target energy: the reference every faster one must match.

Platform choice (measured in tests/benchmarks/test_energy_throughput.py; figures in README):
the double-precision Reference platform is exact and repeatable to the last bit; the CPU
platform evaluates nonbonded and GB terms in single precision (about 5e-5 relative error per
term on these systems) and is not bitwise repeatable. For the capped amber99sbildn systems the
Reference platform is also the fastest by far. For the amber14/OBC1 systems the CPU platform
is faster (its CustomGBForce is compiled), by a factor that grows with size: measured here
(2 cores, batch 256, E+F) 770 vs 830 /s for AA (23 atoms), 244 vs 457 /s for an 8-mer (121 atoms),
224 vs 378 /s for chignolin (138 atoms); ALDP (capped) 15 200 /s on Reference vs 1 100 /s on CPU. ``"auto"`` picks
Reference unless the system uses the CustomGBForce and has at least ``AUTO_CPU_MIN_ATOMS`` atoms.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import openmm
import torch
from openmm import unit

from benchmark.energy.base import TargetEnergy, as_positions
from benchmark.errors import BgbenchError

log = logging.getLogger(__name__)

PLATFORMS = ("auto", "Reference", "CPU")
#: Size from which "auto" prefers the (single precision, faster) CPU platform for CustomGB systems.
AUTO_CPU_MIN_ATOMS = 100


def choose_platform(n_atoms: int, uses_custom_gb: bool, requested: str = "auto") -> str:
    """Resolve a platform name; ``BGBENCH_OPENMM_PLATFORM`` overrides the default of "auto"."""
    requested = os.environ.get("BGBENCH_OPENMM_PLATFORM", requested) if requested == "auto" else requested
    if requested not in PLATFORMS:
        raise BgbenchError(f"Unknown OpenMM platform {requested!r}; choose one of {', '.join(PLATFORMS)}.")
    if requested != "auto":
        return requested
    return "CPU" if uses_custom_gb and n_atoms >= AUTO_CPU_MIN_ATOMS else "Reference"


class OpenMMEnergy(TargetEnergy):
    """Energies of one system in one OpenMM Context, conformation by conformation."""

    def __init__(self, system, platform: str = "auto", threads: int | None = None):
        omm_system = system.create_openmm_system()
        uses_custom_gb = any(isinstance(f, openmm.CustomGBForce) for f in omm_system.getForces())
        self.platform_name = choose_platform(system.n_atoms, uses_custom_gb, platform)
        properties = {}
        if self.platform_name == "CPU" and threads is not None:
            properties["Threads"] = str(threads)
        self._context = openmm.Context(
            omm_system,
            openmm.VerletIntegrator(0.001),
            openmm.Platform.getPlatformByName(self.platform_name),
            properties,
        )
        self.n_atoms = system.n_atoms
        self.kT_kJ_per_mol = system.kT_kJ_per_mol
        self.system_name = system.name

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
        return torch.from_numpy(e)

    def energy_and_forces(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        e, f = self._evaluate(x, forces=True)
        return torch.from_numpy(e), torch.from_numpy(f)
