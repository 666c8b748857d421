"""The batched torch energy equals OpenMM's Reference platform (issue 22, part 2).

Every expected number comes from OpenMM (Reference platform) or from the spec's check values,
which were computed with it; none from the code under test.
"""

from __future__ import annotations

import numpy as np
import openmm
import pytest
import torch
from openmm import app, unit

from benchmark.energy import BudgetedEnergy, OpenMMEnergy, TorchEnergy, make_target_energy, native_kernel
from benchmark.errors import BgbenchError, UnsupportedForceError
from benchmark.systems import AMBER14_OBC1, AMBER99SBILDN_OBC, CAPPED, ZWITTERION, SystemSpec
from benchmark.tasks import get_task
from tests import openmm_check_values as cv
from tests.energy_frames import ENERGY_RTOL, FORCE_RTOL, md_frames, parity_errors, parity_frames
from tests.test_energy import positions_from_table

#: Every task system of the issue: the single systems and the quick-tier systems of 2AA/4AA/8AA.
TASK_SYSTEMS = [
    ("ALDP", "Ace-A-Nme"), ("AL3", "AAA"), ("AL4", "Ace-AAA-Nme"), ("AL6", "AAAAAA"), ("CHIGNOLIN", "GYDPETGTWG"),
    ("2AA", "AA"), ("2AA", "KG"), ("2AA", "PY"), ("4AA", "ARIP"), ("4AA", "GGRS"), ("8AA", "PGESTAES"), ("8AA", "MAPQTIAT"),
]

#: Both kernels of the torch energy are held to OpenMM: the compiled CPU loop (the CPU default) and the tensor kernel.
KERNELS = ["native", "torch"]


def build(task: str, name: str):
    return get_task(task).system(name).build()


