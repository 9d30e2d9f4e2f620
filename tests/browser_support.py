"""What the dashboard's browser tests share: the Bazel-built ``examples/basic_graph``
served as a user runs it, Debian's Chromium driven by Playwright, screenshots.

Test modules import the fixtures they use (``from browser_support import binaries,
graph, browser``); screenshots go under the test's tmp dir, and to docs/screenshots/
when ``DATABUILD_SCREENSHOTS=1`` (the README shows those).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from served_graph import ROOT, BasicGraph, build_binaries, served_graphs

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
DAY, OTHER_DAY = "2025-03-01", "2025-03-02"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def binaries() -> Path:
    return build_binaries("examples/basic_graph", ["basic_graph"])


#: basic_graph served as a user runs it.
Graph = BasicGraph


@pytest.fixture
def graph(binaries, tmp_path):
    with served_graphs(Graph, binaries, tmp_path) as make:
        yield make("basic_graph").start()


@pytest.fixture
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: tools/setup installs Debian's chromium")
    with playwright_api.sync_playwright() as p:
        # As root Chromium needs --no-sandbox; headless, no GPU on these machines.
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def new_page(browser, graph, height: int = 800):
    """A page of a fresh browser context on ``graph``'s dashboard, and the list that
    collects its failed requests (the held live requests, cut at the end, left out)."""
    context = browser.new_context(base_url=graph.url, viewport={"width": 1280, "height": height})
    page = context.new_page()
    failed_requests: list[str] = []
    page.on("requestfailed", lambda r: failed_requests.append(r.url) if "live=" not in r.url else None)
    return page, failed_requests


class Shots:
    """Screenshots of each page: in the tmp dir, and in docs/screenshots/ if asked for."""

    def __init__(self, root: Path) -> None:
        self.dirs = [root]
        root.mkdir(parents=True, exist_ok=True)
        if os.environ.get("DATABUILD_SCREENSHOTS") == "1":
            self.dirs.append(ROOT / "docs" / "screenshots")
            self.dirs[-1].mkdir(exist_ok=True)

    def take(self, page, name: str) -> None:
        first = self.dirs[0] / f"{name}.png"
        page.screenshot(path=str(first))
        for d in self.dirs[1:]:
            shutil.copyfile(first, d / f"{name}.png")


def create_from_form(page, partitions: str, **fields: str) -> str:
    """Fill the want form and submit it; the new want's id (its page is where it lands)."""
    page.goto("/wants/new")
    page.fill("#f-partitions", partitions)
    for name, value in fields.items():
        page.fill(f"#f-{name}", value)
    page.click("#create")
    page.wait_for_url("**/wants/0*")
    return page.url.rsplit("/", 1)[1]
