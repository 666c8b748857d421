"""Loaders for the published data sets, from a local copy or (online) the Hugging Face hub.

Two layouts (specs/flows-and-protocol.md 1.1 and 1.2):

* single-system data (``transferable-samplers/sequential-boltzmann-generators-data``):
  ``{seq}_{T}K/{seq}_{T}K_{train,val,test}.npy`` (frames, atoms, 3) nm and ``{seq}_{T}K.pdb``;
* ManyPeptidesMD (``transferable-samplers/many-peptides-md``): ``pdb_tarfiles/{train,val,test}.tar``
  (members ``{split}/{SEQ}.pdb``), ``trajectories_subsampled/{val,test}/{L}AA/{SEQ}_subsampled.npz``
  (``positions``, ``tica_projection``, ``tica_mean``, ``tica_dim``) and the training shards
  ``webdatasets/single_frames/NNNN.tar`` (members ``{key}.bin``: float32 frames, key up to ``_`` is
  the sequence).

Imported files are copied verbatim into the cache (so their sha256 is the published one) and checked:
atom counts against the system built here, the TICA feature count against the topology (the 8AA TICA
files were once replaced because of a wrong atom selection), and a re-import whose files differ from
the cached ones is refused unless ``replace`` is given, so a silent upstream change is noticed.
"""

from __future__ import annotations

import io
import os
import socket
import tarfile
from collections.abc import Iterator
from math import comb
from pathlib import Path

import numpy as np
from openmm import app

from benchmark.data import store
from benchmark.io import atomic_copy, atomic_write_bytes, atomic_write_text
from benchmark.data.corpus import corpus_dir
from benchmark.metrics.tica import TicaProjection
from benchmark.errors import DataError
from benchmark.systems import System, SystemSpec, to_pdb_string
from benchmark.tasks.registry import Task

SINGLE_REPO = "transferable-samplers/sequential-boltzmann-generators-data"
MANY_REPO = "transferable-samplers/many-peptides-md"
NPZ_KEYS = ("positions", "tica_projection", "tica_mean", "tica_dim")
SHARDS = Path("webdatasets") / "single_frames"


def single_system_name(spec: SystemSpec) -> str:
    """Published folder name, e.g. ``Ace-A-Nme_300K`` or ``AAA_310K``."""
    return f"{spec.name}_{int(round(spec.forcefield.temperature_K))}K"


def expected_tica_features(system: System) -> int:
    """C(n_CNS, 2) + 6 (n_res - 1): pairwise C/N/S distances plus sin/cos of phi, psi, omega."""
    n_cns = sum(e in ("C", "N", "S") for e in system.elements)
    return comb(n_cns, 2) + 6 * (system.spec.n_residues - 1)


def read_subsampled_npz(path: Path, system: System) -> tuple[np.ndarray, TicaProjection]:
    """Positions (n, N, 3) nm and the TICA model of a ``*_subsampled.npz``, checked against ``system``."""
    with np.load(path, allow_pickle=False) as npz:
        missing = [k for k in NPZ_KEYS if k not in npz.files]
        if missing:
            raise DataError(f"{path} lacks the keys {missing}; expected {list(NPZ_KEYS)}.")
        positions, projection, mean, dim = (npz[k] for k in NPZ_KEYS)
    if positions.ndim != 3 or positions.shape[1:] != (system.n_atoms, 3):
        raise DataError(f"{path}: positions have shape {positions.shape}, expected (n, {system.n_atoms}, 3) for {system.name}.")
    n_feat = expected_tica_features(system)
    if mean.shape != (n_feat,):
        raise DataError(f"{path}: tica_mean has {mean.shape} features, but {system.name} has {n_feat} TICA features "
                        f"(C/N/S distances + backbone torsions). The file uses a different atom selection; "
                        f"download the current version of the data set.")
    if projection.ndim != 2 or projection.shape[0] != n_feat:
        raise DataError(f"{path}: tica_projection has shape {projection.shape}, expected ({n_feat}, max_dim).")
    dim = int(np.asarray(dim).reshape(()))
    if not 1 <= dim <= projection.shape[1]:
        raise DataError(f"{path}: tica_dim {dim} is outside 1..{projection.shape[1]}.")
    return positions, TicaProjection.published(mean, projection, dim)


