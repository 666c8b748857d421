"""Site build from fixture records: pages, links, escaping, plots, skipped files, CLI."""

from __future__ import annotations

import html
import json
import re

import pytest

from benchmark.cli import main
from benchmark.results import SCHEMA_VERSION
from leaderboard.site import build_site
from tests.leaderboard.fixtures import COSTS, FLOORS, QUICK_8AA, SCRIPT_DESCRIPTION, floors_path, write_fixture_records


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = write_fixture_records(tmp_path_factory.mktemp("results"))
    out = tmp_path_factory.mktemp("site")
    release = build_site(root, out, floors=floors_path(root))
    return out, release


def _table(release, key):
    (t,) = [t for t in release["tables"] if t["key"] == key]
    return t


def test_index_has_one_table_per_task_tier_budget(site):
    out, release = site
    index = (out / "index.html").read_text()
    for key in ("8AA-v1-quick-10000", "8AA-v1-quick-200000", "8AA-v1-paper-10000", "ALDP-v1-quick-10000", "AL3-v1-paper-200000"):
        assert f'id="t-{key}"' in index
    assert index.count('<table class="board sortable"') == len(release["tables"])
    assert "As published" in index and "ARBG paper" in index


def test_every_cell_links_to_its_records(site):
    out, release = site
    index = (out / "index.html").read_text()
    links = re.findall(r'href="(methods/[^"#]+)#t-([^"]+)"', index)
    assert links
    for page, anchor in links:
        text = (out / page).read_text()
        assert f'id="t-{anchor}"' in text
        for rec in re.findall(r'href="\.\./(records/[^"]+\.json)"', text):
            assert json.loads((out / rec).read_text())["schema_version"] == SCHEMA_VERSION


def test_script_in_description_is_text(site):
    out, release = site
    pages = [p for p in out.rglob("*.html")]
    for page in pages:
        assert "<script>alert" not in page.read_text()
    (evil,) = [p for p in (out / "methods").glob("evil-flow*.html")]
    assert html.escape(SCRIPT_DESCRIPTION, quote=False) in evil.read_text().replace("&#39;", "'")


def test_skipped_files_listed(site):
    out, release = site
    names = sorted(p["path"].rsplit("/", 1)[-1] for p in release["problems"])
    assert names == ["no-task.json", "truncated.json"]
    assert "truncated.json" in (out / "index.html").read_text()


def test_plots_written_when_sidecar_exists_and_noted_otherwise(site):
    out, release = site
    pngs = list((out / "plots").rglob("*.png"))
    assert any("energies" in p.name for p in pngs) and any("phi_psi" in p.name for p in pngs) and any("tica" in p.name for p in pngs)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert release["budget_curves"]["8AA"]  # 8AA quick has two budgets
    page = next((out / "systems").glob("8AA-PGESTAES-*.html")).read_text()
    assert "<img" in page
    for rel in re.findall(r'src="\.\./([^"]+\.png)"', page):
        assert (out / rel).exists()


def test_floor_costs_and_tracks_beside_the_scores(site):
    out, release = site
    t = _table(release, "8AA-v1-quick-10000")
    expected = sum(FLOORS[("8AA", s)]["energy-w2"] for s in QUICK_8AA) / 2
    assert t["floor"]["energy-w2"]["mean"] == pytest.approx(expected) and t["floor"]["energy-w2"]["complete"]
    assert t["md_runs"] == {"energy-w2": 2.5}
    (tarflow,) = [r for r in t["rows"] if r["method"] == "tarflow"]
    seeds = [COSTS[("tarflow", "8AA", "quick", 10_000, s)] for s in (0, 1, 2)]
    full = sum(c["full"] for c in seeds) / 3
    assert tarflow["costs"]["columns"]["evaluations"] == f"{full:.0f} full + {seeds[0]['partial']:.0f} partial"
    assert tarflow["costs"]["columns"]["hardware"] == "GPU: NVIDIA H100 80GB HBM3"
    assert tarflow["costs"]["columns"]["parameters"] == "7.4 M"
    assert tarflow["costs"]["columns"]["training"] == f"{660 / 60:.1f} min"
    rate = sum(c["full"] / c["sample_s"] for c in seeds) / 3
    assert tarflow["costs"]["columns"]["samples/s"] == f"{rate:.3g}"
    assert tarflow["costs"]["columns"]["wall time"] == f"{sum(c['total_s'] for c in seeds) / 3 / 60:.1f} min"
    assert tarflow["costs"]["details"]["isolation"] == "process" and tarflow["costs"]["details"]["energy"] == "torch · float64 · cpu"
    (md,) = [r for r in t["rows"] if r["method"] == "md-baseline"]  # an old record: every cost is "—"
    assert set(md["costs"]["columns"].values()) == {"—"} or md["costs"]["columns"]["evaluations"].startswith("1e4")
    index = (out / "index.html").read_text()
    assert "noise floor" in index and "closed track" in index and "open track" in index
    assert "pretrained on 10x more MD" in index  # the open entry's disclosure
    assert "E-W2 [kT] ↓" in index and "T-W2 [rad] ↓" in index and "ESS [fraction] ↑" in index


