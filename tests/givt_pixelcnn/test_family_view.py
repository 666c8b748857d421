"""The leaderboard's family view: ARBG and the three mixture heads, bgbench quick cells beside the paper's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.results import RunRecord, SystemResult, write_record
from leaderboard.board import build_board
from leaderboard.families import FAMILIES, family_rows, family_text
from leaderboard.published import PUBLISHED_DIR
from leaderboard.site import build_site

#: (method, task, seed) -> E-W2 and T-W2 of the one system; written into fixture records
VALUES = {
    ("givt", "ALDP", 0): (2.0, 0.50), ("givt", "ALDP", 1): (4.0, 0.70),
    ("gmm-pixelcnn", "AL3", 0): (3.5, 0.60),
    ("arbg", "AL3", 0): (1.5, 0.40),
}
SYSTEMS = {"ALDP": "Ace-A-Nme", "AL3": "AAA"}


def _write(root: Path) -> Path:
    for (method, task, seed), (ew2, tw2) in VALUES.items():
        record = RunRecord(
            method={"name": method, "version": "1"}, task={"name": task, "version": 1, "tier": "quick"},
            protocol={"tier": "quick", "budgets": [10_000], "n_eval_samples": 1000}, budget=10_000, seed=seed,
            sampler={"name": "snis"}, evaluation={}, final_set="resampled",
            systems={SYSTEMS[task]: SystemResult(status="ok", metrics={"resampled/energy-w2": ew2, "resampled/torus-w2": tw2,
                                                                      "resampled/num-eval-samples": 1000.0})},
            environment={})
        write_record(record, root / f"{method}-{task}-s{seed}.json")
    return root


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    return build_board(_write(tmp_path_factory.mktemp("results")), PUBLISHED_DIR, None)


def test_each_head_gets_its_quick_cells_and_its_paper_row(board):
    (family,) = [f for f in FAMILIES if f.slug == "arbg-heads"]
    rows = {(r.task, r.member): r for r in family_rows(board, family)}
    givt = rows[("ALDP", "GIVT")]
    assert givt.harness["energy-w2"].mean == pytest.approx(3.0)  # mean over seeds 0 and 1
    assert givt.harness["energy-w2"].std == pytest.approx(np.std([2.0, 4.0], ddof=1))
    assert "2 seeds" in givt.harness_label
    assert givt.published["energy-w2"].mean == pytest.approx(0.256) and givt.published_label == "GIVT, Table A.3"
    arbg = rows[("AL3", "ARBG")]  # Table 1 has ARBG at T = 1 and tuned: the T = 1 row, as the mixtures' rows are
    assert arbg.harness["torus-w2"].mean == pytest.approx(0.40)
    assert arbg.published["energy-w2"].mean == pytest.approx(0.271) and arbg.published_label == "ARBG (T = 1), Table 1"
    assert not rows[("AL3", "MoL-PixelCNN++")].harness and rows[("AL3", "MoL-PixelCNN++")].published
    assert rows[("CHIGNOLIN", "GIVT")].published["energy-w2"].mean == pytest.approx(45.646)  # paper-only tasks stay


def test_published_and_bgbench_cells_are_never_ranked_together(board):
    (family,) = FAMILIES
    text = family_text(board, family, "md")
    assert "bgbench quick" in text and "paper: E-W2" in text and "never ranked together" in text
    assert "**" not in text and "<u>" not in text  # no best / second marks across the two column groups


def test_the_site_shows_the_family_and_links_its_markdown(tmp_path):
    root = _write(tmp_path / "results")
    out = tmp_path / "site"
    release = build_site(root, out, floors=None)
    (view,) = release["families"]
    index = (out / "index.html").read_text()
    assert 'id="families"' in index and "as published" in index and "GMM-PixelCNN++" in index
    assert (out / view["markdown"]).read_text().startswith("### ARBG")
