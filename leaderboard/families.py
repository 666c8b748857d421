"""Method families side by side: the members of one family on the tasks of the paper tables that compare them.

The board ranks each task's table on its own; a paper's ablation (ARBG's categorical head against
GIVT and the PixelCNN++ mixtures, its Tables 1 and A.3) reads across methods and tasks at once.
A ``Family`` names its members (bgbench method and the paper's row labels) and tasks; ``family_rows``
takes, per task and member, the bgbench cell of the board's table at the tier's default budget and
the published cell of the paper's table, and puts them in separate column groups: the two are
never ranked together (different data, models and budgets), only shown beside each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from benchmark.errors import UnknownNameError
from benchmark.tasks import get_task
from leaderboard.aggregate import Cell, Row, Table
from leaderboard.board import Board
from leaderboard.render_text import FORMATS, _escaper, budget_label, format_cell, md_escape
from benchmark.units import display_name


@dataclass(frozen=True)
class Member:
    """One method of a family: its label, its bgbench method name, its row labels in the paper (first found wins)."""

    label: str
    method: str
    published: tuple[str, ...]


@dataclass(frozen=True)
class Family:
    slug: str
    title: str
    note: str
    members: tuple[Member, ...]
    tasks: tuple[str, ...]
    metrics: tuple[str, ...] = ("energy-w2", "torus-w2")


#: ARBG paper Table 1 (AL3 .. Chignolin, SNIS) and Table A.3 (ALDP). For ARBG the T = 1 row is shown
#: where the paper has one: the mixture rows are all at T = 1, and so is bgbench's quick ARBG.
FAMILIES: tuple[Family, ...] = (
    Family(
        slug="arbg-heads",
        title="ARBG's output heads: categorical (ARBG), GIVT, MoL-PixelCNN++, GMM-PixelCNN++",
        note="One backbone and training, four output heads (ARBG paper §3.1, Tables 1 and A.3). bgbench columns: "
             "quick tier, SNIS at the task's quick budget, mean ± std over seeds; small models trained for minutes "
             "(the mixture heads for fewer steps than ARBG), so these are code-path checks, not a comparison of the "
             "heads. Paper columns: as published "
             "(SNIS on 2x10^5 proposals, the paper's data and models). Shown side by side, never ranked together.",
        members=(
            Member("ARBG", "arbg", ("ARBG (T = 1)", "ARBG")),
            Member("GIVT", "givt", ("GIVT",)),
            Member("MoL-PixelCNN++", "mol-pixelcnn", ("MoL-PixelCNN++",)),
            Member("GMM-PixelCNN++", "gmm-pixelcnn", ("GMM-PixelCNN++",)),
        ),
        tasks=("ALDP", "AL3", "AL4", "AL6", "CHIGNOLIN"),
    ),
)


@dataclass
class FamilyRow:
    task: str
    member: str
    harness: dict[str, Cell] = field(default_factory=dict)
    harness_label: str = ""  # "arbg v2 · 3 seeds · budget 1e4", "" when there is no record
    published: dict[str, Cell] = field(default_factory=dict)
    published_label: str = ""  # "ARBG (T = 1), Table 1", "" when the paper has no row


def _default_budget(task: str, tier: str) -> int | None:
    try:
        return int(get_task(task).protocol(tier).default_budget)
    except (UnknownNameError, KeyError, ValueError, AttributeError):
        return None


def _harness_row(tables: list[Table], task: str, tier: str, method: str) -> tuple[Row | None, Table | None]:
    """The member's closed-track row in the task's table at the tier's default budget (committed before local)."""
    budget = _default_budget(task, tier)
    for table in tables:
        if (table.task, table.tier, table.budget) != (task, tier, budget):
            continue
        rows = [r for r in table.rows if r.method == method and r.track == "closed"]
        if rows:
            return sorted(rows, key=lambda r: (r.local, r.method_version))[0], table
    return None, None


def family_rows(board: Board, family: Family, tier: str = "quick") -> list[FamilyRow]:
    """Per task (those with any bgbench or published value for a member) and member: both cells and their labels."""
    out: list[FamilyRow] = []
    for task in family.tasks:
        rows = []
        for member in family.members:
            row = FamilyRow(task=task, member=member.label)
            harness, table = _harness_row(board.tables, task, tier, member.method)
            if harness is not None and table is not None:
                row.harness = {m: harness.cells[m] for m in family.metrics if m in harness.cells}
                seeds = max((c.n_seeds for c in harness.cells.values()), default=0)
                row.harness_label = (f"{harness.method} v{harness.method_version}{' (local)' if harness.local else ''}"
                                     f" · {seeds} seed{'s' if seeds != 1 else ''} · budget {budget_label(table.budget)}")
            for label in member.published:
                values = [v for v in board.published if v.task == task and v.method == label and v.metric in family.metrics]
                if values:
                    row.published = {v.metric: v.cell for v in values}
                    row.published_label = f"{label}, {values[0].table}"
                    break
            rows.append(row)
        if any(r.harness or r.published for r in rows):
            out.extend(rows)
    return out


def family_view(board: Board, family: Family, tier: str = "quick") -> dict[str, Any]:
    """The family as plain data (release.json and the site)."""
    rows = family_rows(board, family, tier)
    return {"slug": family.slug, "title": family.title, "note": family.note, "tier": tier, "metrics": list(family.metrics),
            "rows": [{"task": r.task, "member": r.member, "harness": {m: format_cell(c) for m, c in r.harness.items()},
                      "harness_label": r.harness_label, "published": {m: format_cell(c) for m, c in r.published.items()},
                      "published_label": r.published_label} for r in rows]}


def family_text(board: Board, family: Family, fmt: str = "md", tier: str = "quick") -> str:
    """The family as one Markdown, LaTeX or plain table: task, member, bgbench cells, paper cells."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    esc = _escaper(fmt)
    names = [display_name(m) for m in family.metrics]
    headers = ["task", "method", *[f"bgbench {tier}: {n}" for n in names], "bgbench run",
               *[f"paper: {n}" for n in names], "paper row"]
    body = [[r.task, r.member, *[format_cell(r.harness.get(m)) for m in family.metrics], r.harness_label or "no record",
             *[format_cell(r.published.get(m)) for m in family.metrics], r.published_label or "not in the paper"]
            for r in family_rows(board, family, tier)]
    text = tabulate([[esc(c) for c in row] for row in body], headers=[esc(h) for h in headers],
                    tablefmt={"md": "github", "latex": "latex_raw", "plain": "simple"}[fmt], disable_numparse=True)
    if fmt == "md":
        return "\n".join([f"### {md_escape(family.title)}", "", text, "", f"_{md_escape(family.note)}_"])
    if fmt == "latex":
        return "\n".join([f"% {esc(family.title)}; {esc(family.note)}", text])
    return "\n".join([family.title, text, f"({family.note})"])


__all__ = ["FAMILIES", "Family", "FamilyRow", "Member", "family_rows", "family_text", "family_view"]
