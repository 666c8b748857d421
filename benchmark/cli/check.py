"""``bgbench check RECORD [--against PINNED]`` and ``bgbench pin RECORD...``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmark.cli.output import print_rows
from benchmark.pinning import DEFAULT_SIGMA, check, default_pinned_path, pin, read_pinned, write_pinned
from benchmark.results import RecordError, read_record

#: What a malformed or hostile record file can raise past the schema check (deep nesting, bytes that are
#: not UTF-8, wrong types inside known keys); reported as one line, never as a traceback.
_UNUSABLE = (RecursionError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError)


def _check(args: argparse.Namespace) -> int:
    try:
        record = read_record(args.record)
        json.dumps(record.to_dict(), ensure_ascii=False, default=str).encode("utf-8")  # printable text (no lone surrogates)
        pinned_path = args.against or default_pinned_path(record)
        verdicts = check(record, read_pinned(pinned_path), sigma=args.sigma)
        rows = [v.row() for v in verdicts]
    except _UNUSABLE as err:
        raise RecordError(f"{args.record}: not a usable run record ({type(err).__name__}: {str(err)[:200]!r})") from None
    print(f"checking {args.record} against {pinned_path}")
    print_rows(rows, args.json)
    failed = [v for v in verdicts if not v.ok]
    print(f"{len(verdicts) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not verdicts else 0


def _pin(args: argparse.Namespace) -> int:
    records = [read_record(p) for p in args.records]
    pinned = pin(records, sigma=args.sigma)
    out = args.out or default_pinned_path(records[0])
    write_pinned(pinned, out)
    n = sum(len(m) for m in pinned["metrics"].values())
    print(f"pinned {n} metric(s) of {len(pinned['metrics'])} system(s) from seeds {pinned['seeds']} -> {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="fail when a record's scores leave their pinned bands")
    p.add_argument("record", type=Path)
    p.add_argument("--against", type=Path, default=None, help="pinned file (default leaderboard/pinned/<tier>/...)")
    p.add_argument("--sigma", type=float, default=None, help=f"band half-width in std (default: the file's, {DEFAULT_SIGMA})")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_check)

    p = sub.add_parser("pin", help="write pinned bands from records of several seeds")
    p.add_argument("records", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--sigma", type=float, default=DEFAULT_SIGMA)
    p.set_defaults(func=_pin)
