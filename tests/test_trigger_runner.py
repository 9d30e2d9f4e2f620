"""The trigger runner's passes, driven by the test with an injected clock (no threads, no sleeping):
registration, timers, catch-up after a restart, reactive cursors, and two runners racing on one log."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from databuild.events import EventFilter, open_event_log
from databuild.graph import TriggerSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service.triggers import FOREIGN_WRITER_CHECK_S, MAX_SLEEP_S, TriggerLoop
from databuild.state import StateProjection, StateStore
from databuild.triggers.decide import Trigger
from databuild.triggers.protocol import TriggerProtocolError
from databuild.triggers.schedule import us_of


def at(*args: int) -> int:
    return us_of(datetime(*args, tzinfo=timezone.utc))


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def store(tmp_path):
    clock = Clock(0)
    s = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()], clock))
    s.clock = clock
    yield s
    s.close()


DAILY = Trigger(TriggerSpec("daily", "//p:daily", cron="0 2 * * *", partitions=("reports/{date}",)))
ON_RAW = Trigger(TriggerSpec("on_raw", "//p:on_raw", on=("raw/{date}",), partitions=("summary/{date}",)))


def loop(store: StateStore, trigger: Trigger, started: int, clock=None, call=None) -> TriggerLoop:
    clock = clock or store.clock
    kwargs = {"call": call} if call else {}
    return TriggerLoop(trigger, store, started, (0, 0), clock, **kwargs)


def settle(runner: TriggerLoop, passes: int = 10) -> float:
    """Passes until one has nothing to do at once; that pass's wait."""
    for _ in range(passes):
        wait = runner.step()
        if wait > 0:
            return wait
    raise AssertionError("the runner kept finding work")


def kinds(store: StateStore, name: str) -> list[str]:
    return [e.WhichOneof("payload") for e in store.log.list_events(0, EventFilter(types=(name,))).events]


def firings(store: StateStore) -> list[str]:
    return [e.trigger_fired.firing_id for e in store.log.list_events(0, EventFilter(types=("trigger_fired",))).events]


def test_a_schedule_sleeps_to_its_next_tick_and_fires_it_once(store):
    store.clock.now = at(2026, 1, 1, 1, 59, 30)
    runner = loop(store, DAILY, store.clock.now)
    assert settle(runner) == 30.0  # registered, then a timer to 02:00
    store.clock.now = at(2026, 1, 1, 2, 0, 0, 5000)
    assert settle(runner) == MAX_SLEEP_S  # a day to the next tick; timers look again after at most this
    store.clock.now = at(2026, 1, 2, 1, 59, 59)
    assert settle(runner) == 1.0
    assert firings(store) == ["daily@2026-01-01T02:00:00Z"]
    (want,) = store.wants()
    assert (list(want.spec.partitions), want.spec.source.firing_id, want.status) == (
        ["reports/2026-01-01"], "daily@2026-01-01T02:00:00Z", pb.WANT_STATUS_QUEUED)


def test_a_restart_between_two_ticks_fires_each_tick_exactly_once(store):
    store.clock.now = at(2026, 1, 1, 12)
    settle(loop(store, DAILY, store.clock.now))
    store.clock.now = at(2026, 1, 2, 2, 0, 1)
    settle(loop(store, DAILY, at(2026, 1, 1, 12)))
    # The service restarts (a new runner, started now) before the next tick, and again after it.
    store.clock.now = at(2026, 1, 2, 9)
    settle(loop(store, DAILY, store.clock.now))
    store.clock.now = at(2026, 1, 3, 5)
    settle(loop(store, DAILY, store.clock.now))  # down over the 3rd's tick: caught up (max_catchup 1)
    assert firings(store) == ["daily@2026-01-02T02:00:00Z", "daily@2026-01-03T02:00:00Z"]
    assert kinds(store, "trigger_ticks_skipped") == []


def test_two_runners_racing_on_one_log_fire_a_tick_once(store):
    store.clock.now = at(2026, 1, 1, 12)
    settle(loop(store, DAILY, store.clock.now))
    store.clock.now = at(2026, 1, 2, 2)
    other = loop(store, DAILY, at(2026, 1, 1, 12))

    class Racing:
        """A's clock: the moment A has read the state, B makes the whole pass."""

        raced = False

        def __call__(self) -> int:
            if not Racing.raced:
                Racing.raced = True
                assert other.step() == 0.0 and firings(store) == ["daily@2026-01-02T02:00:00Z"]
            return store.clock.now

    first = loop(store, DAILY, at(2026, 1, 1, 12), clock=Racing())
    assert first.step() == 0.0  # its append lost the race: nothing recorded
    settle(first)
    settle(other)
    assert firings(store) == ["daily@2026-01-02T02:00:00Z"]
    assert len(store.wants()) == 1


