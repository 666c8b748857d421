"""``SystemSpec`` (what a task names) and ``System`` (the built molecule with its metadata)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import openmm
from openmm import app, unit

from benchmark.systems.builder import CAPPED, ZWITTERION, build_peptide, validate_sequence
from benchmark.systems.forcefields import ForceFieldRecipe
from benchmark.systems.orderings import all_permutations
from benchmark.systems.residues import CAP_ATOMS, ONE_TO_THREE, residue_atom_count

BACKBONE_HEAVY = frozenset({"N", "CA", "C", "O", "OXT"})


@dataclass(frozen=True)
class SystemSpec:
    """A molecule as a task names it: pure data, cheap to create, built on demand."""

    name: str
    sequence: str  # one-letter codes of the residues between the termini
    termini: str  # "zwitterion" or "capped" (ACE/NME)
    forcefield: ForceFieldRecipe
    split: str | None = None  # "val" / "test" for the transferable sets

    def __post_init__(self) -> None:
        validate_sequence(self.sequence, self.termini)

    @property
    def n_residues(self) -> int:
        return len(self.sequence) + (2 if self.termini == CAPPED else 0)

    @property
    def n_atoms(self) -> int:
        """The atom count of the built system, from the residue tables (no build: listing stays fast)."""
        free = self.termini != CAPPED
        last = len(self.sequence) - 1
        count = sum(residue_atom_count(ONE_TO_THREE[aa], free and i == 0, free and i == last)
                    for i, aa in enumerate(self.sequence))
        return count + (len(CAP_ATOMS["ACE"]) + len(CAP_ATOMS["NME"]) if not free else 0)

    def build(self) -> "System":
        return _build_cached(self)

    def describe(self) -> dict:
        """Plain-data summary for tables and records (no build needed)."""
        return {
            "name": self.name,
            "sequence": self.sequence,
            "termini": self.termini,
            "atoms": self.n_atoms,
            "residues": self.n_residues,
            "forcefield": self.forcefield.name,
            "temperature_K": self.forcefield.temperature_K,
            "split": self.split,
        }


@lru_cache(maxsize=64)
def _build_cached(spec: SystemSpec) -> "System":
    built = build_peptide(spec.sequence, spec.termini, spec.forcefield)
    return System(spec=spec, topology=built.topology, initial_positions=built.positions, amber_types=built.amber_types)


@dataclass(eq=False)
class System:
    """One molecule with hydrogens, in Amber template atom order, and what methods need to know."""

    spec: SystemSpec
    topology: app.Topology
    initial_positions: np.ndarray  # (N, 3) nm, the extended built structure
    amber_types: tuple[str, ...]
    _cache: dict = field(default_factory=dict, repr=False)

    # --- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def n_atoms(self) -> int:
        return self.topology.getNumAtoms()

    @property
    def temperature_K(self) -> float:
        return self.spec.forcefield.temperature_K

    @property
    def kT_kJ_per_mol(self) -> float:
        return self.spec.forcefield.kT_kJ_per_mol

    # --- per-atom metadata -----------------------------------------------------------------
    @cached_property
    def atom_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.topology.atoms())

    @cached_property
    def elements(self) -> tuple[str, ...]:
        return tuple(a.element.symbol for a in self.topology.atoms())

    @cached_property
    def residue_index(self) -> np.ndarray:
        return np.array([a.residue.index for a in self.topology.atoms()], dtype=np.int64)

    @cached_property
    def residue_names(self) -> tuple[str, ...]:
        """Three-letter residue name per atom (HIS for histidine, ACE / NME for caps)."""
        return tuple(a.residue.name for a in self.topology.atoms())

    @cached_property
    def backbone_mask(self) -> np.ndarray:
        """True for backbone heavy atoms (N, CA, C, O, OXT) and the heavy atoms of caps."""
        return np.array(
            [
                a.element.symbol != "H" and (a.name in BACKBONE_HEAVY or a.residue.name in CAP_ATOMS)
                for a in self.topology.atoms()
            ]
        )

    @cached_property
    def bonds(self) -> np.ndarray:
        """(n_bonds, 2) atom index pairs, in topology order."""
        return np.array([(a.index, b.index) for a, b in self.topology.bonds()], dtype=np.int64)

    # --- dihedrals -------------------------------------------------------------------------
    def _residue_atoms(self) -> list[tuple[str, dict[str, int]]]:
        return [(r.name, {a.name: a.index for a in r.atoms()}) for r in self.topology.residues()]

    def _dihedrals(self, names: tuple[tuple[int, str], ...]) -> np.ndarray:
        """Quadruples given as (residue offset, atom name) for every residue where all exist."""
        residues = self._residue_atoms()
        out = []
        for k in range(len(residues)):
            quad = []
            for offset, atom in names:
                j = k + offset
                if not 0 <= j < len(residues) or atom not in residues[j][1]:
                    break
                quad.append(residues[j][1][atom])
            else:
                out.append(quad)
        return np.array(out, dtype=np.int64).reshape(-1, 4)

    @cached_property
    def phi_indices(self) -> np.ndarray:
        """(n_phi, 4) atoms C(i-1), N(i), CA(i), C(i); the same set mdtraj's compute_phi finds."""
        return self._dihedrals(((-1, "C"), (0, "N"), (0, "CA"), (0, "C")))

    @cached_property
    def psi_indices(self) -> np.ndarray:
        """(n_psi, 4) atoms N(i), CA(i), C(i), N(i+1)."""
        return self._dihedrals(((0, "N"), (0, "CA"), (0, "C"), (1, "N")))

    @cached_property
    def omega_indices(self) -> np.ndarray:
        """(n_omega, 4) atoms CA(i), C(i), N(i+1), CA(i+1)."""
        return self._dihedrals(((0, "CA"), (0, "C"), (1, "N"), (1, "CA")))

    # --- orderings -------------------------------------------------------------------------
    @cached_property
    def orderings(self) -> dict[str, np.ndarray]:
        """The published atom permutations; the topology itself is in Amber template order."""
        return all_permutations(self._residue_atoms(), self.elements)

    @property
    def residue_by_residue_order(self) -> np.ndarray:
        return self.orderings["n2c_residue-by-residue_standard"]

    @property
    def backbone_first_order(self) -> np.ndarray:
        return self.orderings["n2c_backbone-first_standard"]

    # --- OpenMM objects --------------------------------------------------------------------
    def create_openmm_system(self) -> openmm.System:
        """A fresh OpenMM System with the task's force-field recipe."""
        return self.spec.forcefield.create_system(self.topology)

    @cached_property
    def mdtraj_topology(self):
        import mdtraj

        return mdtraj.Topology.from_openmm(self.topology)

    @property
    def minimized_positions(self) -> np.ndarray:
        """Local energy minimum near the built structure (Reference platform, deterministic)."""
        if "minimized" not in self._cache:
            system = self.create_openmm_system()
            context = openmm.Context(
                system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference")
            )
            context.setPositions(self.initial_positions * unit.nanometer)
            openmm.LocalEnergyMinimizer.minimize(context, 1.0, 5000)
            pos = context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
            self._cache["minimized"] = np.asarray(pos, dtype=np.float64)
        return self._cache["minimized"].copy()

    def describe(self) -> dict:
        """Plain-data summary for tables and records."""
        return self.spec.describe()


def to_pdb_string(system: System, positions_nm: np.ndarray | None = None) -> str:
    """PDB text of the system (for viewers and for mdtraj)."""
    import io

    pos = system.initial_positions if positions_nm is None else positions_nm
    buf = io.StringIO()
    app.PDBFile.writeFile(system.topology, pos * unit.nanometer, buf)
    return buf.getvalue()


__all__ = ["SystemSpec", "System", "ZWITTERION", "CAPPED", "to_pdb_string"]
