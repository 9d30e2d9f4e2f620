"""Graphs reading each other's partitions, as real service processes over loopback.

Each graph runs `serve` (its own state directory and SQLite log); downstream graphs
declare upstreams with the upstream's URL. What is counted is the events each log
recorded, so "nothing missed, nothing twice" is checked, not assumed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow
TOKEN = "t0k"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: builds <out>/<i> from <in>/<i>: IN and OUT come from the job's environment.
JOB = r"""#!/bin/sh
if [ "$1" = config ]; then
  shift; printf '{"configs": ['; sep=
  for r in "$@"; do printf '%s{"outputs": ["%s"], "inputs": [{"ref": "%s/%s", "dep_type": "materialize"}]}' \
    "$sep" "$r" "$IN" "${r#*/}"; sep=,; done
  printf ']}\n'; exit 0
fi
exit 0
"""


class Graph:
    """One graph's `serve` process; ``produces`` ``out/*`` from ``in/*`` of ``upstream``."""

    def __init__(self, root: Path, name: str, out: str | None = None, upstream: "Graph | None" = None,
                 inp: str | None = None) -> None:
        self.root, self.name = root / name, name
        self.root.mkdir(parents=True)
        jobs = []
        if out:
            job = self.root / "job.sh"
            job.write_text(JOB)
            job.chmod(0o755)
            jobs = [{"label": f"//{name}:job", "executable": str(job), "outputs": [f"{out}/*"]}]
        upstreams = [{"name": upstream.name, "label": f"//{upstream.name}:graph", "url": upstream.url,
                      "patterns": [f"{inp}/*"]}] if upstream else []
        (self.root / "manifest.json").write_text(json.dumps(
            {"version": 1, "label": f"//{name}:graph", "lookup": None, "upstreams": upstreams, "jobs": jobs}))
        self.env = dict(os.environ, DATABUILD_GRAPH_MANIFEST=str(self.root / "manifest.json"),
                        DATABUILD_STATE_DIR=str(self.root / "state"), IN=inp or "", DATABUILD_TOKEN=TOKEN)
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> "Graph":
        self.proc = subprocess.Popen([sys.executable, "-m", "databuild.cli", "serve", "--port", str(self.port)],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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

    def want(self, ref: str) -> str:
        r = requests.post(f"{self.url}/api/v1/wants", json={"partitions": [ref]}, headers=AUTH, timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["want_id"]

    def land(self, *refs: str) -> None:
        r = requests.post(f"{self.url}/api/v1/partitions:mark-available", json={"refs": list(refs)}, headers=AUTH,
                          timeout=30)
        assert r.status_code == 201, r.text

    def status(self, want_id: str) -> str:
        return requests.get(f"{self.url}/api/v1/wants/{want_id}", timeout=30).json()["status"]

    def wait(self, want_id: str, status: str = "satisfied", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.status(want_id)) != status:
            assert time.monotonic() < deadline, f"{self.name}: want {want_id} is {now}, not {status}"
            time.sleep(0.05)

    def events(self, type_: str) -> list[dict]:
        return requests.get(f"{self.url}/api/v1/events", params={"types": type_, "limit": 10_000},
                            timeout=30).json()["events"]


@pytest.fixture
def graphs(tmp_path):
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
    up = graphs("ingest").start()
    down = graphs("reports", out="report", upstream=up, inp="raw").start()
    first = down.want("report/1")
    down.wait(first, "waiting")
    up.land("raw/1")
    down.wait(first)
    # The upstream stops for a while; what it records meanwhile arrives once it is back.
    up.stop()
    deadline = time.monotonic() + 30
    while requests.get(f"{down.url}/api/v1/upstreams", timeout=30).json()["upstreams"][0]["state"] != "backoff":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    second = down.want("report/2")
    writer = subprocess.run([sys.executable, "-m", "databuild.cli", "--local", "partitions", "mark-available",
                             "raw/2", "raw/3"], env=up.env, capture_output=True, text=True, timeout=60)
    assert writer.returncode == 0, writer.stderr
    up.start()
    down.wait(second, timeout=90)
    # The downstream SIGKILLed, more lands upstream, it restarts: each ref recorded exactly once.
    down.stop(signal.SIGKILL)
    up.land("raw/4")
    down.start()
    third = down.want("report/4")
    down.wait(third)
    assert _landed(down) == ["raw/1", "raw/2", "raw/3", "raw/4"]


def test_an_upstream_log_replaced_by_an_older_copy_is_read_again(graphs):
    import shutil

    up = graphs("ingest").start()
    down = graphs("reports", out="report", upstream=up, inp="raw").start()
    up.land("raw/1")
    up.stop()
    log = up.root / "state" / "bel.sqlite3"
    files = [Path(f"{log}{suffix}") for suffix in ("", "-wal", "-shm")]
    backup = up.root / "backup"
    backup.mkdir()
    for f in files:  # a backup of the stopped service's log files
        if f.exists():
            shutil.copy(f, backup / f.name)
    up.start()
    up.land("raw/2")
    satisfied = down.want("report/2")
    down.wait(satisfied)
    up.stop()
    for f in files:  # restored: raw/2 never happened upstream
        f.unlink(missing_ok=True)
        if (backup / f.name).exists():
            shutil.copy(backup / f.name, f)
    up.start()
    deadline = time.monotonic() + 30
    while requests.get(f"{down.url}/api/v1/partitions/raw/2", timeout=30).json()["partition"]["status"] != "tainted":
        assert time.monotonic() < deadline, "raw/2 vanished upstream but stays available here"
        time.sleep(0.1)
    resets = [e["upstream_cursor_advanced"]["reset"] for e in down.events("upstream_cursor_advanced")
              if e["upstream_cursor_advanced"]["reset"]]
    assert len(resets) == 1 and "log_reset" in resets[0]
    up.land("raw/3")  # and sync goes on from the new log
    down.wait(down.want("report/3"))
    assert requests.get(f"{down.url}/api/v1/partitions/raw/1", timeout=30).json()["partition"]["status"] == "available"


def test_a_chain_of_three_graphs(graphs):
    a = graphs("a").start()
    b = graphs("b", out="b", upstream=a, inp="a").start()
    c = graphs("c", out="c", upstream=b, inp="b").start()
    wanted_b, wanted_c = b.want("b/7"), c.want("c/7")
    c.wait(wanted_c, "waiting")
    a.land("a/7")
    b.wait(wanted_b)
    c.wait(wanted_c)
    assert _landed(c) == ["b/7"]
