"""The OpenMM target energy against the spec's check values, OpenMM itself and physics."""

from __future__ import annotations

import numpy as np
import openmm
import pytest
import torch
from openmm import app, unit
from scipy.spatial.transform import Rotation

from benchmark.energy import BudgetedEnergy, OpenMMEnergy, choose_platform
from benchmark.errors import BudgetExceeded
from benchmark.systems import AMBER14_OBC1, AMBER99SBILDN_OBC, CAPPED, ZWITTERION, SystemSpec
from tests import openmm_check_values as cv


@pytest.fixture(scope="module")
def aa():
    return SystemSpec("AA", "AA", ZWITTERION, AMBER14_OBC1).build()


@pytest.fixture(scope="module")
def aldp():
    return SystemSpec("Ace-A-Nme", "A", CAPPED, AMBER99SBILDN_OBC).build()


def positions_from_table(system, table):
    lookup = {(res, name): (x, y, z) for res, name, x, y, z in table}
    names = zip(system.residue_index.tolist(), system.atom_names)
    return np.array([lookup[key] for key in names])


@pytest.mark.parametrize(
    "which, table, total_kj, total_kt, force_atom, force",
    [
        ("aa", cv.AA_ATOMS, cv.AA_TOTAL_KJ, cv.AA_TOTAL_KT, (0, "N"), cv.AA_FORCE_ON_N),
        ("aldp", cv.ALDP_ATOMS, cv.ALDP_TOTAL_KJ, cv.ALDP_TOTAL_KT, (0, "CH3"), cv.ALDP_FORCE_ON_CH3),
    ],
)
def test_spec_check_values(request, which, table, total_kj, total_kt, force_atom, force):
    system = request.getfixturevalue(which)
    pos = positions_from_table(system, table)
    target = OpenMMEnergy(system, platform="Reference")
    e, f = target.energy_and_forces(pos[None])
    assert e.item() * system.kT_kJ_per_mol == pytest.approx(total_kj, rel=1e-9)
    assert e.item() == pytest.approx(total_kt, rel=1e-7)
    i = list(zip(system.residue_index.tolist(), system.atom_names)).index(force_atom)
    np.testing.assert_allclose(f[0, i].numpy() * system.kT_kJ_per_mol, force, rtol=1e-8)


def test_kT_uses_openmm_gas_constant(aa, aldp):
    assert aa.kT_kJ_per_mol == pytest.approx(2.577483411627504, rel=1e-15)
    assert aldp.kT_kJ_per_mol == pytest.approx(2.494338785445972, rel=1e-15)


@pytest.mark.parametrize("seq", ["AA", "GYDP"])
def test_minimized_energy_equals_direct_openmm(seq):
    system = SystemSpec(seq, seq, ZWITTERION, AMBER14_OBC1).build()
    pos = system.minimized_positions
    # Independent path: a force field, System and Context made here with OpenMM's own API.
    ff = app.ForceField("amber14-all.xml", "implicit/obc1.xml")
    omm = ff.createSystem(system.topology, nonbondedMethod=app.CutoffNonPeriodic,
                          nonbondedCutoff=2.0 * unit.nanometer, constraints=None)
    ctx = openmm.Context(omm, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(pos * unit.nanometer)
    direct = ctx.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    kT = (unit.MOLAR_GAS_CONSTANT_R * 310 * unit.kelvin).value_in_unit(unit.kilojoule_per_mole)
    ours = OpenMMEnergy(system, platform="Reference").energy(pos).item()
    assert ours == pytest.approx(direct / kT, rel=1e-6)
    initial = OpenMMEnergy(system, platform="Reference").energy(system.initial_positions).item()
    assert ours < initial


def test_rigid_motion_invariance(aa):
    target = OpenMMEnergy(aa, platform="Reference")
    x = aa.minimized_positions
    rot = Rotation.random(random_state=1).as_matrix()
    moved = np.stack([x, x @ rot.T + np.array([1.3, -0.7, 2.1])])
    e = target.energy(moved)
    assert e[1].item() == pytest.approx(e[0].item(), rel=1e-6)


def test_forces_are_minus_finite_difference_gradient(aldp):
    target = OpenMMEnergy(aldp, platform="Reference")
    rng = np.random.default_rng(0)
    x = aldp.minimized_positions + 0.01 * rng.standard_normal((aldp.n_atoms, 3))
    _, f = target.energy_and_forces(x[None])
    h = 1e-5
    for atom, dim in [(0, 0), (5, 1), (8, 2), (17, 0)]:
        plus, minus = x.copy(), x.copy()
        plus[atom, dim] += h
        minus[atom, dim] -= h
        e = target.energy(np.stack([plus, minus]))
        fd = -(e[0] - e[1]).item() / (2 * h)
        assert f[0, atom, dim].item() == pytest.approx(fd, rel=1e-5, abs=1e-3)


def test_budget_refuses_the_101st_conformation(aldp):
    energy = BudgetedEnergy(OpenMMEnergy(aldp, platform="Reference"), budget=100)
    x = np.repeat(aldp.minimized_positions[None], 60, axis=0)
    energy.energy(x)
    energy.energy_and_forces(x[:40])
    assert energy.used == 100 and energy.remaining == 0 and energy.force_evaluations == 40
    with pytest.raises(BudgetExceeded, match="0 of 100 left"):
        energy.energy(x[:1])
    assert energy.used == 100
    energy2 = BudgetedEnergy(OpenMMEnergy(aldp, platform="Reference"), budget=100)
    energy2.energy(x[:50])
    with pytest.raises(BudgetExceeded):
        energy2.energy(x)  # 50 + 60 > 100: refused whole
    assert energy2.used == 50


def test_non_finite_input_gives_inf_not_a_crash(aldp):
    target = OpenMMEnergy(aldp, platform="Reference")
    x = np.repeat(aldp.minimized_positions[None], 3, axis=0)
    x[1, 4, 0] = np.nan
    x[2, 1] = x[2, 0]  # two atoms on top of each other
    e, f = target.energy_and_forces(torch.from_numpy(x))
    assert np.isfinite(e[0].item()) and e[1].item() == np.inf
    assert e[2].item() == np.inf or e[2].item() > 1e6
    assert torch.isfinite(f).all()


def test_shape_errors_are_clear(aldp):
    with pytest.raises(ValueError, match=r"shape \(B, 22, 3\)"):
        OpenMMEnergy(aldp, platform="Reference").energy(np.zeros((2, 21, 3)))


def test_platform_choice(aa, aldp):
    assert choose_platform(uses_custom_gb=False) == "Reference"
    assert choose_platform(uses_custom_gb=True) == "CPU"
    assert choose_platform(uses_custom_gb=True, requested="Reference") == "Reference"
    assert OpenMMEnergy(aldp).platform_name == "Reference" and OpenMMEnergy(aa).platform_name == "CPU"


def test_default_platform_repeats_to_the_last_bit(aa):
    rng = np.random.default_rng(3)
    x = aa.minimized_positions[None] + 0.01 * rng.standard_normal((20, aa.n_atoms, 3))
    first = OpenMMEnergy(aa).energy_and_forces(x)
    second = OpenMMEnergy(aa).energy_and_forces(x)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_cpu_platform_agrees_with_reference_within_single_precision(aa):
    x = aa.minimized_positions
    ref = OpenMMEnergy(aa, platform="Reference").energy(x).item() * aa.kT_kJ_per_mol
    cpu = OpenMMEnergy(aa, platform="CPU").energy(x).item() * aa.kT_kJ_per_mol
    assert abs(ref - cpu) < 1e-3
