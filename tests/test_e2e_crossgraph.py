"""Graphs reading each other's partitions, as real services from Bazel-built binaries.

``bazel build //tests/e2e/crossgraph:all`` makes three graphs, a -> b -> c
(tests/e2e/crossgraph/BUILD.bazel); each test runs ``<graph>.build serve`` per graph
from a clean environment (its own state directory and SQLite log) over loopback. The
BUILD files' upstream URLs are wrong on purpose: b is given a's address with
``serve --upstream a_feed=URL``, c b's with ``DATABUILD_UPSTREAM_B_FEED_URL``, and each
downstream reads its upstream with the upstream's read-only token. What is counted is
the events each log recorded, so "nothing missed, nothing twice" is checked, not assumed.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "bazel-bin" / "tests" / "e2e" / "crossgraph"
TOKEN = "t0k"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def built() -> Path:
    subprocess.run(["bazel", "build", "--noshow_progress", "//tests/e2e/crossgraph:all"], cwd=ROOT, check=True,
                   capture_output=True)
    return BIN


class Graph:
    """One graph's ``<name>.build serve``; ``upstream``: the graph it reads (``<upstream>_feed``)."""

    def __init__(self, root: Path, name: str, upstream: "Graph | None" = None, by_flag: bool = True) -> None:
        self.root, self.name, self.binary = root / name, name, BIN / f"{name}.build"
        self.root.mkdir(parents=True)
        self.read_token = f"read-{name}"
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(self.root), "DATABUILD_STATE_DIR": str(self.root / "state"),
                    "DATABUILD_TOKEN": TOKEN, "DATABUILD_READ_TOKEN": self.read_token}
        self.args: list[str] = []
        if upstream is not None:
            feed = f"{upstream.name}_feed"
            self.env[f"DATABUILD_UPSTREAM_{feed.upper()}_TOKEN"] = upstream.read_token
            if by_flag:
                self.args = ["--upstream", f"{feed}={upstream.url}"]
            else:
                self.env[f"DATABUILD_UPSTREAM_{feed.upper()}_URL"] = upstream.url
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> "Graph":
        self.proc = subprocess.Popen([str(self.binary), "serve", "--port", str(self.port), *self.args],
                                     env=self.env, cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        record = self.root / "state" / "daemon.json"
        deadline = time.monotonic() + 60
        while not (record.exists() and json.loads(record.read_text())["pid"] == self.proc.pid):
            assert self.proc.poll() is None and time.monotonic() < deadline, self.proc.stderr.read().decode()
            time.sleep(0.05)
        self.url = json.loads(record.read_text())["url"]
        self.port = int(self.url.rsplit(":", 1)[1])  # a restart comes back on the same address
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), *args], env=self.env, cwd="/", capture_output=True, text=True,
                              timeout=60)

    def want(self, ref: str) -> str:
        r = requests.post(f"{self.url}/api/v1/wants", json={"partitions": [ref]}, headers=AUTH, timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["want_id"]

    def land(self, *refs: str) -> None:
        r = requests.post(f"{self.url}/api/v1/partitions:mark-available", json={"refs": list(refs)}, headers=AUTH,
                          timeout=30)
        assert r.status_code == 201, r.text

    def taint(self, ref: str, reason: str) -> None:
        r = requests.post(f"{self.url}/api/v1/partitions:taint", json={"refs": [ref], "reason": reason},
                          headers=AUTH, timeout=30)
        assert r.status_code == 201, r.text

    def get(self, path: str) -> dict:
        return requests.get(f"{self.url}{path}", timeout=30).json()

    def status(self, want_id: str) -> str:
        return self.get(f"/api/v1/wants/{want_id}")["status"]

    def wait(self, want_id: str, status: str = "satisfied", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.status(want_id)) != status:
            assert time.monotonic() < deadline, f"{self.name}: want {want_id} is {now}, not {status}"
            time.sleep(0.05)

    def wait_partition(self, ref: str, status: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while (found := self.get(f"/api/v1/partitions/{ref}")["partition"])["status"] != status:
            assert time.monotonic() < deadline, f"{self.name}: {ref} is {found['status']}, not {status}"
            time.sleep(0.05)
        return found

    def events(self, type_: str) -> list[dict]:
        return requests.get(f"{self.url}/api/v1/events", params={"types": type_, "limit": 10_000},
                            timeout=30).json()["events"]


@pytest.fixture
def graphs(built, tmp_path):
    made: list[Graph] = []

    def make(*args, **kwargs) -> Graph:
        made.append(Graph(tmp_path, *args, **kwargs))
        return made[-1]
    yield make
    for g in made:
        g.stop(signal.SIGKILL)


def _landed(g: Graph) -> list[str]:
    return sorted(r for e in g.events("external_partitions_available")
                  for r in e["external_partitions_available"]["refs"])


def test_propagation_outage_and_sigkill_lose_nothing_and_record_nothing_twice(graphs):
    up = graphs("a").start()
    down = graphs("b", upstream=up).start()
    first = down.want("b/1")
    down.wait(first, "waiting")
    up.land("a/1")
    down.wait(first)
    # The upstream stops for a while; what it records meanwhile arrives once it is back.
    up.stop()
    deadline = time.monotonic() + 30
    while requests.get(f"{down.url}/api/v1/upstreams", timeout=30).json()["upstreams"][0]["state"] != "backoff":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    second = down.want("b/2")
    writer = up.cli("--local", "partitions", "mark-available", "a/2", "a/3")
    assert writer.returncode == 0, writer.stderr
    up.start()
    down.wait(second, timeout=90)
    # The downstream SIGKILLed, more lands upstream, it restarts: each ref recorded exactly once.
    down.stop(signal.SIGKILL)
    up.land("a/4")
    down.start()
    third = down.want("b/4")
    down.wait(third)
    assert _landed(down) == ["a/1", "a/2", "a/3", "a/4"]


def test_an_upstream_log_replaced_by_an_older_copy_is_read_again(graphs):
    up = graphs("a").start()
    down = graphs("b", upstream=up, by_flag=False).start()
    up.land("a/1")
    up.stop()
    log = up.root / "state" / "bel.sqlite3"
    files = [Path(f"{log}{suffix}") for suffix in ("", "-wal", "-shm")]
    backup = up.root / "backup"
    backup.mkdir()
    for f in files:  # a backup of the stopped service's log files
        if f.exists():
            shutil.copy(f, backup / f.name)
    up.start()
    up.land("a/2")
    satisfied = down.want("b/2")
    down.wait(satisfied)
    up.stop()
    for f in files:  # restored: a/2 never happened upstream
        f.unlink(missing_ok=True)
        if (backup / f.name).exists():
            shutil.copy(backup / f.name, f)
    up.start()
    down.wait_partition("a/2", "tainted")  # it vanished upstream
    resets = [e["upstream_cursor_advanced"]["reset"] for e in down.events("upstream_cursor_advanced")
              if e["upstream_cursor_advanced"]["reset"]]
    assert len(resets) == 1 and "log_reset" in resets[0]
    up.land("a/3")  # and sync goes on from the new log
    down.wait(down.want("b/3"))
    assert down.get("/api/v1/partitions/a/1")["partition"]["status"] == "available"


def test_an_upstream_taint_is_mirrored_and_wants_on_it_wait_again(graphs):
    up = graphs("a").start()
    down = graphs("b", upstream=up).start()
    up.land("a/5", "a/6")
    down.wait(down.want("b/5"))
    up.taint("a/5", "bad rows")
    mirrored = down.wait_partition("a/5", "tainted")
    assert "a_feed" in mirrored["message"] and "bad rows" in mirrored["message"], mirrored
    # A want that needs a/5 now waits for the upstream to deliver it again.
    r = requests.post(f"{down.url}/api/v1/wants", json={"partitions": ["b/6"], "external_dependencies": ["a/5"]},
                      headers=AUTH, timeout=30)
    assert r.status_code == 201, r.text
    waiting = r.json()["want_id"]
    down.wait(waiting, "waiting")
    detail = down.get(f"/api/v1/wants/{waiting}")
    assert [(b["ref"], b["upstream"]) for b in detail["blocked_by"]] == [("a/5", "a_feed")], detail
    up.land("a/5")  # delivered again upstream
    down.wait(waiting)
    taints = [e["partitions_tainted"] for e in down.events("partitions_tainted")]
    assert [(t["refs"], t["requested_by"]) for t in taints] == [(["a/5"], "upstream:a_feed")]
    assert _landed(down) == ["a/5", "a/5", "a/6"]  # available, tainted, available again: each recorded once


def test_a_chain_of_three_graphs(graphs):
    a = graphs("a").start()
    b = graphs("b", upstream=a).start()
    c = graphs("c", upstream=b, by_flag=False).start()
    wanted_b, wanted_c = b.want("b/7"), c.want("c/7")
    c.wait(wanted_c, "waiting")
    a.land("a/7")
    b.wait(wanted_b)
    c.wait(wanted_c)
    assert _landed(c) == ["b/7"]
