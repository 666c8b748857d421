"""Tables as Markdown, LaTeX or plain text (tabulate), with the papers' best-bold / second-underlined marks."""

from __future__ import annotations

import math

from tabulate import tabulate

from leaderboard.aggregate import Cell, Row, Table
from leaderboard.schema import display_name

FORMATS = ("md", "latex", "plain")
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
                  "↓": r"$\downarrow$", "↑": r"$\uparrow$", "—": "---", "±": r"$\pm$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def md_escape(text: str) -> str:
    """Markdown (GitHub) text: HTML brackets as entities, table pipes and emphasis marks backslashed."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + ch if ch in "\\|*_`[]" else ch for ch in text)


def _escaper(fmt: str):
    return {"latex": latex_escape, "md": md_escape}.get(fmt, str)


def format_number(x: float) -> str:
    if float(x).is_integer() and 10 <= abs(x) < 1e6:
        return f"{x:.0f}"  # counts and rates such as samples/s
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.3f}"
    return f"{x:.3g}"


def format_cell(cell: Cell | None) -> str:
    """``0.271 ± 0.113``, ``> 1e+04`` or ``—``; partial cells carry ``(n=28/30)``."""
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
    return text


def _mark(text: str, rank: int | None, fmt: str) -> str:
    if rank == 1:
        return {"md": f"**{text}**", "latex": rf"\textbf{{{text}}}"}.get(fmt, f"*{text}")
    if rank == 2:
        return {"md": f"<u>{text}</u>", "latex": rf"\underline{{{text}}}"}.get(fmt, f"_{text}")
    return text


def _row(row: Row, metrics: list[str], fmt: str) -> list[str]:
    esc = _escaper(fmt)
    cells = [_mark(esc(format_cell(row.cells.get(m))), row.cells[m].rank if m in row.cells else None, fmt) for m in metrics]
    seeds = max((c.n_seeds for c in row.cells.values()), default=0)
    return [esc(row.label), *cells, str(seeds) if row.kind == "harness" else ""]


def budget_label(budget: int | None) -> str:
    """``200000`` -> ``2e5`` (the papers' way of writing budgets); None -> ``no budget``."""
    if budget is None:
        return "no budget"
    mantissa, exponent = f"{budget:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def table_title(table: Table) -> str:
    budget = "no budget" if table.budget is None else f"budget {budget_label(table.budget)}"
    return f"{table.task} v{table.task_version} · {table.tier} tier · {budget}"


def table_text(table: Table, fmt: str = "md") -> str:
    """One table: harness rows, then a marked block of published rows."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    esc = _escaper(fmt)
    headers = ["method", *[esc(display_name(m)) for m in table.metrics], "seeds"]
    body = [_row(r, table.metrics, fmt) for r in table.rows]
    if not table.rows:
        body.append([esc("(no bgbench results)"), *[""] * (len(headers) - 1)])
    sources = sorted({r.source for r in table.published})
    for source in sources:
        label = f"as published: {source}"
        body.append([{"md": f"*{esc(label)}*", "latex": rf"\emph{{{esc(label)}}}"}.get(fmt, f"-- {label} --"), *[""] * (len(headers) - 1)])
        body.extend(_row(r, table.metrics, fmt) for r in table.published if r.source == source)
    tablefmt = {"md": "github", "latex": "latex_raw", "plain": "simple"}[fmt]
    text = tabulate(body, headers=headers, tablefmt=tablefmt, disable_numparse=True)
    title = table_title(table)
    legend = "best bold, second underlined; partial tasks (n=ok/expected) are not ranked"
    if fmt == "md":
        return f"### {md_escape(title)}\n\n{text}\n\n_{legend}._"
    if fmt == "latex":
        return f"% {title}; {legend}\n{text}"
    return f"{title}\n{text}\n({legend.replace('bold', 'marked *').replace('underlined', 'marked _')})"
