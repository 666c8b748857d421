"""`bgbench tasks`, `bgbench systems`, `bgbench version` through the real entry point."""

from __future__ import annotations

import json

from benchmark.cli import main


def test_tasks_json(capsys):
    assert main(["tasks", "--json", "--no-atoms"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["task"] for r in rows] == ["ALDP", "AL3", "AL4", "AL6", "CHIGNOLIN", "2AA", "4AA", "8AA"]


def test_systems_8aa_lists_30_with_atom_counts(capsys):
    assert main(["systems", "8AA", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 30 and all(100 <= r["atoms"] <= 160 for r in rows)


def test_unknown_task_exit_code_and_message(capsys):
    assert main(["systems", "8ab"]) == 2
    assert "Did you mean '8AA'" in capsys.readouterr().err


def test_version(capsys):
    assert main(["version", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["openmm"]
