"""The plot-data sidecar: round trip, thinning, validation."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.errors import DataError
from benchmark.plot_data import MAX_POINTS, read_plot_data, sidecar_path, systems_in, thin, write_plot_data


def test_round_trip_next_to_the_record(tmp_path):
    record = tmp_path / "run.json"
    energies = np.linspace(-10, 10, 7)
    phi_psi = np.array([[0.1, -0.2], [np.nan, 1.0], [3.0, -3.0]])
    path = write_plot_data(record, {"AA/energies/reference": energies, "AA/phi_psi/proposal": phi_psi})
    assert path == sidecar_path(record) == tmp_path / "run.json.samples.npz"
    data = read_plot_data(path)
    np.testing.assert_allclose(data["AA/energies/reference"], energies, rtol=1e-6)
    np.testing.assert_allclose(data["AA/phi_psi/proposal"], phi_psi[[0, 2]], rtol=1e-6)  # NaN row dropped
    assert systems_in(data)["AA"]["phi_psi"]["proposal"].shape == (2, 2)


def test_thinning_keeps_ends_and_count():
    x = np.arange(20_000)
    y = thin(x)
    assert len(y) == MAX_POINTS and y[0] == 0 and y[-1] == 19_999 and np.all(np.diff(y) > 0)
    assert thin(x[:10]) is not None and len(thin(x[:10])) == 10


@pytest.mark.parametrize("key,array", [
    ("AA/energies", np.zeros(3)),
    ("AA/weights/reference", np.zeros(3)),
    ("AA/energies/reference", np.zeros((3, 2))),
    ("AA/tica/reference", np.zeros((3, 3))),
])
def test_invalid_keys_and_shapes_raise(tmp_path, key, array):
    with pytest.raises(DataError):
        write_plot_data(tmp_path / "r.json", {key: array})


def test_unreadable_sidecar_names_its_path(tmp_path):
    bad = tmp_path / "r.json.samples.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="r.json.samples.npz"):
        read_plot_data(bad)
