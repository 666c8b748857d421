"""Open the built site in headless Chromium (Debian's, via Playwright): the index, a task page with its
budget curves and a system page; tables, floors, costs, tracks, sorting, images and a clean console.

Fails (does not skip) when Playwright or /usr/bin/chromium is missing: run .ci/install-browser.sh.
Screenshots of the three pages go next to ``$BGBENCH_SCREENSHOT`` (default: the temp folder).
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from leaderboard.site import build_site
from tests.leaderboard.fixtures import FLOORS, QUICK_8AA, floors_path, write_fixture_records

CHROMIUM = Path(os.environ.get("BGBENCH_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic"]
SCREENSHOT = Path(os.environ.get("BGBENCH_SCREENSHOT", Path(tempfile.gettempdir()) / "bgbench-leaderboard.png"))
TABLE = "t-8AA-v1-quick-10000"


def _shot(page, name: str) -> None:
    path = SCREENSHOT if name == "index" else SCREENSHOT.with_name(f"{SCREENSHOT.stem}-{name}.png")
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = write_fixture_records(tmp_path_factory.mktemp("results"))
    out = tmp_path_factory.mktemp("site")
    build_site(root, out, floors=floors_path(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run .ci/install-browser.sh (apt-get install chromium)"
    from playwright.sync_api import sync_playwright  # a missing package fails the test too

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load")
    return page, problems


def _column(page, table_id: str, col: int) -> list[str]:
    return page.eval_on_selector_all(f"#{table_id} tbody.track-closed tr.harness-row", f"rows => rows.map(r => r.cells[{col}].getAttribute('data-v'))")


def _images_loaded(page) -> list[int]:
    return page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")


def test_index_floor_costs_tracks_sorting_and_console(browser, served):
    page, problems = _open(browser, served + "/index.html")
    methods = page.eval_on_selector_all(f"#{TABLE} tbody.track-closed th[scope=row] a", "els => els.map(e => e.textContent.trim())")
    assert sorted(methods) == ["crashy-flow", "flaky-flow", "md-baseline", "robin", "tarflow", "tiny-smc"]
    assert page.locator(f"#{TABLE} tbody.track-open tr.harness-row").count() == 1  # open-flow, ranked on its own
    assert page.locator(f"#{TABLE} td.best").count() >= 4 and page.locator(f"#{TABLE} td.partial").count() >= 1
    assert page.locator(f"#{TABLE} td.reduced").count() >= 1  # tiny-smc: 100 particles
    # the floor row: the mean of the two systems' floors
    floor = page.locator(f"#{TABLE} tr.floor-row td.floor").first.inner_text()
    assert float(floor) == pytest.approx(sum(FLOORS[("8AA", s)]["energy-w2"] for s in QUICK_8AA) / 2, abs=1e-3)
    # costs beside the scores
    headers = page.eval_on_selector_all(f"#{TABLE} thead th", "ths => ths.map(t => t.textContent.trim())")
    assert headers[1] == "E-W2 [kT] ↓" and {"evaluations", "wall time", "samples/s", "hardware", "parameters", "training"} <= set(headers)
    tarflow = page.locator(f"#{TABLE} tr.harness-row", has=page.locator("th a", has_text="tarflow"))
    assert "GPU: NVIDIA H100" in tarflow.inner_text() and "full +" in tarflow.inner_text()
    assert "closed track" in page.locator(f"#{TABLE}").inner_text() and "open track" in page.locator(f"#{TABLE}").inner_text()
    # published rows render in their own body
    assert page.locator("#t-8AA-v1-paper-10000 tbody.published tr.published-row").count() == 6

    header = page.locator(f"#{TABLE} thead th").nth(1)  # E-W2
    for direction in ("ascending", "descending"):
        header.click()
        raw = _column(page, TABLE, 1)
        values = [float(v) for v in raw if v]
        assert raw[len(values):] == [""]  # the all-failed entry has no value and sorts last
        assert values == sorted(values, reverse=direction == "descending") and header.get_attribute("aria-sort") == direction
        assert page.locator(f"#{TABLE} tbody.floor tr").first.get_attribute("class") == "floor-row"  # the floor stays put
    page.locator(f"#{TABLE} thead th").nth(1).click()  # back to ascending for the screenshot
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "index")
    assert problems == []
    page.close()


def test_task_page_shows_budget_curves_and_floors(browser, served):
    page, problems = _open(browser, served + "/index.html")
    page.click("header nav a:text('8AA')")
    assert page.locator("h1").inner_text() == "8AA"
    curves = page.locator("figure.curve")
    assert curves.count() == 2  # quick and paper tier
    quick = page.locator("figure.curve[data-tier=quick]")
    assert "noise floor" in quick.inner_text() and "MD baseline" in quick.inner_text()
    assert all(w > 0 for w in _images_loaded(page))
    assert page.locator("table.floors tbody tr").count() == 2
    assert "open track" in page.inner_text("main") and "samples/s" in page.inner_text("main")
    _shot(page, "task")
    assert problems == []
    page.close()


def test_system_page_set_tables_and_plots_side_by_side(browser, served):
    page, problems = _open(browser, served + "/index.html")
    page.click("header nav a:text('8AA')")
    page.click("ul.systems a:text('PGESTAES')")
    section = page.locator("section.tier").filter(has_text="quick tier")
    sets = section.locator("table.set-table[data-set]").evaluate_all("ts => ts.map(t => t.dataset.set)")
    assert sets == ["proposal", "resampled", "smc", "md"]
    resampled = section.locator("table.set-table[data-set=resampled]")
    assert "noise floor" in resampled.locator("thead").inner_text()
    assert resampled.locator("tbody tr").first.locator("td.floor").inner_text() == f"{FLOORS[('8AA', 'PGESTAES')]['energy-w2']:.4g}"
    assert "energy evaluations" in section.locator("table.costs").inner_text()
    grid = section.locator(".plot-grid").first
    boxes = grid.locator("figure").evaluate_all("fs => fs.map(f => f.getBoundingClientRect().top)")
    assert len(boxes) == 3 and max(boxes) - min(boxes) < 5  # energy, Ramachandran and TICA on one row
    assert all(w > 0 for w in _images_loaded(page))
    _shot(page, "system")
    assert problems == []
    page.close()


def test_script_description_renders_as_text(browser, served):
    page, problems = _open(browser, served + "/index.html")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.click("#t-ALDP-v1-quick-10000 tbody.harness th a:text('evil-flow')")
    assert "<script>alert('x')</script>" in page.locator("p.description").inner_text()
    assert page.locator("p.description script").count() == 0 and page.locator("p.description b").count() == 0
    assert dialogs == [] and problems == []
    page.close()
