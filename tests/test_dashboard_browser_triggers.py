"""The jobs and triggers pages in a real browser: Playwright driving Debian's Chromium
against the Bazel-built ``examples/basic_graph`` served as a user runs it.

Raw votes landing fire the reactive trigger ``report_on_raw_votes``; the build it wants
runs the graph's three jobs, which the jobs page then counts (live, no reload). On the
triggers page the user pauses and resumes that trigger from its forms and sees its
state change. Both pages are saved as screenshots (``jobs.png``, ``triggers.png``).
"""

from __future__ import annotations

import pytest

from browser_support import DAY, WAIT_MS, Shots, new_page, binaries, browser, graph, playwright_api  # noqa: F401

pytestmark = pytest.mark.slow
TRIGGER = "report_on_raw_votes"


def test_jobs_and_triggers_in_a_browser(graph, browser, tmp_path):
    expect = playwright_api.expect
    expect.set_options(timeout=WAIT_MS)
    shots = Shots(tmp_path / "screenshots")
    page, failed_requests = new_page(browser, graph, 900)
    labels = [j["label"] for j in graph.get("graph")["jobs"]]
    assert len(labels) == 3

    # Before any build every job is listed, with no runs.
    page.goto("/jobs")
    for label in labels:
        expect(page.locator(f'tr[data-job="{label}"] td.runs')).to_have_text("0")

    # Raw votes land: the reactive trigger wants the day's report, whose build runs every job.
    page.evaluate("window.notReloaded = true")
    graph.land_votes(DAY)
    for label in labels:
        expect(page.locator(f'tr[data-job="{label}"] td.runs')).to_have_text("1")
        expect(page.locator(f'tr[data-job="{label}"] td.rate')).to_have_text("100%")
        expect(page.locator(f'tr[data-job="{label}"] td.last-run')).to_contain_text("succeeded")
    assert page.evaluate("window.notReloaded") is True
    shots.take(page, "jobs")
    # A job's name opens its runs.
    page.click(f'tr[data-job="{labels[0]}"] td.job-label a')
    page.wait_for_url("**/jobs/runs?job=*")
    expect(page.locator("#job-runs tr[data-run]")).to_have_count(1)
    expect(page.locator("#job-runs")).to_contain_text("succeeded")
    shots.take(page, "job_runs")

    # Sign in, then pause and resume the trigger from its card.
    page.goto("/sign-in?next=/triggers")
    page.fill("#token", graph.token)
    page.click("#sign-in")
    page.wait_for_url("**/triggers")
    card = page.locator(f'section[data-trigger="{TRIGGER}"]')
    expect(card.locator(".last-firing")).to_contain_text(f"raw/votes/{DAY}")
    expect(card.locator(".last-firing a.id")).to_have_count(1)
    expect(page.locator(f"#state-{TRIGGER}")).to_contain_text("active")
    page.fill(f"#pause-reason-{TRIGGER}", "votes are being re-counted")
    page.click(f"#pause-{TRIGGER}")
    expect(page.locator(f"#state-{TRIGGER}")).to_contain_text("paused")
    expect(page.locator(f"#state-{TRIGGER}")).to_contain_text("by dashboard:session-")
    expect(page.locator(f"#resume-{TRIGGER}")).to_be_visible()
    assert [t["paused"] for t in graph.get("triggers")["triggers"] if t["name"] == TRIGGER] == [True]
    shots.take(page, "triggers")
    page.click(f"#resume-{TRIGGER}")
    expect(page.locator(f"#state-{TRIGGER}")).to_contain_text("active")
    expect(page.locator(f"#pause-{TRIGGER}")).to_be_visible()
    assert [t["paused"] for t in graph.get("triggers")["triggers"] if t["name"] == TRIGGER] == [False]
    # The schedule shows when it fires next.
    expect(page.locator('section[data-trigger="daily_report"] .next-fire')).to_contain_text("02:00:00Z")

    assert not failed_requests, failed_requests
    page.context.close()
