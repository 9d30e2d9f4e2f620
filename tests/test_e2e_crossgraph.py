"""Graphs reading each other's partitions: the Bazel-built graph binaries, served over loopback.

`//tests/e2e/crossgraph` declares three graphs: `a` (its partitions `a/*` recorded from
outside), `b` (builds `b/<i>` from `a/<i>`, upstream `a`) and `c` (`c/<i>` from `b/<i>`,
upstream `b`). Each test runs the generated `<graph>.build serve` of the graphs it needs,
from a clean environment, each with its own state directory and SQLite log. The BUILD
file's upstream URLs are wrong on purpose: `b` is given `a`'s with `serve --upstream
a=URL`, `c` `b`'s with `DATABUILD_UPSTREAM_B_URL`. Every service has a write token
(`DATABUILD_TOKEN`) and a read-only one (`DATABUILD_READ_TOKEN`); a downstream syncs with
its upstream's read-only token (`DATABUILD_UPSTREAM_<NAME>_TOKEN`). Where the read-only
token must be what lets the sync in, the upstream binds 127.0.0.2: a loopback address
that the service does not count as loopback, so every request to it needs a token.

What is counted is the events each log recorded, so "nothing missed, nothing twice" is
checked, not assumed.
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest
import requests

from served_graph import ServedGraph, bearer, build_binaries, served_graphs

pytestmark = pytest.mark.slow
#: Loopback for the OS, not for the service (which knows 127.0.0.1, ::1 and localhost):
#: every request to a service bound here needs a token.
TOKEN_CHECKED = "127.0.0.2"
#: How a downstream graph is told where its upstream is: both override paths run.
OVERRIDE = {"b": "flag", "c": "environment"}


@pytest.fixture(scope="module")
def binaries() -> Path:
    return build_binaries("tests/e2e/crossgraph", list("abc"))


class Graph(ServedGraph):
    """A graph served with a read-only token too; a downstream is told its upstream by flag or environment."""

    def __init__(self, binaries: Path, root: Path, name: str, upstream: "Graph | None" = None,
                 host: str = "127.0.0.1") -> None:
        super().__init__(binaries, root, name, upstream, host)
        self.read_token = f"{name}-read-t0k"
        self.env["DATABUILD_READ_TOKEN"] = self.read_token

    def serve_options(self) -> tuple[list[str], dict[str, str]]:
        if self.upstream is None:
            return [], {}
        up = self.upstream
        env = {f"DATABUILD_UPSTREAM_{up.name.upper()}_TOKEN": up.read_token}
        if OVERRIDE[self.name] == "flag":
            return ["--upstream", f"{up.name}={up.url}"], env
        return [], {**env, f"DATABUILD_UPSTREAM_{up.name.upper()}_URL": up.url}

    def want(self, ref: str) -> str:
        return self.post("wants", {"partitions": [ref]})["want_id"]

    def status(self, want_id: str) -> str:
        return self.get(f"wants/{want_id}")["status"]

    def wait(self, want_id: str, status: str = "satisfied", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.status(want_id)) != status:
            assert time.monotonic() < deadline, f"{self.name}: want {want_id} is {now}, not {status}"
            time.sleep(0.05)

    def wait_partition(self, ref: str, status: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.partition(ref)) != status:
            assert time.monotonic() < deadline, f"{self.name}: {ref} is {now}, not {status}"
            time.sleep(0.05)

    def upstream_url(self) -> str:
        (upstream,) = self.get("graph")["upstreams"]
        return upstream["url"]


@pytest.fixture
def graphs(binaries, tmp_path):
    with served_graphs(Graph, binaries, tmp_path) as make:
        yield make


def _landed(g: Graph) -> list[str]:
    return sorted(r for e in g.payloads("external_partitions_available") for r in e["refs"])


def test_propagation_outage_and_sigkill_lose_nothing_and_record_nothing_twice(graphs):
    up = graphs("a").start()
    down = graphs("b", upstream=up).start()
    assert down.upstream_url() == up.url  # from --upstream, not the BUILD file's
    first = down.want("b/1")
    down.wait(first, "waiting")
    up.land("a/1")
    down.wait(first)
    # The upstream stops for a while; what it records meanwhile arrives once it is back.
    up.stop()
    deadline = time.monotonic() + 30
    while down.get("upstreams")["upstreams"][0]["state"] != "backoff":
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
    assert down.get("upstreams")["upstreams"][0]["state"] == "ok"


def test_an_upstream_log_replaced_by_an_older_copy_is_read_again(graphs):
    up = graphs("a").start()
    down = graphs("b", upstream=up).start()
    up.land("a/1")
    up.stop()
    log = up.root / "state" / "bel.sqlite3"
    files = [Path(f"{log}{suffix}") for suffix in ("", "-wal", "-shm")]
    assert log.exists()
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
    down.wait_partition("a/2", "tainted")  # it vanished upstream, so it is not available here
    (vanished,) = down.payloads("partitions_tainted")
    assert vanished["refs"] == ["a/2"] and vanished["requested_by"] == "upstream:a"
    assert "vanished from upstream a" in vanished["reason"]
    resets = [e["reset"] for e in down.payloads("upstream_cursor_advanced") if e["reset"]]
    assert len(resets) == 1 and "log_reset" in resets[0]
    up.land("a/3")  # and sync goes on from the new log
    down.wait(down.want("b/3"))
    assert down.partition("a/1") == "available"
    assert _landed(down) == ["a/1", "a/2", "a/3"]


def test_an_upstream_taint_reaches_the_downstream_once_and_its_wants_wait_again(graphs):
    up = graphs("a", host=TOKEN_CHECKED).start()
    feed = f"{up.url}/api/v1/events"
    assert requests.get(feed, timeout=30).status_code == 401  # every request needs a token here
    assert requests.get(feed, headers=bearer(up.read_token), timeout=30).status_code == 200
    refused = requests.post(f"{up.url}/api/v1/partitions:taint", json={"refs": ["a/5"], "reason": "x"},
                            headers=bearer(up.read_token), timeout=30)
    assert refused.status_code == 401 and "read-only" in refused.text  # it reads, never records
    down = graphs("b", upstream=up).start()
    up.land("a/5")
    down.wait_partition("a/5", "available")  # synced with the read-only token
    up.post("partitions:taint", {"refs": ["a/5"], "reason": "rows were duplicated"})
    down.wait_partition("a/5", "tainted")
    (taint,) = down.payloads("partitions_tainted")
    assert taint["refs"] == ["a/5"] and taint["requested_by"] == "upstream:a"
    assert taint["reason"] == "tainted upstream in a: rows were duplicated"
    # A want of what is built from it waits for the upstream to make it available again.
    waiting = down.want("b/5")
    down.wait(waiting, "waiting")
    shown = down.get(f"wants/{waiting}")
    assert shown["waiting_for"] == ["a/5"]
    assert [(b["kind"], b["ref"], b["upstream"]) for b in shown["blocked_by"]] == [("external", "a/5", "a")]
    assert "a/5" in shown["explanation"] and "upstream 'a'" in shown["explanation"], shown["explanation"]
    up.land("a/5")
    down.wait(waiting)
    assert down.partition("b/5") == "available" and down.partition("a/5") == "available"
    assert len(down.payloads("partitions_tainted")) == 1  # the taint recorded once
    assert _landed(down) == ["a/5", "a/5"]  # once each time it became available upstream


def test_a_chain_of_three_graphs(graphs):
    a = graphs("a").start()
    b = graphs("b", upstream=a, host=TOKEN_CHECKED).start()
    c = graphs("c", upstream=b).start()
    assert b.upstream_url() == a.url and c.upstream_url() == b.url  # from the flag, from the environment
    wanted_b, wanted_c = b.want("b/7"), c.want("c/7")
    c.wait(wanted_c, "waiting")
    a.land("a/7")
    b.wait(wanted_b)
    c.wait(wanted_c)
    assert _landed(b) == ["a/7"] and _landed(c) == ["b/7"]
