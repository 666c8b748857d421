"""Every parameter of the batched torch energy, read from an OpenMM System by force type.

Why from the System and not from the force-field files: OpenMM has already applied unit
conversions, atom order, 1-4 scaling and the GB radii there (specs/openmm-energy.md section 5.3),
so reading ``get*Parameters`` is the one way to compute the same function as OpenMM.

Supported forces: HarmonicBondForce, HarmonicAngleForce, PeriodicTorsionForce (proper and
improper), NonbondedForce (NoCutoff or CutoffNonPeriodic reaction field, exceptions),
GBSAOBCForce (the C++ OBC2) and the Amber OBC templates of ``openmm.app.internal.customgbforces``
as CustomGBForce (OBC1 / OBC2, optional ACE term); CMMotionRemover has no energy. Anything else
raises ``UnsupportedForceError`` instead of being skipped, because a skipped term would give a
different distribution without any sign of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import openmm
from openmm import unit

from benchmark.errors import UnsupportedForceError

#: Coulomb constant of NonbondedForce and GBSAOBCForce (OpenMM's ONE_4PI_EPS0, spec section 0).
ONE_4PI_EPS0 = 138.93545764438198
#: The C++ GBSAOBCForce subtracts this fixed dielectric offset from every radius (ObcParameters).
OBC_DIELECTRIC_OFFSET = 0.009
#: Probe radius of the ACE surface term, nm (both GB implementations).
ACE_PROBE_RADIUS = 0.14

_IGNORED = (openmm.CMMotionRemover,)  # no energy, no forces


@dataclass
class Bonded:
    """Bonds, angles and torsions as index arrays with per-term parameters."""

    bonds: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    bond_r0: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bond_k: np.ndarray = field(default_factory=lambda: np.zeros(0))
    angles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    angle_theta0: np.ndarray = field(default_factory=lambda: np.zeros(0))
    angle_k: np.ndarray = field(default_factory=lambda: np.zeros(0))
    torsions: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    torsion_n: np.ndarray = field(default_factory=lambda: np.zeros(0))
    torsion_phase: np.ndarray = field(default_factory=lambda: np.zeros(0))
    torsion_k: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class Nonbonded:
    """Lennard-Jones and Coulomb: per-particle parameters plus the exception list."""

    charge: np.ndarray
    sigma: np.ndarray
    epsilon: np.ndarray
    exception_pairs: np.ndarray  # (n_exc, 2): every pair removed from the normal sum
    exception_qq: np.ndarray  # chargeProd of each exception
    exception_sigma: np.ndarray
    exception_epsilon: np.ndarray
    cutoff: float | None  # None for NoCutoff
    krf: float = 0.0  # reaction field: E_C = k q q (1/r + krf r^2 - crf) for r <= cutoff
    crf: float = 0.0


@dataclass
class GB:
    """Generalized Born (OBC) with an optional ACE surface term, for either implementation."""

    source: str  # "GBSAOBCForce" or "CustomGBForce(OBC1)" / "CustomGBForce(OBC2)"
    charge: np.ndarray
    offset_radius: np.ndarray  # rho = R - offset
    scaled_radius: np.ndarray  # s = S * rho
    radius: np.ndarray  # R, used in B
    surface_radius: np.ndarray  # R of the ACE term (the CustomGBForce adds its offset once more, equal to 1 ulp)
    alpha: float
    beta: float
    gamma: float
    k_coulomb: float  # 138.935485 in the CustomGBForce templates, ONE_4PI_EPS0 in the C++ force
    tau: float  # 1/eps_solute - 1/eps_solvent
    surface_coefficient: float  # A of E_SA = A (R + 0.14)^2 (R/B)^6; 0 without a surface term
    cutoff: float | None
    cutoff_inclusive: bool  # GBSAOBCForce keeps r == cutoff, CustomGBForce drops it
    step_inclusive: bool  # Born integral switch rho <= r + s (Lepton step) instead of rho < r + s (C++)
    buried_correction: bool  # the C++ adds 1/rho - 1/L when atom i lies inside atom j


@dataclass
class EnergyParameters:
    """Everything the torch energy evaluates, in kJ/mol, nm, radians and elementary charges."""

    n_atoms: int
    bonded: Bonded
    nonbonded: Nonbonded | None
    gb: GB | None
    forces: tuple[str, ...]  # class names of the forces read, in System order


def extract_parameters(system: openmm.System) -> EnergyParameters:
    """Read every energy term of ``system``; raise ``UnsupportedForceError`` on anything unknown."""
    n = system.getNumParticles()
    if any(system.isVirtualSite(i) for i in range(n)):
        raise UnsupportedForceError("The System has virtual sites, which the torch energy does not place; use backend='openmm'.")
    bonded = Bonded()
    parts: dict[str, list] = {"bonds": [], "angles": [], "torsions": []}
    nonbonded = gb = None
    names = []
    for force in system.getForces():
        names.append(type(force).__name__)
        if isinstance(force, _IGNORED):
            continue
        if force.usesPeriodicBoundaryConditions():
            raise UnsupportedForceError(f"{type(force).__name__} uses periodic boundary conditions, which the torch energy does not implement.")
        if isinstance(force, openmm.HarmonicBondForce):
            parts["bonds"].append(_bonds(force))
        elif isinstance(force, openmm.HarmonicAngleForce):
            parts["angles"].append(_angles(force))
        elif isinstance(force, openmm.PeriodicTorsionForce):
            parts["torsions"].append(_torsions(force))
        elif isinstance(force, openmm.NonbondedForce):
            if nonbonded is not None:
                raise UnsupportedForceError("The System has two NonbondedForces; the torch energy supports one.")
            nonbonded = _nonbonded(force)
        elif isinstance(force, openmm.GBSAOBCForce):
            if gb is not None:
                raise UnsupportedForceError("The System has two GB forces; the torch energy supports one.")
            gb = _gbsaobc(force)
        elif isinstance(force, openmm.CustomGBForce):
            if gb is not None:
                raise UnsupportedForceError("The System has two GB forces; the torch energy supports one.")
            gb = _custom_obc(force)
        else:
            raise UnsupportedForceError(
                f"The System contains a {type(force).__name__}, which the torch energy does not implement; "
                "use backend='openmm' for this system or add the term to benchmark/energy/torch_params.py."
            )
    if parts["bonds"]:
        bonded.bonds, bonded.bond_r0, bonded.bond_k = (np.concatenate(a) for a in zip(*parts["bonds"]))
    if parts["angles"]:
        bonded.angles, bonded.angle_theta0, bonded.angle_k = (np.concatenate(a) for a in zip(*parts["angles"]))
    if parts["torsions"]:
        t = [np.concatenate(a) for a in zip(*parts["torsions"])]
        bonded.torsions, bonded.torsion_n, bonded.torsion_phase, bonded.torsion_k = t
    return EnergyParameters(n, bonded, nonbonded, gb, tuple(names))


def _value(q, u) -> float:
    return q.value_in_unit(u) if unit.is_quantity(q) else float(q)


def _bonds(force: openmm.HarmonicBondForce):
    rows = [force.getBondParameters(i) for i in range(force.getNumBonds())]
    idx = np.array([(a, b) for a, b, _, _ in rows], dtype=np.int64).reshape(-1, 2)
    r0 = np.array([_value(r, unit.nanometer) for _, _, r, _ in rows])
    k = np.array([_value(k, unit.kilojoule_per_mole / unit.nanometer**2) for *_, k in rows])
    return idx, r0, k


def _angles(force: openmm.HarmonicAngleForce):
    rows = [force.getAngleParameters(i) for i in range(force.getNumAngles())]
    idx = np.array([r[:3] for r in rows], dtype=np.int64).reshape(-1, 3)
    theta0 = np.array([_value(r[3], unit.radian) for r in rows])
    k = np.array([_value(r[4], unit.kilojoule_per_mole / unit.radian**2) for r in rows])
    return idx, theta0, k


def _torsions(force: openmm.PeriodicTorsionForce):
    rows = [force.getTorsionParameters(i) for i in range(force.getNumTorsions())]
    idx = np.array([r[:4] for r in rows], dtype=np.int64).reshape(-1, 4)
    n = np.array([float(r[4]) for r in rows])
    phase = np.array([_value(r[5], unit.radian) for r in rows])
    k = np.array([_value(r[6], unit.kilojoule_per_mole) for r in rows])
    return idx, n, phase, k


def _nonbonded(force: openmm.NonbondedForce) -> Nonbonded:
    method = force.getNonbondedMethod()
    if method not in (openmm.NonbondedForce.NoCutoff, openmm.NonbondedForce.CutoffNonPeriodic):
        raise UnsupportedForceError(f"NonbondedForce method {method} is periodic; the torch energy implements NoCutoff and CutoffNonPeriodic.")
    if force.getNumGlobalParameters() or force.getNumParticleParameterOffsets() or force.getNumExceptionParameterOffsets():
        raise UnsupportedForceError("NonbondedForce parameter offsets / global parameters are not implemented in the torch energy.")
    cutoff = None
    krf = crf = 0.0
    if method == openmm.NonbondedForce.CutoffNonPeriodic:
        if force.getUseSwitchingFunction():
            raise UnsupportedForceError("NonbondedForce switching functions are not implemented in the torch energy.")
        cutoff = _value(force.getCutoffDistance(), unit.nanometer)
        eps_rf = force.getReactionFieldDielectric()
        krf = (eps_rf - 1.0) / (2.0 * eps_rf + 1.0) / cutoff**3
        crf = 3.0 * eps_rf / (2.0 * eps_rf + 1.0) / cutoff
    n = force.getNumParticles()
    rows = [force.getParticleParameters(i) for i in range(n)]
    charge = np.array([_value(q, unit.elementary_charge) for q, _, _ in rows])
    sigma = np.array([_value(s, unit.nanometer) for _, s, _ in rows])
    epsilon = np.array([_value(e, unit.kilojoule_per_mole) for *_, e in rows])
    exc = [force.getExceptionParameters(i) for i in range(force.getNumExceptions())]
    pairs = np.array([(min(a, b), max(a, b)) for a, b, *_ in exc], dtype=np.int64).reshape(-1, 2)
    qq = np.array([_value(r[2], unit.elementary_charge**2) for r in exc])
    es = np.array([_value(r[3], unit.nanometer) for r in exc])
    ee = np.array([_value(r[4], unit.kilojoule_per_mole) for r in exc])
    return Nonbonded(charge, sigma, epsilon, pairs, qq, es, ee, cutoff, krf, crf)


def _gbsaobc(force: openmm.GBSAOBCForce) -> GB:
    """The C++ force is always OBC type II (alpha, beta, gamma = 1, 0.8, 4.85; ReferenceObc / ObcParameters)."""
    method = force.getNonbondedMethod()
    if method not in (openmm.GBSAOBCForce.NoCutoff, openmm.GBSAOBCForce.CutoffNonPeriodic):
        raise UnsupportedForceError(f"GBSAOBCForce method {method} is periodic; the torch energy implements NoCutoff and CutoffNonPeriodic.")
    rows = [force.getParticleParameters(i) for i in range(force.getNumParticles())]
    charge = np.array([_value(q, unit.elementary_charge) for q, _, _ in rows])
    radius = np.array([_value(r, unit.nanometer) for _, r, _ in rows])
    scale = np.array([float(s) for *_, s in rows])
    rho = radius - OBC_DIELECTRIC_OFFSET
    cutoff = _value(force.getCutoffDistance(), unit.nanometer) if method == openmm.GBSAOBCForce.CutoffNonPeriodic else None
    area = _value(force.getSurfaceAreaEnergy(), unit.kilojoule_per_mole / unit.nanometer**2)
    return GB(
        source="GBSAOBCForce", charge=charge, offset_radius=rho, scaled_radius=scale * rho, radius=radius,
        surface_radius=radius,
        alpha=1.0, beta=0.8, gamma=4.85, k_coulomb=ONE_4PI_EPS0,
        tau=1.0 / force.getSoluteDielectric() - 1.0 / force.getSolventDielectric(),
        surface_coefficient=4.0 * np.pi * area, cutoff=cutoff, cutoff_inclusive=True, step_inclusive=False,
        buried_correction=True,
    )


# --- CustomGBForce: the Amber OBC templates of openmm.app.internal.customgbforces -------------------
_NUM = r"([-+0-9.eE]+)"
_I_EXPR = (
    "select(step(r+sr2-or1), 0.5*(1/L-1/U+0.25*(r-sr2^2/r)*(1/(U^2)-1/(L^2))+0.5*log(L/U)/r), 0);"
    "U=r+sr2;L=max(or1, D);D=abs(r-sr2)"
)
_B_OBC1 = re.compile(r"^1/\(1/or-tanh\(" + _NUM + r"\*psi\+" + _NUM + r"\*psi\^3\)/radius\);psi=I\*or; radius=or\+offset; offset=" + _NUM + "$")
_B_OBC2 = re.compile(r"^1/\(1/or-tanh\(psi-" + _NUM + r"\*psi\^2\+" + _NUM + r"\*psi\^3\)/radius\);psi=I\*or; radius=or\+offset; offset=" + _NUM + "$")
_PARAMS = (r"; solventDielectric=" + _NUM + r"; soluteDielectric=" + _NUM + r"; kappa=" + _NUM + r"; offset=" + _NUM
           + r"(?:; cutoff=" + _NUM + r")?$")
_SELF = re.compile(r"^-0\.5\*" + _NUM + r"\*\(1/soluteDielectric-1/solventDielectric\)\*charge\^2/B" + _PARAMS)
_ACE = re.compile(r"^" + _NUM + r"\*\(radius\+0\.14\)\^2\*\(radius/B\)\^6; radius=or\+offset" + _PARAMS)
_PAIR = re.compile(r"^-" + _NUM + r"\*\(1/soluteDielectric-1/solventDielectric\)\*charge1\*charge2(?:\*\(1/f-" + _NUM + r"\)|/f);"
                   r"f=sqrt\(r\^2\+B1\*B2\*exp\(-r\^2/\(4\*B1\*B2\)\)\)" + _PARAMS)


def _unsupported_gb(why: str) -> UnsupportedForceError:
    return UnsupportedForceError(
        f"CustomGBForce is not one of the Amber OBC templates the torch energy implements ({why}); "
        "use backend='openmm' for this system."
    )


def _custom_obc(force: openmm.CustomGBForce) -> GB:
    """Recognise the OBC1/OBC2 (+ACE) CustomGBForce by its exact expressions and read its numbers.

    Only expressions of exactly this form are accepted: the energy is a fixed function of a few
    constants that are parsed from the strings, so any other CustomGBForce is refused.
    """
    if force.getNumGlobalParameters() or force.getNumFunctions() or force.getNumTabulatedFunctions():
        raise _unsupported_gb("global parameters or tabulated functions")
    names = [force.getPerParticleParameterName(i) for i in range(force.getNumPerParticleParameters())]
    if names != ["charge", "or", "sr"]:
        raise _unsupported_gb(f"per-particle parameters {names}")
    method = force.getNonbondedMethod()
    if method not in (openmm.CustomGBForce.NoCutoff, openmm.CustomGBForce.CutoffNonPeriodic):
        raise _unsupported_gb("periodic nonbonded method")
    cutoff = _value(force.getCutoffDistance(), unit.nanometer) if method == openmm.CustomGBForce.CutoffNonPeriodic else None

    values = [force.getComputedValueParameters(i) for i in range(force.getNumComputedValues())]
    if len(values) != 2 or values[0][0] != "I" or values[1][0] != "B":
        raise _unsupported_gb("computed values other than I and B")
    if values[0][1].replace(" ", "") != _I_EXPR.replace(" ", "") or values[0][2] != openmm.CustomGBForce.ParticlePairNoExclusions:
        raise _unsupported_gb("Born integral I")
    if values[1][2] != openmm.CustomGBForce.SingleParticle:
        raise _unsupported_gb("B is not a single-particle value")
    if m := _B_OBC1.match(values[1][1]):
        alpha, beta, gamma, offset, kind = float(m[1]), 0.0, float(m[2]), float(m[3]), "OBC1"
    elif m := _B_OBC2.match(values[1][1]):
        alpha, beta, gamma, offset, kind = 1.0, float(m[1]), float(m[2]), float(m[3]), "OBC2"
    else:
        raise _unsupported_gb(f"Born radius expression {values[1][1]!r}")

    terms = [force.getEnergyTermParameters(i) for i in range(force.getNumEnergyTerms())]
    found: dict[str, re.Match] = {}
    for expr, kind_ in terms:
        for name, pattern, want in (("self", _SELF, openmm.CustomGBForce.SingleParticle),
                                    ("ace", _ACE, openmm.CustomGBForce.SingleParticle),
                                    ("pair", _PAIR, openmm.CustomGBForce.ParticlePairNoExclusions)):
            m = pattern.match(expr)
            if m and kind_ == want and name not in found:
                found[name] = m
                break
        else:
            raise _unsupported_gb(f"energy term {expr!r}")
    if "self" not in found or "pair" not in found:
        raise _unsupported_gb("missing the polar self or pair term")
    consts = {tuple(m.groups()[-5:-1]) for m in found.values()}  # solvent, solute, kappa, offset
    if len(consts) != 1:
        raise _unsupported_gb("energy terms with different dielectrics")
    solvent, solute, kappa, _ = (float(v) for v in consts.pop())
    if kappa != 0.0:
        raise _unsupported_gb("salt screening (kappa > 0)")
    k_self, k_pair = float(found["self"][1]), float(found["pair"][1])
    if k_self != k_pair:
        raise _unsupported_gb("different Coulomb constants in the self and pair terms")
    shift = found["pair"][2]
    if (shift is None) != (cutoff is None) or (shift is not None and abs(float(shift) - 1.0 / cutoff) > 1e-12):
        raise _unsupported_gb("pair shift does not match the cutoff")

    rows = np.array([force.getParticleParameters(i) for i in range(force.getNumParticles())], dtype=np.float64)
    charge, rho, sr = rows[:, 0], rows[:, 1], rows[:, 2]
    ace_offset = float(found["ace"][5]) if "ace" in found else offset
    return GB(
        source=f"CustomGBForce({kind})", charge=charge, offset_radius=rho, scaled_radius=sr, radius=rho + offset,
        surface_radius=rho + ace_offset,
        alpha=alpha, beta=beta, gamma=gamma, k_coulomb=k_self, tau=1.0 / solute - 1.0 / solvent,
        surface_coefficient=float(found["ace"][1]) if "ace" in found else 0.0,
        cutoff=cutoff, cutoff_inclusive=False, step_inclusive=True, buried_correction=False,
    )