def _atom_keys(topology: app.Topology) -> list[tuple[int, str]]:
    return [(a.residue.index, a.name) for a in topology.atoms()]


def atom_permutation(system: System, pdb_path: Path) -> list[int] | None:
    """Index into the published atom order for each atom of ``system`` (None if the orders agree).

    Both topologies are read through OpenMM's PDB reader so that atom names are normalised alike.
    """
    published = _atom_keys(app.PDBFile(str(pdb_path)).topology)
    ours = _atom_keys(app.PDBFile(io.StringIO(to_pdb_string(system))).topology)
    if len(published) != len(ours):
        raise DataError(f"{pdb_path} has {len(published)} atoms, but {system.name} has {len(ours)}.")
    where = {key: i for i, key in enumerate(published)}
    if set(where) != set(ours):
        diff = sorted(set(ours) ^ set(where))[:6]
        raise DataError(f"{pdb_path}: atom names differ from the {system.name} topology built here (e.g. {diff}).")
    perm = [where[key] for key in ours]
    return None if perm == list(range(len(perm))) else perm


def _check_positions(path: Path, system: System) -> None:
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    if arr.ndim != 3 or arr.shape[1:] != (system.n_atoms, 3) or arr.dtype.kind != "f":
        raise DataError(f"{path}: array of shape {arr.shape} / {arr.dtype}, expected float (frames, {system.n_atoms}, 3).")


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
    from benchmark.data.generate import standardization_std

    name = single_system_name(spec)
    base = Path(src_root) / name
    sources = {role: base / f"{name}_{role}.npy" for role in ("train", "val", "test")}
    sources["pdb"] = base / f"{name}.pdb"
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise DataError(f"Missing published files {missing}; expected the layout {name}/{name}_{{train,val,test}}.npy + {name}.pdb.")
    system = spec.build()
    for role in ("train", "val", "test"):
        _check_positions(sources[role], system)
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


def register_training_shards(src_root: Path, root: Path | None = None) -> Path:
    """Record where the webdataset shards are (they are read in place, not copied: they are large).

    The manifest lists every shard with its size; hashing terabytes is left out on purpose.
    """
    shard_dir = (Path(src_root) / SHARDS).resolve()
    shards = sorted(shard_dir.glob("*.tar"))
    if not shards:
        raise DataError(f"No *.tar shards in {shard_dir}.")
    folder = corpus_dir("paper", root)
    folder.mkdir(parents=True, exist_ok=True)
    import json

    manifest = {"source": "published", "hub_repo": MANY_REPO, "shard_dir": str(shard_dir),
                "shards": {p.name: p.stat().st_size for p in shards}, "software": store.software_versions()}
    atomic_write_text(folder / store.MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return folder


def iter_shards(paths: list[Path]) -> Iterator[tuple[str, np.ndarray]]:
    """(sequence, (T, N, 3) float32 nm) for each run of consecutive same-sequence frames in the shards."""
    for path in paths:
        with tarfile.open(path) as tar:
            seq, frames = None, []
            for member in tar:
                if not (member.isfile() and member.name.endswith(".bin")):
                    continue
                key = os.path.basename(member.name)[: -len(".bin")]
                s = key.split("_", 1)[0]
                frame = np.frombuffer(tar.extractfile(member).read(), dtype="<f4").reshape(-1, 3)
                if s != seq or (frames and frames[0].shape != frame.shape):
                    if frames:
                        yield seq, np.stack(frames)
                    seq, frames = s, []
                frames.append(frame)
            if frames:
                yield seq, np.stack(frames)


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
