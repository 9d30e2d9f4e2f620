"""The HTTP service over real sockets: uvicorn serving the graph's state."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import time

import pytest
import requests
import uvicorn

from databuild.errors import UnauthorizedError
from databuild.events import open_event_log
from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import message_dict
from databuild.service import DataBuildService
from databuild.service.client import ServiceClient
from databuild.service.http import AppendSignal, create_app, server_config
from databuild.service.http_input import MAX_BODY_BYTES
from databuild.service.interface import OPERATIONS, PROTOBUF
from databuild.service.serve import bind_socket
from databuild.state import StateProjection, StateStore
from eventgen import partition_event

GRAPH = GraphSpec("//g:g", (JobSpec("//g:daily", "/bin/true", ("daily/*",)),))
TOKEN = "s3cret"


@contextlib.contextmanager
def serving(service: DataBuildService, **app_options):
    """``service`` over HTTP on a free loopback port (``create_app`` options: e.g. ``loopback_only=False``
    to act as a service bound to another address)."""
    listener = bind_socket("127.0.0.1", 0)
    port = listener.getsockname()[1]
    server = uvicorn.Server(server_config(create_app(service, TOKEN, **app_options)))
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


def test_answers_are_protobuf_when_asked_and_json_otherwise(served):
    """``Accept: application/x-protobuf`` gets the response message serialized (what the
    client asks for); without it JSON; errors are the JSON error document either way."""
    url, store, _ = served
    store.log.append([partition_event(f"daily/{i}") for i in range(3)])
    binary = {"Accept": PROTOBUF}
    r = requests.get(f"{url}/api/v1/events", params={"since": 1}, headers=binary)
    assert r.headers["content-type"] == PROTOBUF
    page = pb.ListEventsResponse.FromString(r.content)
    assert [e.partition_status_changed.ref for e in page.events] == ["daily/1", "daily/2"] and page.next == 3
    assert requests.get(f"{url}/api/v1/events", params={"since": 1}).json()["next"] == 3
    assert ServiceClient(url).events(pb.ListEventsRequest(since=1)) == page
    one = requests.post(f"{url}/api/v1/wants", json={"partitions": ["daily/9"]}, headers={**AUTH, **binary})
    assert one.status_code == 201 and pb.WantState.FromString(one.content).spec.partitions == ["daily/9"]
    missing = requests.get(f"{url}/api/v1/wants/nosuchwant", headers=binary)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("side", ["http", "in_process"])
def test_event_feed_long_poll_wakes_on_append(served, side):
    url, store, root = served
    first = partition_event("daily/0")
    store.log.append([first])
    answer: dict = {}
    # With a stored cursor: the poll moves it past non-matching events as it waits, and still checks it.
    cursor = {"since": 1, "log_id": store.log.log_id, "cursor_event_id": first.event_id}
    if side == "http":
        read = lambda: requests.get(f"{url}/api/v1/events", params={**cursor, "pattern": "daily/*", "wait": 30}).json()
    else:
        service = DataBuildService(GRAPH, store, str(root / "logs"))
        read = lambda: message_dict(service.events(pb.ListEventsRequest(**cursor, patterns=["daily/*"],
                                                                        wait_seconds=30)))
    poll = threading.Thread(target=lambda: answer.update(read()))
    poll.start()
    store.log.append([partition_event("other/9")])  # no match: the poll keeps waiting
    time.sleep(0.05)  # let the poll see it (the test does not depend on whether it did)
    store.log.append([partition_event("daily/9")])
    poll.join(30)
    assert [e["partition_status_changed"]["ref"] for e in answer["events"]] == ["daily/9"], answer
    empty = requests.get(f"{url}/api/v1/events", params={"since": 3, "wait": 0.2}).json()
    assert empty["events"] == [] and empty["next"] == 3


def test_a_long_poll_for_some_types_reads_the_log_again_only_when_one_is_appended(tmp_path):
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()]))
    (tmp_path / "logs").mkdir()
    service = DataBuildService(GRAPH, store, str(tmp_path / "logs"))
    reads, page = [], service.events_page
    service.events_page = lambda message: reads.append(message.since) or page(message)
    answer: dict = {}
    with serving(service) as url:
        poll = threading.Thread(target=lambda: answer.update(requests.get(
            f"{url}/api/v1/events", params={"since": 0, "types": "partitions_tainted", "wait": 30}).json()))
        poll.start()
        deadline = time.monotonic() + 30
        while not reads and time.monotonic() < deadline:
            time.sleep(0.01)
        for i in range(20):  # other types: each wakes the loop, none makes the poll read again
            store.log.append([partition_event(f"daily/{i}")])
        store.log.append([pb.Event(partitions_tainted=pb.PartitionsTainted(refs=["daily/3"], reason="bad"))])
        poll.join(30)
    store.close()
    assert [e["partitions_tainted"]["refs"] for e in answer["events"]] == [["daily/3"]]
    assert 2 <= len(reads) <= 3, reads  # the first read, the one after the taint (and one foreign-writer check)


def test_a_timed_out_long_poll_still_advances_next(served):
    url, store, _ = served
    store.log.append([partition_event("other/1"), partition_event("other/2")])
    poll = requests.get(f"{url}/api/v1/events", params={"since": 0, "pattern": "daily/*", "wait": 0.3}).json()
    head = store.log.head()
    assert poll["events"] == [] and not poll["has_more"]
    assert (poll["next"], poll["head"], poll["next_event_id"]) == (2, 2, head.event_id)


def test_health_and_pages_name_the_log_and_its_head(served):
    url, store, _ = served
    empty = requests.get(f"{url}/api/v1/events").json()
    log_id = store.log.log_id
    assert empty == {"events": [], "next": 0, "has_more": False, "log_id": log_id, "head": 0, "next_event_id": ""}
    events = [partition_event(f"daily/{i}") for i in range(3)]
    store.log.append(events)
    health = requests.get(f"{url}/api/v1/health").json()
    assert (health["log_id"], health["latest_event_index"], health["latest_event_id"]) == (
        log_id, 3, events[2].event_id)
    page = requests.get(f"{url}/api/v1/events", params={"limit": 2}).json()
    assert (page["next"], page["has_more"], page["head"], page["next_event_id"]) == (2, True, 3, events[1].event_id)
    # The follower's stored cursor is accepted while it names this log and the event at since.
    cursor = {"since": page["next"], "log_id": page["log_id"], "cursor_event_id": page["next_event_id"]}
    rest = requests.get(f"{url}/api/v1/events", params=cursor).json()
    assert [e["index"] for e in rest["events"]] == [3] and rest["next_event_id"] == events[2].event_id


def _feed_error(url: str, **params) -> tuple[int, str, str]:
    r = requests.get(f"{url}/api/v1/events", params=params)
    return r.status_code, r.json()["error"]["code"], r.json()["error"]["message"]


def test_a_replaced_log_is_410_log_reset(served):
    url, store, _ = served
    store.log.append([partition_event("daily/1"), partition_event("daily/2")])
    other = "0190ae3c-0000-4000-8000-000000000000"
    status, code, message = _feed_error(url, since=1, log_id=other)
    assert (status, code) == (410, "log_reset") and other in message and store.log.log_id in message
    status, code, message = _feed_error(url, since=5, log_id=store.log.log_id)  # a cursor past the head
    assert (status, code) == (410, "log_reset") and "since 5" in message and "index 2" in message


def _backup(log_path, copy_path) -> None:
    """Copy a live log as a backup tool does (SQLite's online backup: the WAL included)."""
    source, target = sqlite3.connect(log_path), sqlite3.connect(copy_path)
    source.backup(target)
    source.close()
    target.close()


def test_a_restored_backup_is_410_or_409_for_a_follower_ahead_of_it(tmp_path):
    """A follower read up to index 3; the log is then restored from a backup taken at 2: with
    nothing more it is behind the cursor (410); written past it, the event at 3 differs (409)."""
    path, backup = tmp_path / "bel.sqlite3", tmp_path / "backup.sqlite3"
    (tmp_path / "logs").mkdir()
    log = open_event_log(f"sqlite://{path}", [StateProjection()])
    log.append([partition_event("daily/1"), partition_event("daily/2")])
    _backup(path, backup)
    log.append([partition_event("daily/3")])
    with serving(DataBuildService(GRAPH, StateStore(log), str(tmp_path / "logs"))) as url:
        page = requests.get(f"{url}/api/v1/events").json()
    log.close()
    cursor = {"since": page["next"], "log_id": page["log_id"], "cursor_event_id": page["next_event_id"]}
    assert page["next"] == 3

    restored = StateStore(open_event_log(f"sqlite://{backup}", [StateProjection()]))
    assert restored.log.log_id == page["log_id"]  # a copy keeps the id: only the cursor can tell
    with serving(DataBuildService(GRAPH, restored, str(tmp_path / "logs"))) as url:
        assert _feed_error(url, **cursor)[:2] == (410, "log_reset")
        restored.log.append([partition_event("daily/3b"), partition_event("daily/4")])
        status, code, message = _feed_error(url, **cursor)
        assert (status, code) == (409, "cursor_diverged") and page["next_event_id"] in message
        long_poll = _feed_error(url, **cursor, wait=5)  # the long-poll checks before it waits
        assert long_poll[:2] == (409, "cursor_diverged")
    restored.close()


READ_TOKEN = "read-only-s3cret"


@pytest.fixture
def served_off_loopback(tmp_path):
    """A service acting as one bound to a non-loopback address, with a read-only token besides its token."""
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()]))
    (tmp_path / "logs").mkdir()
    service = DataBuildService(GRAPH, store, str(tmp_path / "logs"))
    with serving(service, loopback_only=False, read_token=READ_TOKEN) as url:
        yield url, store
    store.close()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/events", "/api/v1/partitions", "/api/v1/openapi.json"])
