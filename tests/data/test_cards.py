"""Data cards parse and carry the facts of the registry and of cached data; `data info` compares with them."""

from __future__ import annotations

import numpy as np
import yaml

from benchmark.cli import main
from benchmark.data import cards
from benchmark.data.cards import card_hashes, folded_fraction, write_cards
from benchmark.data.generate import prepare_system
from benchmark.tasks import get_task


def _front(path):
    text = path.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1]), text


def test_cards_have_front_matter_populations_and_limits(tmp_path, small_segments, tiny_task, monkeypatch):
    task = tiny_task(frames=110, interval=5)  # replicas longer than the TICA lag, for the noise floor
    prepare_system(task, "quick", task.systems[0], tmp_path / "data", seed=0, progress=False)
    monkeypatch.setattr(cards, "TASKS", {"ALDP": task, "8AA": get_task("8AA")})
    paths = write_cards(tmp_path / "cards", tmp_path / "data")
    names = sorted(p.name for p in paths)
    assert names == ["published-8AA.md", "published-ALDP.md", "quick-8AA.md", "quick-ALDP.md", "quick-training-corpus.md"]
    front, text = _front(tmp_path / "cards" / "quick-ALDP.md")
    assert front["temperature_K"] == 300.0 and front["integrator"]["friction_per_ps"] == 1.0
    assert front["replica_md"]["replicas"] == {"train": 3, "val": 1, "test": 2}
    assert front["replica_md"]["precision"] == "double" and front["replica_md"]["frames_per_replica"] == 110
    facts = front["systems"]["Ace-A-Nme"]
    assert set(facts["hashes_sha256"]) == {"train.npy", "val.npy", "test.npy", "energies.npy", "topology.pdb"}
    pops = facts["basin_populations"]
    assert set(pops) == {"train", "val", "test"} and set(pops["train"]["A1"]) == {"alpha_R", "beta", "PII", "alpha_L"}
    assert abs(sum(m for m, _ in pops["test"]["A1"].values()) - 1.0) < 1e-3
    assert "| residue | basin | train | test | z |" in text
    floor = facts["noise_floor"]
    assert floor["samples_per_half"] == 20 and floor["torus-w2"] > 0 and floor["energy-w2"] > 0
    assert "### Ace-A-Nme: noise floor" in text
    assert "## Limits" in text and "not comparable with paper numbers" in text
    front, _ = _front(tmp_path / "cards" / "published-8AA.md")
    assert front["std_nm"] == 0.35 and len(front["test_sequences"]) == 30
    front, text = _front(tmp_path / "cards" / "quick-training-corpus.md")
    assert front["count"] == 28 and front["lengths"] == [2, 3, 4, 5, 6, 7, 8]
    assert "cannot show" in text


def test_card_hashes_and_data_info(tmp_path, small_segments, tiny_task, monkeypatch, capsys):
    task = tiny_task(frames=110, interval=5)
    data = tmp_path / "data"
    prepare_system(task, "quick", task.systems[0], data, seed=0, progress=False)
    monkeypatch.setattr(cards, "TASKS", {"ALDP": task})
    write_cards(tmp_path / "cards", data)
    hashes = card_hashes("ALDP", tmp_path / "cards")
    assert set(hashes) == {"Ace-A-Nme"} and len(hashes["Ace-A-Nme"]) == 5
    monkeypatch.setattr(cards, "CARDS_DIR", tmp_path / "cards")
    monkeypatch.setattr("benchmark.cli.data.get_task", lambda name: task)
    assert main(["data", "info", "ALDP", "--data-dir", str(data), "--check"]) == 0
    assert "matches data card" in capsys.readouterr().out
    prepare_system(task, "quick", task.systems[0], data, seed=1, progress=False)  # other data than the card's
    assert main(["data", "info", "ALDP", "--data-dir", str(data)]) == 0
    assert "DIFFERS from data card" in capsys.readouterr().out
    assert main(["data", "info", "ALDP", "--data-dir", str(data), "--check"]) == 1  # what CI runs after `data prepare`
    assert "not the data card's" in capsys.readouterr().out


def test_folded_fraction_on_built_structures():
    """The extended built chain is unfolded; a chain with both cross-strand CA pairs pulled together counts as folded."""
    system = get_task("CHIGNOLIN").systems[0].build()
    x = system.initial_positions
    assert folded_fraction(x[None], system) == 0.0
    ca = {int(system.residue_index[i]) + 1: i for i, n in enumerate(system.atom_names) if n == "CA"}
    folded = x.copy()
    folded[ca[8]] = folded[ca[3]] + [0.5, 0, 0]
    folded[ca[9]] = folded[ca[2]] + [0.5, 0, 0]
    half = folded.copy()
    half[ca[9]] = half[ca[2]] + [0.7, 0, 0]
    assert folded_fraction(np.stack([x, folded, half, folded]), system) == 0.5
