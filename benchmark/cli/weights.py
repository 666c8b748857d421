"""``bgbench weights list|info|fetch|import|rm|ship``: the weights store from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmark.cli.output import print_rows


def _store(args: argparse.Namespace):
    from benchmark.weights import WeightsStore

    return WeightsStore(Path(args.work_dir) / "weights" if args.work_dir else None)


def _list(args: argparse.Namespace) -> int:
    from benchmark.weights import PUBLISHED
    from benchmark.weights.published import _load_families

    store = _store(args)
    rows = [e.describe() for e in store.entries()]
    if not args.all:
        for row in rows:
            row.pop("folder")
    print(f"weights store: {store.root}")
    print_rows(rows, args.json)
    _load_families()
    missing = [n for n in sorted(PUBLISHED) if not any(r.get("digest") == n for r in rows)]
    if missing and not args.json:
        print(f"published checkpoints not imported yet: {', '.join(missing)} (bgbench weights fetch|import NAME)")
    return 0


def _info(args: argparse.Namespace) -> int:
    entry = _store(args).find(args.digest)
    print(json.dumps({"folder": str(entry.folder), **entry.manifest}, indent=2, sort_keys=True))
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from benchmark.weights import fetch

    entry = fetch(args.name, _store(args))
    print(f"fetched {args.name} into {entry.folder}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from benchmark.weights import import_published

    entry = import_published(args.name, Path(args.source), _store(args))
    print(f"imported {args.name} into {entry.folder}")
    return 0


def _rm(args: argparse.Namespace) -> int:
    entry = _store(args).find(args.digest)
    with entry.lock():
        entry.remove()
    print(f"removed {entry.folder}")
    return 0


def _ship(args: argparse.Namespace) -> int:
    """Copy a finished local entry into the shipped root, so that a fresh clone loads it instead of training."""
    from benchmark.weights import WeightsError, ship
    from benchmark.weights.store import SHIPPED_ROOT, WEIGHTS_FILE, ShippedEntry

    entry = _store(args).find(args.digest)
    if isinstance(entry, ShippedEntry):
        raise WeightsError(f"{entry.folder} is already a shipped entry.")
    shipped = ship(entry, Path(args.to) if args.to else SHIPPED_ROOT)
    digest = shipped.manifest["files"][WEIGHTS_FILE]["sha256"]
    print(f"shipped {entry.folder.name} to {shipped.folder}\n{WEIGHTS_FILE} sha256 {digest}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="list, inspect, fetch or import model weights (the weights store)")
    wsub = p.add_subparsers(dest="weights_command", metavar="ACTION")
    wsub.required = True

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--work-dir", default=None, help="work folder holding weights/ (default BGBENCH_WORK or user cache)")

    q = wsub.add_parser("list", help="every trained or imported checkpoint with its key and hash")
    common(q)
    q.add_argument("--json", action="store_true")
    q.add_argument("--all", action="store_true", help="also show each entry's folder")
    q.set_defaults(func=_list)
    q = wsub.add_parser("info", help="the whole manifest of one entry (key, files, sha256, training status)")
    common(q)
    q.add_argument("digest", help="the digest prefix shown by `bgbench weights list` (or a published name)")
    q.set_defaults(func=_info)
    q = wsub.add_parser("fetch", help="download a published checkpoint from the Hugging Face hub (needs internet)")
    common(q)
    q.add_argument("name")
    q.set_defaults(func=_fetch)
    q = wsub.add_parser("import", help="import a published checkpoint from a downloaded copy")
    common(q)
    q.add_argument("name")
    q.add_argument("--from", dest="source", required=True, help="the file, or a folder holding it at its hub path")
    q.set_defaults(func=_import)
    q = wsub.add_parser("rm", help="delete one entry (e.g. a corrupt one) so that it is trained or imported again")
    common(q)
    q.add_argument("digest")
    q.set_defaults(func=_rm)
    q = wsub.add_parser("ship", help="copy a finished trained entry (weights and manifest, no training state) into "
                                     "the repository's shipped-weights root, where a fresh clone finds it by its key")
    common(q)
    q.add_argument("digest", help="the digest prefix shown by `bgbench weights list`")
    q.add_argument("--to", default=None, help="shipped root (default: baselines/shipped_weights in the repository)")
    q.set_defaults(func=_ship)
