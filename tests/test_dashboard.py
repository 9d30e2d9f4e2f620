"""The dashboard over real HTTP: pages, filters and paging, forms, sign-in, CSRF, live updates.

A DataBuildService on a SQLite log served by uvicorn on a loopback port (as ``serve``
runs it), its time injected; its evaluator is not started, so the tests move wants with
``evaluator.tick()``. The browser end to end (a real Chromium) is tests/test_dashboard_browser.py.
"""

from __future__ import annotations

import contextlib
import html
import re
import shutil
import threading

import pytest
import requests

from databuild.events import open_event_log
from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.state import StateProjection, StateStore
from test_service_http import TOKEN, serving

GRAPH = GraphSpec("//g:dash", (JobSpec("//g:daily", "/bin/true", ("daily/*",)),))
READ_TOKEN = "read-0nly"
HTML = {"Accept": "text/html"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Clock:
    """Injected time: set by the test."""

    def __init__(self) -> None:
        self.us = 1_800_000_000_000_000

    def __call__(self) -> int:
        return self.us


@contextlib.contextmanager
def served_dashboard(graph: GraphSpec, tmp_path, clock: "Clock", seed=None):
    """(url, service, clock) of ``graph``'s service on a SQLite log under ``tmp_path``,
    served on a loopback bind with the read token; ``seed(store)`` first fills its log."""
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()], clock))
    (tmp_path / "logs").mkdir()
    try:
        if seed is not None:
            seed(store)
        service = DataBuildService(graph, store, str(tmp_path / "logs"), clock_us=clock)
        with serving(service, read_token=READ_TOKEN) as url:
            yield url, service, clock
    finally:
        store.close()


@pytest.fixture
def dash(tmp_path):
    """(url, service, clock) of a dashboard on a loopback bind."""
    with served_dashboard(GRAPH, tmp_path, Clock()) as served:
        yield served


@pytest.fixture
def remote(tmp_path):
    """A dashboard acting as one bound to a non-loopback address: reading needs a token too."""
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()]))
    (tmp_path / "logs").mkdir()
    with serving(DataBuildService(GRAPH, store, str(tmp_path / "logs")), loopback_only=False,
                 read_token=READ_TOKEN) as url:
        yield url
    store.close()