def test_system_page_has_a_small_table_per_set(site):
    out, release = site
    page = next((out / "systems").glob("8AA-PGESTAES-*.html")).read_text()
    quick = page.split('id="tier-quick')[1].split("</section>")[0]
    sets = re.findall(r'<table class="set-table" data-set="([^"]+)"', quick)
    assert sets == ["proposal", "resampled", "smc", "md"]
    assert "noise floor" in page and 'class="plot-grid"' in page


def test_published_rows_show_their_protocol(site):
    out, release = site
    index = (out / "index.html").read_text()
    assert "SNIS with 10^4 samples; copied by ARBG from the SBG paper" in index and "other protocol · not ranked" in index


def test_budget_curve_has_the_md_baseline_and_the_floor(site):
    out, release = site
    (quick,) = [c for c in release["budget_curves"]["8AA"] if c["tier"] == "quick"]
    assert quick["metrics"] == ["energy-w2", "torus-w2", "tica-w2"] and quick["has_md"]
    assert quick["floors"]["energy-w2"] == pytest.approx(0.4)
    task_page = next((out / "tasks").glob("8AA-*.html")).read_text()
    assert quick["png"] in task_page and "MD baseline" in task_page and "noise floor 0.4" in task_page


def test_build_without_sidecars(tmp_path):
    root = write_fixture_records(tmp_path / "r", with_plots=False)
    release = build_site(root, tmp_path / "site", published=None)
    assert not release["budget_curves"] or all(c["png"].startswith("plots/budget/") for cs in release["budget_curves"].values() for c in cs)
    page = next((tmp_path / "site" / "systems").glob("8AA-PGESTAES-*.html")).read_text()
    assert "No plot data" in page


def test_cli_show_md_and_latex(tmp_path, capsys):
    root = write_fixture_records(tmp_path / "r", with_plots=False)
    assert main(["leaderboard", "show", "--task", "8AA", "--tier", "quick", "--budget", "10000", "--results", str(root)]) == 0
    out = capsys.readouterr().out
    assert "### 8AA v1 · quick tier · budget 1e4" in out
    assert "(n=1/2)" in out and "**" in out and "tarflow" in out and "(scored on 100/1000)" in out
    assert main(["leaderboard", "show", "--task", "ALDP", "--format", "latex", "--results", str(root)]) == 0
    tex = capsys.readouterr().out
    assert r"\begin{tabular}" in tex and r"\textless{}script\textgreater{}" not in tex  # names only, no descriptions
    assert r"\emph{as published: ARBG paper" in tex


def test_cli_build(tmp_path, capsys):
    root = write_fixture_records(tmp_path / "r", with_plots=False)
    assert main(["leaderboard", "build", "--results", str(root), "--out", str(tmp_path / "s"), "--no-published"]) == 0
    assert (tmp_path / "s" / "index.html").exists()
    assert "skipped" in capsys.readouterr().err


def test_bad_sidecars_are_reported_not_fatal(tmp_path):
    import numpy as np

    from benchmark.plot_data import sidecar_path, write_plot_data

    root = write_fixture_records(tmp_path / "r", with_plots=False)
    sidecar_path(root / "robin" / "8AA-quick-10000-seed0.json").write_bytes(b"garbage")
    write_plot_data(root / "robin" / "8AA-quick-10000-seed1.json", {"PGESTAES/energies/reference": np.zeros(0)})
    release = build_site(root, tmp_path / "site", published=None)
    reasons = {p["path"].rsplit("/", 1)[-1]: p["reason"] for p in release["problems"]}
    assert "cannot read plot data" in reasons["8AA-quick-10000-seed0.json.samples.npz"]
    assert "plot PGESTAES/energies failed" in reasons["8AA-quick-10000-seed1.json.samples.npz"]
    assert (tmp_path / "site" / "index.html").exists()


def test_cli_show_prints_plain_text_to_a_terminal(tmp_path, capsys, monkeypatch):
    import sys

    root = write_fixture_records(tmp_path / "r", with_plots=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["leaderboard", "show", "--task", "ALDP", "--tier", "quick", "--results", str(root), "--no-published"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ALDP v1 · quick tier · budget 1e4") and "###" not in out and "\\_" not in out and "**" not in out
    assert "E-W2 [kT] ↓" in out and "[1]" in out
    assert main(["leaderboard", "show", "--task", "ALDP", "--format", "md", "--results", str(root), "--no-published"]) == 0
    assert capsys.readouterr().out.startswith("### ALDP")


def test_default_sources_add_local_results_marked_local(tmp_path, monkeypatch):
    import shutil

    from leaderboard.store import DEFAULT_RESULTS_DIR, default_sources

    monkeypatch.chdir(tmp_path)
    assert [(s.root, s.local) for s in default_sources()] == [(DEFAULT_RESULTS_DIR, False)]
    root = write_fixture_records(tmp_path / "r", with_plots=False)
    shutil.copytree(root / "robin", tmp_path / "results" / "robin")
    sources = default_sources()
    assert [(s.root.name, s.local) for s in sources] == [("results", False), ("results", True)]
    from leaderboard.store import Source

    release = build_site([Source(root), sources[1]], tmp_path / "site", published=None, floors=None)
    local = [r for r in release["records"].values() if r["local"]]
    assert len(local) == 6 and all(r["id"].startswith("local-") for r in local)
    assert 'class="tag local"' in (tmp_path / "site" / "index.html").read_text()
