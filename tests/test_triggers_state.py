"""Trigger state: the fold of a trigger's events (cursors, last firing and error, pause)."""

from __future__ import annotations

from databuild.events import EventFilter, MemoryEventLog
from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import message_dict
from databuild.state import EMPTY, TRIGGER, StateProjection, StateStore, fold

S = 1_000_000
SCHEDULED, TRIGGERED, CLI = pb.WANT_SOURCE_TYPE_SCHEDULED, pb.WANT_SOURCE_TYPE_TRIGGERED, pb.WANT_SOURCE_TYPE_CLI


def indexed(events: list[pb.Event]) -> list[pb.Event]:
    for i, e in enumerate(events, 1):
        e.index = i
        e.timestamp.FromMicroseconds(1000 * S + i * S)
    return events


def fired(source: int, tick_s: int = 0, ref_index: int = 0, firing_id: str = "t@x") -> pb.Event:
    p = pb.TriggerFired(trigger="t", firing_id=firing_id, source=source, ref_index=ref_index, want_ids=["w1"])
    p.tick_time.FromSeconds(tick_s)
    return pb.Event(trigger_fired=p)


def failed(source: int, tick_s: int = 0, error: str = "exited with code 1") -> pb.Event:
    p = pb.TriggerFailed(trigger="t", firing_id="t@f", source=source, error=error)
    p.tick_time.FromSeconds(tick_s)
    return pb.Event(trigger_failed=p)


def registered(since_s: int, since_index: int) -> pb.Event:
    p = pb.TriggerRegistered(trigger="t", since_index=since_index)
    p.since_time.FromSeconds(since_s)
    return pb.Event(trigger_registered=p)


def state_of(events: list[pb.Event]) -> pb.TriggerState:
    return fold(EMPTY, indexed(events)).get(TRIGGER, "t")


def test_scheduled_outcomes_move_the_time_cursor_forward_only():
    s = state_of([registered(100, 0), fired(SCHEDULED, 200), failed(SCHEDULED, 150)])
    assert s.handled_until.seconds == 200  # a late failure of an older tick does not move it back
    assert (s.firings, s.failures, s.last_error) == (1, 1, "exited with code 1")
    assert s.last_firing.firing_id == "t@x" and s.last_failure.firing_id == "t@f"


def test_a_later_successful_firing_clears_the_last_error():
    s = state_of([failed(SCHEDULED, 100), fired(SCHEDULED, 200)])
    assert (s.last_error, s.failures, s.last_failure.error) == ("", 1, "exited with code 1")


def test_manual_firings_leave_the_cursors_alone():
    s = state_of([registered(100, 7), fired(CLI, 5000, firing_id="t!1")])
    assert (s.handled_until.seconds, s.handled_index, s.firings) == (100, 7, 1)


def test_reactive_outcomes_move_the_index_cursor():
    s = state_of([registered(0, 3), fired(TRIGGERED, ref_index=9), fired(TRIGGERED, ref_index=5)])
    assert s.handled_index == 9


def test_the_state_keeps_the_first_refs_and_wants_of_a_big_firing():
    """A landing of thousands of partitions is one firing; the trigger's state keeps a sample of it."""
    big = fired(TRIGGERED, ref_index=7, firing_id="t#7")
    big.trigger_fired.refs.extend(f"raw/{i}" for i in range(5000))
    big.trigger_fired.want_ids[:] = [f"w{i}" for i in range(5000)]
    failure = failed(TRIGGERED)
    failure.trigger_failed.refs.extend(f"raw/{i}" for i in range(5000))
    s = state_of([big, failure])
    assert list(s.last_firing.refs) == [f"raw/{i}" for i in range(10)] and len(s.last_firing.want_ids) == 10
    assert len(s.last_failure.refs) == 10 and s.handled_index == 7 and s.last_firing.firing_id == "t#7"


def test_resume_moves_both_cursors_past_what_came_due_while_paused():
    events = [registered(0, 0), pb.Event(trigger_pause_changed=pb.TriggerPauseChanged(
        trigger="t", paused=True, requested_by="cli:ann")), pb.Event(trigger_pause_changed=pb.TriggerPauseChanged(
            trigger="t", paused=False, requested_by="cli:bob"))]
    paused = state_of(events[:2])
    assert (paused.paused, paused.paused_by) == (True, "cli:ann")
    resumed = state_of(events)
    assert (resumed.paused, resumed.paused_by, resumed.handled_index) == (False, "", 3)
    assert resumed.handled_until.ToMicroseconds() == 1003 * S  # the resume's own time


def test_skipped_ticks_move_the_cursor_to_the_last_one():
    p = pb.TriggerTicksSkipped(trigger="t", max_catchup=1)
    p.first_tick.FromSeconds(10)
    p.last_tick.FromSeconds(90)
    s = state_of([registered(5, 0), pb.Event(trigger_ticks_skipped=p)])
    assert s.handled_until.seconds == 90 and s.last_skipped.first_tick.seconds == 10


def test_the_read_model_holds_the_fold_and_the_firing_is_on_the_wants_timeline():
    store = StateStore(MemoryEventLog([StateProjection()]))
    store.log.append([registered(100, 0), fired(SCHEDULED, 200)])
    assert store.trigger("t") == fold(EMPTY, store.log.list_events(0).events).get(TRIGGER, "t")
    assert set(store.triggers_by_name(["t", "other"])) == {"t"}
    timeline = store.log.list_events(0, EventFilter(want_ids=("w1",))).events
    assert [e.WhichOneof("payload") for e in timeline] == ["trigger_fired"]


def test_trigger_status_json_is_flat():
    doc = message_dict(pb.TriggerStatus(state=pb.TriggerState(name="t", paused=True), kind=pb.TRIGGER_KIND_SCHEDULE))
    assert (doc["name"], doc["paused"], doc["kind"]) == ("t", True, "schedule")
    assert "state" not in doc
    assert message_dict(pb.WantSource(type=pb.WANT_SOURCE_TYPE_TRIGGERED))["type"] == "triggered"