def want(service: DataBuildService, ref: str, **fields) -> str:
    return service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(
        partitions=[ref], external_dependencies=[f"up/{ref}"], **fields)])).wants[0].spec.want_id


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def signed_in(url: str, token: str = TOKEN) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{url}/sign-in", headers=HTML)
    r = s.post(f"{url}/sign-in", data={"token": token, "next": "/wants", "csrf": csrf_of(page.text)},
               headers=HTML, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/wants", r.text
    return s


# -- pages ------------------------------------------------------------------------------


def test_every_page_renders_what_the_service_says(dash):
    url, service, clock = dash
    waiting = want(service, "daily/1", sla_seconds=3600)
    service.evaluator.tick()
    overview = requests.get(f"{url}/", headers=HTML)
    assert overview.status_code == 200 and overview.headers["content-type"].startswith("text/html")
    assert waiting in overview.text and "Waiting for data" in overview.text
    assert "this graph declares no upstream" in overview.text and "no build running" in overview.text
    detail = requests.get(f"{url}/wants/{waiting}", headers=HTML).text
    assert "waiting for external data" in detail and "up/daily/1" in detail and "want_created" in detail
    assert "Cancelling needs the write token" in detail  # not signed in
    by_ref = requests.get(f"{url}/wants/daily/1", headers=HTML).text  # a partition ref names its newest want
    assert f'<span class="id">{waiting}</span>' in by_ref
    for path, text in [("/wants", waiting), ("/wants/new", "Data timestamp"), ("/sla", "At risk"),
                       ("/sign-in", 'name="token"')]:
        r = requests.get(url + path, headers=HTML)
        assert r.status_code == 200 and text in r.text, path
    # Every asset the pages load comes from the service.
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', overview.text):
        r = requests.get(url + asset)
        assert r.status_code == 200 and r.content, asset
    assert not re.search(r'(?:src|href)="(?:https?:)?//', overview.text)


def test_wants_list_keeps_filters_in_the_url_and_pages_by_keyset(dash):
    url, service, _ = dash
    ids = [w.spec.want_id for w in service.create_wants(pb.CreateWantsRequest(wants=[
        pb.CreateWantRequest(partitions=[f"daily/{i}"], external_dependencies=[f"up/{i}"]) for i in range(120)])).wants]
    want(service, "other/1")
    service.evaluator.tick()
    first = requests.get(f"{url}/wants", params={"pattern": "daily/*", "status": "waiting"}, headers=HTML).text
    assert re.findall(r'data-want="([^"]+)"', first) == ids[:50]
    assert 'value="daily/*"' in first and '<option value="waiting" selected>' in first
    next_url = re.search(r'href="([^"]+)" id="next-page"', first).group(1).replace("&amp;", "&")
    assert "pattern=daily%2F%2A" in next_url and "status=waiting" in next_url and f"after={ids[49]}" in next_url
    second = requests.get(url + next_url, headers=HTML).text
    assert re.findall(r'data-want="([^"]+)"', second) == ids[50:100]
    third = requests.get(f"{url}/wants", params={"pattern": "daily/*", "after": ids[99]}, headers=HTML).text
    assert re.findall(r'data-want="([^"]+)"', third) == ids[100:] and 'id="next-page"' not in third
    other = requests.get(f"{url}/wants", params={"pattern": "other/*", "source": "api"}, headers=HTML).text
    assert len(re.findall(r'data-want="', other)) == 1


@pytest.mark.parametrize("query, fragment", [
    ({"status": "sleeping"}, "unknown want status 'sleeping'"),
    ({"sla": "late"}, "unknown sla filter 'late'"),
    ({"pattern": "a b"}, "partition pattern 'a b'"),
])
def test_a_bad_filter_is_a_4xx_naming_the_value(dash, query, fragment):
    url, _, _ = dash
    page = requests.get(f"{url}/wants", params=query, headers=HTML)
    assert 400 <= page.status_code < 500 and page.headers["content-type"].startswith("text/html")
    doc = requests.get(f"{url}/wants", params=query)  # not asking for HTML: the API's error document
    assert doc.status_code == page.status_code and set(doc.json()["error"]) == {"code", "message"}
    assert fragment in doc.json()["error"]["message"]


def test_the_sla_page_lists_violated_wants_with_their_deadlines(dash):
    url, service, clock = dash
    late = want(service, "daily/late", sla_seconds=60)
    fine = want(service, "daily/fine", sla_seconds=86400)
    service.evaluator.tick()
    clock.us += 61_000_000
    service.evaluator.tick()
    service.evaluator.tick()
    page = requests.get(f"{url}/sla", headers=HTML).text
    violated = page.split('id="violated"')[1].split('id="at-risk"')[0]
    assert late in violated and fine not in violated and "SLA missed" in violated
    assert re.search(r"\(\d+s ago\)", violated)  # its deadline, a second past on the injected clock


# -- actions and auth -------------------------------------------------------------------


def test_sign_in_sets_a_strict_http_only_cookie_and_only_the_tokens_sign_in(dash):
    url, _, _ = dash
    s = requests.Session()
    csrf = csrf_of(s.get(f"{url}/sign-in", headers=HTML).text)
    wrong = s.post(f"{url}/sign-in", data={"token": "nope", "csrf": csrf}, headers=HTML)
    assert wrong.status_code == 401 and "neither this service" in wrong.text
    r = s.post(f"{url}/sign-in", data={"token": TOKEN, "next": "//elsewhere.example/x", "csrf": csrf},
               headers=HTML, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"  # never sent off the site
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and TOKEN not in cookie
    assert "signed in (write)" in s.get(f"{url}/", headers=HTML).text
    out = s.post(f"{url}/sign-out", data={"csrf": csrf_of(s.get(f"{url}/", headers=HTML).text)}, headers=HTML,
                 allow_redirects=False)
    assert out.status_code == 303 and "signed in" not in requests.get(f"{url}/", headers=HTML).text


def test_create_from_the_form_needs_the_write_token_and_the_csrf_token(dash):
    url, service, _ = dash
    form = {"partitions": "daily/7\ndaily/8", "ttl": "2d", "sla": "1h30m", "data_timestamp": "2027-01-01",
            "external_dependencies": "up/7, up/8", "comment": "for the board"}
    anonymous = requests.Session()
    token = csrf_of(anonymous.get(f"{url}/sign-in", headers=HTML).text)
    r = anonymous.post(f"{url}/wants/new", data={**form, "csrf": token}, headers=HTML)
    assert r.status_code == 401 and "write token" in r.text
    s = signed_in(url)
    assert s.post(f"{url}/wants/new", data=form, headers=HTML).status_code == 403  # no CSRF token
    forged = s.post(f"{url}/wants/new", data={**form, "csrf": token}, headers=HTML)  # another session's
    assert forged.status_code == 403 and "CSRF" in forged.text
    page = s.get(f"{url}/wants/new", headers=HTML).text
    r = s.post(f"{url}/wants/new", data={**form, "csrf": csrf_of(page)}, headers=HTML, allow_redirects=False)
    assert r.status_code == 303, r.text
    want_id = r.headers["location"].rsplit("/", 1)[1]
    spec = service.want(pb.GetWantRequest(want_id=want_id)).want.spec
    assert list(spec.partitions) == ["daily/7", "daily/8"] and list(spec.external_dependencies) == ["up/7", "up/8"]
    assert (spec.ttl_seconds, spec.sla_seconds, spec.comment) == (172800, 5400, "for the board")
    assert spec.data_timestamp.ToJsonString() == "2027-01-01T00:00:00Z"
    assert spec.source.type == pb.WANT_SOURCE_TYPE_DASHBOARD and spec.source.name.startswith("session-")
    listed = s.get(f"{url}/wants", params={"source": "dashboard"}, headers=HTML).text
    assert want_id in listed


def test_form_errors_name_each_bad_value_and_keep_what_was_typed(dash):
    url, service, _ = dash
    s = signed_in(url)
    csrf = csrf_of(s.get(f"{url}/wants/new", headers=HTML).text)
    r = s.post(f"{url}/wants/new", headers=HTML, data={
        "partitions": "daily/1 bad\x01ref", "ttl": "2x", "sla": "0s", "data_timestamp": "yesterday",
        "external_dependencies": "", "comment": "typed", "csrf": csrf})
    assert r.status_code == 400
    errors = dict(re.findall(r'<p class="error" id="error-(\w+)">([^<]+)</p>', r.text))
    assert set(errors) == {"partitions", "ttl", "sla", "data_timestamp"}
    assert "&#39;2x&#39;" in errors["ttl"] and "&#39;0s&#39;" in errors["sla"] and "yesterday" in errors["data_timestamp"]
    assert 'value="typed"' in r.text and 'value="2x"' in r.text
    assert service.list_wants(pb.ListWantsRequest()).wants == []


def test_cancel_from_the_detail_page(dash):
    url, service, _ = dash
    wid = want(service, "daily/9")
    s = signed_in(url)
    page = s.get(f"{url}/wants/{wid}", headers=HTML).text
    assert 'id="cancel-form"' in page
    r = s.post(f"{url}/wants/{wid}/cancel", data={"reason": "not needed", "csrf": csrf_of(page)}, headers=HTML,
               allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/wants/{wid}"
    state = service.want(pb.GetWantRequest(want_id=wid))
    assert state.want.status == pb.WANT_STATUS_CANCELLED
    cancelled = [e.want_cancelled for e in state.timeline if e.HasField("want_cancelled")]
    assert [(c.reason, c.requested_by) for c in cancelled] == [("not needed", "dashboard")]
    again = s.post(f"{url}/wants/{wid}/cancel", data={"csrf": csrf_of(page)}, headers=HTML)
    assert again.status_code == 409 and "already cancelled" in again.text and 'id="action-error"' in again.text


def test_a_read_only_session_reads_but_cannot_act(remote):
    url = remote
    r = requests.get(f"{url}/wants", headers=HTML, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sign-in?next=%2Fwants"
    assert requests.get(f"{url}/static/htmx.min.js").status_code == 401
    assert requests.get(f"{url}/wants").status_code == 401  # a script gets the error document
    assert requests.get(f"{url}/wants", headers={"Authorization": f"Bearer {READ_TOKEN}"}).status_code == 200
    s = signed_in(url, READ_TOKEN)
    page = s.get(f"{url}/wants/new", headers=HTML)
    assert page.status_code == 200 and "signed in (read)" in page.text and "needs the service's write token" in page.text
    r = s.post(f"{url}/wants/new", data={"partitions": "daily/1", "csrf": csrf_of(page.text)}, headers=HTML)
    assert r.status_code == 401 and "read-only token cannot record" in r.text
    assert s.get(f"{url}/static/htmx.min.js").status_code == 200


def test_the_api_keeps_its_bearer_auth(dash):
    url, _, _ = dash
    s = signed_in(url)  # a dashboard session is no token for the API
    assert s.post(f"{url}/api/v1/wants", json={"partitions": ["daily/1"]}).status_code == 401
    assert requests.post(f"{url}/api/v1/wants", json={"partitions": ["daily/1"]}, headers=AUTH).status_code == 201


# -- live updates -----------------------------------------------------------------------


def test_a_live_request_answers_once_the_log_moves(dash):
    url, service, _ = dash
    wid = want(service, "daily/5")
    service.evaluator.tick()
    page = requests.get(f"{url}/wants/{wid}", headers=HTML).text
    live_url = re.search(r'id="live" hidden data-url="([^"]+)"', page).group(1).replace("&amp;", "&")
    head = service.health().latest_event_index
    assert live_url == f"/wants/{wid}?live={head}"
    answered: list[requests.Response] = []
    request = threading.Thread(target=lambda: answered.append(requests.get(url + live_url, headers=HTML)))
    request.start()
    request.join(0.5)
    assert not answered  # nothing changed yet: it waits (it cannot have seen the change below)
    service.cancel_want(pb.CancelWantRequest(want_id=wid, reason="elsewhere"))  # the change the page waits for
    request.join(30)
    assert answered and answered[0].status_code == 200
    # Rendered after the change (a request answered before it would still say waiting):
    assert 'status-cancelled">cancelled' in answered[0].text and "elsewhere" in answered[0].text
    assert f"live={head}" not in answered[0].text and "live=" in answered[0].text
    bad = requests.get(f"{url}/wants/{wid}", params={"live": "soon"}, headers=HTML)
    assert bad.status_code == 400 and "&#39;soon&#39;" in bad.text


def test_the_builds_pages_list_builds_and_draw_a_build_s_job_graph(dash):
    url, service, _ = dash
    from slahistory import build_events, run_event
    service.store.log.append(build_events("b-7f3a9c21", [
        ("r-extract", "//g:extract", ["clean/2025-03-01"], ["raw/2025-03-01"]),
        ("r-daily", "//g:daily", ["daily/2025-03-01"], ["clean/2025-03-01"])], ["daily/2025-03-01"]))
    service.store.log.append([run_event("b-7f3a9c21", "r-extract", "//g:extract", pb.JOB_RUN_STATUS_RUNNING)])
    listed = requests.get(f"{url}/builds", headers=HTML)
    assert listed.status_code == 200 and 'href="/builds/b-7f3a9c21"' in listed.text
    page = requests.get(f"{url}/builds/b-7f3a9c21", headers=HTML)
    assert page.status_code == 200
    assert "running" in page.text and "/api/v1/job-runs/r-extract/logs" in page.text
    if shutil.which("dot"):
        picture = html.unescape(page.text.split('id="graph-picture"', 1)[1])  # dot writes - as &#45;
        for node in ("raw/2025-03-01", "clean/2025-03-01", "daily/2025-03-01", "//g:extract", "//g:daily"):
            assert node in picture
    else:
        assert 'id="graph-note"' in page.text and "//g:extract" in page.text
    missing = requests.get(f"{url}/builds/nope", headers=HTML)
    assert missing.status_code == 404 and "nope" in missing.text
