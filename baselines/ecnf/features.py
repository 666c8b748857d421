"""Per-atom conditioning of the ECNF++ vector field (specs/flows-and-protocol.md 4.8).

Single system: each atom is a one-hot "class"; classes are atom indices with some hydrogen triples
merged into one class (the class id is the group's middle index, the one-hot width is the largest
id + 1). Two rules say which triples:

* ``published``: the index groups of the published models, fixed per atom count (22, 33, 42, 63),
  which refer to the atom order of the SBG data set's PDB files (spec 7: not recorded). bgbench's
  ALDP, AL4 and AL6 orders put the groups on the same atoms, including the published quirk that
  on the ACE cap the group {1, 2, 3} is CH3 with two of its hydrogens; on AL3 bgbench's order
  differs (the group {9, 10, 11} falls on HB3, C, O). Needed to use published weights; the
  method records which atoms each group covers (``group_atoms``).
* ``topology``: every three hydrogens bonded to one heavy atom (methyl, ammonium) from the
  system's own bonds. Same widths as ``published`` on the four systems, chemistry in bgbench order.

Transferable: [one_hot(atom_type - 1, 54), one_hot(aa_pos - 1, num_aa_max), one_hot(aa_type - 1, 20),
one_hot(seq_len - num_aa_min, lengths) if more than one length] per atom, zero on padding; the
vector field appends time. up_to_4aa: 54 + 4 + 20 + 3 = 81 features (+ t = 82 inputs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.errors import BgbenchError

if TYPE_CHECKING:
    from benchmark.systems import System

NUM_ATOM_TYPES = 54
NUM_RESIDUE_TYPES = 20

#: Published merged hydrogen index groups per atom count (spec 4.8).
PUBLISHED_GROUPS: dict[int, tuple[tuple[int, int, int], ...]] = {
    22: ((1, 2, 3), (11, 12, 13), (19, 20, 21)),
    33: ((1, 2, 3), (9, 10, 11), (19, 20, 21), (29, 30, 31)),
    42: ((1, 2, 3), (11, 12, 13), (21, 22, 23), (31, 32, 33), (39, 40, 41)),
    63: ((1, 2, 3), (7, 8, 9), (17, 18, 19), (27, 28, 29), (37, 38, 39), (47, 48, 49), (57, 58, 59)),
}
ClassRule = Literal["published", "topology"]


def hydrogen_triples(system: "System") -> tuple[tuple[int, int, int], ...]:
    """Groups of exactly three hydrogens bonded to one heavy atom (methyl, NH3+), sorted by index."""
    hydrogens: dict[int, list[int]] = {}
    for a, b in system.topology.bonds():
        for heavy, light in ((a, b), (b, a)):
            if light.element is not None and light.element.symbol == "H" and (heavy.element is None or heavy.element.symbol != "H"):
                hydrogens.setdefault(heavy.index, []).append(light.index)
    return tuple(sorted(tuple(sorted(h)) for h in hydrogens.values() if len(h) == 3))  # type: ignore[misc]


def class_groups(system: "System", rule: ClassRule) -> tuple[tuple[int, ...], ...]:
    """The merged index groups of ``system`` under ``rule`` (BgbenchError for an unsupported atom count)."""
    if rule == "topology":
        return hydrogen_triples(system)
    if system.n_atoms not in PUBLISHED_GROUPS:
        raise BgbenchError(f"ECNF++'s published atom classes exist for 22, 33, 42 or 63 atoms, not {system.n_atoms} "
                           f"({system.name}); use --config atom_classes=topology.")
    return PUBLISHED_GROUPS[system.n_atoms]


def atom_classes(n_atoms: int, groups: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """Class id per atom: its own index, or the middle index of its merged group."""
    ids = np.arange(n_atoms)
    for group in groups:
        ids[list(group)] = sorted(group)[len(group) // 2]
    return ids


def single_system_features(system: "System", rule: ClassRule) -> torch.Tensor:
    """(1, N, width) float one-hot classes of one system."""
    ids = torch.as_tensor(atom_classes(system.n_atoms, class_groups(system, rule)))
    return F.one_hot(ids, int(ids.max()) + 1).float()[None]


def group_atoms(system: "System", rule: ClassRule) -> list[list[str]]:
    """Atom names of each merged group on the system's topology (what the classes mean here)."""
    atoms = list(system.topology.atoms())
    return [[f"{atoms[i].residue.name}{atoms[i].residue.index + 1}:{atoms[i].name}" for i in g] for g in class_groups(system, rule)]


def transferable_width(num_aa_min: int, num_aa_max: int) -> int:
    """Feature count of the transferable conditioning (without time)."""
    lengths = num_aa_max - num_aa_min + 1
    return NUM_ATOM_TYPES + num_aa_max + NUM_RESIDUE_TYPES + (lengths if lengths > 1 else 0)


def transferable_features(encodings: dict[str, Any], mask: torch.Tensor, num_aa_min: int, num_aa_max: int) -> torch.Tensor:
    """(B, L, width) float features from padded encodings (atom_type, aa_pos, aa_type (B, L), seq_len (B,)).

    Padding indices are clamped to 0 before the one-hot and then zeroed by the mask, as in the
    reference. A peptide outside [num_aa_min, num_aa_max] residues is refused: its residue position
    or length has no column.
    """
    seq_len = torch.as_tensor(encodings["seq_len"]).reshape(-1)
    if bool(((seq_len < num_aa_min) | (seq_len > num_aa_max)).any()):
        raise BgbenchError(f"This ECNF++ model covers peptides of {num_aa_min} to {num_aa_max} residues, "
                           f"got lengths {sorted(set(seq_len.tolist()))}.")
    parts = [
        F.one_hot((torch.as_tensor(encodings["atom_type"]) - 1).clamp_min(0), NUM_ATOM_TYPES),
        F.one_hot((torch.as_tensor(encodings["aa_pos"]) - 1).clamp_min(0), num_aa_max),
        F.one_hot((torch.as_tensor(encodings["aa_type"]) - 1).clamp_min(0), NUM_RESIDUE_TYPES),
    ]
    lengths = num_aa_max - num_aa_min + 1
    if lengths > 1:
        length_ids = (seq_len - num_aa_min)[:, None].expand(-1, mask.shape[1])
        parts.append(F.one_hot(length_ids, lengths))
    return torch.cat(parts, dim=-1).float() * mask.to(torch.float32)[..., None]


def system_encodings(system: "System") -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The encodings of one unpadded system as a batch of one, and its all-true mask."""
    from baselines.toolkit.coordinates import pad_encodings
    from benchmark.systems.encodings import atom_encodings

    enc = pad_encodings([atom_encodings(system)], system.n_atoms)
    return enc, torch.ones(1, system.n_atoms, dtype=torch.bool)


__all__ = ["ClassRule", "NUM_ATOM_TYPES", "NUM_RESIDUE_TYPES", "PUBLISHED_GROUPS", "atom_classes", "class_groups",
           "group_atoms", "hydrogen_triples", "single_system_features", "system_encodings", "transferable_features",
           "transferable_width"]
