"""The board: records, floors and published tables put together once, for the site and the CLI alike.

``build_board`` loads the records (committed and local), reads the noise floors (never computing
them), builds the harness tables, annotates every harness row with its costs and caveats, and
attaches the papers' rows. ``bgbench leaderboard show`` prints its tables; ``release.summarise``
renders them into the site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from leaderboard import costs as cost_view
from leaderboard.aggregate import Table, build_tables
from leaderboard.fields import dig, text
from leaderboard.floors import FLOORS_FILE, Floors, load_floors, record_caveats
from leaderboard.published import PUBLISHED_DIR, PublishedValue, TICA_CAVEATS, TICA_FIX_DATE, attach_published, load_published
from leaderboard.store import LoadProblem, Source, Store, load_records


@dataclass
class Board:
    store: Store
    floors: Floors
    tables: list[Table]
    published: list[PublishedValue] = field(default_factory=list)

    @property
    def problems(self) -> list[LoadProblem]:
        return self.store.problems + self.floors.problems


def record_notes(store: Store, floors: Floors, rid: str) -> list[str]:
    """Caveats of one record: other reference data than its floor, and 8AA TICA from before the TICA-model fix."""
    rec = store.records[rid]
    notes = record_caveats(floors, store, rid)
    if str(rec.task["name"]) == "8AA" and str(rec.task["tier"]) == "paper" and str(rec.created)[:10] < TICA_FIX_DATE:
        notes.append(TICA_CAVEATS["before-2025-12-15"])
    return notes


def annotate(tables: list[Table], store: Store, floors: Floors) -> None:
    """Costs, caveats and the MD run-to-run spread on the harness rows of each table."""
    for table in tables:
        spread = floors.md_runs.get((table.task, table.task_version, table.tier, table.budget))
        table.md_runs = dict(spread["metrics"]) if spread else {}
        for row in table.rows:
            ids = sorted({rid for c in row.cells.values() for rid in c.record_ids})
            raws = [store.raw[rid] for rid in ids if rid in store.raw]
            summary = cost_view.entry_costs(raws)
            row.costs = {"columns": cost_view.display(summary), "details": cost_view.details(summary)}
            notes: list[str] = []
            for rid in ids:
                notes.extend(n for n in record_notes(store, floors, rid) if n not in notes)
            reduced = [c for c in row.cells.values() if c.reduced]
            if reduced:
                c = reduced[0]
                notes.append(f"scored on {c.n_scored} samples, fewer than the protocol's {c.n_protocol}: flagged and not ranked")
            if row.track == "open":
                disclosed = [text(dig(r, "method", "disclosure"), 300) for r in raws]
                notes.append("open track: " + ("; ".join(dict.fromkeys(d for d in disclosed if d)) or "no disclosure in the record"))
            row.caveats = notes


def build_board(sources: Path | Sequence[Source], published: Path | None = PUBLISHED_DIR, floors_file: Path | None = FLOORS_FILE) -> Board:
    store = load_records(sources)
    floors = load_floors(store, floors_file)
    tables = build_tables(store.frame, floors.metric_map())
    annotate(tables, store, floors)
    values = load_published(published) if published is not None else []
    return Board(store=store, floors=floors, tables=attach_published(tables, values), published=values)
