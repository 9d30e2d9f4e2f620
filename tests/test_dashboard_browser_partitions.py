"""The partition pages in a real browser: Playwright driving Debian's Chromium against the
Bazel-built ``examples/basic_graph`` served as a user runs it.

Lands a day's raw votes (its reactive trigger wants that day's report, which gets built),
searches the partitions by pattern and status, opens the built report and follows its
lineage (the job run that produced it, its inputs, the runs that read an input), then
taints it from the form and sees it tainted, in a second tab too, without a reload.
Screenshots: ``partitions.png``, ``partition.png``.
"""

from __future__ import annotations

import time

import pytest

from browser_support import DAY, WAIT_MS, Shots, new_page, binaries, browser, graph, playwright_api  # noqa: F401

pytestmark = pytest.mark.slow


def wait_available(graph, ref: str) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while graph.partition(ref) != "available":
        assert time.monotonic() < deadline, f"{ref} is {graph.partition(ref)}, not available"
        time.sleep(0.2)


def test_the_partition_pages_in_a_browser(graph, browser, tmp_path):
    expect = playwright_api.expect
    expect.set_options(timeout=WAIT_MS)
    shots = Shots(tmp_path / "screenshots")
    page, failed_requests = new_page(browser, graph)
    report = f"report/{DAY}"
    graph.land_votes(DAY)  # report_on_raw_votes wants the day's report: it is built
    wait_available(graph, report)

    page.goto("/sign-in?next=/partitions")
    page.fill("#token", graph.token)
    page.click("#sign-in")
    page.wait_for_url("**/partitions")

    # Search by pattern and status: the filters stay in the URL.
    page.fill("#filter-pattern", "daily_votes/**")
    page.select_option("#filter-status", "available")
    page.click("#filter-button")
    page.wait_for_url("**/partitions?pattern=daily_votes*status=available")
    rows = page.locator("#partition-list tr[data-partition]")
    expect(rows).to_have_count(3)
    expect(page.locator(f'tr[data-partition="daily_votes/{DAY}/red"]')).to_contain_text("available")
    expect(page.locator("#filter-status")).to_have_value("available")
    shots.take(page, "partitions")

    # Open the built report: the job run that produced it, its build, its inputs.
    page.fill("#filter-pattern", "report/*")
    page.click("#filter-button")
    page.click(f'tr[data-partition="{report}"] a')
    page.wait_for_url(f"**/partitions/{report}")
    expect(page.locator("#partition-status")).to_contain_text("available")
    expect(page.locator("#produced-by")).to_contain_text(":report")
    expect(page.locator("#produced-by")).to_contain_text("succeeded")
    inputs = page.locator("#inputs a").all_text_contents()
    assert sorted(inputs) == [f"daily_total/{DAY}", f"daily_votes/{DAY}/red"], inputs
    expect(page.locator("#history")).to_contain_text("partition_status_changed")
    shots.take(page, "partition")

    # An input's page lists the report's run among the runs that read it.
    page.click(f"#inputs a:text-is('daily_total/{DAY}')")
    page.wait_for_url(f"**/partitions/daily_total/{DAY}")
    expect(page.locator("#consumers")).to_contain_text(":report")
    expect(page.locator(f'#consumers a:text-is("{report}")')).to_be_visible()
    page.click("#producer-build")
    page.wait_for_url("**/builds/*")
    expect(page.locator("#job-runs")).to_contain_text("succeeded")

    # Taint it from the form; a second tab on the same page turns tainted without a reload.
    watcher = page.context.new_page()
    watcher.goto(f"/partitions/{report}")
    expect(watcher.locator("#partition-status")).to_contain_text("available")
    watcher.evaluate("window.notReloaded = true")
    page.goto(f"/partitions/{report}")
    page.fill("#taint-reason", "counted twice")
    page.click("#taint-button")
    expect(page.locator("#partition-status")).to_contain_text("tainted")
    expect(page.locator("#partition-message")).to_have_text("counted twice")
    expect(watcher.locator("#partition-status")).to_contain_text("tainted")
    expect(watcher.locator("#history")).to_contain_text("counted twice")
    assert watcher.evaluate("window.notReloaded") is True
    expect(page.locator("#taint-form")).to_have_count(0)

    assert not failed_requests, failed_requests
    page.context.close()
