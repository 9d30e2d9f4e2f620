"""Triggers end to end: the Bazel-built graph binaries, served over loopback, firing on their own.

`//tests/e2e/triggers` declares three graphs: `ticking` (the schedule `every_second`,
`*/1 * * * * *`, wanting `tick/{datetime}`: one partition per second), `up` (its
partitions `raw/*` recorded from outside) and `down` (upstream `up`; the reactive trigger
`out_on_raw`, `on = ["raw/{n}"]`, wanting `out/{n}`, built from `raw/{n}`). Each test
runs the generated `<graph>.build serve` of the graphs it needs, from a clean
environment, each with its own state directory and SQLite log, and reads what happened
from the event feed (`GET /api/v1/events?types=...`): what the logs recorded is checked,
not assumed. Nothing here asserts how long anything took; waits only have deadlines so a
failure does not hang the run.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from served_graph import ServedGraph, build_binaries, served_graphs

pytestmark = pytest.mark.slow
SCHEDULE, REACTIVE = "every_second", "out_on_raw"
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def binaries() -> Path:
    return build_binaries("tests/e2e/triggers", ["ticking", "up", "down"])


def instant(text: str) -> datetime:
    """An RFC 3339 UTC time as the JSON documents write it (``2025-01-31T02:00:00Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Graph(ServedGraph):
    """A served graph with the trigger reads these tests make."""

    def trigger(self, name: str) -> dict:
        (status,) = [t for t in self.get("triggers")["triggers"] if t["name"] == name]
        return status

    def fired(self) -> list[dict]:
        return [e["trigger_fired"] for e in self.events("trigger_fired")]

    def wait_fired(self, count: int, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(fired := self.fired()) < count:
            assert time.monotonic() < deadline, f"{self.name}: {len(fired)} firings, not {count}"
            time.sleep(0.1)
        return fired

    def wait_want(self, want_id: str, status: str = "satisfied", timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while (want := self.get(f"wants/{want_id}"))["status"] != status:
            assert time.monotonic() < deadline, f"{self.name}: want {want_id} is {want['status']}, not {status}"
            time.sleep(0.05)
        return want


@pytest.fixture
def graphs(binaries, tmp_path):
    with served_graphs(Graph, binaries, tmp_path) as make:
        yield make


def _tick_ref(tick: str) -> str:
    """The partition `every_second` wants for a tick: ``tick/{datetime}``, the tick in UTC without a zone."""
    return f"tick/{rfc3339(instant(tick))[:-1]}"


def test_a_per_second_schedule_fires_and_its_wants_are_satisfied(graphs):
    g = graphs("ticking").start()
    first, second = g.wait_fired(2)[:2]
    for firing in (first, second):
        assert firing["trigger"] == SCHEDULE and firing["source"] == "scheduled"
        assert firing["firing_id"] == f"{SCHEDULE}@{firing['tick_time']}"
        (want_id,) = firing["want_ids"]
        want = g.wait_want(want_id)
        assert want["partitions"] == [_tick_ref(firing["tick_time"])]
        assert want["source"] == {"type": "scheduled", "name": SCHEDULE, "firing_id": firing["firing_id"]}
        assert g.partition(want["partitions"][0]) == "available"
    assert instant(second["tick_time"]) - instant(first["tick_time"]) == SECOND  # consecutive ticks
    listed = [w["want_id"] for w in g.get("wants", source=f"scheduled:{SCHEDULE}", limit=1000)["wants"]]
    assert first["want_ids"][0] in listed and second["want_ids"][0] in listed
    status = g.trigger(SCHEDULE)
    assert status["kind"] == "schedule" and status["cron"] == "*/1 * * * * *" and not status["paused"]
    assert instant(status["next_fire_time"]) > instant(second["tick_time"])


def test_a_reactive_trigger_fires_for_a_partition_landed_upstream(graphs):
    up = graphs("up").start()
    down = graphs("down", upstream=up).start()
    up.land("raw/1")
    (firing,) = down.wait_fired(1)
    assert firing["trigger"] == REACTIVE and firing["source"] == "triggered" and firing["refs"] == ["raw/1"]
    # The firing stands for the event of down's log that recorded raw/1 as synced from up.
    (synced,) = down.events("external_partitions_available")
    assert synced["external_partitions_available"]["refs"] == ["raw/1"]
    assert firing["ref_index"] == synced["index"]
    assert firing["firing_id"] == f"{REACTIVE}#{synced['index']}"
    (want_id,) = firing["want_ids"]
    want = down.wait_want(want_id)
    assert want["partitions"] == ["out/1"]
    assert want["source"] == {"type": "triggered", "name": REACTIVE, "firing_id": firing["firing_id"]}
    assert down.partition("out/1") == "available"
    listed = down.get("wants", source=f"triggered:{REACTIVE}")["wants"]
    assert [w["want_id"] for w in listed] == [want_id]
    # Another landing fires again, for its own partition only.
    up.land("raw/2")
    assert [f["refs"] for f in down.wait_fired(2)] == [["raw/1"], ["raw/2"]]
    assert down.wait_want(down.fired()[1]["want_ids"][0])["partitions"] == ["out/2"]


def _expand(first: datetime, last: datetime) -> list[datetime]:
    out, t = [], first
    while t <= last:
        out.append(t)
        t += SECOND
    return out


def test_sigkill_and_restart_fire_every_tick_once(graphs):
    g = graphs("ticking").start()
    # Down for well under a tick, for about one, and for several (the catch-up rule skips all but one).
    for downtime in (0.2, 1.2, 4.0):
        seen = len(g.wait_fired(len(g.fired()) + 2))
        g.stop(signal.SIGKILL)
        time.sleep(downtime)
        g.start()
        g.wait_fired(seen + 1)
    g.wait_fired(len(g.fired()) + 2)
    # One read, in index order: a consistent prefix of the log however far the ticking got.
    log = g.events("trigger_fired", "trigger_ticks_skipped", "want_created")
    fired = [e["trigger_fired"] for e in log if "trigger_fired" in e]
    ids = [f["firing_id"] for f in fired]
    assert len(ids) == len(set(ids)), "a tick fired twice"
    assert all(f["firing_id"] == f"{SCHEDULE}@{f['tick_time']}" for f in fired)
    ticks = sorted(instant(f["tick_time"]) for f in fired)
    skips = [e["trigger_ticks_skipped"] for e in log if "trigger_ticks_skipped" in e]
    assert skips, "a 4 s outage misses several ticks; all but the newest are recorded skipped"
    skipped: list[datetime] = []
    for s in skips:
        assert s["trigger"] == SCHEDULE and s["max_catchup"] == 1
        first, last = instant(s["first_tick"]), instant(s["last_tick"])
        skipped += _expand(first, last)
        assert last + SECOND in ticks, "the newest missed tick fires (max_catchup 1)"
    assert not set(skipped) & set(ticks), "a tick both fired and skipped"
    # Every tick from the first firing on was fired or recorded skipped, none left out.
    assert sorted(ticks + skipped) == _expand(ticks[0], ticks[-1])
    # No partition wanted twice by the trigger, and each firing's want is the tick's partition.
    created = [e["want_created"] for e in log if "want_created" in e]
    mine = [w for w in created if w["want"]["source"]["name"] == SCHEDULE]
    wanted = [p for w in mine for p in w["want"]["partitions"]]
    assert len(wanted) == len(set(wanted)) == len(fired)
    assert sorted(wanted) == sorted(_tick_ref(f["tick_time"]) for f in fired)
    # Wants interrupted by a SIGKILL are still built once the service is back.
    for f in fired:
        g.wait_want(f["want_ids"][0])


def test_pause_stops_firings_and_resume_does_not_fire_what_came_due_meanwhile(graphs):
    g = graphs("ticking").start()
    g.wait_fired(1)
    assert "no trigger 'nope'" in g.post("triggers/nope/pause", expect=404)["error"]["message"]
    paused = g.post("triggers/every_second/pause", {"reason": "maintenance", "requested_by": "e2e"}, expect=200)
    assert paused["paused"] and paused["paused_by"] == "e2e"
    assert not g.trigger(SCHEDULE).get("next_fire_time")
    time.sleep(3.5)  # several ticks come due while paused
    assert g.trigger(SCHEDULE)["paused"]
    resumed = g.post("triggers/every_second/resume", {"requested_by": "e2e"}, expect=200)
    assert not resumed["paused"]
    before = len(g.fired())
    g.wait_fired(before + 2)
    changes = g.events("trigger_pause_changed")
    assert [(e["trigger_pause_changed"]["paused"], e["trigger_pause_changed"]["reason"]) for e in changes] == [
        (True, "maintenance"), (False, "")]
    pause, resume = changes
    fired = g.events("trigger_fired")
    assert not [e for e in fired if pause["index"] < e["index"] < resume["index"]], "fired while paused"
    after = [instant(e["trigger_fired"]["tick_time"]) for e in fired if e["index"] > resume["index"]]
    assert after and min(after) > instant(resume["timestamp"]), "a tick due while paused fired"
    assert not g.events("trigger_ticks_skipped")  # paused ticks are not missed ticks