def test_off_loopback_every_read_needs_a_token(served_off_loopback, path):
    url, _ = served_off_loopback
    for headers in ({}, _bearer("wrong"), {"Authorization": READ_TOKEN}):
        r = requests.get(url + path, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", (headers, r.text)
    for token in (READ_TOKEN, TOKEN):
        assert requests.get(url + path, headers=_bearer(token)).status_code == 200


def test_a_read_only_token_cannot_record(served_off_loopback):
    url, store = served_off_loopback
    mark = f"{url}/api/v1/partitions:mark-available"
    refused = requests.post(mark, json={"refs": ["raw/1"]}, headers=_bearer(READ_TOKEN))
    assert refused.status_code == 401 and "read-only token cannot record" in refused.json()["error"]["message"]
    assert store.log.latest_index() == 0
    assert requests.post(mark, json={"refs": ["raw/1"]}, headers=_bearer(TOKEN)).status_code == 201
    feed = ServiceClient(url, READ_TOKEN).events(pb.ListEventsRequest())
    assert [e.external_partitions_available.refs[0] for e in feed.events] == ["raw/1"]
    with pytest.raises(UnauthorizedError):
        ServiceClient(url, READ_TOKEN).mark_available(pb.MarkAvailableRequest(refs=["raw/2"]))


def test_on_loopback_reads_need_no_token_and_writes_only_the_write_token(tmp_path):
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()]))
    (tmp_path / "logs").mkdir()
    with serving(DataBuildService(GRAPH, store, str(tmp_path / "logs")), read_token=READ_TOKEN) as url:
        assert requests.get(f"{url}/api/v1/health").status_code == 200
        mark = f"{url}/api/v1/partitions:mark-available"
        assert requests.post(mark, json={"refs": ["raw/1"]}, headers=_bearer(READ_TOKEN)).status_code == 401
        assert requests.post(mark, json={"refs": ["raw/1"]}, headers=_bearer(TOKEN)).status_code == 201
    store.close()


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
    # A run's log file is created when it first prints: none yet reads as empty.
    store.log.append([run("silent", str(root / "logs" / "silent.log"))])
    silent = requests.get(f"{url}/api/v1/job-runs/silent/logs")
    assert (silent.status_code, silent.text, silent.headers["X-Log-Complete"]) == (200, "", "true")
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


