"""What a trigger fires, as pure decisions over its declaration, its folded state, events and injected times."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from databuild.errors import InvalidArgumentError
from databuild.graph import TriggerSpec
from databuild.proto import databuild_pb2 as pb
from databuild.state import EMPTY, TRIGGER, fold
from databuild.triggers.decide import (
    Trigger, due_partitions, due_ticks, manual_firing, next_fire_us, outcome, registration, status, tick_id, wake_us,
)
from databuild.triggers.protocol import TriggerProtocolError
from databuild.triggers.schedule import us_of

H = 3600 * 1_000_000


def at(*args: int) -> int:
    return us_of(datetime(*args, tzinfo=timezone.utc))


class Log:
    """Events as the log would hold them (indices, timestamps), and the trigger state they fold to."""

    def __init__(self) -> None:
        self.events: list[pb.Event] = []

    def record(self, events: list[pb.Event], now_us: int) -> None:
        for e in events:
            e.index = len(self.events) + 1
            e.timestamp.FromMicroseconds(now_us)
            self.events.append(e)

    def state(self, name: str) -> pb.TriggerState | None:
        return fold(EMPTY, self.events).get(TRIGGER, name)

    def of(self, payload: str) -> list:
        return [getattr(e, payload) for e in self.events if e.WhichOneof("payload") == payload]


def daily(**changes) -> Trigger:
    fields = dict(name="daily", label="//p:daily", cron="0 2 * * *", partitions=("reports/{date-1d}",))
    return Trigger(TriggerSpec(**{**fields, **changes}))


def on_raw(**changes) -> Trigger:
    fields = dict(name="on_raw", label="//p:on_raw", on=("raw/{date}/{color}",), partitions=("summary/{date}/{color}",))
    return Trigger(TriggerSpec(**{**fields, **changes}))


def run_schedule(trigger: Trigger, log: Log, now: int, started: int) -> None:
    """One runner pass at ``now``: register, or record the skipped ticks and the firings."""
    state = log.state(trigger.name)
    first = registration(trigger, state, now, len(log.events))
    if first is not None:
        log.record([first], now)
        return
    skipped, firings = due_ticks(trigger, state, now, started)
    log.record([skipped] if skipped else [], now)
    for firing in firings:
        log.record(outcome(trigger, firing, now), now)


def fired_ticks(log: Log) -> list[str]:
    return [f.firing_id for f in log.of("trigger_fired")]


def test_a_trigger_is_registered_once_and_does_not_fire_for_the_past():
    log, t = Log(), daily()
    run_schedule(t, log, at(2026, 1, 5, 12), started=at(2026, 1, 5, 12))
    run_schedule(t, log, at(2026, 1, 5, 12), started=at(2026, 1, 5, 12))
    assert len(log.of("trigger_registered")) == 1 and fired_ticks(log) == []
    assert next_fire_us(t, log.state("daily"), at(2026, 1, 5, 12)) == at(2026, 1, 6, 2)


def test_live_ticks_fire_once_each_with_their_wants():
    log, t = Log(), daily(ttl_seconds=7200, sla_seconds=600, comment="nightly")
    start = at(2026, 1, 1, 12)
    run_schedule(t, log, start, start)
    for now in (at(2026, 1, 2, 2), at(2026, 1, 2, 2, 0, 1), at(2026, 1, 3, 2, 0, 3)):
        run_schedule(t, log, now, start)
    assert fired_ticks(log) == ["daily@2026-01-02T02:00:00Z", "daily@2026-01-03T02:00:00Z"]
    wants = [w.want for w in log.of("want_created")]
    assert [list(w.partitions) for w in wants] == [["reports/2026-01-01"], ["reports/2026-01-02"]]
    first = wants[0]
    assert (first.source.type, first.source.name, first.source.firing_id) == (
        pb.WANT_SOURCE_TYPE_SCHEDULED, "daily", "daily@2026-01-02T02:00:00Z")
    assert (first.ttl_seconds, first.sla_seconds, first.comment) == (7200, 600, "nightly")
    assert first.data_timestamp.ToMicroseconds() == at(2026, 1, 2, 2)  # the tick, by default
    assert log.of("trigger_fired")[0].want_ids == [first.want_id]


@pytest.mark.parametrize("max_catchup, fired, skipped", [
    (1, ["daily@2026-01-05T02:00:00Z"], ("2026-01-02T02:00:00Z", "2026-01-04T02:00:00Z")),
    (3, ["daily@2026-01-03T02:00:00Z", "daily@2026-01-04T02:00:00Z", "daily@2026-01-05T02:00:00Z"],
     ("2026-01-02T02:00:00Z", "2026-01-02T02:00:00Z")),
    (0, [], ("2026-01-02T02:00:00Z", "2026-01-05T02:00:00Z")),
    (9, ["daily@2026-01-0%dT02:00:00Z" % d for d in (2, 3, 4, 5)], None),
])
def test_missed_ticks_catch_up_to_max_catchup_and_the_rest_are_skipped_in_one_event(max_catchup, fired, skipped):
    log, t = Log(), daily(max_catchup=max_catchup)
    run_schedule(t, log, at(2026, 1, 1, 12), at(2026, 1, 1, 12))
    # Down from the 1st until the 5th at noon: four ticks missed.
    back = at(2026, 1, 5, 12)
    run_schedule(t, log, back, started=back)
    run_schedule(t, log, back, started=back)  # a second pass finds nothing more
    assert fired_ticks(log) == fired
    skips = log.of("trigger_ticks_skipped")
    if skipped is None:
        assert skips == []
    else:
        (skip,) = skips
        assert (skip.first_tick.ToJsonString(), skip.last_tick.ToJsonString()) == skipped
        assert skip.max_catchup == max_catchup
    # And the next live tick fires.
    run_schedule(t, log, at(2026, 1, 6, 2), started=back)
    assert fired_ticks(log)[-1] == "daily@2026-01-06T02:00:00Z"


def test_catch_up_one_tick_per_pass_fires_as_many_as_in_one_pass():
    """A binary trigger fires one tick per pass: the others of its max_catchup are fired by the next passes."""
    log, t = Log(), daily(max_catchup=3)
    run_schedule(t, log, at(2026, 1, 1, 12), at(2026, 1, 1, 12))
    back = at(2026, 1, 5, 12)
    for _ in range(5):
        state = log.state("daily")
        skipped, firings = due_ticks(t, state, back, back, limit=1)
        assert len(firings) <= 1
        log.record([skipped] if skipped else [], back)
        for firing in firings:
            log.record(outcome(t, firing, back), back)
    assert fired_ticks(log) == ["daily@2026-01-0%dT02:00:00Z" % d for d in (3, 4, 5)]
    (skip,) = log.of("trigger_ticks_skipped")
    assert skip.first_tick.ToJsonString() == skip.last_tick.ToJsonString() == "2026-01-02T02:00:00Z"


def test_a_paused_trigger_fires_nothing_and_its_ticks_are_not_caught_up_on_resume():
    log, t = Log(), daily()
    start = at(2026, 1, 1, 12)
    run_schedule(t, log, start, start)
    log.record([pb.Event(trigger_pause_changed=pb.TriggerPauseChanged(trigger="daily", paused=True))], start)
    run_schedule(t, log, at(2026, 1, 4, 12), start)
    assert fired_ticks(log) == []
    assert next_fire_us(t, log.state("daily"), at(2026, 1, 4, 12)) is None
    # A paused trigger's timer still runs to its next tick from now (never a busy wait on past ticks).
    assert wake_us(t, log.state("daily"), at(2026, 1, 4, 12)) == at(2026, 1, 5, 2)
    log.record([pb.Event(trigger_pause_changed=pb.TriggerPauseChanged(trigger="daily", paused=False))],
               at(2026, 1, 4, 12))
    run_schedule(t, log, at(2026, 1, 4, 13), start)
    assert fired_ticks(log) == [] and log.of("trigger_ticks_skipped") == []
    run_schedule(t, log, at(2026, 1, 5, 2), start)
    assert fired_ticks(log) == ["daily@2026-01-05T02:00:00Z"]


@pytest.mark.parametrize("start, end, refs", [
    # March 29: 02:30 does not exist; it fires when the clock jumps to 03:00 CEST.
    (at(2026, 3, 27), at(2026, 3, 31), ["r/2026-03-27/0230", "r/2026-03-28/0230", "r/2026-03-29/0300",
                                         "r/2026-03-30/0230"]),
    # October 25: 02:30 happens twice; it fires once.
    (at(2026, 10, 23), at(2026, 10, 27), ["r/2026-10-23/0230", "r/2026-10-24/0230", "r/2026-10-25/0230",
                                           "r/2026-10-26/0230"]),
])
def test_a_schedule_in_a_dst_timezone_fires_each_local_day_once_across_a_switch(start, end, refs):
    log, t = Log(), daily(cron="30 2 * * *", timezone="Europe/Amsterdam", partitions=("r/{date}/{hour}{minute}",))
    run_schedule(t, log, start, start)
    for now in range(start, end, H // 4):
        run_schedule(t, log, now, start)
    assert [w.want.partitions[0] for w in log.of("want_created")] == refs


def test_data_timestamp_templates_are_read_in_the_trigger_timezone():
    t = daily(timezone="Europe/Amsterdam", data_timestamp="{date-1d}")
    (fired, want) = outcome(t, due_firing(t, at(2026, 1, 2, 1)), at(2026, 1, 2, 1))
    # The tick is 02:00 CET on the 2nd; {date-1d} is the 1st, read as midnight CET.
    assert want.want_created.want.data_timestamp.ToJsonString() == "2025-12-31T23:00:00Z"


def due_firing(t: Trigger, tick: int):
    state = pb.TriggerState(name=t.name)
    state.handled_until.FromMicroseconds(tick - 1)
    return due_ticks(t, state, tick, tick - 2)[1][0]


def available(ref: str, status: int = pb.PARTITION_STATUS_AVAILABLE) -> pb.Event:
    return pb.Event(partition_status_changed=pb.PartitionStatusChanged(ref=ref, status=status, build_id="b"))


def test_reactive_firings_are_keyed_by_event_index_so_a_re_read_fires_nothing_twice():
    """One firing per event that made matching partitions available, for all of them."""
    log, t = Log(), on_raw()
    log.record([registration(t, None, at(2026, 1, 1), 0)], at(2026, 1, 1))
    log.record([available("raw/2026-01-01/red"), available("raw/other"),
                available("raw/2026-01-01/blue", pb.PARTITION_STATUS_BUILDING),
                pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
                    refs=["raw/2026-01-02/red", "raw/2026-01-02/blue"]))], at(2026, 1, 1, 1))
    firings, through = due_partitions(t, log.state("on_raw"), log.events)
    assert [(f.firing_id, f.refs, f.ref_index) for f in firings] == [
        ("on_raw#2", ("raw/2026-01-01/red",), 2), ("on_raw#5", ("raw/2026-01-02/red", "raw/2026-01-02/blue"), 5)]
    assert through == 5 and firings[0].captures == ({"date": "2026-01-01", "color": "red"},)
    for firing in firings:
        log.record(outcome(t, firing, at(2026, 1, 1, 2)), at(2026, 1, 1, 2))
    wants = [w.want for w in log.of("want_created")]
    assert [list(w.partitions) for w in wants] == [
        ["summary/2026-01-01/red"], ["summary/2026-01-02/red"], ["summary/2026-01-02/blue"]]
    second = log.of("trigger_fired")[1]
    assert (list(second.refs), list(second.want_ids)) == (
        ["raw/2026-01-02/red", "raw/2026-01-02/blue"], [w.want_id for w in wants[1:]])
    assert [w.source.firing_id for w in wants] == ["on_raw#2", "on_raw#5", "on_raw#5"]
    assert wants[0].source.type == pb.WANT_SOURCE_TYPE_TRIGGERED and wants[0].source.name == "on_raw"
    assert wants[0].data_timestamp.ToMicroseconds() == at(2026, 1, 1, 1)  # when it became available
    # Reading the same events again (a restart, a second runner) fires nothing.
    assert due_partitions(t, log.state("on_raw"), log.events)[0] == []
    # The same partition made available again (rebuilt after a taint) is a new firing.
    log.record([available("raw/2026-01-01/red")], at(2026, 1, 1, 3))
    assert [f.firing_id for f in due_partitions(t, log.state("on_raw"), log.events)[0]] == [
        f"on_raw#{len(log.events)}"]


def test_reactive_budget_takes_whole_events():
    t = on_raw()
    state = pb.TriggerState(name="on_raw")
    state.handled_until.FromMicroseconds(1)
    events = [pb.Event(index=i, external_partitions_available=pb.ExternalPartitionsAvailable(
        refs=[f"raw/d{i}/a", f"raw/d{i}/b"])) for i in (1, 2)]
    firings, through = due_partitions(t, state, events, budget=3)
    assert [f.refs for f in firings] == [("raw/d1/a", "raw/d1/b")] and through == 1
    firings, through = due_partitions(t, state, events, budget=1)  # an event is never split
    assert [len(f.refs) for f in firings] == [2] and through == 1
    firings, through = due_partitions(t, state, events, budget=4)
    assert [f.firing_id for f in firings] == ["on_raw#1", "on_raw#2"] and through == 2


def test_a_binary_reactive_trigger_is_asked_once_per_partition_of_the_firing():
    calls = []

    def answer(who, executable, argument, timeout):
        calls.append(argument)
        return [pb.CreateWantRequest(partitions=[f"out/{argument[-1]}"])]

    t = on_raw(partitions=(), executable="/bin/trigger")
    event = pb.Event(index=4, external_partitions_available=pb.ExternalPartitionsAvailable(
        refs=["raw/d/a", "raw/flat", "raw/d/b"]))
    event.timestamp.FromMicroseconds(at(2026, 1, 1))
    (firing,), _ = due_partitions(t, pb.TriggerState(name="on_raw"), [event])
    fired, *wants = outcome(t, firing, at(2026, 1, 1), call=answer)
    assert calls == [["--partition", "raw/d/a"], ["--partition", "raw/d/b"]]
    assert [list(w.want_created.want.partitions) for w in wants] == [["out/raw/d/a"], ["out/raw/d/b"]]
    assert list(fired.trigger_fired.refs) == ["raw/d/a", "raw/d/b"] and fired.trigger_fired.firing_id == "on_raw#4"


def test_a_paused_reactive_trigger_fires_nothing():
    state = pb.TriggerState(name="on_raw", paused=True)
    assert due_partitions(on_raw(), state, [pb.Event(index=1, **{"partition_status_changed": pb.PartitionStatusChanged(
        ref="raw/d/c", status=pb.PARTITION_STATUS_AVAILABLE)})]) == ([], 0)


def test_manual_firings():
    firing = manual_firing(daily(), at(2026, 1, 9, 2), "", "cli:ann", "u-1")
    assert (firing.firing_id, firing.source, firing.requested_by) == ("daily!u-1", pb.WANT_SOURCE_TYPE_CLI, "cli:ann")
    (fired, want) = outcome(daily(), firing, at(2026, 1, 9, 5))
    assert want.want_created.want.partitions == ["reports/2026-01-08"]
    assert fired.trigger_fired.requested_by == "cli:ann" and want.want_created.want.source.firing_id == "daily!u-1"
    reactive = manual_firing(on_raw(), at(2026, 1, 9), "raw/2026-01-09/red", "api", "u-2")
    assert (reactive.refs, reactive.captures) == (("raw/2026-01-09/red",), ({"date": "2026-01-09", "color": "red"},))
    with pytest.raises(InvalidArgumentError, match="runs on a schedule"):
        manual_firing(daily(), 0, "raw/x", "api", "u")
    with pytest.raises(InvalidArgumentError, match="name the partition to fire for"):
        manual_firing(on_raw(), 0, "", "api", "u")
    with pytest.raises(InvalidArgumentError, match="matches none of trigger 'on_raw'"):
        manual_firing(on_raw(), 0, "raw/flat", "api", "u")


def test_a_binary_trigger_gets_its_tick_in_its_timezone_and_its_wants_are_validated():
    calls = []

    def call(who, executable, argument, timeout):
        calls.append((who, executable, argument, timeout))
        return [pb.CreateWantRequest(partitions=["a/1", "a/1", "b/2"], comment="from the binary")]

    t = daily(partitions=(), executable="/bin/trigger", timezone="Europe/Amsterdam", timeout_seconds=5.0)
    fired, want = outcome(t, due_firing(t, at(2026, 7, 1, 0)), at(2026, 7, 1, 0), call=call)
    assert calls == [("trigger daily", "/bin/trigger", ["2026-07-01T02:00:00+02:00"], 5.0)]
    assert want.want_created.want.partitions == ["a/1", "b/2"] and want.want_created.want.comment == "from the binary"
    reactive = on_raw(partitions=(), executable="/bin/trigger")
    outcome(reactive, manual_firing(reactive, 0, "raw/d/c", "api", "u"), 0, call=call)
    assert calls[-1][2] == ["--partition", "raw/d/c"]


def test_a_failing_binary_or_an_invalid_want_is_a_failure_event():
    def broken(who, executable, argument, timeout):
        raise TriggerProtocolError(who, "exited with code 3 for x")

    t = daily(partitions=(), executable="/bin/trigger")
    (failed,) = outcome(t, due_firing(t, at(2026, 1, 2, 2)), at(2026, 1, 2, 2), call=broken)
    assert failed.trigger_failed.firing_id == "daily@2026-01-02T02:00:00Z"
    assert failed.trigger_failed.error == "trigger daily: exited with code 3 for x"
    dated = on_raw(partitions=("w/{date}",), on=("raw/{date}",), data_timestamp="{date}")
    (bad,) = outcome(dated, manual_firing(dated, 0, "raw/latest", "api", "u"), 0)
    assert "latest" in bad.trigger_failed.error and bad.trigger_failed.firing_id == "on_raw!u"


@pytest.mark.parametrize("changes, fragment", [
    (dict(on=("raw/{x}",)), "needs either a cron or on templates, not both"),
    (dict(cron=""), "needs either a cron or on templates"),
    (dict(executable="/bin/x"), "needs either partitions or an executable, not both"),
    (dict(max_catchup=-1), "max_catchup must be an integer of 0 or more"),
    (dict(cron="0 2 * *"), "has 4 fields"),
    (dict(timezone="Nowhere/City"), "'Nowhere/City' is not an IANA time zone"),
    (dict(partitions=("r/{color}",)), "field 'color' is neither a tick field"),
])
def test_bad_declarations_are_refused(changes, fragment):
    with pytest.raises(InvalidArgumentError, match=fragment):
        daily(**changes)


def test_status_shows_the_declaration_state_and_next_tick():
    t = daily()
    state = pb.TriggerState(name="daily", last_error="boom")
    state.handled_until.FromMicroseconds(at(2026, 1, 1, 2))
    shown = status(t, state, at(2026, 1, 3, 12))
    assert (shown.kind, shown.cron, shown.state.last_error, shown.next_fire_time.ToMicroseconds()) == (
        pb.TRIGGER_KIND_SCHEDULE, "0 2 * * *", "boom", at(2026, 1, 4, 2))
    never = status(on_raw(), None, 0)
    assert never.state.name == "on_raw" and not never.HasField("next_fire_time")
    assert tick_id("daily", at(2026, 1, 4, 2)) == "daily@2026-01-04T02:00:00Z"
