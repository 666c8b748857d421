"""Local MD reference data: replicas, splits by replica, determinism, resuming, std, energies, cache checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from benchmark.data import content_hashes, generate, load_reference, store
from benchmark.data.generate import prepare_system, split_ranges
from benchmark.energy import OpenMMEnergy
from benchmark.errors import DataError
from benchmark.io import atomic_save_npy, atomic_write


def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path, small_segments, tiny_task):
    task = tiny_task()
    spec = task.systems[0]
    with pytest.raises(DataError, match="resume"):
        prepare_system(task, "quick", spec, tmp_path / "a", seed=3, progress=False, stop_after_segments=2)
    work = store.system_dir(task.name, "quick", spec.name, tmp_path / "a") / store.WORK
    assert sorted(p.name for p in work.glob("segment_*")) == ["segment_0000.npz", "segment_0001.npz"]  # warm-up + 1
    with pytest.raises(DataError, match="No reference data"):
        load_reference(task, "quick", spec, tmp_path / "a")
    prepare_system(task, "quick", spec, tmp_path / "a", seed=3, progress=False)  # resumes at segment 2
    assert not work.exists()  # finished work is cleared
    prepare_system(task, "quick", spec, tmp_path / "b", seed=3, progress=False, workers=2)  # never interrupted, 2 workers
    a = load_reference(task, "quick", spec, tmp_path / "a")
    b = load_reference(task, "quick", spec, tmp_path / "b")
    for role in ("train_positions", "val_positions"):
        np.testing.assert_array_equal(getattr(a, role)(), getattr(b, role)())
    np.testing.assert_array_equal(a.test_positions, b.test_positions)
    assert content_hashes(a) == content_hashes(b)
    prepare_system(task, "quick", spec, tmp_path / "c", seed=4, progress=False)
    assert not np.array_equal(load_reference(task, "quick", spec, tmp_path / "c").test_positions, a.test_positions)


def test_force_starts_over(tmp_path, small_segments, tiny_task, monkeypatch):
    """--force discards unfinished work (here: segments of a run that cannot be told apart from a current one)."""
    task = tiny_task()
    spec = task.systems[0]
    with pytest.raises(DataError, match="resume"):
        prepare_system(task, "quick", spec, tmp_path, seed=3, progress=False, stop_after_segments=2)
    work = store.system_dir(task.name, "quick", spec.name, tmp_path) / store.WORK
    poisoned = work / "segment_0001.npz"
    with np.load(poisoned) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["frames"] = arrays["frames"] + 1.0  # a segment that resuming would trust
    np.savez(poisoned, **arrays)
    prepare_system(task, "quick", spec, tmp_path / "fresh", seed=3, progress=False)
    prepare_system(task, "quick", spec, tmp_path, seed=3, progress=False, force=True)
    fresh = load_reference(task, "quick", spec, tmp_path / "fresh")
    assert content_hashes(load_reference(task, "quick", spec, tmp_path)) == content_hashes(fresh)


def test_split_ranges_are_disjoint_and_ordered():
    assert split_ranges((32, 4, 16)) == {"train": (0, 32), "val": (32, 36), "test": (36, 52)}
    assert split_ranges((3, 0, 2)) == {"train": (0, 3), "val": (3, 3), "test": (3, 5)}


def test_stored_splits_std_and_eval_subsample(tmp_path, small_segments, tiny_task):
    task = tiny_task()  # replicas (3, 1, 2) x 20 frames
    spec = task.systems[0]
    prepare_system(task, "quick", spec, tmp_path, seed=1, progress=False)
    ref = load_reference(task, "quick", spec, tmp_path)
    train, val, test = ref.train_positions(), ref.val_positions(), ref.test_positions
    assert (len(train), len(val), len(test)) == (60, 20, 40)
    assert train.shape[1:] == (22, 3) and train.dtype == np.float32 and ref.eval_positions.shape == (20, 22, 3)
    assert [len(t) for t in ref.test_trajectories] == [20, 20]
    # no frame appears in two splits
    flat = np.concatenate([train, val, test]).reshape(120, -1)
    assert len(np.unique(flat, axis=0)) == 120
    # std: independent computation with torch (per-frame unweighted centring, Bessel-corrected std)
    x = torch.from_numpy(train.astype(np.float64))
    assert ref.std == pytest.approx((x - x.mean(dim=1, keepdim=True)).std().item(), rel=1e-12)
    # eval = frames 0, s, 2s, ... with s = floor(40 / 20) = 2: every other frame of both test replicas
    np.testing.assert_array_equal(ref.eval_positions, test[::2])
    assert ref.source == "local-md" and ref.tica is None
    m = ref.manifest
    assert m["task_version"] == task.version and "openmm" in m["software"] and m["md_backend"] == "openmm-reference"
    # train and test start from the same basin pattern, with different seeds: same mixture, independent replicas
    assert m["start_basins"]["train"][:2] == m["start_basins"]["test"] == [["alpha_R"], ["beta"]]
    assert len(set(m["replica_seeds"])) == 6


def test_stored_energies_match_openmm_on_stored_positions(tmp_path, small_segments, tiny_task):
    task = tiny_task()
    spec = task.systems[0]
    folder = prepare_system(task, "quick", spec, tmp_path, seed=2, progress=False)
    roles = store.read_manifest(folder)["roles"]
    energies = np.load(folder / roles["energies"])
    test = np.load(folder / roles["test"])
    assert energies.shape == (120,)
    kT = spec.build().kT_kJ_per_mol
    direct = OpenMMEnergy(spec.build(), platform="Reference").energy(test[:5]).numpy()
    # stored positions are float32, so allow a small difference; test replicas are the last 40 frames
    np.testing.assert_allclose(energies[-40:][:5] / kT, direct, atol=0.05)


def test_topology_pdb_has_no_date(tmp_path, small_segments, tiny_task):
    task = tiny_task()
    folder = prepare_system(task, "quick", task.systems[0], tmp_path, seed=2, progress=False)
    text = (folder / store.read_manifest(folder)["roles"]["pdb"]).read_text()
    assert "CREATED WITH OPENMM" not in text and text.count("HETATM") + text.count("ATOM  ") == 22


def _block_mean_and_se(e: np.ndarray, n_blocks: int) -> tuple[float, float]:
    means = np.array([b.mean() for b in np.array_split(e, n_blocks)])
    return float(means.mean()), float(means.std(ddof=1) / np.sqrt(n_blocks))


def test_mean_potential_energy_is_stable_across_seeds(tmp_path, tiny_task):
    """Two independent seeds sample the same distribution: mean energies agree within their errors."""
    task = tiny_task(replicas=(6, 0, 2), frames=40, interval=50, warmup=2000)
    spec = task.systems[0]
    stats = []
    for seed in (11, 12):
        folder = prepare_system(task, "quick", spec, tmp_path / str(seed), seed=seed, progress=False)
        energies = np.load(folder / store.read_manifest(folder)["roles"]["energies"])
        stats.append(_block_mean_and_se(energies, n_blocks=8))  # one block per replica
    (m1, s1), (m2, s2) = stats
    assert m1 != m2
    assert abs(m1 - m2) < 4 * np.hypot(s1, s2), stats


def test_corrupt_file_is_detected(tmp_path, small_segments, tiny_task):
    task = tiny_task()
    spec = task.systems[0]
    folder = prepare_system(task, "quick", spec, tmp_path, seed=1, progress=False)
    roles = store.read_manifest(folder)["roles"]
    test_file, val_file = folder / roles["test"], folder / roles["val"]
    original = test_file.read_bytes()
    raw = bytearray(original)
    raw[-5] ^= 0xFF
    test_file.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt"):
        load_reference(task, "quick", spec, tmp_path)
    test_file.write_bytes(original)
    load_reference(task, "quick", spec, tmp_path)  # intact again
    val_file.unlink()
    with pytest.raises(DataError, match="missing"):
        load_reference(task, "quick", spec, tmp_path)


def test_stale_version_or_settings_are_detected(tmp_path, small_segments, tiny_task):
    task = tiny_task()
    spec = task.systems[0]
    prepare_system(task, "quick", spec, tmp_path, seed=1, progress=False)
    with pytest.raises(DataError, match="stale.*version"):
        load_reference(dataclasses.replace(task, version=task.version + 1), "quick", spec, tmp_path)
    with pytest.raises(DataError, match="stale.*settings"):
        load_reference(tiny_task(frames=30), "quick", spec, tmp_path)


def test_too_few_test_frames_is_refused(tmp_path, tiny_task):
    with pytest.raises(DataError, match="fewer than the 50 evaluation samples"):
        task = tiny_task(n_eval=50)
        prepare_system(task, "quick", task.systems[0], tmp_path, progress=False)


def test_interrupted_write_keeps_previous_file(tmp_path):
    path = tmp_path / "x.npy"
    atomic_save_npy(path, np.arange(5.0))

    def failing(fh):
        fh.write(b"partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(path, failing)
    np.testing.assert_array_equal(np.load(path), np.arange(5.0))
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]


def test_interrupted_regeneration_leaves_previous_data_readable(tmp_path, small_segments, tiny_task, monkeypatch):
    task = tiny_task()
    spec = task.systems[0]
    prepare_system(task, "quick", spec, tmp_path, seed=1, progress=False)
    before = load_reference(task, "quick", spec, tmp_path)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # after the new split files are written, before the manifest

    monkeypatch.setattr(generate, "standardization_std", killed)
    with pytest.raises(KeyboardInterrupt):
        prepare_system(task, "quick", spec, tmp_path, seed=2, progress=False, force=True)
    after = load_reference(task, "quick", spec, tmp_path)
    np.testing.assert_array_equal(after.test_positions, before.test_positions)
    assert content_hashes(after) == content_hashes(before)


def test_cached_data_is_reused(tmp_path, small_segments, tiny_task, monkeypatch):
    task = tiny_task()
    spec = task.systems[0]
    prepare_system(task, "quick", spec, tmp_path, seed=1, progress=False)

    def no_md(*args, **kwargs):
        raise AssertionError("cached data should have been reused")

    monkeypatch.setattr(generate, "simulate_replicas", no_md)
    prepare_system(task, "quick", spec, tmp_path, seed=1, progress=False)
    with pytest.raises(AssertionError, match="reused"):  # a changed task setting regenerates
        prepare_system(tiny_task(frames=30), "quick", spec, tmp_path, seed=1, progress=False)
    with pytest.raises(AssertionError, match="reused"):  # and so does another seed
        prepare_system(task, "quick", spec, tmp_path, seed=2, progress=False)


def test_quick_protocols_balance_splits_and_use_every_test_replica():
    """Every split holds whole rounds of start basins; the evaluation subsample (stride floor(T / n)) and the
    noise floor's two halves (each thinned to n) take frames evenly from every test replica."""
    from benchmark.tasks import TASKS

    for task in TASKS.values():
        protocol = task.protocol("quick")
        md = protocol.local_md
        assert all(r % len(md.starts) == 0 for r in md.replicas), task.name
        n_test = md.replicas[2] * md.frames_per_replica
        assert n_test % (2 * protocol.n_eval_samples) == 0 and md.replicas[2] % 2 == 0, task.name
        assert md.frames_per_replica > 100, task.name  # the TICA fit's lag of 100 frames stays inside a replica
