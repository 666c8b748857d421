"""Tables as Markdown, LaTeX or plain text (tabulate), with the papers' best / second marks, ties, floors and costs.

Every string that can come from a record or a submission (method names, task names in titles, sets,
hardware, caveats) goes through the format's escaper, titles and labels included. Whitespace and
control characters collapse to single spaces first, so a newline in a name can neither end a LaTeX
comment nor split a Markdown table row. Plain text (for a terminal) is not escaped at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from tabulate import tabulate

from leaderboard.aggregate import Cell, FloorCell, Row, Table
from leaderboard.costs import COLUMNS as COST_COLUMNS
from benchmark.units import display_name
from leaderboard.schema import SET_ORDER, set_words

FORMATS = ("md", "latex", "plain")
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
                  "↓": r"$\downarrow$", "↑": r"$\uparrow$", "—": "---", "±": r"$\pm$", "×": r"$\times$", "≈": r"$\approx$", "·": r"$\cdot$"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\s]+")
#: Short words for the scored set, for table cells (``schema.SET_WORDS`` has the full sentence).
SET_SHORT = {"proposal": "raw proposals", "resampled": "SNIS-resampled", "smc": "SMC particles", "md": "MD frames", "samples": "own samples"}


def one_line(text: object) -> str:
    """Whitespace and control characters collapsed to single spaces."""
    return _CONTROL.sub(" ", str(text)).strip()


def latex_escape(text: object) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in one_line(text))


def md_escape(text: object) -> str:
    """Markdown (GitHub) text: HTML brackets as entities, table pipes and emphasis marks backslashed."""
    text = one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + ch if ch in "\\|*_`[]#~" else ch for ch in text)


def _escaper(fmt: str) -> Callable[[object], str]:
    return {"latex": latex_escape, "md": md_escape}.get(fmt, one_line)


def format_number(x: float) -> str:
    if float(x).is_integer() and 10 <= abs(x) < 1e6:
        return f"{x:.0f}"  # counts and rates such as samples/s
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.3f}"
    return f"{x:.3g}"


def format_cell(cell: Cell | None) -> str:
    """``0.271 ± 0.113``, ``> 1e+04`` or ``—``; partial cells carry ``(n=28/30)``, reduced ones ``(scored on 100/1000)``."""
    if cell is None or cell.mean is None or not math.isfinite(cell.mean):
        return f"— (n={cell.n_systems}/{cell.n_expected})" if cell is not None and cell.partial else "—"
    if cell.lower_bound:
        text = f"> {cell.mean:g}"
    else:
        text = format_number(cell.mean)
        if cell.std is not None:
            text += f" ± {format_number(cell.std)}"
    if cell.partial:
        text += f" (n={cell.n_systems}/{cell.n_expected})"
    if cell.reduced:
        text += f" (scored on {cell.n_scored}/{cell.n_protocol})"
    return text


def format_floor(floor: FloorCell | None) -> str:
    if floor is None or floor.mean is None:
        return "—"
    return format_number(floor.mean) + ("" if floor.complete else f" (n={floor.n_systems}/{floor.n_expected})")


def _mark(text: str, cell: Cell | None, fmt: str) -> str:
    rank = cell.rank if cell else None
    tie = " (tie)" if cell is not None and cell.tied else ""
    if rank == 1:
        return {"md": f"**{text}**{tie}", "latex": rf"\textbf{{{text}}}{tie}"}.get(fmt, f"{text} [1{'=' if tie else ''}]")
    if rank == 2:
        return {"md": f"<u>{text}</u>{tie}", "latex": rf"\underline{{{text}}}{tie}"}.get(fmt, f"{text} [2{'=' if tie else ''}]")
    return text


def _label(row: Row) -> str:
    if row.kind == "published":
        return row.label
    return f"{row.method} v{row.method_version}" + (" (local)" if row.local else "")


def _row(row: Row, table: Table, fmt: str) -> list[str]:
    esc = _escaper(fmt)
    cells = [_mark(esc(format_cell(row.cells.get(m))), row.cells.get(m), fmt) for m in table.metrics]
    if row.kind == "published":
        return [esc(_label(row)), *cells, "", esc(row.protocol + ("" if row.comparable else "; not ranked")), *[""] * len(COST_COLUMNS)]
    seeds = max((c.n_seeds for c in row.cells.values()), default=0)
    columns = row.costs.get("columns", {})
    return [esc(_label(row)), *cells, str(seeds), esc(SET_SHORT.get(row.final_set, row.final_set)),
            *[esc(columns.get(c, "—")) for c in COST_COLUMNS]]


def budget_label(budget: int | None) -> str:
    """``200000`` -> ``2e5`` (the papers' way of writing budgets); None -> ``no budget``."""
    if budget is None:
        return "no budget"
    mantissa, exponent = f"{budget:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def table_title(table: Table) -> str:
    budget = "no budget" if table.budget is None else f"budget {budget_label(table.budget)}"
    return f"{table.task} v{table.task_version} · {table.tier} tier · {budget}"


def _section(label: str, width: int, fmt: str) -> list[str]:
    esc = _escaper(fmt)
    cell = {"md": f"*{esc(label)}*", "latex": rf"\emph{{{esc(label)}}}"}.get(fmt, f"-- {label} --")
    return [cell, *[""] * (width - 1)]


TRACK_WORDS = {"closed": "closed track: the task's training data and budget only",
               "open": "open track: anything goes, disclosed"}


def table_text(table: Table, fmt: str = "md") -> str:
    """One table: a section per track, the noise floor, then a marked block per published source."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    esc = _escaper(fmt)
    headers = [esc(h) for h in ("method", *[display_name(m) for m in table.metrics], "seeds", "set scored", *COST_COLUMNS)]
    width = len(headers)
    body: list[list[str]] = []
    for track in ("closed", "open"):
        rows = [r for r in table.rows if r.track == track]
        if rows:
            body.append(_section(TRACK_WORDS[track], width, fmt))
            body.extend(_row(r, table, fmt) for r in rows)
    if not table.rows:
        body.append([esc("(no bgbench results)"), *[""] * (width - 1)])
    if table.rows:
        body.append([esc("noise floor (reference vs reference)"), *[esc(format_floor(table.floor.get(m))) for m in table.metrics],
                     *[""] * (width - 1 - len(table.metrics))])
        if table.md_runs:
            body.append([esc("MD run-to-run (two MD seeds)"),
                         *[esc(format_number(table.md_runs[m]) if m in table.md_runs else "—") for m in table.metrics],
                         *[""] * (width - 1 - len(table.metrics))])
    for source in sorted({r.source for r in table.published}):
        body.append(_section(f"as published: {source}", width, fmt))
        body.extend(_row(r, table, fmt) for r in table.published if r.source == source)
    tablefmt = {"md": "github", "latex": "latex_raw", "plain": "simple"}[fmt]
    text = tabulate(body, headers=headers, tablefmt=tablefmt, disable_numparse=True)
    title = table_title(table)
    sets = [s for s in SET_ORDER if any(r.final_set == s for r in table.rows)] + sorted({r.final_set for r in table.rows if r.final_set} - set(SET_ORDER))
    notes = [f"{s}: {set_words(s)}" for s in sets]
    caveats = [f"{_label(r)}: {c}" for r in table.rows + table.published for c in r.caveats]
    if fmt == "plain":
        legend = ("[1] best, [2] second per column, [1=] tied within the noise floor; partial tasks (n=ok/expected) "
                  "and sets scored on fewer samples than the protocol are not ranked")
        return "\n".join([title, text, f"({legend})", *[f"set scored: {n}" for n in notes], *[f"note: {c}" for c in caveats]])
    legend = ("best bold, second underlined, (tie): within the noise floor of another value of the same rank; partial tasks (n=ok/expected) "
              "and sets scored on fewer samples than the protocol are not ranked")
    if fmt == "md":
        lines = [f"### {md_escape(title)}", "", text, "", f"_{md_escape(legend)}._"]
        lines += [f"- set scored: {md_escape(n)}" for n in notes] + [f"- note: {md_escape(c)}" for c in caveats]
        return "\n".join(lines)
    lines = [f"% {latex_escape(title)}; {latex_escape(legend)}", text]
    lines += [f"% set scored: {latex_escape(n)}" for n in notes] + [f"% note: {latex_escape(c)}" for c in caveats]
    return "\n".join(lines)
