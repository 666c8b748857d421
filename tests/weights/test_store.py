"""The weights store: keys, atomic entries, hashes, locks."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest
import torch

from benchmark.weights import WeightsError, WeightsKey, WeightsStore


def key(**kw) -> WeightsKey:
    base = dict(method="m", task="ALDP", tier="quick", subject="Ace-A-Nme", seed=0, config={"steps": 10}, data_hash="abc")
    return WeightsKey(**{**base, **kw})


def test_every_key_field_changes_the_entry(tmp_path):
    store = WeightsStore(tmp_path)
    base = store.entry(key()).folder
    for change in ({"config": {"steps": 11}}, {"data_hash": "abd"}, {"seed": 1}, {"tier": "paper"},
                   {"subject": "x"}, {"method": "n"}, {"task": "AL3"}):
        assert store.entry(key(**change)).folder != base
    assert store.entry(key()).folder == base


def test_weights_round_trip_and_listing(tmp_path):
    store = WeightsStore(tmp_path)
    entry = store.entry(key())
    state = {"w": torch.randn(3, 4), "b": torch.arange(3.0)}
    with entry.lock():
        entry.save_checkpoint({"model": state, "step": 5}, step=5, total_steps=10)
        assert not entry.complete and entry.load_checkpoint()["step"] == 5
        entry.save_weights(state, info={"sigma": 0.2})
    again = store.find(entry.digest[:10])
    assert again.complete and again.info["sigma"] == 0.2
    loaded = again.load_weights()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    rows = [e.describe() for e in store.entries()]
    assert rows[0]["method"] == "m" and rows[0]["status"] == "complete" and rows[0]["sha256"]


def test_a_changed_file_is_refused_with_what_to_do(tmp_path):
    entry = WeightsStore(tmp_path).entry(key())
    with entry.lock():
        entry.save_weights({"w": torch.ones(2)})
    data = bytearray((entry.folder / "weights.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (entry.folder / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="does not match its manifest.*bgbench weights rm"):
        entry.load_weights()


def _hold(folder, seconds, started):
    from benchmark.weights.store import WeightsEntry

    with WeightsEntry(folder).lock():
        started.set()
        time.sleep(seconds)
        (folder / "first.txt").write_text("done")


def test_a_second_writer_waits_for_the_first(tmp_path):
    entry = WeightsStore(tmp_path).entry(key())
    entry.folder.mkdir(parents=True)
    started = mp.get_context("fork").Event()
    proc = mp.get_context("fork").Process(target=_hold, args=(entry.folder, 1.0, started))
    proc.start()
    started.wait(10)
    with entry.lock(wait_message=False):
        assert (entry.folder / "first.txt").exists()  # we only got the lock after the first writer finished
    proc.join()


def test_cli_lists_entries_and_refuses_a_damaged_one(tmp_path, capsys):
    from benchmark.cli import main

    entry = WeightsStore(tmp_path / "weights").entry(key())
    with entry.lock():
        entry.save_weights({"w": torch.ones(2)})
    assert main(["weights", "list", "--work-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert entry.digest[:12] in out and "ALDP" in out and "complete" in out
    (entry.folder / "weights.safetensors").write_bytes(b"garbage")
    assert main(["weights", "info", entry.digest[:8], "--work-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    with pytest.raises(WeightsError):
        entry.load_weights()
    assert main(["weights", "rm", entry.digest[:8], "--work-dir", str(tmp_path)]) == 0
    assert not entry.folder.exists()
