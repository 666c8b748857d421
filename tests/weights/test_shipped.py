"""Shipped weights: a read-only root in the repository, searched after the local store under the same key."""

from __future__ import annotations

import json

import pytest
import torch

from benchmark.weights import ShippedEntry, WeightsError, WeightsKey, WeightsStore, ship
from benchmark.weights.store import CHECKPOINT_FILE, MANIFEST_FILE, WEIGHTS_FILE


def key(**kw) -> WeightsKey:
    base = dict(method="m", task="4AA", tier="quick", subject="corpus", seed=0, config={"steps": 3}, data_hash="h")
    return WeightsKey(**{**base, **kw})


@pytest.fixture
def shipped_root(tmp_path):
    """A shipped root holding one finished entry (trained into a scratch store, then shipped)."""
    trained = WeightsStore(tmp_path / "scratch", shipped=None).entry(key())
    with trained.lock():
        trained.save_checkpoint({"step": 3}, 3, 3)
        trained.save_weights({"w": torch.arange(4.0)}, info={"sigma": 0.3})
    root = tmp_path / "shipped"
    ship(trained, root)
    return root


def test_a_shipped_entry_is_found_after_the_local_store_under_the_same_key(tmp_path, shipped_root):
    store = WeightsStore(tmp_path / "weights", shipped=shipped_root)
    entry = store.entry(key())
    assert isinstance(entry, ShippedEntry) and entry.complete and entry.info["sigma"] == 0.3
    assert torch.equal(entry.load_weights()["w"], torch.arange(4.0))
    files = json.loads((entry.folder / MANIFEST_FILE).read_text())["files"]
    assert set(files) == {WEIGHTS_FILE} and not (entry.folder / CHECKPOINT_FILE).exists()  # no training state shipped
    for other in (key(seed=1), key(data_hash="other"), key(config={"steps": 4}), key(task="8AA")):
        assert not isinstance(store.entry(other), ShippedEntry)
    assert not isinstance(WeightsStore(tmp_path / "weights", shipped=None).entry(key()), ShippedEntry)
    assert [e.describe()["source"] for e in store.entries()] == ["shipped"]


def test_a_local_entry_wins_and_a_shipped_one_is_never_written(tmp_path, shipped_root):
    store = WeightsStore(tmp_path / "weights", shipped=shipped_root)
    shipped = store.entry(key())
    with shipped.lock():  # locking a shipped entry writes nothing
        pass
    assert not (shipped.folder / ".lock").exists()
    with pytest.raises(WeightsError, match="read-only"):
        shipped.save_weights({"w": torch.zeros(4)})
    local = WeightsStore(tmp_path / "weights", shipped=None).entry(key())
    with local.lock():
        local.save_weights({"w": torch.ones(4)})
    assert not isinstance(store.entry(key()), ShippedEntry) and torch.equal(store.entry(key()).load_weights()["w"], torch.ones(4))


def test_a_changed_shipped_file_is_refused(tmp_path, shipped_root):
    entry = WeightsStore(tmp_path / "weights", shipped=shipped_root).entry(key())
    (entry.folder / WEIGHTS_FILE).write_bytes(b"not the shipped weights")
    with pytest.raises(WeightsError, match="does not match its manifest"):
        entry.load_weights()


def test_a_shipped_manifest_under_another_key_is_ignored(tmp_path, shipped_root):
    store = WeightsStore(tmp_path / "weights", shipped=shipped_root)
    entry = store.entry(key())
    manifest = json.loads((entry.folder / MANIFEST_FILE).read_text())
    manifest["key"]["seed"] = 7  # the folder name says one key, the manifest another
    (entry.folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert not isinstance(store.entry(key()), ShippedEntry)


def test_bgbench_weights_ship_copies_a_trained_entry_without_local_paths(tmp_path, capsys):
    from benchmark.cli import main

    work = tmp_path / "work"
    trained = WeightsStore(work / "weights", shipped=None).entry(key())
    with trained.lock():
        trained.save_checkpoint({"step": 3}, 3, 3)
        trained.save_weights({"w": torch.arange(4.0)}, info={"sigma": 0.3})
    root = tmp_path / "shipped"
    assert main(["weights", "ship", trained.digest[:10], "--work-dir", str(work), "--to", str(root)]) == 0
    expected = json.loads((trained.folder / MANIFEST_FILE).read_text())["files"][WEIGHTS_FILE]["sha256"]
    assert f"sha256 {expected}" in capsys.readouterr().out
    entry = WeightsStore(tmp_path / "fresh", shipped=root).entry(key())
    assert isinstance(entry, ShippedEntry) and torch.equal(entry.load_weights()["w"], torch.arange(4.0))
    assert str(tmp_path) not in (entry.folder / MANIFEST_FILE).read_text()
    assert main(["weights", "ship", "0" * 12, "--work-dir", str(work), "--to", str(root)]) == 2  # no such entry
