"""Triggers in a running service: a real SQLite log, real job and trigger processes, the runner's threads,
HTTP. A partition lands and the reactive trigger's want is built; a stuck or failing trigger binary
holds up no other trigger; a per-second schedule fires and its wants are satisfied."""

from __future__ import annotations

import stat
import sys

import pytest

from databuild.graph import GraphSpec, JobSpec, TriggerSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.service.client import ServiceClient
from test_service_http import TOKEN, serving
from test_wants_service import JOB, open_store, wait_for, wait_until

pytestmark = pytest.mark.slow

# Waits for $DIR/release, then prints garbage: a binary that is stuck, then fails.
STUCK = f"""#!{sys.executable}
import os, sys, time
while not os.path.exists(os.path.join(os.environ["DIR"], "release")):
    time.sleep(0.05)
print("not the protocol")
"""


def binary(path, text: str) -> str:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.fixture
def live(tmp_path, monkeypatch):
    job = binary(tmp_path / "job.sh", JOB)
    monkeypatch.setenv("DIR", str(tmp_path))
    triggers = (
        TriggerSpec("on_raw", "//g:on_raw", on=("raw/{day}",), partitions=("derived/{day}",), ttl_seconds=600),
        TriggerSpec("stuck", "//g:stuck", on=("raw/{day}",), executable=binary(tmp_path / "stuck", STUCK),
                    timeout_seconds=120),
        TriggerSpec("every_second", "//g:every_second", cron="* * * * * *", partitions=("daily/{datetime}",)),
    )
    graph = GraphSpec("//g:t", (JobSpec("//g:job", job, ("daily/*", "derived/*")),), triggers=triggers)
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"))
    service.start_evaluator()
    with serving(service) as url:
        yield ServiceClient(url, TOKEN), service, store
    (tmp_path / "release").touch()  # lets the stuck binary end, so its thread stops
    service.close()
    store.close()


def fired(store, name: str) -> list[pb.TriggerFired]:
    return [e.trigger_fired for e in store.log.list_events(0).events
            if e.WhichOneof("payload") == "trigger_fired" and e.trigger_fired.trigger == name]


def test_a_landed_partition_is_wanted_by_its_trigger_and_built_while_another_binary_is_stuck(live, tmp_path):
    client, service, store = live
    client.mark_available(pb.MarkAvailableRequest(refs=["raw/2026-01-01"], comment="landed"))
    wait_until(store, lambda: fired(store, "on_raw"), what="the reactive firing")
    (firing,) = fired(store, "on_raw")
    landed = store.partition("raw/2026-01-01").last_event_index
    assert firing.firing_id == f"on_raw#{landed}" and firing.source == pb.WANT_SOURCE_TYPE_TRIGGERED
    assert list(firing.refs) == ["raw/2026-01-01"]
    want = wait_for(client, firing.want_ids[0], pb.WANT_STATUS_SATISFIED)
    assert (list(want.spec.partitions), want.spec.source.name, want.spec.source.firing_id) == (
        ["derived/2026-01-01"], "on_raw", firing.firing_id)
    found = client.list_wants(pb.ListWantsRequest(source="triggered:on_raw")).wants
    assert [w.spec.want_id for w in found] == [want.spec.want_id]
    detail = client.want(pb.GetWantRequest(want_id=want.spec.want_id))
    assert detail.timeline[0].trigger_fired.firing_id == firing.firing_id  # its timeline starts with the firing
    # Meanwhile the stuck binary holds only its own trigger: nothing recorded for it yet.
    stuck = {t.state.name: t for t in client.triggers(pb.EmptyRequest()).triggers}["stuck"]
    assert (stuck.state.firings, stuck.state.failures) == (0, 0)
    (tmp_path / "release").touch()
    wait_until(store, lambda: store.trigger("stuck") and store.trigger("stuck").failures == 1, what="the failure")
    state = client.triggers(pb.EmptyRequest()).triggers[1].state
    assert state.name == "stuck" and "fire printed invalid JSON" in state.last_error
    assert state.last_failure.firing_id == firing.firing_id.replace("on_raw", "stuck")


def test_a_per_second_schedule_fires_each_tick_once_and_its_wants_are_satisfied(live):
    client, service, store = live
    wait_until(store, lambda: len(fired(store, "every_second")) >= 2, what="two ticks")
    first, second = fired(store, "every_second")[:2]
    assert first.firing_id != second.firing_id and second.tick_time.seconds > first.tick_time.seconds
    shown = client.pause_trigger(pb.PauseTriggerRequest(name="every_second", requested_by="test"))
    assert shown.state.paused and shown.state.paused_by == "test" and not shown.HasField("next_fire_time")
    wait_for(client, first.want_ids[0], pb.WANT_STATUS_SATISFIED)
    events = store.log.list_events(0).events
    (paused,) = [e.index for e in events if e.WhichOneof("payload") == "trigger_pause_changed"]
    ticks = [e.trigger_fired.tick_time.seconds for e in events if e.WhichOneof("payload") == "trigger_fired"
             and e.trigger_fired.trigger == "every_second"]
    assert ticks == sorted(set(ticks))  # each tick once
    # Nothing fired after the pause was recorded (a pass that read the state before it lost its append).
    assert all(e.index < paused for e in events if e.WhichOneof("payload") == "trigger_fired"
               and e.trigger_fired.trigger == "every_second")
