"""``bgbench data prepare|prepare-corpus|fetch|import|info``: get reference data and see what is cached."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.cli.output import print_rows
from benchmark.errors import DataError
from benchmark.tasks import get_task


def _root(args: argparse.Namespace) -> Path | None:
    return Path(args.data_dir) if args.data_dir else None


def _prepare(args: argparse.Namespace) -> int:
    from benchmark.data.generate import prepare_task
    from benchmark.data.replica_md import default_workers

    task = get_task(args.task)
    for folder in prepare_task(task, args.tier, _root(args), seed=args.seed, progress=not args.no_progress,
                               force=args.force, workers=args.workers or default_workers()):
        print(f"ready: {folder}")
    return 0


def _prepare_corpus(args: argparse.Namespace) -> int:
    from benchmark.data.corpus_md import prepare_corpus
    from benchmark.data.replica_md import default_workers

    folder = prepare_corpus(args.tier, _root(args), progress=not args.no_progress, force=args.force,
                            workers=args.workers or default_workers())
    print(f"ready: {folder}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from benchmark.data.published import fetch_task

    for folder in fetch_task(get_task(args.task), _root(args), replace=args.replace, progress=not args.no_progress):
        print(f"ready: {folder}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from benchmark.data.published import import_task

    for folder in import_task(get_task(args.task), Path(args.source), _root(args), replace=args.replace, progress=not args.no_progress):
        print(f"ready: {folder}")
    return 0


def _card_status(card: dict[str, dict[str, str]] | None, system: str, manifest: dict) -> str:
    """How a local-md manifest's hashes compare with the committed data card's."""
    if card is None or system not in card:
        return "no hashes in data_cards/"
    ours = {Path(n).name: i["sha256"] for n, i in manifest.get("files", {}).items()}
    differ = sorted(name for name in set(ours) | set(card[system]) if ours.get(name) != card[system].get(name))
    return "matches data card" if not differ else f"DIFFERS from data card ({', '.join(differ)})"


def _std_or_none(ref) -> float | None:
    """The reference's scale, or None where it is the training corpus's and no corpus is made here."""
    try:
        return round(ref.std, 5)
    except DataError:
        return None


def _info(args: argparse.Namespace) -> int:
    from benchmark.data import load_reference, store
    from benchmark.data.cards import card_hashes

    task = get_task(args.task)
    root = _root(args)
    card = card_hashes(task.name)
    rows = []
    differ = []  # local-md systems whose hashes are not the data card's
    for tier in task.protocols:
        specs = task.systems_for(tier) + (task.validation_systems if tier == "paper" else ())
        for spec in specs:
            folder = store.system_dir(task.name, tier, spec.name, root)
            manifest = store.read_manifest(folder)
            if manifest is None and not args.all:
                continue
            row = {"tier": tier, "system": spec.name, "status": "missing", "source": None, "MB": None, "frames": None,
                   "std_nm": None, "sha256": None}
            if manifest is not None:
                try:
                    ref = load_reference(task, tier, spec, root)
                    row.update(status="ok", std_nm=_std_or_none(ref), frames=len(ref.test_positions))
                    if manifest.get("source") == "local-md":
                        row["status"] = f"ok, {_card_status(card, spec.name, manifest)}"
                        if row["status"] != "ok, matches data card":
                            differ.append(spec.name)
                except DataError as err:
                    row["status"] = f"unusable: {err}"
                row.update(source=manifest.get("source"), MB=round(store.folder_size(folder) / 2**20, 2),
                           sha256=" ".join(f"{Path(n).name}:{i['sha256'][:12]}" for n, i in manifest.get("files", {}).items()))
                if args.json:
                    row["manifest"] = manifest
                    row["folder"] = str(folder)
            rows.append(row)
    if task.transferable:
        rows.extend(_corpus_rows(root, args.json))
    if not rows:
        print(f"Nothing cached for {task.name} under {root or store.data_dir()}. Run `bgbench data prepare {task.name} "
              f"--tier quick` or `bgbench data import {task.name} --from DIR`.")
        return 0
    print_rows(rows, args.json)
    if args.check and differ:
        print(f"--check: the local data of {', '.join(differ)} is not the data card's (data_cards/quick-{task.name}.md); "
              "the same seed should give the same bytes on every machine.")
        return 1
    return 0


def _corpus_rows(root: Path | None, as_json: bool) -> list[dict]:
    """The training corpora a transferable task uses: the quick corpus and the registered shards."""
    from benchmark.data import open_training_corpus, store

    rows = []
    for tier in ("quick", "paper"):
        folder = store.corpus_dir(tier, root)
        manifest = store.read_manifest(folder)
        if manifest is None:
            continue
        row = {"tier": tier, "system": "(training corpus)", "status": "ok", "source": manifest.get("source"),
               "MB": round(store.folder_size(folder) / 2**20, 2), "frames": None, "std_nm": None, "sha256": None}
        try:
            corpus = open_training_corpus(tier, root)
            row.update(frames=corpus.n_frames, std_nm=round(corpus.std_nm, 5), sha256=f"content {corpus.content_hash[:12]}")
        except DataError as err:
            row["status"] = f"unusable: {err}"
        if as_json:
            row["manifest"] = manifest
        rows.append(row)
    return rows


def _cards(args: argparse.Namespace) -> int:
    from benchmark.data.cards import write_cards

    roots = [Path(r) for r in args.also] + [_root(args)]
    for path in write_cards(Path(args.out), roots):
        print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="prepare, fetch, import and inspect reference data")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="data root (default: $BGBENCH_DATA or the user cache dir)")
        p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    p = dsub.add_parser("prepare", help="generate local reference data by replica MD (resumes if interrupted)")
    p.add_argument("task")
    p.add_argument("--tier", default="quick", help="tier whose local-md settings to use (default quick)")
    p.add_argument("--seed", type=int, default=0, help="MD seed (default 0)")
    p.add_argument("--force", action="store_true", help="start over: discard cached data and unfinished work")
    p.add_argument("--workers", type=int, default=None,
                   help="MD processes (default $BGBENCH_MD_WORKERS or min(2, CPUs); the data is the same for any number)")
    common(p)
    p.set_defaults(func=_prepare)

    p = dsub.add_parser("prepare-corpus", help="generate the quick-tier training corpus for transferable methods")
    p.add_argument("--tier", default="quick")
    p.add_argument("--force", action="store_true", help="start over: discard the cached corpus and unfinished work")
    p.add_argument("--workers", type=int, default=None, help="MD processes (see `data prepare --workers`)")
    common(p)
    p.set_defaults(func=_prepare_corpus)

    p = dsub.add_parser("fetch", help="download published data from the Hugging Face hub (needs internet)")
    p.add_argument("task")
    p.add_argument("--replace", action="store_true", help="accept published files that differ from the cached ones")
    common(p)
    p.set_defaults(func=_fetch)

    p = dsub.add_parser("import", help="import a downloaded copy of the published data")
    p.add_argument("task")
    p.add_argument("--from", dest="source", required=True, help="root of the downloaded data set")
    p.add_argument("--replace", action="store_true", help="accept published files that differ from the cached ones")
    common(p)
    p.set_defaults(func=_import)

    p = dsub.add_parser("cards", help="render the data cards (facts of cached data included)")
    p.add_argument("--out", default="data_cards", help="output folder (default data_cards)")
    p.add_argument("--also", action="append", default=[], metavar="DIR", help="another data root to take facts from")
    common(p)
    p.set_defaults(func=_cards)

    p = dsub.add_parser("info", help="show cached data, sizes, hashes and provenance")
    p.add_argument("task")
    p.add_argument("--all", action="store_true", help="also list systems with nothing cached")
    p.add_argument("--json", action="store_true", help="machine-readable output (includes manifests)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when locally made data differs from the hashes of its data card (CI: same bytes everywhere)")
    common(p)
    p.set_defaults(func=_info)
