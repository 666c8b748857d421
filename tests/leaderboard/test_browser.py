"""Open the built site in headless Chromium (Debian's, via Playwright): tables, sorting, images, console.

Fails (does not skip) when Playwright or /usr/bin/chromium is missing: run .ci/install-browser.sh.
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
from tests.leaderboard.fixtures import write_fixture_records

CHROMIUM = Path(os.environ.get("BGBENCH_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic"]
SCREENSHOT = Path(os.environ.get("BGBENCH_SCREENSHOT", Path(tempfile.gettempdir()) / "bgbench-leaderboard.png"))


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = write_fixture_records(tmp_path_factory.mktemp("results"))
    out = tmp_path_factory.mktemp("site")
    build_site(root, out)
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
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load")
    return page, problems


def _column(page, table_id: str, col: int) -> list[str]:
    return page.eval_on_selector_all(f"#{table_id} tbody.harness tr", f"rows => rows.map(r => r.cells[{col}].getAttribute('data-v'))")


def test_index_tables_sorting_and_console(browser, served):
    page, problems = _open(browser, served + "/index.html")
    table = "t-8AA-v1-quick-10000"
    methods = page.eval_on_selector_all(f"#{table} tbody.harness th[scope=row] a", "els => els.map(e => e.textContent.trim())")
    assert sorted(methods) == ["crashy-flow", "flaky-flow", "md-baseline", "robin", "tarflow"]
    assert page.locator(f"#{table} td.best").count() >= 4 and page.locator(f"#{table} td.partial").count() >= 1
    # published rows render in their own body
    assert page.locator("#t-8AA-v1-paper-10000 tbody.published tr.published-row").count() == 6

    header = page.locator(f"#{table} thead th").nth(1)  # E-W2
    for direction in ("ascending", "descending"):
        header.click()
        raw = _column(page, table, 1)
        values = [float(v) for v in raw if v]
        assert raw[len(values):] == [""]  # the all-failed entry has no value and sorts last
        assert values == sorted(values, reverse=direction == "descending") and header.get_attribute("aria-sort") == direction

    page.locator(f"#{table} thead th").nth(1).click()  # back to ascending for the screenshot
    page.screenshot(path=str(SCREENSHOT.with_name(SCREENSHOT.stem + "-table.png")), full_page=False)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert SCREENSHOT.stat().st_size > 0
    assert problems == []
    page.close()


def test_system_page_plots_load(browser, served):
    page, problems = _open(browser, served + "/index.html")
    page.click("header nav a:text('8AA')")
    page.click("section#task-8AA h2 a")
    page.click("ul.systems a:text('PGESTAES')")
    images = page.locator("img")
    assert images.count() >= 3
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert all(w > 0 for w in widths), widths
    assert problems == []
    page.close()


def test_script_description_renders_as_text(browser, served):
    page, problems = _open(browser, served + "/index.html")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.click("#t-ALDP-v1-quick-10000 tbody.harness th a")
    assert "<script>alert('x')</script>" in page.locator("p.description").inner_text()
    assert page.locator("p.description script").count() == 0 and page.locator("p.description b").count() == 0
    assert dialogs == [] and problems == []
    page.close()
