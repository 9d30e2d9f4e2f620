"""The HTTP service over real sockets: uvicorn serving the graph's state."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import pytest
import requests
import uvicorn

from databuild.events import open_event_log
from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.service.http import create_app, server_config
from databuild.service.http_input import MAX_BODY_BYTES
from databuild.service.interface import OPERATIONS
from databuild.service.serve import bind_socket
from databuild.state import StateProjection, StateStore
from eventgen import partition_event

GRAPH = GraphSpec("//g:g", (JobSpec("//g:daily", "/bin/true", ("daily/*",)),))
TOKEN = "s3cret"


@contextlib.contextmanager
def serving(service: DataBuildService):
    listener = bind_socket("127.0.0.1", 0)
    port = listener.getsockname()[1]
    server = uvicorn.Server(server_config(create_app(service, TOKEN)))
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
    assert health["status"] == "ok" and health["graph_label"] == "//g:g" and health["latest_event_index"] == 0
    graph = requests.get(f"{url}/api/v1/graph").json()
    assert graph["jobs"] == [{"label": "//g:daily", "output_patterns": ["daily/*"]}]
    document = requests.get(f"{url}/api/v1/openapi.json").json()
    assert {op.name for op in OPERATIONS} == {
        o["operationId"] for path in document["paths"].values() for o in path.values()}
    assert requests.get(f"{url}/openapi.json").json() == document


def test_mark_available_taint_and_partition_reads(served):
    url, store, _ = served
    r = requests.post(f"{url}/api/v1/partitions:mark-available", json={"refs": ["raw/2025-01-01", "raw/2025-01-02"],
                                                                     "comment": "landed"}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert [p["status"] for p in r.json()["partitions"]] == ["available", "available"]
    assert len(store.log.list_events(0).events) == 1  # one event for the batch
    detail = requests.get(f"{url}/api/v1/partitions/raw/2025-01-01").json()
    assert detail["partition"]["external"] is True and len(detail["history"]) == 1
    listed = requests.get(f"{url}/api/v1/partitions", params={"pattern": "raw/*", "status": "AVAILABLE"}).json()
    assert [p["ref"] for p in listed["partitions"]] == ["raw/2025-01-01", "raw/2025-01-02"]
    tainted = requests.post(f"{url}/api/v1/partitions:taint", json={"refs": ["raw/2025-01-01"], "reason": "bad rows"},
                            headers=AUTH)
    assert tainted.status_code == 201 and tainted.json()["partitions"][0]["status"] == "tainted"
    assert store.log.list_events(0).events[-1].partitions_tainted.requested_by == "api"
    missing = requests.get(f"{url}/api/v1/partitions/never/seen").json()
    assert missing["partition"]["status"] == "missing"


NESTED = b'{"partitions": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"


@pytest.mark.parametrize(
    "method, path, kwargs, status, code, fragment",
    [
        ("post", "/api/v1/partitions:mark-available", {"json": {"refs": ["raw/x"]}}, 401, "unauthorized", "token"),
        ("post", "/api/v1/partitions:mark-available", {"json": {"refs": ["raw/x"]},
                                                       "headers": {"Authorization": TOKEN}}, 401, "unauthorized", "Bearer"),
        ("post", "/api/v1/partitions:mark-available", {"data": "{not json", "headers": AUTH}, 400,
         "invalid_body", "not valid JSON"),
        ("post", "/api/v1/partitions:mark-available", {"json": {"refs": ["daily/1"]}, "headers": AUTH}, 400,
         "invalid_argument", "produced by graph //g:g"),
        ("post", "/api/v1/partitions:mark-available", {"json": {"refs": ["a b"]}, "headers": AUTH}, 400,
         "invalid_ref", "'a b'"),
        ("post", "/api/v1/partitions:mark-available", {"json": {}, "headers": AUTH}, 400, "invalid_argument",
         "no partition refs"),
        ("post", "/api/v1/partitions:taint", {"json": {"refs": ["raw/nope"], "reason": "x"}, "headers": AUTH}, 409,
         "conflict", "raw/nope"),
        ("post", "/api/v1/analyze", {"data": "x" * (MAX_BODY_BYTES + 1), "headers": AUTH}, 413, "too_large", "bytes"),
        ("post", "/api/v1/analyze", {"data": iter([b"[" * 65536] * 20), "headers": AUTH}, 413, "too_large",
         "limit"),  # chunked: no Content-Length, counted as read
        ("post", "/api/v1/analyze", {"data": NESTED}, 400, "invalid_body", "nests deeper"),
        ("post", "/api/v1/analyze", {"json": {"partitions": ["nothing/1"]}}, 400, "no_producer", "nothing/1"),
        ("post", "/api/v1/analyze", {"json": {"partitions": ["a/1"], "extra": 1}}, 400, "invalid_argument", "'extra'"),
        ("post", "/api/v1/wants", {"json": {"partitions": ["a/1"], "source": {"type": 7}}, "headers": AUTH}, 400,
         "invalid_argument", "7"),
        ("get", "/api/v1/builds/no-such-build", {}, 404, "not_found", "'no-such-build'"),
        ("get", "/api/v1/job-runs/no-such-run/logs", {}, 404, "not_found", "'no-such-run'"),
        ("get", "/api/v1/events", {"params": {"types": "nope"}}, 400, "invalid_argument", "nope"),
        ("get", "/api/v1/events", {"params": {"since": "-1"}}, 400, "invalid_argument", "since"),
        ("get", "/api/v1/events", {"params": {"since": str(2**63)}}, 400, "invalid_argument", "since"),
        ("get", "/api/v1/events", {"params": {"since": "abc"}}, 400, "invalid_argument", "'abc'"),
        ("get", "/api/v1/events", {"params": {"wait": "nan"}}, 400, "invalid_argument", "wait"),
        ("get", "/api/v1/events", {"params": {"wait": "61"}}, 400, "invalid_argument", "wait"),
        ("get", "/api/v1/events", {"params": {"pattern": "bad pattern"}}, 400, "invalid_ref", "'bad pattern'"),
        ("get", "/api/v1/events", {"params": {"colour": "red"}}, 400, "invalid_argument", "'colour'"),
        ("get", "/api/v1/partitions", {"params": {"status": "shiny"}}, 400, "invalid_argument", "'shiny'"),
        ("get", "/api/v1/nowhere", {}, 404, "not_found", "/api/v1/nowhere"),
        ("put", "/api/v1/health", {}, 405, "method_not_allowed", "PUT"),
        ("get", "/api/v1/health", {"headers": {"Host": "evil.example:8100"}}, 403, "forbidden", "evil.example"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_value(served, method, path, kwargs, status, code, fragment):
    url, store, _ = served
    before = store.log.latest_index()
    r = getattr(requests, method)(url + path, **kwargs)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and fragment in error["message"], error
    assert store.log.latest_index() == before  # nothing written


def test_event_feed_pages_and_filters(served):
    url, store, _ = served
    store.log.append([partition_event(f"daily/{i}") for i in range(5)] + [partition_event("other/1")])
    page = requests.get(f"{url}/api/v1/events", params={"since": 0, "limit": 2}).json()
    assert [e["index"] for e in page["events"]] == [1, 2] and page["has_more"] and page["next"] == 2
    rest = requests.get(f"{url}/api/v1/events", params={"since": 2, "pattern": "daily/*"}).json()
    assert [e["partition_status_changed"]["ref"] for e in rest["events"]] == ["daily/2", "daily/3", "daily/4"]
    assert rest["next"] == 6 and not rest["has_more"]
    typed = requests.get(f"{url}/api/v1/events", params={"types": "partitions_tainted,WANT_CREATED"}).json()
    assert typed["events"] == [] and typed["next"] == 6


def test_event_feed_long_poll_wakes_on_append(served):
    url, store, _ = served
    store.log.append([partition_event("daily/0")])
    answer: dict = {}
    poll = threading.Thread(target=lambda: answer.update(requests.get(
        f"{url}/api/v1/events", params={"since": 1, "pattern": "daily/*", "wait": 30}).json()))
    poll.start()
    store.log.append([partition_event("other/9")])  # no match: the poll keeps waiting
    store.log.append([partition_event("daily/9")])
    poll.join(30)
    assert [e["partition_status_changed"]["ref"] for e in answer["events"]] == ["daily/9"]
    empty = requests.get(f"{url}/api/v1/events", params={"since": 3, "wait": 0.2}).json()
    assert empty["events"] == [] and empty["next"] == 3


def test_logs_stream_ranges_and_stay_inside_the_log_dir(served, tmp_path):
    url, store, root = served
    outside = root / "secret.txt"
    outside.write_text("do not serve")
    inside = root / "logs" / "run.log"
    inside.write_text("0123456789" * 10)

    def run(rid, path):
        return pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
            job_run_id=rid, build_id="b", job_label="//g:daily", status=pb.JOB_RUN_STATUS_SUCCEEDED, log_path=path))
    store.log.append([run("in", str(inside)), run("out", str(root / "logs" / ".." / "secret.txt"))])
    whole = requests.get(f"{url}/api/v1/job-runs/in/logs")
    assert whole.text == "0123456789" * 10 and whole.headers["X-Log-Complete"] == "true"
    part = requests.get(f"{url}/api/v1/job-runs/in/logs", params={"offset": 5, "limit": 7})
    assert part.text == "5678901" and part.headers["X-Log-Next-Offset"] == "12"
    assert requests.get(f"{url}/api/v1/job-runs/in/logs", params={"tail": 3}).text == "789"
    assert requests.get(f"{url}/api/v1/job-runs/in/logs", params={"offset": 500}).text == ""
    bad = requests.get(f"{url}/api/v1/job-runs/in/logs", params={"limit": -1})
    assert bad.status_code == 400 and "-1" in bad.json()["error"]["message"]
    escaped = requests.get(f"{url}/api/v1/job-runs/out/logs")
    assert escaped.status_code == 404 and "do not serve" not in escaped.text
    assert requests.get(f"{url}/api/v1/job-runs/in").json()["job_run"]["status"] == "succeeded"


def test_a_big_log_is_streamed_not_read_whole(served):
    url, store, root = served
    big = root / "logs" / "big.log"
    with open(big, "wb") as f:
        f.truncate(64 * 1024 * 1024)  # sparse: 64 MiB of zeros
    store.log.append([pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
        job_run_id="big", build_id="b", job_label="//g:daily", status=pb.JOB_RUN_STATUS_RUNNING, log_path=str(big)))])
    with requests.get(f"{url}/api/v1/job-runs/big/logs", stream=True) as r:
        assert r.headers.get("content-length") is None  # streamed in chunks, not one body in memory
        assert r.headers["X-Log-Complete"] == "false" and r.headers["X-Log-Size"] == str(64 * 1024 * 1024)
        assert sum(len(chunk) for chunk in r.iter_content(1 << 20)) == 64 * 1024 * 1024


@pytest.mark.parametrize("raw", [b"GARBAGE\r\n\r\n", b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n"])
def test_malformed_http_gets_the_error_document(served, raw):
    url, _, _ = served
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(raw)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    assert json.loads(body)["error"]["code"] == "invalid_http"
