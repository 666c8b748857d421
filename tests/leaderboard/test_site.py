"""Site build from fixture records: pages, links, escaping, plots, skipped files, CLI."""

from __future__ import annotations

import html
import json
import re

import pytest

from benchmark.cli import main
from benchmark.results import SCHEMA_VERSION
from leaderboard.site import build_site
from tests.leaderboard.fixtures import SCRIPT_DESCRIPTION, write_fixture_records


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = write_fixture_records(tmp_path_factory.mktemp("results"))
    out = tmp_path_factory.mktemp("site")
    release = build_site(root, out)
    return out, release


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


def test_build_without_sidecars(tmp_path):
    root = write_fixture_records(tmp_path / "r", with_plots=False)
    release = build_site(root, tmp_path / "site")
    assert not release["budget_curves"] or all(c["png"].startswith("plots/budget/") for cs in release["budget_curves"].values() for c in cs)
    page = next((tmp_path / "site" / "systems").glob("8AA-PGESTAES-*.html")).read_text()
    assert "No plot data" in page


def test_cli_show_md_and_latex(tmp_path, capsys):
    root = write_fixture_records(tmp_path / "r", with_plots=False)
    assert main(["leaderboard", "show", "--task", "8AA", "--tier", "quick", "--budget", "10000", "--results", str(root)]) == 0
    out = capsys.readouterr().out
    assert "### 8AA v1 · quick tier · budget 1e4" in out
    assert "(n=1/2)" in out and "**" in out and "tarflow" in out
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
    release = build_site(root, tmp_path / "site")
    reasons = {p["path"].rsplit("/", 1)[-1]: p["reason"] for p in release["problems"]}
    assert "cannot read plot data" in reasons["8AA-quick-10000-seed0.json.samples.npz"]
    assert "plot PGESTAES/energies failed" in reasons["8AA-quick-10000-seed1.json.samples.npz"]
    assert (tmp_path / "site" / "index.html").exists()
