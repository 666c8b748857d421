"""Local MD reference data: determinism, resuming, splits, std, energies, cache checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from benchmark.data import content_hashes, load_reference, store
from benchmark.data import generate
from benchmark.data.generate import prepare_system, split_blocks
from benchmark.energy import OpenMMEnergy
from benchmark.errors import DataError
from benchmark.io import atomic_save_npy, atomic_write


def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path, small_chunks, tiny_task):
    task = tiny_task()
    spec = task.systems[0]
    with pytest.raises(DataError, match="resume"):
        prepare_system(task, "quick", spec, tmp_path / "a", seed=3, progress=False, stop_after_chunks=2)
    folder = store.system_dir(task.name, "quick", spec.name, tmp_path / "a")
    assert sorted(p.name for p in (folder / ".work").glob("chunk_*")) == ["chunk_00000.npz", "chunk_00001.npz"]
    with pytest.raises(DataError, match="No reference data"):
        load_reference(task, "quick", spec, tmp_path / "a")
    prepare_system(task, "quick", spec, tmp_path / "a", seed=3, progress=False)  # resumes at chunk 2
    prepare_system(task, "quick", spec, tmp_path / "b", seed=3, progress=False)  # never interrupted
    a = load_reference(task, "quick", spec, tmp_path / "a")
    b = load_reference(task, "quick", spec, tmp_path / "b")
    for role in ("train_positions", "val_positions"):
        np.testing.assert_array_equal(getattr(a, role)(), getattr(b, role)())
    np.testing.assert_array_equal(a.test_positions, b.test_positions)
    assert content_hashes(a) == content_hashes(b)
    prepare_system(task, "quick", spec, tmp_path / "c", seed=4, progress=False)
    assert not np.array_equal(load_reference(task, "quick", spec, tmp_path / "c").test_positions, a.test_positions)


def test_split_blocks_are_contiguous_and_disjoint():
    for n in (10, 99, 120, 3401):
        blocks = split_blocks(n, (0.6, 0.1, 0.3))
        ranges = [set(range(*blocks[k])) for k in ("train", "val", "test")]
        assert sum(len(r) for r in ranges) == n
        assert set().union(*ranges) == set(range(n))
        assert blocks["train"][1] == blocks["val"][0] and blocks["val"][1] == blocks["test"][0]


def test_stored_splits_std_and_eval_subsample(tmp_path, small_chunks, tiny_task):
    task = tiny_task()
    spec = task.systems[0]
    prepare_system(task, "quick", spec, tmp_path, seed=1, progress=False)
    ref = load_reference(task, "quick", spec, tmp_path)
    train, val, test = ref.train_positions(), ref.val_positions(), ref.test_positions
    assert (len(train), len(val), len(test)) == (72, 12, 36)  # floor(0.6*120), floor(0.1*120), rest
    assert train.shape[1:] == (22, 3) and ref.eval_positions.shape == (20, 22, 3)
    # no frame appears in two splits
    flat = np.concatenate([train, val, test]).reshape(120, -1)
    assert len(np.unique(flat, axis=0)) == 120
    # std: independent computation with torch (per-frame unweighted centring, Bessel-corrected std)
    x = torch.from_numpy(train.astype(np.float64))
    expected = (x - x.mean(dim=1, keepdim=True)).std().item()
    assert ref.std == pytest.approx(expected, rel=1e-12)
    # eval = frames 0, s, 2s, ... with s = floor(36 / 20) = 1, first 20
    np.testing.assert_array_equal(ref.eval_positions, test[:20])
    assert ref.source == "local-md" and ref.tica is None
    assert ref.manifest["task_version"] == task.version and "openmm" in ref.manifest["software"]


def test_stored_energies_match_openmm_on_stored_positions(tmp_path, small_chunks, tiny_task):
    task = tiny_task()
    spec = task.systems[0]
    folder = prepare_system(task, "quick", spec, tmp_path, seed=2, progress=False)
    roles = store.read_manifest(folder)["roles"]
    energies = np.load(folder / roles["energies"])
    test = np.load(folder / roles["test"])
    kT = spec.build().kT_kJ_per_mol
    direct = OpenMMEnergy(spec.build(), platform="Reference").energy(test[:5]).numpy()
    # stored positions are float32, so allow a small difference
    np.testing.assert_allclose(energies[-36:][:5] / kT, direct, atol=0.05)


def _block_mean_and_se(e: np.ndarray, n_blocks: int = 10) -> tuple[float, float]:
    blocks = np.array_split(e, n_blocks)
    means = np.array([b.mean() for b in blocks])
    return float(means.mean()), float(means.std(ddof=1) / np.sqrt(n_blocks))


def test_mean_potential_energy_is_stable_across_seeds(tmp_path, tiny_task):
    """Two independent seeds sample the same distribution: mean energies agree within their errors."""
    task = tiny_task(length_ns=0.03, interval=30, warmup=5000, n_eval=100)
    spec = task.systems[0]
    stats = []
    for seed in (11, 12):
        folder = prepare_system(task, "quick", spec, tmp_path / str(seed), seed=seed, progress=False)
        stats.append(_block_mean_and_se(np.load(folder / store.read_manifest(folder)["roles"]["energies"])))
    (m1, s1), (m2, s2) = stats
    assert m1 != m2
    assert abs(m1 - m2) < 4 * np.hypot(s1, s2), stats


def test_corrupt_file_is_detected(tmp_path, small_chunks, tiny_task):
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


def test_stale_version_or_settings_are_detected(tmp_path, small_chunks, tiny_task):
    task = tiny_task()
    spec = task.systems[0]
    prepare_system(task, "quick", spec, tmp_path, seed=1, progress=False)
    with pytest.raises(DataError, match="stale.*version"):
        load_reference(dataclasses.replace(task, version=task.version + 1), "quick", spec, tmp_path)
    longer = tiny_task(length_ns=0.0024)
    with pytest.raises(DataError, match="stale.*settings"):
        load_reference(longer, "quick", spec, tmp_path)


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


def test_interrupted_regeneration_leaves_previous_data_readable(tmp_path, small_chunks, tiny_task, monkeypatch):
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


def test_cached_data_is_reused(tmp_path, small_chunks, tiny_task, monkeypatch):
    task = tiny_task()
    spec = task.systems[0]
    prepare_system(task, "quick", spec, tmp_path, seed=1, progress=False)

    def no_md(*args, **kwargs):
        raise AssertionError("cached data should have been reused")

    monkeypatch.setattr(generate, "simulate", no_md)
    prepare_system(task, "quick", spec, tmp_path, seed=1, progress=False)
    with pytest.raises(AssertionError, match="reused"):  # a changed task setting regenerates
        prepare_system(tiny_task(length_ns=0.0024), "quick", spec, tmp_path, seed=1, progress=False)
