"""Markdown / LaTeX rendering: marks, escaping, formatting."""

from __future__ import annotations

from leaderboard.aggregate import Cell, Row, Table
from leaderboard.render_text import format_cell, latex_escape, table_text


def _table() -> Table:
    rows = [
        Row(label="a_b <x>", method="a", cells={"energy-w2": Cell(mean=1.0, std=0.5, n_seeds=3, rank=1)}),
        Row(label="c", method="c", cells={"energy-w2": Cell(mean=2.0, n_seeds=1, rank=2)}),
        Row(label="d", method="d", cells={"energy-w2": Cell(mean=0.1, n_seeds=1, partial=True, n_systems=28, n_expected=30)}),
    ]
    return Table(task="8AA", task_version=1, tier="quick", budget=10_000, metrics=["energy-w2"], rows=rows)


def test_format_cell():
    assert format_cell(Cell(mean=0.2714, std=0.1131)) == "0.271 ± 0.113"
    assert format_cell(Cell(mean=1e4, lower_bound=True)) == "> 10000"
    assert format_cell(Cell(mean=0.5, partial=True, n_systems=28, n_expected=30)) == "0.500 (n=28/30)"
    assert format_cell(None) == "—"
    assert format_cell(Cell(mean=None, partial=True, n_systems=0, n_expected=30)) == "— (n=0/30)"


def test_markdown_marks_best_and_second():
    text = table_text(_table(), "md")
    assert "**1.000 ± 0.500**" in text and "<u>2.000</u>" in text and "0.100 (n=28/30)" in text


def test_markdown_escapes_names():
    text = table_text(_table(), "md")
    assert r"a\_b &lt;x&gt;" in text and "<x>" not in text


def test_latex_escapes_and_marks():
    text = table_text(_table(), "latex")
    assert r"a\_b \textless{}x\textgreater{}" in text
    assert r"\textbf{1.000 $\pm$ 0.500}" in text and r"\underline{2.000}" in text
    assert latex_escape("50%_&") == r"50\%\_\&"
