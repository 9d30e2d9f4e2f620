"""How a CLI call finds its daemon: by its record, with the graph checked on the first answer
(no health call before a read), before anything is recorded, and never in another graph."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from cli_harness import graph_cli

LABEL = "//t:discovery"
MANIFEST = {"version": 1, "label": LABEL, "lookup": None, "upstreams": [],
            "jobs": [{"label": "//t:job", "executable": "/bin/true", "outputs": ["out/*"]}]}
WANT = {"want_id": "w1", "status": "satisfied"}


class FakeService:
    """A loopback HTTP service that records each request (method, path, Authorization) and
    answers as ``graph`` would: in the ``X-DataBuild-Graph`` header if ``header``, in its
    health answer, and with 401 to a request without ``token`` if ``needs_token``."""

    def __init__(self, graph: str, header: bool = True, needs_token: bool = False) -> None:
        self.graph, self.header, self.needs_token = graph, header, needs_token
        self.requests: list[tuple[str, str, str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._answer()

            def _answer(self) -> None:
                fake.requests.append((self.command, self.path, self.headers.get("Authorization")))
                status, doc = fake.answer(self.command, self.path, self.headers.get("Authorization"))
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if fake.header:
                    self.send_header("X-DataBuild-Graph", fake.graph)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, method: str, path: str, authorization: str | None) -> tuple[int, dict]:
        if self.needs_token and authorization != "Bearer tok":
            return 401, {"error": {"code": "unauthorized", "message": "needs a token"}}
        if path == "/api/v1/health":
            return 200, {"status": "ok", "graph_label": self.graph}
        if method == "GET" and path == "/api/v1/wants/w1":
            return 200, WANT
        return 201, {"partitions": []}

    def paths(self) -> list[str]:
        return [f"{method} {path}" for method, path, _ in self.requests]


@pytest.fixture
def cli(tmp_path):
    with graph_cli(tmp_path, MANIFEST) as run:
        yield run


@pytest.fixture
def serve_fake(cli) -> Iterator:
    """Starts a FakeService recorded as the state directory's daemon (this test's pid: alive)."""
    servers = []

    def start(graph: str = LABEL, **options) -> FakeService:
        fake = FakeService(graph, **options)
        servers.append(fake)
        threading.Thread(target=fake.server.serve_forever, daemon=True).start()
        cli.state.mkdir(mode=0o700, exist_ok=True)
        (cli.state / "daemon.json").write_text(json.dumps({
            "pid": os.getpid(), "port": fake.server.server_address[1], "url": fake.url, "token": "tok",
            "graph_label": graph, "started_at": 0.0}))
        return fake

    yield start
    for fake in servers:
        fake.server.shutdown()
        fake.server.server_close()
    (cli.state / "daemon.json").unlink(missing_ok=True)  # not a daemon for the harness to kill


def test_a_read_makes_one_request_and_sends_no_token_before_the_graph_is_checked(cli, serve_fake):
    fake = serve_fake()
    done = cli("--json", "want", "status", "w1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == WANT
    assert fake.requests == [("GET", "/api/v1/wants/w1", None)]


def test_a_read_answered_by_another_graph_prints_nothing_of_it(cli, serve_fake):
    fake = serve_fake("//other:graph")
    done = cli("want", "status", "w1")
    assert done.returncode == 2 and done.stdout == ""
    assert "//other:graph" in done.stderr and LABEL in done.stderr and "--state-dir" in done.stderr
    as_json = cli("--json", "want", "status", "w1")
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["error"]["code"] == "conflict"
    assert fake.paths() == ["GET /api/v1/wants/w1"] * 2


def test_a_service_without_the_header_is_asked_its_health(cli, serve_fake):
    right = serve_fake(header=False)
    done = cli("--json", "want", "status", "w1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == WANT and right.paths() == ["GET /api/v1/wants/w1", "GET /api/v1/health"]

    wrong = serve_fake("//other:graph", header=False)
    done = cli("want", "status", "w1")
    assert done.returncode == 2 and done.stdout == "" and "//other:graph" in done.stderr


def test_a_write_asks_health_first_and_records_nothing_in_another_graph(cli, serve_fake):
    fake = serve_fake("//other:graph")
    done = cli("partitions", "mark-available", "out/1")
    assert done.returncode == 2 and "//other:graph" in done.stderr
    assert fake.requests == [("GET", "/api/v1/health", None)]

    right = serve_fake()
    done = cli("partitions", "mark-available", "out/1")
    assert done.returncode == 0, done.stderr
    assert right.requests == [("GET", "/api/v1/health", None),
                              ("POST", "/api/v1/partitions:mark-available", "Bearer tok")]


def test_a_read_refused_without_the_token_is_sent_again_with_it(cli, serve_fake):
    fake = serve_fake(needs_token=True)  # a foreground serve off loopback: reads need a token too
    done = cli("--json", "want", "status", "w1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == WANT
    assert fake.requests == [("GET", "/api/v1/wants/w1", None), ("GET", "/api/v1/wants/w1", "Bearer tok")]


def test_a_record_whose_service_is_gone_starts_a_daemon(cli, serve_fake):
    fake = serve_fake()
    fake.server.shutdown()
    fake.server.server_close()  # the record's pid lives, but nothing listens on its port
    done = cli("partitions", "list")
    assert done.returncode == 0, done.stderr
    assert json.loads((cli.state / "daemon.json").read_text())["pid"] != os.getpid()
    assert cli("daemon", "stop").returncode == 0


@pytest.mark.slow
def test_another_graphs_daemon_in_the_same_state_directory(cli, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    with graph_cli(other, {**MANIFEST, "label": "//t:other"}) as theirs:
        theirs.env["DATABUILD_STATE_DIR"] = str(cli.state)
        theirs.state = cli.state
        assert theirs("daemon", "start").returncode == 0
        read = cli("partitions", "list")
        assert read.returncode == 2 and read.stdout == ""
        assert "//t:other" in read.stderr and LABEL in read.stderr
        write = cli("partitions", "mark-available", "out/1")
        assert write.returncode == 2 and "//t:other" in write.stderr
        assert json.loads(theirs("--json", "partitions", "list").stdout)["partitions"] == []