def test_a_binary_racing_a_manual_pause_decides_again(store):
    store.clock.now = at(2026, 1, 1, 12)
    binary = Trigger(TriggerSpec("daily", "//p:daily", cron="0 2 * * *", executable="/bin/t"))
    settle(loop(store, binary, store.clock.now))
    store.clock.now = at(2026, 1, 2, 2)
    calls = []

    def pausing(who, executable, argument, timeout):
        calls.append(argument)
        if len(calls) == 1:  # while the binary runs, someone pauses the trigger
            store.log.append([pb.Event(trigger_pause_changed=pb.TriggerPauseChanged(trigger="daily", paused=True))])
        return [pb.CreateWantRequest(partitions=["x/1"])]

    settle(loop(store, binary, at(2026, 1, 1, 12), call=pausing))
    assert calls == [["2026-01-02T02:00:00+00:00"]] and firings(store) == []


def test_reactive_fires_once_per_landing_and_a_restart_reads_only_what_it_did_not_handle(store):
    store.clock.now = at(2026, 1, 1, 12)
    runner = loop(store, ON_RAW, store.clock.now)
    store.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(refs=["raw/old"]))])
    assert settle(runner) == FOREIGN_WRITER_CHECK_S  # registered after it: raw/old is not its to fire
    store.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
        refs=["raw/2026-01-01", "other/x"]))])
    settle(runner)
    landed = store.log.latest_index() - 2
    assert firings(store) == [f"on_raw#{landed}"]
    # Down: data lands with no runner; a new runner fires for it, and only for it.
    store.log.append([pb.Event(partition_status_changed=pb.PartitionStatusChanged(
        ref="raw/2026-01-02", status=pb.PARTITION_STATUS_AVAILABLE, build_id="b1"))])
    settle(loop(store, ON_RAW, store.clock.now))
    settle(loop(store, ON_RAW, store.clock.now))
    assert firings(store) == [f"on_raw#{landed}", f"on_raw#{landed + 3}"]
    assert sorted(p for w in store.wants() for p in w.spec.partitions) == ["summary/2026-01-01", "summary/2026-01-02"]
    assert {w.spec.source.type for w in store.wants()} == {pb.WANT_SOURCE_TYPE_TRIGGERED}


def test_a_paused_reactive_trigger_does_not_fire_for_what_lands_while_paused(store):
    store.clock.now = at(2026, 1, 1, 12)
    runner = loop(store, ON_RAW, store.clock.now)
    settle(runner)
    store.log.append([pb.Event(trigger_pause_changed=pb.TriggerPauseChanged(trigger="on_raw", paused=True))])
    store.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(refs=["raw/a"]))])
    settle(runner)
    store.log.append([pb.Event(trigger_pause_changed=pb.TriggerPauseChanged(trigger="on_raw", paused=False))])
    settle(runner)
    store.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(refs=["raw/b"]))])
    settle(runner)
    assert firings(store) == [f"on_raw#{store.log.latest_index() - 2}"]
    assert [p for w in store.wants() for p in w.spec.partitions] == ["summary/b"]


def test_a_failing_binary_is_recorded_and_its_trigger_goes_on_at_the_next_tick(store):
    store.clock.now = at(2026, 1, 1, 12)
    binary = Trigger(TriggerSpec("daily", "//p:daily", cron="0 2 * * *", executable="/bin/t"))
    answers = iter([RuntimeError, [pb.CreateWantRequest(partitions=["x/2"])]])

    def flaky(who, executable, argument, timeout):
        answer = next(answers)
        if answer is RuntimeError:
            raise TriggerProtocolError(who, "exited with code 1 for " + argument[0])
        return answer

    runner = loop(store, binary, store.clock.now, call=flaky)
    settle(runner)
    store.clock.now = at(2026, 1, 2, 2)
    settle(runner)
    state = store.trigger("daily")
    assert state.last_error == "trigger daily: exited with code 1 for 2026-01-02T02:00:00+00:00"
    store.clock.now = at(2026, 1, 3, 2)
    settle(runner)
    assert firings(store) == ["daily@2026-01-03T02:00:00Z"] and store.trigger("daily").last_error == ""
    assert store.trigger("daily").failures == 1
