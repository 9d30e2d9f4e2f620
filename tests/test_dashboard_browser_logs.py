"""The job run page and the cross-graph page in a real browser: Playwright driving Debian's
Chromium against Bazel-built graphs served as a user runs them.

The job runs are the chaos graph's (//tests/e2e:chaos_graph): ``ok/X`` prints one line,
``drip/X`` prints 60 lines and then a line every 0.2 s until the test releases it, so its
log is followed while it grows. The cross-graph page is graph ``b`` of
//tests/e2e/crossgraph syncing from graph ``a``. Screenshots: ``job_run``, ``upstreams``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from browser_support import WAIT_MS, Shots, new_page, browser, playwright_api  # noqa: F401
from served_graph import DataGraph, build_binaries, served_graphs
from test_e2e_crossgraph import Graph as CrossGraph

pytestmark = pytest.mark.slow
AT_BOTTOM = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 4"


@pytest.fixture(scope="module")
def chaos_binaries() -> Path:
    return build_binaries("tests/e2e", ["chaos_graph"])


class ChaosGraph(DataGraph):
    """The chaos graph with its data directory under its root (where ``drip`` is released)."""

    def release(self, name: str) -> None:
        (self.data / "release").mkdir(parents=True, exist_ok=True)
        (self.data / "release" / name).write_text("")

    def running_run(self, ref: str) -> str:
        """The id of the job run building ``ref`` once it runs."""
        want = self.post("wants", {"partitions": [ref]})["want_id"]
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:
            build_id = self.get(f"wants/{want}").get("build_id")
            if build_id:
                runs = [r for r in self.get(f"builds/{build_id}")["job_runs"] if r["status"] == "running"]
                if runs:
                    return runs[0]["job_run_id"]
            assert time.monotonic() < deadline, f"no job run of {ref} is running"
            time.sleep(0.05)


@pytest.fixture
def chaos(chaos_binaries, tmp_path):
    with served_graphs(ChaosGraph, chaos_binaries, tmp_path) as make:
        yield make("chaos_graph").start()


def _page(browser, url: str):
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800})
    return context, context.new_page()


def test_a_finished_run_shows_its_log_tail(chaos, browser):
    expect = playwright_api.expect
    expect.set_options(timeout=WAIT_MS)
    want = chaos.post("wants", {"partitions": ["ok/a"]})["want_id"]
    context, page = _page(browser, chaos.url)
    page.goto(f"/wants/{want}")
    expect(page.locator("#want-status")).to_contain_text("satisfied")
    page.click("#build table.runs a.id")  # the build's job runs link to their pages
    page.wait_for_url("**/job-runs/*")
    expect(page.locator("#run-status")).to_contain_text("succeeded")
    expect(page.locator("#log-text")).to_have_text("running ok/a\n")
    expect(page.locator("#run-exit-code")).to_have_text("0")
    assert page.locator("#log-follow").count() == 0  # the run ended: nothing to follow
    context.close()


def test_a_running_job_s_log_is_followed_without_reloading(chaos, browser, tmp_path):
    expect = playwright_api.expect
    expect.set_options(timeout=WAIT_MS)
    shots = Shots(tmp_path / "screenshots")
    run_id = chaos.running_run("drip/x")
    context, page = _page(browser, chaos.url)
    pieces: list[tuple[int, int, int]] = []  # (offset asked, offset answered, next offset) per follow answer
    page.on("response", lambda r: pieces.append((int(r.url.rsplit("offset=", 1)[1]),
                                                  int(r.headers["x-log-offset"]),
                                                  int(r.headers["x-log-next-offset"])))
            if "/log?offset=" in r.url and r.ok else None)
    page.goto(f"/job-runs/{run_id}")
    log = page.locator("#log-text")
    expect(page.locator("#run-status")).to_contain_text("running")
    expect(log).to_contain_text("line 59")
    expect(page.locator("#log-follow")).to_be_checked()
    page.evaluate("window.notReloaded = true")

    # It grows on the page as the job writes; the reader at the bottom stays at the bottom.
    expect(log).to_contain_text("tick 15")
    assert log.evaluate(AT_BOTTOM)
    shots.take(page, "job_run")
    # Scrolled up to read: the view stays there while more arrives.
    log.evaluate("el => { el.scrollTop = 0; }")
    seen = log.text_content().count("tick ")
    expect(log).to_contain_text(f"tick {seen + 10}")
    assert log.evaluate("el => el.scrollTop") == 0
    # Paused and resumed: following goes on from where it was.
    page.uncheck("#log-follow")
    expect(page.locator("#log-state")).to_have_text("paused")
    page.check("#log-follow")
    seen = log.text_content().count("tick ")
    expect(log).to_contain_text(f"tick {seen + 5}")

    # Released: the last line arrives, the run ends, the follow stops.
    chaos.release("x")
    expect(log).to_contain_text("released")
    expect(page.locator("#log-state")).to_have_text("the run ended")
    expect(page.locator("#run-status")).to_contain_text("succeeded")  # the live update of the page
    text = log.text_content()
    ticks = [line for line in text.splitlines() if line.startswith("tick ")]
    assert ticks == [f"tick {i}" for i in range(1, len(ticks) + 1)]  # every line once, in order
    assert text.count("line 0\n") == 1 and text.endswith("released\n")
    expect(page.locator("#log-size")).to_have_text(str(len(text.encode())))  # every byte, shown once
    assert page.evaluate("window.notReloaded") is True
    # One request per piece, each from where the last ended: nothing shown is sent again.
    assert pieces and all(asked == answered for asked, answered, _ in pieces)
    assert all(b[0] == a[2] for a, b in zip(pieces, pieces[1:])), pieces
    context.close()


@pytest.fixture(scope="module")
def cross_binaries() -> Path:
    return build_binaries("tests/e2e/crossgraph", ["a", "b"])


def test_the_cross_graph_page_shows_the_upstream_syncing(cross_binaries, browser, tmp_path):
    expect = playwright_api.expect
    expect.set_options(timeout=WAIT_MS)
    shots = Shots(tmp_path / "screenshots")
    with served_graphs(CrossGraph, cross_binaries, tmp_path) as make:
        up = make("a").start()
        down = make("b", upstream=up).start()
        up.land("a/1")
        context, page = _page(browser, down.url)
        page.goto("/")
        page.click("header nav >> text=Cross-graph")
        page.wait_for_url("**/upstreams")
        row = page.locator("#upstream-a")
        expect(row).to_contain_text("a/*")
        expect(row.locator(".state")).to_have_text("ok")
        expect(row.locator(".cursor")).to_have_text(str(up.get("health")["latest_event_index"]))
        nodes = page.locator("#upstreams-picture svg g.node title").all_text_contents()
        assert sorted(nodes) == [f"graph:{down.get('graph')['label']}", "upstream:a"], nodes  # one level
        expect(page.locator("#upstreams-picture svg")).to_contain_text("a/*")
        expect(page.locator("#one-level")).to_be_visible()
        shots.take(page, "upstreams")
        context.close()
