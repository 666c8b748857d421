"""File layouts: how reference data, published files and training shards are laid out and read.

This module knows file names, array keys, dtypes and atom orders, and nothing about how data is
made or where the cache is. Both the readers (``reference``, ``corpus``) and the preparation code
(``generate``, ``published``) use it, so the two sides cannot disagree on a layout.

Layouts (specs/flows-and-protocol.md 1.1 and 1.2):

* local MD (quick tier): ``train.npy``, ``val.npy``, ``test.npy`` (frames, atoms, 3) float32 nm,
  ``energies.npy`` (kJ/mol per frame) and ``topology.pdb``;
* single-system data (``transferable-samplers/sequential-boltzmann-generators-data``):
  ``{seq}_{T}K/{seq}_{T}K_{train,val,test}.npy`` (frames, atoms, 3) nm and ``{seq}_{T}K.pdb``;
* ManyPeptidesMD (``transferable-samplers/many-peptides-md``): ``pdb_tarfiles/{train,val,test}.tar``
  (members ``{split}/{SEQ}.pdb``), ``trajectories_subsampled/{val,test}/{L}AA/{SEQ}_subsampled.npz``
  (``positions``, ``tica_projection``, ``tica_mean``, ``tica_dim``) and the training shards
  ``webdatasets/single_frames/NNNN.tar`` (members ``{key}.bin``: float32 frames, key up to ``_`` is
  the sequence).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
from openmm import app

from benchmark.errors import DataError
from benchmark.metrics.features import tica_feature_dim
from benchmark.metrics.tica import TicaProjection
from benchmark.systems import System, SystemSpec, to_pdb_string
from benchmark.tasks.protocol import LocalMD

#: File of each role of locally generated reference data.
LOCAL_FILES = {"train": "train.npy", "val": "val.npy", "test": "test.npy", "pdb": "topology.pdb", "energies": "energies.npy"}

SINGLE_REPO = "transferable-samplers/sequential-boltzmann-generators-data"
MANY_REPO = "transferable-samplers/many-peptides-md"
NPZ_KEYS = ("positions", "tica_projection", "tica_mean", "tica_dim")
SHARDS = Path("webdatasets") / "single_frames"
#: Standardisation scale of the published transferable models (up_to_8aa data config), nm.
PUBLISHED_TRANSFER_STD = 0.35


# --- arrays ------------------------------------------------------------------------------------
def load_positions(path: Path, perm: np.ndarray | None = None) -> np.ndarray:
    """Positions (T, N, 3) from an ``.npy`` file, reordered into bgbench's atom order by ``perm``."""
    x = np.load(path, allow_pickle=False)
    return x if perm is None else x[:, perm]


def standardization_std(train: np.ndarray) -> float:
    """Std of all entries of the per-frame centred coordinates (unweighted centre, Bessel-corrected).

    The published rule for single systems (specs/flows-and-protocol.md 1.1), applied to whatever
    training frames a tier has.
    """
    x = np.asarray(train, dtype=np.float64)
    centred = x - x.mean(axis=1, keepdims=True)
    return float(centred.std(ddof=1))


def stride_subsample(test: np.ndarray, n_eval: int) -> np.ndarray:
    """Frames 0, s, 2s, ... with s = floor(T / n_eval), first n_eval kept (the published rule)."""
    stride = len(test) // n_eval
    if stride == 0:
        raise DataError(f"The test split has {len(test)} frames, fewer than the {n_eval} evaluation samples.")
    return test[::stride][:n_eval]


def topology_pdb_text(system: System, positions_nm: np.ndarray | None = None) -> str:
    """PDB text of ``system`` without OpenMM's date stamp, so that its sha256 is the same on every day."""
    lines = to_pdb_string(system, positions_nm).splitlines(keepends=True)
    return "".join(ln for ln in lines if not ln.startswith("REMARK   1 CREATED WITH OPENMM"))


def local_settings_record(spec: SystemSpec, md: LocalMD) -> dict:
    """The settings whose change makes cached local data stale (the seed is recorded, not compared)."""
    record = {"local_md": asdict(md), "forcefield": spec.forcefield.describe()}
    return json.loads(json.dumps(record))  # as stored in (and read back from) the JSON manifest


# --- published files ---------------------------------------------------------------------------
def single_system_name(spec: SystemSpec) -> str:
    """Published folder name, e.g. ``Ace-A-Nme_300K`` or ``AAA_310K``."""
    return f"{spec.name}_{int(round(spec.forcefield.temperature_K))}K"


def read_subsampled_npz(path: Path, system: System) -> tuple[np.ndarray, TicaProjection]:
    """Positions (n, N, 3) nm in the file's atom order and its TICA model, checked against ``system``.

    The TICA feature count must be ``tica_feature_dim(system)`` (the 8AA files were once replaced
    because their atom selection was wrong).
    """
    with np.load(path, allow_pickle=False) as npz:
        missing = [k for k in NPZ_KEYS if k not in npz.files]
        if missing:
            raise DataError(f"{path} lacks the keys {missing}; expected {list(NPZ_KEYS)}.")
        positions, projection, mean, dim = (npz[k] for k in NPZ_KEYS)
    if positions.ndim != 3 or positions.shape[1:] != (system.n_atoms, 3):
        raise DataError(f"{path}: positions have shape {positions.shape}, expected (n, {system.n_atoms}, 3) for {system.name}.")
    n_feat = tica_feature_dim(system)
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

    ``published[:, perm]`` is in bgbench's order. Both topologies are read through OpenMM's PDB
    reader so that atom names are normalised alike.
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


def check_positions_file(path: Path, system: System) -> None:
    """Refuse an ``.npy`` that is not float (frames, N, 3) for ``system``."""
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    if arr.ndim != 3 or arr.shape[1:] != (system.n_atoms, 3) or arr.dtype.kind != "f":
        raise DataError(f"{path}: array of shape {arr.shape} / {arr.dtype}, expected float (frames, {system.n_atoms}, 3).")


def iter_shards(paths: list[Path]) -> Iterator[tuple[str, np.ndarray]]:
    """(sequence, (T, N, 3) float32 nm) for each run of consecutive same-sequence frames in the shards.

    One shard member is read at a time, so memory holds one run of frames, never a whole shard.
    """
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


__all__ = [
    "LOCAL_FILES", "MANY_REPO", "NPZ_KEYS", "PUBLISHED_TRANSFER_STD", "SHARDS", "SINGLE_REPO", "atom_permutation",
    "check_positions_file", "iter_shards", "load_positions", "local_settings_record", "read_subsampled_npz",
    "single_system_name", "standardization_std", "stride_subsample", "topology_pdb_text",
]
