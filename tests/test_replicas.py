"""Several replicas of one graph's service on one event log (docs/deployment.md): each
serves reads and writes; one leads (runs the evaluator and its builds); when the leader
is SIGKILLed mid-build another takes over, closes the dead leader's build as a crash
(its job killed, no attempt used up) and builds the want again; nothing is decided twice.

Real processes: three ``chaos_graph.build serve`` replicas (Bazel-built), each with its
own state directory, all on one log: one SQLite file, or one PostgreSQL database of the
session's throwaway cluster (tests/pg_support.py)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from served_graph import DataGraph, build_binaries, served_graphs

pytestmark = pytest.mark.slow
WAIT_S = 60


@pytest.fixture(scope="module")
def chaos_binaries() -> Path:
    return build_binaries("tests/e2e", ["chaos_graph"])


class Replica(DataGraph):
    """chaos_graph served from its own state directory on the shared log and data."""

    def __init__(self, binaries: Path, root: Path, replica: str, shared: Path, bel: str) -> None:
        super().__init__(binaries, root / replica, "chaos_graph")
        self.env["DATABUILD_BEL"] = bel
        self.env["DATABUILD_DATA_DIR"] = str(shared / "data")
        self.token = "replicas-write-t0k"  # one deployment: one token for every replica
        self.env["DATABUILD_TOKEN"] = self.token

    def leads(self) -> bool:
        r = requests.get(f"{self.url}/metrics", timeout=10)
        if r.status_code == 503:  # its storage is away (a restart of the server): not leading now
            return False
        assert r.status_code == 200, r.text
        (leader,) = [s.value for f in text_string_to_metric_families(r.text) for s in f.samples
                     if s.name == "databuild_leader"]
        return leader == 1


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_S
    while True:
        got = condition()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(params=["sqlite", "postgres"])
def shared_bel(request, tmp_path) -> str:
    """The replicas' one event log."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_database")()
    return f"sqlite://{tmp_path}/shared/bel.sqlite3"


def test_a_replica_takes_over_from_a_killed_leader_and_builds_the_want_once(chaos_binaries, tmp_path, shared_bel):
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    with served_graphs(Replica, chaos_binaries, tmp_path) as make:
        a = make("a", shared, shared_bel).start()
        b = make("b", shared, shared_bel).start()
        c = make("c", shared, shared_bel).start()
        assert [a.leads(), b.leads(), c.leads()] == [True, False, False]  # the first to start leads

        # A follower takes the want; the leader builds it.
        want = b.post("wants", {"partitions": ["slow/3"]})["want_id"]
        build_id = wait_for(lambda: b.get(f"wants/{want}")["build_id"], "the want's build")
        wait_for(lambda: any(r["status"] == "running" for r in c.get(f"builds/{build_id}").get("job_runs", [])),
                 "the job to run")
        assert c.get(f"builds/{build_id}")["build"]["executor"].endswith(f":{a.proc.pid}")

        # The leader dies mid-build: one of the others leads, closes its build as a crash, builds again.
        a.stop(signal.SIGKILL)
        killed = time.monotonic()
        new_leader = wait_for(lambda: next((r for r in (b, c) if r.leads()), None), "a new leader")
        takeover_s = time.monotonic() - killed
        print(f"takeover after {takeover_s:.2f} s")
        assert sum(r.leads() for r in (b, c)) == 1
        lost = wait_for(lambda: (doc := b.get(f"builds/{build_id}")["build"])["status"] == "failed" and doc,
                        "the dead leader's build to be closed")
        assert lost["executor_lost"] is True
        done = wait_for(lambda: (w := c.get(f"wants/{want}"))["status"] == "satisfied" and w, "the want")
        assert done["build_id"] != build_id and done["attempts"] == 1  # the lost build's attempt was given back
        second = new_leader.get(f"builds/{done['build_id']}")["build"]
        assert second["executor"].endswith(f":{new_leader.proc.pid}")

        # Decided once: one satisfaction, one retry after the loss; the dead leader's job was killed.
        satisfied = [p for p in b.payloads("want_satisfied") if p["want_id"] == want]
        assert len(satisfied) == 1
        requeued = [p for p in b.payloads("want_status_changed")
                    if p["want_id"] == want and "lost with its executor" in p.get("message", "")]
        assert len(requeued) == 1
        runs = (shared / "data" / "runs.log").read_text().splitlines()
        assert len([line for line in runs if line.endswith(" slow/3")]) == 2  # the lost run and the one that built it

        # Writes through any replica, reads from any: the log is one.
        b.land("ext/1")
        assert c.partition("ext/1") == "available" and new_leader.partition("ext/1") == "available"

        # A follower killed changes nothing for the leader.
        follower = c if new_leader is b else b
        follower.stop(signal.SIGKILL)
        assert new_leader.leads()
        again = new_leader.post("wants", {"partitions": ["ok/after"]})["want_id"]
        wait_for(lambda: new_leader.get(f"wants/{again}")["status"] == "satisfied", "a want after the follower died")


def test_replicas_ride_out_a_restart_of_postgresql(chaos_binaries, tmp_path, pg_cluster, pg_database):
    """While the server is down requests get a clear 503 and the leader, whose lease went
    with its connection, stops (exit 3, saying why) rather than decide on; once the server is
    back a follower leads and builds."""
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    bel = pg_database()
    with served_graphs(Replica, chaos_binaries, tmp_path) as make:
        a = make("a", shared, bel).start()
        b = make("b", shared, bel).start()
        c = make("c", shared, bel).start()
        assert [a.leads(), b.leads(), c.leads()] == [True, False, False]
        pg_cluster.stop("fast")
        try:
            down = requests.get(f"{b.url}/api/v1/wants", headers={"Authorization": f"Bearer {b.token}"}, timeout=30)
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] in ("unavailable", "storage_error"), down.text
            assert a.proc.wait(WAIT_S) == 3  # it found its lease gone within a poll
            assert "lost the leader lease" in a.proc.stderr.read().decode()
        finally:
            pg_cluster.start()
        new_leader = wait_for(lambda: next((r for r in (b, c) if r.leads()), None), "a leader after the restart")
        assert sum(r.leads() for r in (b, c)) == 1
        want = c.post("wants", {"partitions": ["ok/after-restart"]})["want_id"]
        done = wait_for(lambda: (w := b.get(f"wants/{want}"))["status"] == "satisfied" and w, "the want")
        build = new_leader.get(f"builds/{done['build_id']}")["build"]
        assert build["executor"].endswith(f":{new_leader.proc.pid}")
