"""Fuzz ``bgbench leaderboard build|show`` and ``bgbench check`` with hostile records.

Hostile: path traversal, newlines, TeX control sequences and markup in every string; deep nesting;
bytes that are not UTF-8; lone surrogate escapes; booleans where numbers belong; wrong container
types in the newer optional fields. The build must finish, skip what it cannot use with a reason,
write nothing outside ``--out``, and ``check`` must answer with one clean error line, never a traceback.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.results import RunRecord, SystemResult

PINNED = Path(__file__).parents[2] / "leaderboard" / "pinned" / "quick" / "md-ALDP-b10000.yaml"

EVIL = [
    "../../../escape",
    "..",
    "/abs/olute",
    "a\nb\r\nc\u2028d",
    r"\input{/etc/passwd}\def\x{y}\end{tabular}",
    "$\\alpha$ _under_ **bold** | pipe | # hash % pct ~ ^ & {brace}",
    "</script><script>alert('x')</script><b>bold</b>",
    "_starts_with_underscore",
    "x" * 5000,
]


def _valid() -> dict:
    metrics = {"resampled/energy-w2": 1.0, "resampled/torus-w2": 0.5, "resampled/tica-w2": 0.2, "resampled/num-eval-samples": 1000.0}
    record = RunRecord(
        method={"name": "fuzz", "version": "1", "description": "d", "config": {"k": "v"}, "source": "s"},
        task={"name": "8AA", "version": 1, "tier": "quick"}, protocol={"n_eval_samples": 1000, "budgets": [10000]},
        budget=10_000, seed=0, sampler={"name": "snis", "settings": {}}, evaluation={"n_reference_samples": 1000},
        final_set="resampled", systems={"PGESTAES": SystemResult(status="ok", metrics=metrics, energy_evaluations={"used": 10000})},
        wall_time_s={"total": 1.0}, environment={"cpu": "c"},
    )
    data = record.to_dict()
    data.update(track="closed", isolation="none", energy={"backend": "torch"}, context={"noise_floor": {"PGESTAES": {"energy-w2": 0.1}}})
    return data


def _strings_replaced(obj, value: str, keep: frozenset = frozenset({"status"})):
    """Every string (keys too, except a few schema words) replaced by ``value``."""
    if isinstance(obj, dict):
        out = {}
        for i, (k, v) in enumerate(obj.items()):
            key = k if k in keep or k in _SCHEMA_KEYS else f"{value}{i}"
            out[key] = v if k in keep else _strings_replaced(v, value)
        return out
    if isinstance(obj, list):
        return [_strings_replaced(v, value) for v in obj]
    return value if isinstance(obj, str) else obj


_SCHEMA_KEYS = frozenset(_valid()) | {"name", "version", "tier", "metrics", "error", "energy_evaluations", "wall_time_s", "reference",
                                      "noise_floor", "description", "config", "source", "settings", "backend", "used"}


def hostile_records() -> dict[str, bytes]:
    """name -> file content."""
    base = _valid()
    out: dict[str, bytes] = {}
    for i, value in enumerate(EVIL):
        rec = _strings_replaced(base, value)
        out[f"strings-{i}.json"] = json.dumps(rec).encode()
        rec = copy.deepcopy(base)  # the names that become file names, one at a time
        rec["task"]["name"], rec["method"]["name"], rec["final_set"] = value, value, value
        rec["systems"] = {value: rec["systems"]["PGESTAES"]}
        rec["context"]["noise_floor"] = {value: {"energy-w2": 0.1}}
        out[f"names-{i}.json"] = json.dumps(rec).encode()
    for path in (["budget"], ["seed"], ["task", "version"], ["systems", "PGESTAES", "metrics", "resampled/energy-w2"],
                 ["systems", "PGESTAES", "energy_evaluations", "used"], ["wall_time_s", "total"], ["protocol", "n_eval_samples"]):
        rec = copy.deepcopy(base)
        target = rec
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = True
        out[f"bool-{'-'.join(path)[:40].replace('/', '_')}.json"] = json.dumps(rec).encode()
    for key, value in (("track", {"x": 1}), ("energy", 3), ("isolation", ["a"]), ("context", {"noise_floor": [1, 2]}),
                       ("environment", "str"), ("systems", []), ("method", {"name": "m", "version": "1", "parameters": "many",
                                                                            "training_seconds": {"a": True, "b": "x"}})):
        rec = copy.deepcopy(base)
        rec[key] = value
        out[f"type-{key}.json"] = json.dumps(rec).encode()
    out["deep-config.json"] = b'{"method": {"config": ' + b'{"k": ' * 50_000 + b"1" + b"}" * 50_000 + b"}}"
    out["deep-list.json"] = b"[" * 100_000 + b"]" * 100_000
    out["not-utf8.json"] = json.dumps(base).encode().replace(b'"fuzz"', b'"fu\xff\xfezz"')
    out["surrogate.json"] = json.dumps(base).encode().replace(b'"fuzz"', b'"fu\\ud800zz"')
    out["null-bytes.json"] = b"\x00\x01\x02"
    # a random mix of the above mutations, seeded
    rng = random.Random(0)
    for i in range(20):
        rec = copy.deepcopy(base)
        for _ in range(3):
            choice = rng.randrange(4)
            if choice == 0:
                rec = _strings_replaced(rec, rng.choice(EVIL))
            elif choice == 1:
                rec["systems"].setdefault(rng.choice(EVIL), {"status": "ok", "metrics": {"resampled/energy-w2": rng.choice([1.0, True, -1e308])}})
            elif choice == 2:
                rec[rng.choice(["track", "energy", "context", "isolation"])] = rng.choice([None, True, 1, "open", [], {"a": {"b": "c"}}])
            else:
                rec["budget"] = rng.choice([10_000, 0, -5, 10**30])
        out[f"mix-{i}.json"] = json.dumps(rec).encode()
    return out


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    box = tmp_path_factory.mktemp("box")
    # records nested deep enough that a "../../../" name would land inside the sandbox if it escaped
    results = box / "a" / "b" / "c" / "results"
    results.mkdir(parents=True)
    for name, content in hostile_records().items():
        (results / name).write_bytes(content)
    floors = box / "floors.json"
    floors.write_text(json.dumps({"schema_version": 1, "floors": [{"task": "8AA", "task_version": True, "tier": "quick", "system": EVIL[0],
                                                                    "metrics": {"energy-w2": "x"}}], "md_runs": [{"oops": 1}]}))
    return box, results, floors


def test_build_survives_hostile_records_and_writes_only_under_out(sandbox, capsys):
    box, results, floors = sandbox
    out = box / "a" / "b" / "c" / "site"
    before = _files(box)
    rc = main(["leaderboard", "build", "--results", str(results), "--out", str(out), "--floors", str(floors)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    new = _files(box) - before
    assert new and all(out in p.parents or p == out for p in new), sorted(str(p) for p in new if out not in p.parents)[:5]
    release = json.loads((out / "release.json").read_text())
    skipped = {Path(p["path"]).name for p in release["problems"]}
    for name in ("deep-list.json", "deep-config.json", "not-utf8.json", "surrogate.json", "null-bytes.json", "bool-budget.json",
                 "bool-seed.json", "bool-task-version.json", "type-systems.json"):
        assert name in skipped, name
    assert len(release["records"]) >= 10  # the hostile-but-valid ones are shown
    assert "cannot read noise floors" in " ".join(p["reason"] for p in release["problems"])
    for page in out.rglob("*.html"):
        text = page.read_text()
        assert "<script>alert" not in text and "<b>bold</b>" not in text
    for tex in (out / "tables").glob("*.tex"):
        assert r"\input{" not in tex.read_text()
    assert "bgbench: skipped" in captured.err


@pytest.mark.parametrize("fmt", ["md", "latex", "plain"])
def test_show_survives_hostile_records(sandbox, capsys, fmt):
    box, results, floors = sandbox
    assert main(["leaderboard", "show", "--task", "8AA", "--format", fmt, "--results", str(results), "--floors", str(floors)]) == 0
    out = capsys.readouterr().out
    assert "8AA" in out and r"\input{" not in out


def test_check_gives_a_clean_error_for_every_hostile_record(sandbox, capsys, tmp_path):
    """Each record as written, and (so that the schema-1 reader gets past the keys it does not know yet)
    stripped of the newer top-level fields."""
    box, results, floors = sandbox
    for path in sorted(results.glob("*.json")):
        try:
            data = json.loads(path.read_bytes())
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict):
            stripped = {k: v for k, v in data.items() if k not in ("track", "isolation", "energy", "context")}
            (tmp_path / f"stripped-{path.name}").write_text(json.dumps(stripped))
    paths = sorted(results.glob("*.json")) + sorted(tmp_path.glob("stripped-*.json"))
    assert len(paths) > 60
    outcomes = set()
    for path in paths:
        rc = main(["check", str(path), "--against", str(PINNED)])
        err = capsys.readouterr().err
        assert rc in (1, 2), path.name
        assert "Traceback" not in err and (rc == 1 or err.startswith("bgbench: error:")), (path.name, err[:300])
        outcomes.add(rc)
    assert outcomes == {1, 2}  # some records were checked (and failed their bands), others refused cleanly


def test_unwritable_out_fails_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc = main(["leaderboard", "build", "--results", str(tmp_path / "none"), "--out", str(blocker / "site")])
    assert rc == 2 and "cannot write to --out" in capsys.readouterr().err
