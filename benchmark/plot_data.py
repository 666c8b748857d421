"""The per-record sidecar with small sample arrays for the leaderboard's plots (written by the harness).

Records hold numbers only; histograms and densities need samples. A run may write
``<record>.samples.npz`` next to its record with keys ``"{system}/{kind}/{set}"``:

* ``energies``: 1-D energies in kT;
* ``phi_psi``: (M, 2) first backbone (phi, psi) pair in radians;
* ``tica``: (M, 2) projection on the first two TICA components.

Sets are ``"reference"`` plus the method's sets (``"proposal"``, ``"resampled"``, ``"smc"``, ...).
Arrays are thinned to at most ``MAX_POINTS`` rows so sidecars stay small enough to commit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.errors import DataError
from benchmark.io import atomic_save_npz

KINDS = {"energies": 1, "phi_psi": 2, "tica": 2}  # kind -> ndim
MAX_POINTS = 5_000
SUFFIX = ".samples.npz"


def sidecar_path(record_path: Path) -> Path:
    """Where the plot data of a record lives: ``run.json`` -> ``run.json.samples.npz``."""
    record_path = Path(record_path)
    return record_path.with_name(record_path.name + SUFFIX)


def plot_key(system: str, kind: str, set_name: str) -> str:
    return f"{system}/{kind}/{set_name}"


def _check(key: str, array: np.ndarray) -> tuple[str, str, str]:
    parts = key.split("/")
    if len(parts) != 3 or not all(parts):
        raise DataError(f"plot data key {key!r} must look like 'SYSTEM/KIND/SET'")
    system, kind, set_name = parts
    if kind not in KINDS:
        raise DataError(f"plot data key {key!r}: kind must be one of {sorted(KINDS)}")
    ndim = KINDS[kind]
    if array.ndim != ndim or (ndim == 2 and array.shape[1] != 2):
        want = "(M,)" if ndim == 1 else "(M, 2)"
        raise DataError(f"plot data {key!r} has shape {array.shape}; expected {want}")
    return system, kind, set_name


def thin(array: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Keep at most ``max_points`` rows with an even stride (deterministic, order-preserving)."""
    if len(array) <= max_points:
        return array
    idx = np.linspace(0, len(array) - 1, max_points).round().astype(int)
    return array[idx]


def write_plot_data(path: Path, data: dict[str, np.ndarray], max_points: int = MAX_POINTS) -> Path:
    """Write plot arrays (float32, thinned, non-finite rows dropped) to ``path`` atomically.

    ``path`` may be the record's path (the sidecar name is derived) or the ``.npz`` path itself.
    """
    path = Path(path)
    if not path.name.endswith(SUFFIX):
        path = sidecar_path(path)
    arrays: dict[str, np.ndarray] = {}
    for key, value in data.items():
        array = np.asarray(value, dtype=np.float64)
        _check(key, array)
        finite = np.isfinite(array) if array.ndim == 1 else np.isfinite(array).all(axis=1)
        arrays[key] = thin(array[finite], max_points).astype(np.float32)
    return atomic_save_npz(path, compressed=True, **arrays)


def read_plot_data(path: Path) -> dict[str, np.ndarray]:
    """Read a sidecar; raise DataError (with the path) when it is not a valid plot-data file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read plot data ({err})") from err
    for key, array in data.items():
        try:
            _check(key, array)
        except DataError as err:
            raise DataError(f"{path}: {err}") from err
    return data


def systems_in(data: dict[str, np.ndarray]) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Nest flat keys as ``{system: {kind: {set: array}}}``."""
    nested: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for key, array in data.items():
        system, kind, set_name = key.split("/")
        nested.setdefault(system, {}).setdefault(kind, {})[set_name] = array
    return nested
