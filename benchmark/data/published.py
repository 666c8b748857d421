"""Importing the published data sets into the cache, from a local copy or (online) the Hugging Face hub.

Layouts and readers are in ``formats.py``. Imported files are copied verbatim into the cache (so
their sha256 is the published one) and checked: atom counts against the system built here, the
TICA feature count against the topology (the 8AA TICA files were once replaced because of a wrong
atom selection), and a re-import whose files differ from the cached ones is refused unless
``replace`` is given, so a silent upstream change is noticed.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tarfile
from pathlib import Path

import numpy as np

from benchmark.data import store
from benchmark.data.formats import (
    MANY_REPO, SHARDS, SINGLE_REPO, atom_permutation, check_positions_file, read_subsampled_npz, single_system_name,
    standardization_std,
)
from benchmark.errors import DataError
from benchmark.io import atomic_copy, atomic_write_bytes, atomic_write_text
from benchmark.systems import SystemSpec
from benchmark.tasks.registry import Task

#: Bytes of each training shard hashed for its fingerprint (full hashes of ~TB of shards are not computed).
FINGERPRINT_BYTES = 1 << 20


def _install(task: Task, spec: SystemSpec, sources: dict[str, Path], root: Path | None, replace: bool,
             origins: dict[str, str] | None = None, **fields) -> Path:
    """Copy files into the cache folder of (task, paper, system) and write the manifest last."""
    folder = store.system_dir(task.name, "paper", spec.name, root)
    old = store.read_manifest(folder)
    new_hashes = {src.name: store.sha256_file(src) for src in sources.values()}
    origins = origins or {}
    if old is not None and not replace:
        old_hashes = {Path(k).name: v["sha256"] for k, v in old.get("files", {}).items()}
        changed = sorted(k for k in new_hashes if k in old_hashes and old_hashes[k] != new_hashes[k])
        if changed:
            raise DataError(f"The published files {changed} of {spec.name} differ from the cached copy in {folder} "
                            f"(the upstream data changed). Results against the two versions are not comparable; "
                            f"re-run with --replace to accept the new version.")
    version = store.next_version(folder)  # the cached version stays readable until the commit
    for src in sources.values():
        atomic_copy(src, version / src.name)
    store.commit_version(folder, version, [s.name for s in sources.values()], source="published", task=task.name,
                         tier="paper", system=spec.name, task_version=task.version,
                         roles={r: f"{version.name}/{s.name}" for r, s in sources.items()},
                         imported_from={s.name: origins.get(s.name, str(s)) for s in sources.values()}, **fields)
    return folder


def import_single_system(task: Task, spec: SystemSpec, src_root: Path, root: Path | None = None, replace: bool = False) -> Path:
    """Import ``{src_root}/{seq}_{T}K/`` of the single-system data set."""
    name = single_system_name(spec)
    base = Path(src_root) / name
    sources = {role: base / f"{name}_{role}.npy" for role in ("train", "val", "test")}
    sources["pdb"] = base / f"{name}.pdb"
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise DataError(f"Missing published files {missing}; expected the layout {name}/{name}_{{train,val,test}}.npy + {name}.pdb.")
    system = spec.build()
    for role in ("train", "val", "test"):
        check_positions_file(sources[role], system)
    perm = atom_permutation(system, sources["pdb"])
    train = np.load(sources["train"], allow_pickle=False)
    return _install(task, spec, sources, root, replace, atom_permutation=perm, std_nm=standardization_std(train),
                    hub_repo=SINGLE_REPO, units={"positions": "nm"})


def _extract_pdb(src_root: Path, split: str, sequence: str, dest: Path) -> Path:
    """Pull ``{split}/{SEQ}.pdb`` out of ``pdb_tarfiles/{split}.tar`` (refusing paths that leave it)."""
    tar_path = Path(src_root) / "pdb_tarfiles" / f"{split}.tar"
    if not tar_path.is_file():
        raise DataError(f"Missing {tar_path} (ManyPeptidesMD layout: pdb_tarfiles/{{train,val,test}}.tar).")
    with tarfile.open(tar_path) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if member.isfile() and len(parts) >= 2 and parts[-2:] == (split, f"{sequence}.pdb") and ".." not in parts:
                data = tar.extractfile(member).read()
                break
        else:
            raise DataError(f"{tar_path} has no member {split}/{sequence}.pdb.")
    atomic_write_bytes(dest, data)
    return dest


def import_many_peptides(task: Task, spec: SystemSpec, src_root: Path, root: Path | None = None, replace: bool = False) -> Path:
    """Import the evaluation npz and PDB of one ManyPeptidesMD val/test peptide."""
    split = spec.split or "test"
    npz = Path(src_root) / "trajectories_subsampled" / split / f"{len(spec.sequence)}AA" / f"{spec.sequence}_subsampled.npz"
    if not npz.is_file():
        raise DataError(f"Missing {npz} (ManyPeptidesMD layout trajectories_subsampled/{{val,test}}/{{L}}AA/{{SEQ}}_subsampled.npz).")
    staging = store.data_dir() if root is None else Path(root)
    staging = staging / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    pdb = _extract_pdb(src_root, split, spec.sequence, staging / f"{spec.sequence}.pdb")
    system = spec.build()
    positions, tica = read_subsampled_npz(npz, system)
    perm = atom_permutation(system, pdb)
    try:
        origins = {pdb.name: f"{Path(src_root) / 'pdb_tarfiles' / f'{split}.tar'}:{split}/{spec.sequence}.pdb"}
        return _install(task, spec, {"npz": npz, "pdb": pdb}, root, replace, origins, atom_permutation=perm, hub_repo=MANY_REPO,
                        split=split, n_frames=len(positions), tica_dim=tica.dim, tica_features=int(tica.mean.shape[0]),
                        units={"positions": "nm"})
    finally:
        pdb.unlink(missing_ok=True)


def import_task(task: Task, src_root: Path, root: Path | None = None, replace: bool = False, progress: bool = True) -> list[Path]:
    """Import the published data of every system of ``task`` (transfer tasks: val systems too)."""
    from tqdm.auto import tqdm

    src_root = Path(src_root)
    if not src_root.is_dir():
        raise DataError(f"{src_root} is not a directory.")
    specs = task.systems + task.validation_systems
    importer = import_many_peptides if task.transferable else import_single_system
    out = [importer(task, s, src_root, root, replace) for s in tqdm(specs, desc=f"import {task.name}", disable=not progress)]
    if task.transferable and (src_root / SHARDS).is_dir():
        register_training_shards(src_root, root)
    return out


def _fingerprint(path: Path) -> dict:
    with open(path, "rb") as fh:
        head = hashlib.sha256(fh.read(FINGERPRINT_BYTES)).hexdigest()
    return {"bytes": path.stat().st_size, "sha256_first_MiB": head}


def _training_sequences(src_root: Path) -> list[str] | None:
    """Training peptides named by ``pdb_tarfiles/train.tar`` (member ``train/{SEQ}.pdb``), if present."""
    tar_path = Path(src_root) / "pdb_tarfiles" / "train.tar"
    if not tar_path.is_file():
        return None
    with tarfile.open(tar_path) as tar:
        return sorted(Path(m.name).name.split(".", 1)[0] for m in tar.getmembers() if m.isfile() and m.name.endswith(".pdb"))


def register_training_shards(src_root: Path, root: Path | None = None) -> Path:
    """Record where the webdataset shards are (they are read in place, not copied: they are large).

    The manifest lists every shard with its size and the sha256 of its first MiB (a fingerprint:
    hashing terabytes in full is left out on purpose), and the training sequences if the copy has
    ``pdb_tarfiles/train.tar``. Frames are read in the published atom order, the tLEaP order that
    bgbench's topology follows by construction (benchmark/systems/builder.py, step 4).
    """
    shard_dir = (Path(src_root) / SHARDS).resolve()
    shards = sorted(shard_dir.glob("*.tar"))
    if not shards:
        raise DataError(f"No *.tar shards in {shard_dir}.")
    folder = store.corpus_dir("paper", root)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"source": "published", "tier": "paper", "hub_repo": MANY_REPO, "shard_dir": str(shard_dir),
                "shards": {p.name: _fingerprint(p) for p in shards}, "sequences": _training_sequences(src_root),
                "atom_order": "published (tLEaP) order = bgbench topology order", "software": store.software_versions()}
    atomic_write_text(folder / store.MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return folder


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether huggingface.co answers (fast check so that offline ``fetch`` fails at once)."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_task(task: Task, root: Path | None = None, replace: bool = False, progress: bool = True) -> list[Path]:
    """Download the task's published data with huggingface_hub and import it."""
    if not hub_reachable():
        raise DataError(
            f"The Hugging Face hub cannot be reached from here. On a machine with internet, download "
            f"{SINGLE_REPO if not task.transferable else MANY_REPO} (e.g. `huggingface-cli download "
            f"{SINGLE_REPO if not task.transferable else MANY_REPO} --repo-type dataset --local-dir DIR`), copy DIR "
            f"here and run `bgbench data import {task.name} --from DIR`.")
    from huggingface_hub import snapshot_download

    if task.transferable:
        lengths = sorted({len(s.sequence) for s in task.systems})
        patterns = ["pdb_tarfiles/*"] + [f"trajectories_subsampled/*/{n}AA/*" for n in lengths]
        repo = MANY_REPO
    else:
        patterns = [f"{single_system_name(s)}/*" for s in task.systems]
        repo = SINGLE_REPO
    local = (root or store.data_dir()) / "downloads" / repo.replace("/", "__")
    snapshot_download(repo_id=repo, repo_type="dataset", allow_patterns=patterns, local_dir=str(local))
    return import_task(task, local, root, replace, progress)