@pytest.mark.parametrize("protocol", ["JsonErrorH11Protocol", "PROTOCOL"])
def test_answers_are_sent_without_waiting_for_the_clients_ack(protocol):
    """Accepted connections have TCP_NODELAY: else each answer on a reused connection
    waits 40 ms for the client's delayed ACK of its headers (Nagle's algorithm). Both
    protocols: the one served (httptools) and h11, where httptools is missing."""
    import asyncio

    from uvicorn.server import ServerState

    from databuild.service import http

    class Transport(asyncio.Transport):
        def __init__(self, sock: socket.socket) -> None:
            super().__init__({"socket": sock, "sockname": sock.getsockname(), "peername": sock.getpeername()})

        def get_extra_info(self, name, default=None):
            return self._extra.get(name, default)

    listener = bind_socket("127.0.0.1", 0)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0  # what the OS gives
        async def app(scope, receive, send) -> None:  # connection_made never calls it
            raise AssertionError("no request was sent")
        config = server_config(app)
        config.load()
        loop = asyncio.new_event_loop()
        try:
            getattr(http, protocol)(config, ServerState(), {}, loop).connection_made(Transport(accepted))
        finally:
            loop.close()
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for s in (client, accepted, listener):
            s.close()


def test_a_call_that_runs_job_binaries_waits_past_the_client_timeout(tmp_path):
    """Job config (and trigger binary) calls have the service's limits, not the client's timeout."""
    job = tmp_path / "slow_config.sh"
    job.write_text('#!/bin/sh\nsleep 1.5\nprintf \'{"configs": [{"outputs": ["%s"]}]}\' "$2"\n')
    job.chmod(0o755)
    graph = GraphSpec("//g:g", (JobSpec("//g:slow", str(job), ("slow/*",)),))
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()]))
    (tmp_path / "logs").mkdir()
    try:
        with serving(DataBuildService(graph, store, str(tmp_path / "logs"))) as url:
            client = ServiceClient(url, TOKEN, timeout=0.5)
            plan = client.analyze(pb.AnalyzeRequest(partitions=["slow/1"]))
            assert [list(r.config.outputs) for r in plan.job_graph.job_runs] == [["slow/1"]]
    finally:
        store.close()


def test_a_client_interrupted_mid_request_answers_the_next_call(served):
    """A signal handler's exception while waiting (Ctrl-C while following) leaves no half-used connection."""
    import signal

    class Interrupted(Exception):
        pass

    def interrupt(signum, frame):
        raise Interrupted()

    url, store, _ = served
    client = ServiceClient(url, TOKEN)
    latest = client.health().latest_event_index
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Interrupted):
            client.events(pb.ListEventsRequest(since=latest, wait_seconds=5))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert client.health().latest_event_index == latest


def test_an_append_wakes_the_loop_only_for_a_waiter_that_asked_for_its_types():
    signal = AppendSignal()
    taint = pb.Event(partitions_tainted=pb.PartitionsTainted(refs=["a/1"]))
    assert not signal.saw([partition_event("a/1")])  # nobody waits
    with signal.waiting(("partitions_tainted",)):
        assert not signal.saw([partition_event("a/2")])
        assert signal.saw([partition_event("a/3"), taint])
        with signal.waiting():  # any type
            assert signal.saw([partition_event("a/4")])
    assert not signal.saw([taint])
    assert signal.appended(("partitions_tainted",)) == 2 and signal.appended(()) == 6
