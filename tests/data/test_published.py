"""Published-data loaders on small fixtures written in the published layouts (file names, keys, dtypes)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.cli import main
from benchmark.data import content_hashes, load_reference, open_training_corpus, store
from benchmark.data.published import fetch_task, import_task
from benchmark.errors import DataError
from benchmark.metrics.features import tica_feature_dim
from benchmark.systems import to_pdb_string
from benchmark.tasks import get_task

RNG = np.random.default_rng(0)


def permuted_pdb(system) -> tuple[str, list[int]]:
    """PDB text of ``system`` with the atoms of every residue in reverse order, and that file order."""
    lines = [ln for ln in to_pdb_string(system).splitlines() if not ln.startswith("CONECT")]
    atoms = [i for i, ln in enumerate(lines) if ln.startswith(("ATOM", "HETATM"))]
    out, order, k = [], [], 0
    i = 0
    while i < len(lines):
        if not lines[i].startswith(("ATOM", "HETATM")):
            out.append(lines[i])
            i += 1
            continue
        res = lines[i][17:27]
        j = i
        while j < len(lines) and lines[j].startswith(("ATOM", "HETATM")) and lines[j][17:27] == res:
            j += 1
        idx = list(range(k, k + (j - i)))
        out.extend(reversed(lines[i:j]))
        order.extend(reversed(idx))
        k += j - i
        i = j
    assert len(order) == len(atoms) == system.n_atoms
    return "\n".join(out) + "\n", order


def frames(system, n: int) -> np.ndarray:
    base = system.minimized_positions
    return (base[None] + 0.02 * RNG.standard_normal((n, system.n_atoms, 3))).astype(np.float32)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def single_root(tmp_path):
    """``Ace-A-Nme_300K/`` exactly as in sequential-boltzmann-generators-data, atoms in another order."""
    system = get_task("ALDP").systems[0].build()
    text, order = permuted_pdb(system)
    folder = tmp_path / "src" / "Ace-A-Nme_300K"
    folder.mkdir(parents=True)
    ours = {"train": frames(system, 300), "val": frames(system, 40), "test": frames(system, 20_500)}
    for role, x in ours.items():
        np.save(folder / f"Ace-A-Nme_300K_{role}.npy", x[:, order])  # published atom order
    (folder / "Ace-A-Nme_300K.pdb").write_text(text)
    return tmp_path / "src", ours


def test_single_system_import_and_load(single_root, tmp_path):
    src, ours = single_root
    task = get_task("ALDP")
    spec = task.systems[0]
    import_task(task, src, tmp_path / "cache", progress=False)
    ref = load_reference(task, "paper", spec, tmp_path / "cache")
    assert ref.source == "published" and ref.tica is None
    assert ref.manifest["atom_permutation"] is not None  # the fixture's atom order differs from ours
    np.testing.assert_array_equal(ref.test_positions, ours["test"])  # back in this package's atom order
    np.testing.assert_array_equal(ref.train_positions(), ours["train"])
    np.testing.assert_array_equal(ref.val_positions(), ours["val"])
    assert ref.eval_positions.shape == (10_000, 22, 3) and ref.eval_positions.dtype == np.float32
    np.testing.assert_array_equal(ref.eval_positions, ours["test"][::2][:10_000])  # stride floor(20500/1e4) = 2
    x = torch.from_numpy(ours["train"].astype(np.float64))
    assert ref.std == pytest.approx((x - x.mean(1, keepdim=True)).std().item(), rel=1e-12)
    assert content_hashes(ref)["Ace-A-Nme_300K_test.npy"] == sha(src / "Ace-A-Nme_300K" / "Ace-A-Nme_300K_test.npy")


def test_single_system_wrong_atom_count_refused(single_root, tmp_path):
    src, _ = single_root
    np.save(src / "Ace-A-Nme_300K" / "Ace-A-Nme_300K_val.npy", np.zeros((5, 21, 3), np.float32))
    with pytest.raises(DataError, match="expected float"):
        import_task(get_task("ALDP"), src, tmp_path / "cache", progress=False)


@pytest.mark.parametrize("task,system,expected", [
    ("2AA", "AA", 34),  # flows-and-protocol.md 1.2.8: 8 C/N/S atoms -> 28 + 6
    ("4AA", "ARIP", 369),  # 27 C/N/S atoms -> 351 + 18
    ("ALDP", "Ace-A-Nme", 32),  # capped: 8 C/N/S -> 28, + sin/cos of 1 phi and 1 psi; no omega (the caps have no CA)
    ("AL4", "Ace-AAA-Nme", 136),  # capped: 16 C/N/S -> 120, + sin/cos of 3 phi, 3 psi, 2 omega
])
def test_tica_feature_counts_follow_the_spec(task, system, expected):
    assert tica_feature_dim(get_task(task).system(system).build()) == expected


def _add_tar(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def write_npz(path: Path, positions: np.ndarray, n_features: int, max_dim: int = 10, dim: int = 4, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, positions=positions, tica_projection=rng.standard_normal((n_features, max_dim)),
             tica_mean=rng.standard_normal(n_features), tica_dim=np.array(dim))


@pytest.fixture
def many_root(tmp_path):
    """A ManyPeptidesMD copy with test peptide AA, val peptide AL and two training shards."""
    task = get_task("2AA")
    small = dataclasses.replace(task, systems=(task.system("AA"),), validation_systems=(task.system("AL"),))
    root = tmp_path / "many-peptides-md"
    ours = {}
    for split, seq in (("test", "AA"), ("val", "AL")):
        system = small.system(seq).build()
        text, order = permuted_pdb(system)
        _add_tar(root / "pdb_tarfiles" / f"{split}.tar", {f"{split}/{seq}.pdb": text.encode()})
        ours[seq] = frames(system, 300)
        write_npz(root / "trajectories_subsampled" / split / "2AA" / f"{seq}_subsampled.npz", ours[seq][:, order],
                  tica_feature_dim(system))
    _add_tar(root / "pdb_tarfiles" / "train.tar", {"train/GG.pdb": b"END\n"})
    shard_frames = {"ES": RNG.standard_normal((3, 35, 3)).astype("<f4"), "WLEN": RNG.standard_normal((2, 80, 3)).astype("<f4")}
    _add_tar(root / "webdatasets" / "single_frames" / "0000.tar",
             {f"ES_{i:06d}.bin": shard_frames["ES"][i].tobytes() for i in range(3)})
    _add_tar(root / "webdatasets" / "single_frames" / "0001.tar",
             {f"WLEN_{i:06d}.bin": shard_frames["WLEN"][i].tobytes() for i in range(2)})
    return small, root, ours, shard_frames


def test_many_peptides_import_and_load(many_root, tmp_path):
    task, root, ours, shard_frames = many_root
    cache = tmp_path / "cache"
    import_task(task, root, cache, progress=False)
    for seq in ("AA", "AL"):
        ref = load_reference(task, "paper", task.system(seq), cache)
        np.testing.assert_array_equal(ref.test_positions, ours[seq])
        np.testing.assert_array_equal(ref.eval_positions, ours[seq])  # first n_eval (all 300 here)
        assert ref.std == 0.35 and ref.source == "published"
        split = "test" if seq == "AA" else "val"
        with np.load(root / "trajectories_subsampled" / split / "2AA" / f"{seq}_subsampled.npz") as npz:
            feats = RNG.standard_normal((7, npz["tica_mean"].shape[0]))
            manual = np.stack([(f - npz["tica_mean"]) @ npz["tica_projection"][:, :4] for f in feats])
        assert ref.tica.dim == 4
        np.testing.assert_allclose(ref.tica.transform(feats), manual)
        with pytest.raises(DataError, match="No train split"):
            ref.train_positions()
    corpus = open_training_corpus("paper", cache)
    got = list(corpus)
    assert [e.sequence for e in got] == ["ES", "WLEN"] and corpus.std_nm == 0.35 and corpus.sequences == ["GG"]
    np.testing.assert_array_equal(got[0].frames, shard_frames["ES"])
    np.testing.assert_array_equal(got[1].frames, shard_frames["WLEN"])
    assert corpus.describe()["n_shards"] == 2 and len(corpus.content_hash) == 64


def test_wrong_tica_dimension_is_refused(many_root, tmp_path):
    task, root, ours, _ = many_root
    path = root / "trajectories_subsampled" / "test" / "2AA" / "AA_subsampled.npz"
    write_npz(path, ours["AA"], n_features=33)  # e.g. an atom selection other than C/N/S
    with pytest.raises(DataError, match="tica_mean has"):
        import_task(task, root, tmp_path / "cache", progress=False)


def test_changed_published_file_is_noticed(many_root, tmp_path):
    task, root, ours, _ = many_root
    cache = tmp_path / "cache"
    import_task(task, root, cache, progress=False)
    before = load_reference(task, "paper", task.system("AA"), cache).tica.mean
    path = root / "trajectories_subsampled" / "test" / "2AA" / "AA_subsampled.npz"
    write_npz(path, ours["AA"], tica_feature_dim(task.system("AA").build()), seed=1)  # upstream replaced it
    with pytest.raises(DataError, match="differ from the cached copy"):
        import_task(task, root, cache, progress=False)
    np.testing.assert_array_equal(load_reference(task, "paper", task.system("AA"), cache).tica.mean, before)
    import_task(task, root, cache, replace=True, progress=False)
    assert not np.array_equal(load_reference(task, "paper", task.system("AA"), cache).tica.mean, before)
    # a file changed inside the cache is caught by its hash
    folder = store.system_dir(task.name, "paper", "AA", cache)
    cached = folder / load_reference(task, "paper", task.system("AA"), cache).manifest["roles"]["npz"]
    write_npz(cached, ours["AA"], tica_feature_dim(task.system("AA").build()), seed=2)
    with pytest.raises(DataError, match="corrupt or was changed"):
        load_reference(task, "paper", task.system("AA"), cache)


def test_fetch_offline_fails_at_once_with_import_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="bgbench data import 8AA --from DIR"):
        fetch_task(get_task("8AA"), tmp_path)


def test_cli_import_and_info(single_root, tmp_path, capsys):
    src, _ = single_root
    cache = str(tmp_path / "cache")
    assert main(["data", "import", "ALDP", "--from", str(src), "--data-dir", cache, "--no-progress"]) == 0
    assert main(["data", "info", "ALDP", "--data-dir", cache]) == 0
    out = capsys.readouterr().out
    assert "published" in out and "ok" in out and "Ace-A-Nme_300K_test.npy:" in out
    assert main(["data", "prepare", "ALDP", "--tier", "paper", "--data-dir", cache]) == 2  # paper data is not simulated


def test_published_tica_features_are_computed_in_the_published_atom_order(many_root, tmp_path):
    """The published TICA model was fitted on features of the file's atom order, not bgbench's."""
    import mdtraj as md

    from benchmark.metrics.features import tica_features

    task, root, _, _ = many_root
    import_task(task, root, tmp_path / "cache", progress=False)
    system = task.system("AA").build()
    ref = load_reference(task, "paper", task.system("AA"), tmp_path / "cache")
    assert ref.manifest["atom_permutation"] is not None  # the fixture's atom order is not bgbench's
    # independent computation (flows-and-protocol.md 2.4.4) with mdtraj on the published PDB and the file's positions
    with tarfile.open(root / "pdb_tarfiles" / "test.tar") as tar:
        (tmp_path / "AA.pdb").write_bytes(tar.extractfile("test/AA.pdb").read())
    topology = md.load_pdb(str(tmp_path / "AA.pdb")).topology
    with np.load(root / "trajectories_subsampled" / "test" / "2AA" / "AA_subsampled.npz") as npz:
        traj = md.Trajectory(npz["positions"][:5], topology)
        mean, projection, dim = npz["tica_mean"], npz["tica_projection"], int(npz["tica_dim"])
    sliced = traj.atom_slice(topology.select("symbol == C or symbol == N or symbol == S"))
    pairs = [(i, j) for i in range(sliced.n_atoms) for j in range(i + 1, sliced.n_atoms)]
    blocks = [md.compute_distances(sliced, pairs)]
    for fn in (md.compute_phi, md.compute_psi, md.compute_omega):
        angles = fn(sliced)[1]
        blocks += [np.sin(angles), np.cos(angles)]
    expected = (np.concatenate(blocks, axis=1) - mean) @ projection[:, :dim]
    np.testing.assert_allclose(ref.tica.project(ref.eval_positions[:5], system), expected, atol=1e-4)
    # features in bgbench's order would give other coordinates (what the projection used to be applied to)
    wrong = ref.tica.transform(tica_features(ref.eval_positions[:5], system))
    assert np.abs(wrong - expected).max() > 1e-2
