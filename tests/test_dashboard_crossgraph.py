"""The cross-graph page over real HTTP: each upstream's patterns and sync state, and the
picture of the graphs this one depends on (one level: the upstreams' own are not known here).

Reuses tests/test_upstream_sync.py's graphs: ``two_graphs`` (an ingest service and a
reports service syncing from it over real HTTP) and its unreachable upstream ``UP``.
"""

from __future__ import annotations

import html
import shutil
import time

import requests

from databuild.events import open_event_log
from databuild.graph import GraphSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.state import StateProjection, StateStore
from test_dashboard import HTML
from test_service_http import serving
from test_upstream_sync import UP, two_graphs  # noqa: F401


def wait_for(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def row(page: str, name: str) -> str:
    return page.split(f'id="upstream-{name}"', 1)[1].split("</tr>", 1)[0]


def test_the_page_shows_each_upstream_s_sync_and_a_picture_of_the_graphs(two_graphs):
    up, down, _ = two_graphs
    up.mark_available(pb.MarkAvailableRequest(refs=["ingest/1"]))
    head = up.health().latest_event_index
    wait_for(lambda: down.upstreams().upstreams[0].cursor == head, "the sync reads the upstream's log")
    with serving(down) as url:
        page = requests.get(f"{url}/upstreams", headers=HTML)
        assert page.status_code == 200
        text = page.text
        ingest = row(text, "ingest")
        assert "//ingest:graph" in ingest and up.url in ingest and "ingest/*" in ingest
        assert 'status-ok">ok' in ingest and f'<td class="cursor">{head}</td>' in ingest
        assert "0 events" in ingest  # no lag: the cursor is at the upstream's head
        assert 'aria-current="page">Cross-graph' in text
        assert "One level" in text
        if shutil.which("dot"):
            picture = html.unescape(text.split('id="upstreams-picture"', 1)[1].split("</div>", 1)[0])
            for shown in ("//reports:graph", "(this graph)", "ingest", "//ingest:graph", "ingest/*", "ok"):
                assert shown in picture, shown
        else:
            assert 'id="upstreams-note"' in text and "ingest/*" in text


def test_an_unreachable_upstream_shows_its_state_and_last_error(tmp_path):
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/down.sqlite3", [StateProjection()]))
    service = DataBuildService(GraphSpec("//reports:graph", (), upstreams=(UP,)), store, str(tmp_path))
    try:
        with serving(service) as url:
            stopped = row(requests.get(f"{url}/upstreams", headers=HTML).text, "ingest")
            assert 'status-stopped">stopped' in stopped and "never" in stopped  # not syncing: no evaluator
            service.start_evaluator()
            wait_for(lambda: service.upstreams().upstreams[0].consecutive_failures >= 2, "two failures")
            failing = row(requests.get(f"{url}/upstreams", headers=HTML).text, "ingest")
            status = service.upstreams().upstreams[0]
            assert 'status-backoff">backoff' in failing and "http://127.0.0.1:9" in failing
            assert status.last_error and status.last_error in html.unescape(failing)
            assert "failures, since" in failing
    finally:
        service.close()
        store.close()


def test_a_graph_without_upstreams_says_so(tmp_path):
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/g.sqlite3", [StateProjection()]))
    service = DataBuildService(GraphSpec("//solo:graph", ()), store, str(tmp_path))
    with serving(service) as url:
        page = requests.get(f"{url}/upstreams", headers=HTML)
        assert page.status_code == 200 and "graph //solo:graph declares no upstream" in page.text
    store.close()
