"""Residue chemistry tables: one-letter codes and per-residue atom groupings.

The atom names are those of an OpenMM topology after ``Modeller.addHydrogens`` (N-terminal
hydrogens ``H, H2, H3``; histidine in its epsilon-protonated form ``HIE`` but named ``HIS``).
The side-chain orders walk outward from CB, each heavy atom followed by its hydrogens; the
"variant" order reverses rings or swaps branches. They are the orderings the published flow
models use (see specs/flows-and-protocol.md section 4.4); bgbench derives permutations from
them in ``systems.orderings``.
"""

from __future__ import annotations

ONE_TO_THREE: dict[str, str] = {
    "A": "ALA", "C": "CYS", "D": "ASP", "E": "GLU", "F": "PHE",
    "G": "GLY", "H": "HIS", "I": "ILE", "K": "LYS", "L": "LEU",
    "M": "MET", "N": "ASN", "P": "PRO", "Q": "GLN", "R": "ARG",
    "S": "SER", "T": "THR", "V": "VAL", "W": "TRP", "Y": "TYR",
}
THREE_TO_ONE: dict[str, str] = {three: one for one, three in ONE_TO_THREE.items()}

#: Protonation variant handed to ``Modeller.addHydrogens``. Histidine is forced to HIE, the
#: tLEaP default used for ManyPeptidesMD; every other residue keeps OpenMM's pH 7 choice
#: (charged Asp, Glu, Lys, Arg; neutral Cys), which matches the tLEaP defaults.
PROTONATION_VARIANT: dict[str, str] = {"HIS": "HIE"}

#: Backbone atoms that come before the side chain when walking N to C, and after it.
BACKBONE_BEFORE: tuple[str, ...] = ("N", "H", "H2", "H3", "CA", "HA", "HA2", "HA3")
BACKBONE_AFTER: tuple[str, ...] = ("C", "O", "OXT")

#: Cap residues: every atom counts as backbone. Order is the Amber template order.
CAP_ATOMS: dict[str, tuple[str, ...]] = {
    "ACE": ("H1", "CH3", "H2", "H3", "C", "O"),
    "NME": ("N", "H", "C", "H1", "H2", "H3"),
}

_SIDE_CHAINS_STANDARD: dict[str, str] = {
    "ALA": "CB HB1 HB2 HB3",
    "ARG": "CB HB2 HB3 CG HG2 HG3 CD HD2 HD3 NE HE CZ NH1 HH11 HH12 NH2 HH21 HH22",
    "ASN": "CB HB2 HB3 CG OD1 ND2 HD21 HD22",
    "ASP": "CB HB2 HB3 CG OD1 OD2",
    "CYS": "CB HB2 HB3 SG HG",
    "GLN": "CB HB2 HB3 CG HG2 HG3 CD OE1 NE2 HE21 HE22",
    "GLU": "CB HB2 HB3 CG HG2 HG3 CD OE1 OE2",
    "GLY": "",
    "HIS": "CB HB2 HB3 CG ND1 CE1 HE1 NE2 HE2 CD2 HD2",
    "ILE": "CB HB CG2 HG21 HG22 HG23 CG1 HG12 HG13 CD1 HD11 HD12 HD13",
    "LEU": "CB HB2 HB3 CG HG CD1 HD11 HD12 HD13 CD2 HD21 HD22 HD23",
    "LYS": "CB HB2 HB3 CG HG2 HG3 CD HD2 HD3 CE HE2 HE3 NZ HZ1 HZ2 HZ3",
    "MET": "CB HB2 HB3 CG HG2 HG3 SD CE HE1 HE2 HE3",
    "PHE": "CB HB2 HB3 CG CD1 HD1 CE1 HE1 CZ HZ CE2 HE2 CD2 HD2",
    "PRO": "CB HB2 HB3 CG HG2 HG3 CD HD2 HD3",
    "SER": "CB HB2 HB3 OG HG",
    "THR": "CB HB OG1 HG1 CG2 HG21 HG22 HG23",
    "TRP": "CB HB2 HB3 CG CD1 HD1 NE1 HE1 CE2 CZ2 HZ2 CH2 HH2 CZ3 HZ3 CE3 HE3 CD2",
    "TYR": "CB HB2 HB3 CG CD1 HD1 CE1 HE1 CZ OH HH CE2 HE2 CD2 HD2",
    "VAL": "CB HB CG1 HG11 HG12 HG13 CG2 HG21 HG22 HG23",
}

# Only residues whose variant differs from the standard order are listed.
_SIDE_CHAINS_VARIANT: dict[str, str] = {
    "HIS": "CB HB2 HB3 CG CD2 HD2 NE2 HE2 CE1 HE1 ND1",
    "ILE": "CB HB CG1 HG12 HG13 CD1 HD11 HD12 HD13 CG2 HG21 HG22 HG23",
    "LEU": "CB HB2 HB3 CG HG CD2 HD21 HD22 HD23 CD1 HD11 HD12 HD13",
    "PHE": "CB HB2 HB3 CG CD2 HD2 CE2 HE2 CZ HZ CE1 HE1 CD1 HD1",
    "PRO": "CD HD2 HD3 CG HG2 HG3 CB HB2 HB3",
    "THR": "CB HB CG2 HG21 HG22 HG23 OG1 HG1",
    "TRP": "CB HB2 HB3 CG CD2 CE3 HE3 CZ3 HZ3 CH2 HH2 CZ2 HZ2 CE2 NE1 HE1 CD1 HD1",
    "TYR": "CB HB2 HB3 CG CD2 HD2 CE2 HE2 CZ OH HH CE1 HE1 CD1 HD1",
    "VAL": "CB HB CG2 HG21 HG22 HG23 CG1 HG11 HG12 HG13",
}


def side_chain(residue: str, variant: str = "standard") -> tuple[str, ...]:
    """Side-chain atom names of a standard residue (three-letter name) in the given order."""
    if variant not in ("standard", "variant"):
        raise ValueError(f"variant must be 'standard' or 'variant', not {variant!r}")
    table = _SIDE_CHAINS_VARIANT if variant == "variant" and residue in _SIDE_CHAINS_VARIANT else _SIDE_CHAINS_STANDARD
    return tuple(table[residue].split())


def residue_atom_count(residue: str, n_terminal: bool, c_terminal: bool) -> int:
    """Atoms of one residue in a built peptide: backbone N CA C O, its H atoms and the side chain.

    N-H is absent in proline; a free (zwitterionic) N-terminus carries three H (two on proline);
    a free C-terminus adds OXT. Glycine has HA2 and HA3 instead of HA. Counting from these tables
    gives a system's size without building it (the build takes over a second per peptide).
    """
    heavy = 4  # N CA C O
    alpha_h = 2 if residue == "GLY" else 1
    if n_terminal:
        amide_h = 2 if residue == "PRO" else 3
    else:
        amide_h = 0 if residue == "PRO" else 1
    return heavy + alpha_h + amide_h + len(side_chain(residue)) + (1 if c_terminal else 0)
