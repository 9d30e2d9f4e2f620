"""The HTTP service over real sockets: uvicorn serving the graph's state."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
import requests
import uvicorn

from databuild.events import open_event_log
from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.service.http import MAX_BODY_BYTES, create_app
from databuild.service.serve import bind_socket
from databuild.state import StateProjection, StateStore
from eventgen import partition_event

GRAPH = GraphSpec("//g:g", (JobSpec("//g:daily", "/bin/true", ("daily/*",)),))
TOKEN = "s3cret"


@contextlib.contextmanager
def serving(service: DataBuildService):
    listener = bind_socket("127.0.0.1", 0)
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(service, TOKEN), log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


@pytest.fixture
def served(tmp_path):
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()]))
    (tmp_path / "logs").mkdir()
    with serving(DataBuildService(GRAPH, store, str(tmp_path / "logs"))) as url:
        yield url, store, tmp_path
    store.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_health_graph_and_openapi(served):
    url, store, _ = served
    health = requests.get(f"{url}/api/v1/health").json()
    assert health["status"] == "ok" and health["graph_label"] == "//g:g"
    graph = requests.get(f"{url}/api/v1/graph").json()
    assert graph["jobs"] == [{"label": "//g:daily", "output_patterns": ["daily/*"]}]
    paths = requests.get(f"{url}/openapi.json").json()["paths"]
    assert "/api/v1/events" in paths and "/api/v1/partitions/{ref}/available" in paths


def test_mark_available_taint_and_partition_reads(served):
    url, store, _ = served
    r = requests.post(f"{url}/api/v1/partitions/raw%2F2025-01-01/available", json={"comment": "landed"}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["partitions"][0]["status"] == "PARTITION_STATUS_AVAILABLE"
    detail = requests.get(f"{url}/api/v1/partitions/raw/2025-01-01").json()
    assert detail["partition"]["external"] is True and len(detail["history"]) == 1
    listed = requests.get(f"{url}/api/v1/partitions", params={"pattern": "raw/*", "status": "available"}).json()
    assert [p["ref"] for p in listed["partitions"]] == ["raw/2025-01-01"]
    tainted = requests.post(f"{url}/api/v1/partitions/raw/2025-01-01/taint", json={"reason": "bad rows"}, headers=AUTH)
    assert tainted.status_code == 201 and tainted.json()["partitions"][0]["status"] == "PARTITION_STATUS_TAINTED"
    missing = requests.get(f"{url}/api/v1/partitions/never/seen").json()
    assert missing["partition"]["status"] == "PARTITION_STATUS_MISSING"


@pytest.mark.parametrize(
    "method, path, kwargs, status, code, fragment",
    [
        ("post", "/api/v1/partitions/raw%2Fx/available", {}, 401, "unauthorized", "token"),
        ("post", "/api/v1/partitions/raw%2Fx/available", {"data": "{not json", "headers": AUTH}, 400,
         "invalid_body", "MarkAvailableRequest"),
        ("post", "/api/v1/partitions/daily%2F1/available", {"headers": AUTH}, 400, "invalid_argument",
         "produced by graph //g:g"),
        ("post", "/api/v1/partitions/a%20b/available", {"headers": AUTH}, 400, "invalid_ref", "'a b'"),
        ("post", "/api/v1/partitions/raw%2Fnope/taint", {"json": {"reason": "x"}, "headers": AUTH}, 400,
         "invalid_argument", "raw/nope"),
        ("post", "/api/v1/analyze", {"data": "x" * (MAX_BODY_BYTES + 1), "headers": AUTH}, 413, "body_too_large", "bytes"),
        ("post", "/api/v1/analyze", {"json": {"partitions": ["nothing/1"]}, "headers": AUTH}, 400, "no_producer",
         "nothing/1"),
        ("get", "/api/v1/builds/no-such-build", {}, 404, "not_found", "'no-such-build'"),
        ("get", "/api/v1/job-runs/no-such-run/logs", {}, 404, "not_found", "'no-such-run'"),
        ("get", "/api/v1/events", {"params": {"types": "nope"}}, 400, "invalid_argument", "nope"),
        ("get", "/api/v1/events", {"params": {"since": "-1"}}, 400, "invalid_argument", "since"),
        ("get", "/api/v1/events", {"params": {"pattern": "bad pattern"}}, 400, "invalid_ref", "'bad pattern'"),
        ("get", "/api/v1/partitions", {"params": {"status": "shiny"}}, 400, "invalid_argument", "'shiny'"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_value(served, method, path, kwargs, status, code, fragment):
    url, store, _ = served
    before = store.log.latest_index()
    r = getattr(requests, method)(url + path, **kwargs)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and fragment in error["message"]
    assert store.log.latest_index() == before  # nothing written


def test_event_feed_pages_and_filters(served):
    url, store, _ = served
    store.log.append([partition_event(f"daily/{i}") for i in range(5)] + [partition_event("other/1")])
    page = requests.get(f"{url}/api/v1/events", params={"since": 0, "limit": 2}).json()
    assert [e["index"] for e in page["events"]] == ["1", "2"] and page["has_more"] and page["next"] == "2"
    rest = requests.get(f"{url}/api/v1/events", params={"since": 2, "pattern": "daily/*"}).json()
    assert [e["partition_status_changed"]["ref"] for e in rest["events"]] == ["daily/2", "daily/3", "daily/4"]
    assert rest["next"] == "6" and not rest["has_more"]
    typed = requests.get(f"{url}/api/v1/events", params={"types": "partitions_tainted,want_created"}).json()
    assert typed["events"] == [] and typed["next"] == "6"


def test_event_feed_long_poll_wakes_on_append(served):
    url, store, _ = served
    store.log.append([partition_event("daily/0")])
    threading.Timer(0.3, lambda: store.log.append([partition_event("other/9"), partition_event("daily/9")])).start()
    start = time.monotonic()
    got = requests.get(f"{url}/api/v1/events", params={"since": 1, "pattern": "daily/*", "wait": 10}).json()
    waited = time.monotonic() - start
    assert [e["partition_status_changed"]["ref"] for e in got["events"]] == ["daily/9"]
    assert 0.2 < waited < 5
    empty = requests.get(f"{url}/api/v1/events", params={"since": 3, "wait": 0.2}).json()
    assert empty["events"] == [] and empty["next"] == "3"


def test_logs_endpoint_stays_inside_the_log_dir(served, tmp_path):
    url, store, root = served
    outside = root / "secret.txt"
    outside.write_text("do not serve")
    inside = root / "logs" / "run.log"
    inside.write_text("job output\n")
    def run(rid, path):
        return pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
            job_run_id=rid, build_id="b", job_label="//g:daily", status=pb.JOB_RUN_STATUS_SUCCEEDED, log_path=path))
    store.log.append([run("in", str(inside)), run("out", str(root / "logs" / ".." / "secret.txt"))])
    assert requests.get(f"{url}/api/v1/job-runs/in/logs").text == "job output\n"
    escaped = requests.get(f"{url}/api/v1/job-runs/out/logs")
    assert escaped.status_code == 404 and "do not serve" not in escaped.text
    assert requests.get(f"{url}/api/v1/job-runs/in").json()["job_run"]["status"] == "JOB_RUN_STATUS_SUCCEEDED"


def test_client_and_in_process_service_answer_alike(served):
    """The CLI can use either side: same messages, same events, same errors."""
    from databuild.errors import DataBuildError, NotFoundError
    from databuild.service.client import ServiceClient

    url, store, root = served
    local = DataBuildService(GRAPH, store, str(root / "logs"))
    remote = ServiceClient(url, TOKEN)
    local.mark_available(["raw/local"], "x")
    remote.mark_available(["raw/remote"], "x")
    events = store.log.list_events(0).events
    payloads = [e.external_partitions_available for e in events]
    assert [list(p.refs) for p in payloads] == [["raw/local"], ["raw/remote"]]
    assert payloads[0].comment == payloads[1].comment
    assert local.list_partitions("raw/*") == remote.list_partitions("raw/*")
    assert local.partition("raw/remote") == remote.partition("raw/remote")
    assert local.graph_info() == remote.graph_info()
    request = pb.ListEventsRequest(since=1, patterns=["raw/*"], limit=5)
    assert local.events(request) == remote.events(request)
    for side in (local, remote):
        with pytest.raises(NotFoundError, match="'nope'"):
            side.build("nope")
        with pytest.raises(DataBuildError) as info:
            side.taint(["raw/never"], "bad")
        assert info.value.code == "invalid_argument" and "raw/never" in str(info.value)
