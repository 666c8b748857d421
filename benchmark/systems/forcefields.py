"""Force-field recipes: how each task's energy and MD were defined in the papers.

Two recipes exist in the literature this benchmark follows (specs/flows-and-protocol.md
section 1, specs/openmm-energy.md section 1):

* ``amber14-obc1``: zwitterionic peptides (AL3, AL6, chignolin, ManyPeptidesMD). Amber ff14SB with
  the OBC1 generalized-Born model from ``implicit/obc1.xml``, ``CutoffNonPeriodic`` at 2.0 nm, no
  constraints, 310 K; MD with LangevinMiddle at 0.3 / ps and 1 fs.
* ``amber99sbildn-obc``: capped peptides (ALDP = Ace-A-Nme, AL4 = Ace-AAA-Nme). Amber99SB-ILDN with
  ``amber99_obc.xml`` (the C++ GBSAOBCForce, OBC2), ``NoCutoff``, no constraints, 300 K; MD with
  LangevinMiddle at 1 fs and friction 1.0 / ps for ALDP, 0.3 / ps for AL4.

Temperatures enter the energy only through kT = R T with OpenMM's own molar gas constant.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import openmm
from openmm import app, unit


@dataclass(frozen=True)
class ForceFieldRecipe:
    """Everything needed to turn a topology into an OpenMM System and an MD integrator."""

    name: str
    files: tuple[str, ...]
    nonbonded_method: str  # "CutoffNonPeriodic" or "NoCutoff"
    cutoff_nm: float | None
    temperature_K: float
    friction_per_ps: float
    timestep_fs: float

    @property
    def kT_kJ_per_mol(self) -> float:
        """kT in kJ/mol, computed with OpenMM's MOLAR_GAS_CONSTANT_R (the papers' convention)."""
        return (unit.MOLAR_GAS_CONSTANT_R * self.temperature_K * unit.kelvin).value_in_unit(unit.kilojoule_per_mole)

    @cached_property
    def forcefield(self) -> app.ForceField:
        return app.ForceField(*self.files)

    def create_system(self, topology: app.Topology) -> openmm.System:
        """Build the OpenMM System exactly as the published energy definition does."""
        kwargs: dict = {"nonbondedMethod": getattr(app, self.nonbonded_method), "constraints": None}
        if self.cutoff_nm is not None:
            kwargs["nonbondedCutoff"] = self.cutoff_nm * unit.nanometer
        return self.forcefield.createSystem(topology, **kwargs)

    def integrator(self, seed: int | None = None) -> openmm.LangevinMiddleIntegrator:
        """The published MD integrator; ``seed`` makes the random forces repeatable."""
        integ = openmm.LangevinMiddleIntegrator(
            self.temperature_K * unit.kelvin,
            self.friction_per_ps / unit.picosecond,
            self.timestep_fs * unit.femtosecond,
        )
        if seed is not None:
            integ.setRandomNumberSeed(int(seed) % (2**31 - 1) or 1)
        return integ

    def describe(self) -> dict:
        """Plain-data description for records and data cards."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def with_friction(self, friction_per_ps: float) -> "ForceFieldRecipe":
        return dataclasses.replace(self, friction_per_ps=friction_per_ps)


AMBER14_OBC1 = ForceFieldRecipe(
    name="amber14-obc1",
    files=("amber14-all.xml", "implicit/obc1.xml"),
    nonbonded_method="CutoffNonPeriodic",
    cutoff_nm=2.0,
    temperature_K=310.0,
    friction_per_ps=0.3,
    timestep_fs=1.0,
)

AMBER99SBILDN_OBC = ForceFieldRecipe(
    name="amber99sbildn-obc",
    files=("amber99sbildn.xml", "tip3p.xml", "amber99_obc.xml"),
    nonbonded_method="NoCutoff",
    cutoff_nm=None,
    temperature_K=300.0,
    friction_per_ps=0.3,
    timestep_fs=1.0,
)

RECIPES: dict[str, ForceFieldRecipe] = {r.name: r for r in (AMBER14_OBC1, AMBER99SBILDN_OBC)}