def reference(omm_system: openmm.System, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energies (kJ/mol) and forces (kJ/mol/nm) of a hand-made OpenMM System on the Reference platform."""
    ctx = openmm.Context(omm_system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    es, fs = [], []
    for conf in x:
        ctx.setPositions(conf * unit.nanometer)
        state = ctx.getState(getEnergy=True, getForces=True)
        es.append(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
        fs.append(state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer))
    return np.array(es), np.array(fs)


def assert_matches_reference(omm_system: openmm.System, x: np.ndarray, **options) -> None:
    kT = 2.5
    energy = TorchEnergy.from_openmm(omm_system, kT, **options)
    e_ref, f_ref = reference(omm_system, x)
    e, f = energy.energy_and_forces(x)
    np.testing.assert_allclose(e.numpy() * kT, e_ref, rtol=ENERGY_RTOL)
    for k in range(len(x)):
        err = np.linalg.norm(f[k].numpy() * kT - f_ref[k]) / np.linalg.norm(f_ref[k])
        assert err <= FORCE_RTOL, (k, err)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(
    "spec, table, total_kj, force_atom, force",
    [
        (SystemSpec("AA", "AA", ZWITTERION, AMBER14_OBC1), cv.AA_ATOMS, cv.AA_TOTAL_KJ, (0, "N"), cv.AA_FORCE_ON_N),
        (SystemSpec("Ace-A-Nme", "A", CAPPED, AMBER99SBILDN_OBC), cv.ALDP_ATOMS, cv.ALDP_TOTAL_KJ, (0, "CH3"), cv.ALDP_FORCE_ON_CH3),
    ],
)
def test_spec_check_values(spec, table, total_kj, force_atom, force, kernel):
    system = spec.build()
    pos = positions_from_table(system, table)
    e, f = TorchEnergy(system, kernel=kernel).energy_and_forces(pos)
    assert e.item() * system.kT_kJ_per_mol == pytest.approx(total_kj, rel=1e-10)
    i = list(zip(system.residue_index.tolist(), system.atom_names)).index(force_atom)
    np.testing.assert_allclose(f[0, i].numpy() * system.kT_kJ_per_mol, force, rtol=1e-8)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("task, name", TASK_SYSTEMS)
def test_parity_with_reference_on_md_and_noisy_frames(task, name, kernel):
    system = build(task, name)
    x = parity_frames(system, seed=0, noise_nm=0.01)
    de, df = parity_errors(TorchEnergy(system, kernel=kernel), system, x)
    assert de <= ENERGY_RTOL and df <= FORCE_RTOL, (de, df)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("task, name", [("ALDP", "Ace-A-Nme"), ("2AA", "AA")])
def test_bad_conformations_get_inf_like_openmm(task, name, kernel):
    system = build(task, name)
    x = np.repeat(md_frames(system, n_frames=1), 5, axis=0)
    x[1, 4, 0] = np.nan
    x[2, 1] = x[2, 0]  # bonded atoms on top of each other
    x[3, 15] = x[3, 0]  # non-bonded atoms on top of each other
    x[4, 7] = x[4, 15] + np.array([0.015, 0.0, 0.0])  # a hard clash with a finite, huge energy
    e_ref, f_ref = OpenMMEnergy(system, platform="Reference").energy_and_forces(x)
    e, f = TorchEnergy(system, kernel=kernel).energy_and_forces(torch.from_numpy(x))
    assert e_ref[1:4].isinf().all() and e[1:4].isinf().all() and (e[1:4] > 0).all()
    assert (f[1:4] == 0).all() and torch.isfinite(f).all()
    ok = [0, 4]
    np.testing.assert_allclose(e[ok].numpy(), e_ref[ok].numpy(), rtol=ENERGY_RTOL)
    np.testing.assert_allclose(f[ok].numpy(), f_ref[ok].numpy(), rtol=0, atol=FORCE_RTOL * f_ref[4].norm().item())


def _only(omm_system: openmm.System, kinds: tuple[type, ...]) -> openmm.System:
    for k in reversed(range(omm_system.getNumForces())):
        if not isinstance(omm_system.getForce(k), kinds):
            omm_system.removeForce(k)
    return omm_system


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("task, name, gb_type", [("ALDP", "Ace-A-Nme", openmm.GBSAOBCForce), ("2AA", "AA", openmm.CustomGBForce)])
def test_gb_alone_with_an_atom_buried_inside_another(task, name, gb_type, kernel):
    """An H 0.005 nm from a C: the C++ OBC adds its buried-atom term, the CustomGBForce does not (spec 3.1)."""
    system = build(task, name)
    x = md_frames(system, n_frames=1)
    h = system.elements.index("H")
    c = max(i for i, el in enumerate(system.elements) if el == "C")
    clash = x.copy()
    clash[0, h] = clash[0, c] + np.array([0.0, 0.005, 0.0])
    assert_matches_reference(_only(system.create_openmm_system(), (gb_type,)), np.concatenate([x, clash]), kernel=kernel)


def _extended(seq: str, termini: str, recipe) -> tuple:
    spec = SystemSpec(seq, seq, termini, recipe)
    system = spec.build()
    x = system.initial_positions[None] + 0.01 * np.random.default_rng(1).standard_normal((2, system.n_atoms, 3))
    return system, x


@pytest.mark.parametrize("kernel", KERNELS)
def test_variants_of_the_force_field_read_from_the_system(kernel):
    """Settings the task systems do not use, still read generically: each compared with OpenMM Reference."""
    system, x = _extended("AAAAAAAA", ZWITTERION, AMBER14_OBC1)  # extended 8-mer: pairs beyond 2 nm
    top = system.topology
    # CustomGBForce and NonbondedForce without a cutoff
    ff = app.ForceField("amber14-all.xml", "implicit/obc1.xml")
    assert_matches_reference(ff.createSystem(top, nonbondedMethod=app.NoCutoff, constraints=None), x, kernel=kernel)
    # reaction field with the default dielectric 78.3 instead of obc1.xml's 1.0
    omm = system.create_openmm_system()
    next(f for f in omm.getForces() if isinstance(f, openmm.NonbondedForce)).setReactionFieldDielectric(78.3)
    assert_matches_reference(omm, x, kernel=kernel)
    # OBC2 as a CustomGBForce (implicit/obc2.xml) with a 1.2 nm cutoff
    ff2 = app.ForceField("amber14-all.xml", "implicit/obc2.xml")
    omm2 = ff2.createSystem(top, nonbondedMethod=app.CutoffNonPeriodic, nonbondedCutoff=1.2 * unit.nanometer, constraints=None)
    assert_matches_reference(omm2, x, kernel=kernel)
    # the C++ GBSAOBCForce with a cutoff
    capped, xc = _extended("AAAAAA", CAPPED, AMBER99SBILDN_OBC)
    ff3 = app.ForceField("amber99sbildn.xml", "amber99_obc.xml")
    omm3 = ff3.createSystem(capped.topology, nonbondedMethod=app.CutoffNonPeriodic, nonbondedCutoff=1.0 * unit.nanometer, constraints=None)
    assert_matches_reference(omm3, xc, kernel=kernel)


def test_unsupported_forces_are_refused_not_skipped():
    system = build("2AA", "AA")
    omm = system.create_openmm_system()
    omm.addForce(openmm.CustomExternalForce("x^2"))
    with pytest.raises(UnsupportedForceError, match="CustomExternalForce"):
        TorchEnergy.from_openmm(omm, 2.5)
    gbn2 = app.ForceField("amber14-all.xml", "implicit/gbn2.xml").createSystem(system.topology, constraints=None)
    with pytest.raises(UnsupportedForceError, match="CustomGBForce"):
        TorchEnergy.from_openmm(gbn2, 2.5)


def test_autograd_forces_chunks_and_float32_against_reference():
    system = build("AL3", "AAA")
    x = parity_frames(system)
    de, df = parity_errors(TorchEnergy(system, forces="autograd", chunk_size=4), system, x)
    assert de <= ENERGY_RTOL and df <= FORCE_RTOL
    de, df = parity_errors(TorchEnergy(system, chunk_size=1, kernel="torch"), system, x)
    assert de <= ENERGY_RTOL and df <= FORCE_RTOL
    # float32: the error stated in torch_energy's docstring (measured up to ~2e-6 / 3e-5)
    de, df = parity_errors(TorchEnergy(system, precision="float32"), system, x)
    assert de <= 1e-5 and df <= 1e-4, (de, df)


def test_the_native_kernel_builds_and_is_the_cpu_float64_default():
    """CI has a C compiler, so the default CPU energy is the compiled loop; the other settings use the torch kernel."""
    assert native_kernel.available()
    system = build("ALDP", "Ace-A-Nme")
    assert TorchEnergy(system).describe()["kernel"] == "native"
    assert TorchEnergy(system, precision="float32").kernel == "torch"
    assert TorchEnergy(system, forces="autograd").kernel == "torch"
    assert TorchEnergy(system, kernel="torch").describe()["kernel"] == "torch"
    with pytest.raises(ValueError, match="float64"):
        TorchEnergy(system, precision="float32", kernel="native")
    with pytest.raises(ValueError, match="kernel must be one of"):
        TorchEnergy(system, kernel="fortran")


def test_native_results_do_not_depend_on_the_thread_count():
    """Conformations are split between threads, never a sum: every bit is the same with 1 and 2 threads."""
    system = build("2AA", "PY")
    x = torch.from_numpy(parity_frames(system, seed=3, noise_nm=0.01)).repeat(7, 1, 1)
    energy = TorchEnergy(system, kernel="native")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        e1, f1 = energy.energy_and_forces(x)
        torch.set_num_threads(2)
        e2, f2 = energy.energy_and_forces(x)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(e1, e2) and torch.equal(f1, f2)
    assert torch.equal(energy.energy(x), e1)  # the energy-only branch computes the same sums


def test_inputs_outputs_and_budget():
    system = build("ALDP", "Ace-A-Nme")
    x = md_frames(system, n_frames=2)
    energy = TorchEnergy(system)
    e_np, f_np = energy.energy_and_forces(x)
    assert isinstance(e_np, torch.Tensor) and e_np.dtype == torch.float64 and e_np.device.type == "cpu"
    assert f_np.shape == (2, system.n_atoms, 3) and f_np.dtype == torch.float64
    single = energy.energy(x[0])
    assert single.shape == (1,) and single.item() == e_np[0].item()
    assert torch.equal(energy.energy(torch.from_numpy(x)), e_np)
    with pytest.raises(ValueError, match=r"shape \(B, 22, 3\)"):
        energy.energy(np.zeros((2, 21, 3)))
    metered = BudgetedEnergy(energy, budget=3)
    metered.energy_and_forces(torch.from_numpy(x))
    assert metered.used == 2 and metered.force_evaluations == 2 and metered.describe()["backend"] == "torch"


def test_factory_and_describe():
    system = build("ALDP", "Ace-A-Nme")
    torch_energy = make_target_energy(system)
    assert isinstance(torch_energy, TorchEnergy)
    assert torch_energy.describe()["backend"] == "torch" and torch_energy.describe()["precision"] == "float64"
    assert make_target_energy(system, precision="float32").describe()["precision"] == "float32"
    omm = make_target_energy(system, "openmm", platform="Reference")
    assert omm.describe() == {**omm.describe(), "backend": "openmm", "platform": "Reference", "precision": "float64"}
    with pytest.raises(BgbenchError, match="Unknown energy backend"):
        make_target_energy(system, "jax")
    with pytest.raises(BgbenchError, match="float32"):
        make_target_energy(system, "openmm", precision="float32")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_stay_on_the_device():
    system = build("AL3", "AAA")
    x = parity_frames(system)
    energy = TorchEnergy(system, device="cuda")
    e, f = energy.energy_and_forces(torch.from_numpy(x).cuda())
    assert e.device.type == "cuda" and f.device.type == "cuda"
    de, df = parity_errors(energy, system, x)
    assert de <= ENERGY_RTOL and df <= FORCE_RTOL


@pytest.mark.slow
@pytest.mark.parametrize("kernel", KERNELS)
def test_parity_on_all_published_evaluation_peptides(kernel):
    """All 120 validation and test peptides of 2AA/4AA/8AA: MD frames and 0.01 nm noise."""
    from benchmark.tasks.sequences import TEST_SEQUENCES, VAL_SEQUENCES

    worst = {"energy": (0.0, ""), "force": (0.0, "")}
    for table in (TEST_SEQUENCES, VAL_SEQUENCES):
        for seqs in table.values():
            for seq in seqs:
                system = SystemSpec(seq, seq, ZWITTERION, AMBER14_OBC1).build()
                de, df = parity_errors(TorchEnergy(system, kernel=kernel), system, parity_frames(system))
                worst["energy"] = max(worst["energy"], (de, seq))
                worst["force"] = max(worst["force"], (df, seq))
                assert de <= ENERGY_RTOL and df <= FORCE_RTOL, (seq, de, df)
    print(f"{kernel}: max relative energy error {worst['energy']}, max relative force error {worst['force']}")


@pytest.mark.slow
def test_compiled_energy_matches_reference_at_batch_one_and_more():
    """torch.compile (minutes of compilation on two cores): same numbers, and a batch of one does not crash."""
    system = build("2AA", "AA")
    x = parity_frames(system)
    energy = TorchEnergy(system, compile=True)
    for batch in (x[:1], x):
        de, df = parity_errors(energy, system, batch)
        assert de <= ENERGY_RTOL and df <= FORCE_RTOL
    assert energy.describe()["compiled"]
