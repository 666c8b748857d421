"""Markdown / LaTeX / plain rendering: marks, ties, floors, units, costs and escaping of every record string."""

from __future__ import annotations

import re

from leaderboard.aggregate import Cell, FloorCell, Row, Table
from leaderboard.render_text import format_cell, latex_escape, md_escape, table_text

HOSTILE = "evil\n\\end{tabular}\\input{/etc/passwd} | **x** <b>_y_</b> $z$ % # ~ ^"


def _table(task: str = "8AA") -> Table:
    rows = [
        Row(label="a", method="a_b <x>", method_version="1", final_set="resampled",
            cells={"energy-w2": Cell(mean=1.0, std=0.5, n_seeds=3, rank=1, tied=True)}, costs={"columns": {"hardware": "GPU: H100"}}),
        Row(label="c", method="c", method_version="2", final_set="md", cells={"energy-w2": Cell(mean=1.2, n_seeds=1, rank=1, tied=True)}),
        Row(label="d", method="d", method_version="1", final_set="smc",
            cells={"energy-w2": Cell(mean=0.1, n_seeds=1, reduced=True, n_scored=100, n_protocol=1000)}),
        Row(label="o", method="o", method_version="1", final_set="resampled", track="open", local=True,
            cells={"energy-w2": Cell(mean=0.5, n_seeds=1, rank=1)}, caveats=["open track: used extra data"]),
    ]
    return Table(task=task, task_version=1, tier="quick", budget=10_000, metrics=["energy-w2"], rows=rows,
                 floor={"energy-w2": FloorCell(mean=0.25, n_systems=2, n_expected=2)}, md_runs={"energy-w2": 3.5})


def test_format_cell():
    assert format_cell(Cell(mean=0.2714, std=0.1131)) == "0.271 ± 0.113"
    assert format_cell(Cell(mean=1e4, lower_bound=True)) == "> 10000"
    assert format_cell(Cell(mean=0.5, partial=True, n_systems=28, n_expected=30)) == "0.500 (n=28/30)"
    assert format_cell(Cell(mean=0.5, reduced=True, n_scored=100, n_protocol=1000)) == "0.500 (scored on 100/1000)"
    assert format_cell(None) == "—"
    assert format_cell(Cell(mean=None, partial=True, n_systems=0, n_expected=30)) == "— (n=0/30)"


def test_markdown_marks_ties_floor_tracks_units_and_sets():
    text = table_text(_table(), "md")
    assert "E-W2 \\[kT\\] ↓" in text
    assert "**1.000 ± 0.500** (tie)" in text and "**1.200** (tie)" in text
    assert "0.100 (scored on 100/1000)" in text and "**0.100" not in text  # reduced: flagged, never ranked
    assert re.search(r"noise floor \(reference vs reference\) +\| 0.250", text)
    assert re.search(r"MD run-to-run \(two MD seeds\) +\| 3.500", text)
    assert text.index("closed track") < text.index("open track") < text.index("noise floor")
    assert "o v1 (local)" in text and "open track: used extra data" in text
    assert "SNIS-resampled" in text and "set scored: md: frames of a molecular-dynamics run" in text
    assert "GPU: H100" in text


def test_markdown_escapes_names():
    text = table_text(_table(), "md")
    assert r"a\_b &lt;x&gt;" in text and "<x>" not in text


def test_latex_escapes_and_marks():
    text = table_text(_table(), "latex")
    assert r"a\_b \textless{}x\textgreater{}" in text
    assert r"\textbf{1.000 $\pm$ 0.500} (tie)" in text
    assert latex_escape("50%_&") == r"50\%\_\&"


def test_every_record_string_is_escaped_titles_included():
    """A task name with a newline and TeX/Markdown control sequences cannot break out anywhere."""
    table = _table(task=HOSTILE)
    table.rows[0].method = HOSTILE
    table.rows[0].caveats = [HOSTILE]
    tex = table_text(table, "latex")
    assert r"\input" not in tex and tex.count(r"\end{tabular}") == 1  # only tabulate's own
    assert r"\textbackslash{}input" in tex and r"\$z\$" in tex and r"\%" in tex
    assert not any(line.startswith("evil") for line in tex.splitlines())  # the newline did not end the comment
    md = table_text(table, "md")
    assert "<b>" not in md and r"\*\*x\*\*" in md and r"\|" in md and md_escape("a\nb") == "a b"
    rows = [line for line in md.splitlines() if line.startswith("|")]
    pipes = {len(re.findall(r"(?<!\\)\|", line)) for line in rows}
    assert len(pipes) == 1  # no escaped-out cell boundaries: every row has the header's columns
    assert all(line.startswith(("|", "### ", "_", "- ")) for line in md.splitlines() if line)  # nothing split a line
    assert all(line.startswith(("%", "\\")) or line.rstrip().endswith("\\\\") for line in tex.splitlines() if line)


def test_plain_text_is_not_escaped_and_marks_ranks_in_words():
    text = table_text(_table(), "plain")
    assert "a_b <x> v1" in text and "\\_" not in text and "&lt;" not in text and "**" not in text
    assert "1.000 ± 0.500 [1=]" in text and "[1] best" in text


def test_cli_tables_carry_units(capsys):
    from benchmark.cli.output import print_rows

    print_rows([{"system": "AAA", "energy-w2": 1.5, "torus-w2": 0.5, "tica-w2": 0.1, "ESS": 0.02}], as_json=False)
    header = capsys.readouterr().out.splitlines()[0]
    assert "E-W2 [kT] ↓" in header and "T-W2 [rad] ↓" in header and "ESS [fraction] ↑" in header
    print_rows([{"metric": "md/energy-w2", "value": 1.0}, {"metric": "md/torus-w2", "value": 1.0}], as_json=False)
    text = capsys.readouterr().out
    assert "md/energy-w2 [kT]" in text and "md/torus-w2 [rad]" in text
    print_rows([{"energy-w2": 1.0}], as_json=True)  # scripts keep the raw keys
    assert '"energy-w2"' in capsys.readouterr().out
