"""The dashboard in a real browser: Playwright driving Debian's Chromium against the
Bazel-built ``examples/basic_graph`` served as a user runs it (``basic_graph.build serve``).

Signs in, creates wants from the form, watches one turn satisfied without a reload when
its raw data is recorded through the API, cancels one, and finds one on the SLA page.
Every page is saved as a screenshot (``browser_support.Shots``).
"""

from __future__ import annotations

import pytest

from browser_support import DAY, OTHER_DAY, WAIT_MS, Shots, new_page, binaries, browser, create_from_form, graph, playwright_api  # noqa: F401

pytestmark = pytest.mark.slow


def test_the_dashboard_in_a_browser(graph, browser, tmp_path):
    expect = playwright_api.expect
    expect.set_options(timeout=WAIT_MS)
    shots = Shots(tmp_path / "screenshots")
    page, failed_requests = new_page(browser, graph)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(graph.url) else None)

    # Reading on loopback needs no token; acting does: sign in with the write token.
    page.goto("/wants/new")
    expect(page.locator("#create")).to_be_disabled()
    page.goto("/sign-in?next=/wants/new")
    shots.take(page, "sign-in")
    page.fill("#token", "not-the-token")
    page.click("#sign-in")
    expect(page.locator("#sign-in-error")).to_contain_text("neither this service's write token")
    page.fill("#token", graph.token)
    page.click("#sign-in")
    page.wait_for_url("**/wants/new")
    expect(page.locator("header .role")).to_have_text("signed in (write)")
    cookie = next(c for c in page.context.cookies() if c["name"] == "databuild_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # A bad value is shown in the form, by its field, naming it.
    page.fill("#f-partitions", f"report/{DAY}")
    page.fill("#f-ttl", "2 days")
    page.click("#create")
    expect(page.locator("#error-ttl")).to_contain_text("invalid duration '2 days'")
    expect(page.locator("#f-partitions")).to_have_value(f"report/{DAY}")
    shots.take(page, "new-want-error")

    # Created from the form: it waits, and says what for.
    wid = create_from_form(page, f"report/{DAY}", ttl="2d", comment="from the browser")
    expect(page.locator("#want-status")).to_contain_text("waiting")
    expect(page.locator("#explanation")).to_contain_text(f"raw/votes/{DAY}")
    shots.take(page, "want-waiting")

    # The data is recorded through the API; the open page turns satisfied with no reload.
    page.evaluate("window.notReloaded = true")
    graph.land_votes(DAY)
    expect(page.locator("#want-status")).to_contain_text("satisfied")
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("#build")).to_contain_text("completed")
    shots.take(page, "want-satisfied")

    # The build it rode on: its job graph drawn by dot, with a node per job and partition.
    page.click("#build a.id")
    page.wait_for_url("**/builds/*")
    expect(page.locator("#graph-picture svg g.node").first).to_be_visible()
    nodes = page.locator("#graph-picture svg g.node title").all_text_contents()
    assert f"raw/votes/{DAY}" in nodes and f"report/{DAY}" in nodes, nodes
    expect(page.locator("#job-runs")).to_contain_text("succeeded")
    shots.take(page, "build")
    page.goto("/builds")
    expect(page.locator("table.builds")).to_contain_text("completed")
    shots.take(page, "builds")

    # What the user types survives the live updates of the page it is on.
    page.goto("/wants")
    page.evaluate("window.notReloaded = true")
    page.fill("#filter-pattern", "typed/but-not-sent")
    other = graph.post("wants", {"partitions": [f"report/{OTHER_DAY}"]})["want_id"]  # a change the page shows
    expect(page.locator(f"#want-{other}")).to_be_visible()
    expect(page.locator("#filter-pattern")).to_have_value("typed/but-not-sent")
    assert page.evaluate("window.notReloaded") is True
    page.goto(f"/wants?source=api&status=waiting")
    expect(page.locator(f"#want-{other}")).to_be_visible()
    expect(page.locator("#filter-status")).to_have_value("waiting")
    shots.take(page, "wants")

    # Cancel from its page.
    page.goto(f"/wants/{other}")
    page.fill("#cancel-reason", "not needed after all")
    page.click("#cancel-button")
    expect(page.locator("#want-status")).to_contain_text("cancelled")
    expect(page.locator("#timeline")).to_contain_text("not needed after all")

    # A want whose data is old misses its SLA at once: the SLA page lists it.
    late = create_from_form(page, "report/2020-01-01", sla="1h", data_timestamp="2020-01-01")
    page.goto("/sla")
    expect(page.locator(f"#violated #want-{late}")).to_be_visible()
    expect(page.locator(f"#violated #want-{late}")).to_contain_text("SLA missed")
    shots.take(page, "sla")

    page.goto("/")
    expect(page.locator("#section-1")).to_contain_text(late[:8])
    expect(page.locator("#upstreams")).to_contain_text("no upstream")
    shots.take(page, "overview")

    assert not outside, f"requests left the service: {outside}"
    assert not failed_requests, failed_requests
    page.context.close()
