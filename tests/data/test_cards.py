"""Data cards parse and carry the facts of the registry and of cached data."""

from __future__ import annotations

import yaml

from benchmark.data.cards import write_cards
from benchmark.data.generate import prepare_system
from benchmark.tasks import get_task


def _front(path):
    text = path.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1]), text


def test_cards_have_front_matter_and_limits(tmp_path, small_chunks, tiny_task, monkeypatch):
    task = tiny_task()
    prepare_system(task, "quick", task.systems[0], tmp_path / "data", seed=0, progress=False)
    monkeypatch.setattr("benchmark.data.cards.TASKS", {"ALDP": task, "8AA": get_task("8AA")})
    paths = write_cards(tmp_path / "cards", tmp_path / "data")
    names = sorted(p.name for p in paths)
    assert names == ["published-8AA.md", "published-ALDP.md", "quick-8AA.md", "quick-ALDP.md", "quick-training-corpus.md"]
    front, text = _front(tmp_path / "cards" / "quick-ALDP.md")
    assert front["temperature_K"] == 300.0 and front["integrator"]["friction_per_ps"] == 1.0
    assert front["frames"] == 120 and front["splits"]["test"] == [84, 120]
    hashes = front["systems"]["Ace-A-Nme"]["hashes_sha256"]
    assert set(hashes) == {"train.npy", "val.npy", "test.npy", "energies.npy", "topology.pdb"}
    assert "## Limits" in text and "not comparable with paper numbers" in text
    front, _ = _front(tmp_path / "cards" / "published-8AA.md")
    assert front["std_nm"] == 0.35 and len(front["test_sequences"]) == 30
    front, _ = _front(tmp_path / "cards" / "quick-training-corpus.md")
    assert front["count"] == 14 and front["lengths"] == [2, 3, 4, 5, 6, 7, 8]
