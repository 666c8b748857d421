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

    task = get_task(args.task)
    for folder in prepare_task(task, args.tier, _root(args), seed=args.seed, progress=not args.no_progress, force=args.force):
        print(f"ready: {folder}")
    return 0


def _prepare_corpus(args: argparse.Namespace) -> int:
    from benchmark.data.corpus import prepare_corpus

    print(f"ready: {prepare_corpus(args.tier, _root(args), progress=not args.no_progress)}")
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


def _info(args: argparse.Namespace) -> int:
    from benchmark.data import load_reference, store

    task = get_task(args.task)
    root = _root(args)
    rows = []
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
                    row.update(status="ok", std_nm=round(ref.std, 5), frames=len(ref.test_positions))
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
    return 0


def _corpus_rows(root: Path | None, as_json: bool) -> list[dict]:
    """The training corpora a transferable task uses: the quick corpus and the registered shards."""
    from benchmark.data import store
    from benchmark.data.corpus import corpus_dir

    rows = []
    for tier in ("quick", "paper"):
        folder = corpus_dir(tier, root)
        manifest = store.read_manifest(folder)
        if manifest is None:
            continue
        row = {"tier": tier, "system": "(training corpus)", "status": "ok", "source": manifest.get("source"),
               "MB": round(store.folder_size(folder) / 2**20, 2), "frames": None, "std_nm": manifest.get("std_nm"),
               "sha256": None}
        if tier == "quick":
            try:
                store.verify_files(folder, manifest, "Run `bgbench data prepare-corpus --tier quick`.")
            except DataError as err:
                row["status"] = f"unusable: {err}"
            row["frames"] = sum(manifest.get("frames_per_sequence", {}).values())
            row["sha256"] = f"{len(manifest.get('files', {}))} files hashed"
        else:
            row["sha256"] = f"{len(manifest.get('shards', {}))} shards in {manifest.get('shard_dir')} (sizes only)"
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

    p = dsub.add_parser("prepare", help="generate local reference data by OpenMM MD (resumes if interrupted)")
    p.add_argument("task")
    p.add_argument("--tier", default="quick", help="tier whose local-md settings to use (default quick)")
    p.add_argument("--seed", type=int, default=0, help="MD seed (default 0)")
    p.add_argument("--force", action="store_true", help="regenerate even if valid data is cached")
    common(p)
    p.set_defaults(func=_prepare)

    p = dsub.add_parser("prepare-corpus", help="generate the quick-tier training corpus for transferable methods")
    p.add_argument("--tier", default="quick")
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
    common(p)
    p.set_defaults(func=_info)
