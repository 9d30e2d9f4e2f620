"""The trigger runner: fires the graph's triggers in the service `serve` and the daemon run
(docs/triggers.md); a ``--local`` command fires none.

Each trigger has a thread of its own, so a trigger binary running until its timeout
holds up only its own trigger, never another trigger, the evaluator or a request:

- a schedule trigger sleeps on a timer until its next tick (``threading.Event.wait``
  with that timeout; a pause, resume or manual firing in this service wakes it early);
- a reactive trigger wakes on this process's appends (the log's commit listener) and
  reads the events after its cursor through an indexed filter (the ``on`` templates as
  globs); a writer in another process is seen within a second, as by the evaluator.

A pass reads the trigger's state and the log's latest index, registers a trigger seen
for the first time, decides what is due (``databuild.triggers.decide``), resolves each
firing's wants (templates, or the binary with its timeout) and appends the outcome (the
firing and its ``want_created`` events, a failure, skipped ticks) on condition that no
event of the trigger was recorded since it read the state. If one was (another runner
on the log, a pause or a manual firing), the pass reads again and decides again: no
tick or partition fires twice. The want evaluator wakes on the created wants as on
wants created over HTTP: they are ``want_created`` events of the same append.
"""

from __future__ import annotations

import logging
import threading
from typing import Sequence

from databuild.errors import AppendConflictError, EventLogLostError
from databuild.events import Clock, KeyKind, Unchanged, system_clock
from databuild.proto import databuild_pb2 as pb
from databuild.state import StateStore
from databuild.triggers.decide import (
    REACTIVE_TYPES, FireCall, Trigger, due_partitions, due_ticks, outcome, registration, wake_us,
)
from databuild.triggers.protocol import call_fire

log = logging.getLogger(__name__)

#: Writers in other processes do not call our listener; a reactive trigger looks this often.
FOREIGN_WRITER_CHECK_S = 1.0
#: Longest timer: a clock set back (or forward) is noticed by then.
MAX_SLEEP_S = 300.0
#: Wait after a pass failed (storage busy, a bug), before the next.
RETRY_S = 1.0
#: Events a reactive pass reads at most.
PAGE = 1000


class TriggerLoop:
    """One trigger's passes and its thread; see the module docstring.

    ``started_us``: when the runner started; ticks before it were missed (catch-up rules).
    ``defaults``: the graph's (TTL, SLA) for wants of triggers that set none.
    """

    def __init__(self, trigger: Trigger, store: StateStore, started_us: int, defaults: tuple[int, int] = (0, 0),
                 clock_us: Clock = system_clock, call: FireCall = call_fire) -> None:
        self.trigger, self.store, self.log = trigger, store, store.log
        self.started_us, self.defaults, self.clock_us, self.call = started_us, defaults, clock_us, call
        self._key = frozenset({(KeyKind.TRIGGER, trigger.name)})
        self._read = 0  # reactive: events up to here were read and had nothing left to fire
        # A binary may take until its timeout: one firing per pass, so a lost race redoes one call.
        self._budget = 1 if trigger.spec.executable else None
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"trigger-{trigger.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop after the pass in progress (a binary call in flight is left to its timeout)."""
        self._stopped = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wake(self) -> None:
        """Run a pass now (something about the trigger or the log changed)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.clear()  # before the pass: a wake during it is not lost
            try:
                wait = self.step()
            except EventLogLostError as e:  # final: the service stops
                log.error("trigger %s stopped: %s", self.trigger.name, e)
                return
            except Exception:  # a trigger must outlive one bad pass; the next retries
                log.exception("trigger %s: pass failed", self.trigger.name)
                wait = RETRY_S
            if wait > 0 and not self._stopped:
                self._wake.wait(wait)

    def step(self) -> float:
        """One pass; the seconds until the next is due (0: at once)."""
        since = self.log.latest_index()
        state = self.store.trigger(self.trigger.name)
        now = self.clock_us()
        registering = registration(self.trigger, state, now, since)
        if registering is not None:
            self._append([registering], since)
            return 0.0
        if self.trigger.schedule is not None:
            return self._scheduled(state, since, now)
        return self._reactive(state, since)

    def _append(self, events: Sequence[pb.Event], since: int) -> bool:
        """Record ``events`` unless an event of this trigger came after ``since``; False if one did."""
        try:
            self.log.append(events, unchanged=Unchanged(since, self._key))
            return True
        except AppendConflictError:
            log.info("trigger %s: recorded elsewhere meanwhile; deciding again", self.trigger.name)
            return False

    def _outcomes(self, firings) -> list[pb.Event]:
        now = self.clock_us()
        return [e for firing in firings for e in outcome(self.trigger, firing, now, self.defaults, self.call)]

    def _scheduled(self, state: pb.TriggerState, since: int, now: int) -> float:
        limit = {} if self._budget is None else {"limit": self._budget}
        skipped, firings = due_ticks(self.trigger, state, now, self.started_us, **limit)
        events = ([skipped] if skipped else []) + self._outcomes(firings)
        if events:
            self._append(events, since)
            return 0.0  # next pass: the new state's next tick (or what a lost race left)
        wake = wake_us(self.trigger, state, now)
        return min(max((wake - self.clock_us()) / 1e6, 0.0), MAX_SLEEP_S)

    def _reactive(self, state: pb.TriggerState, since: int) -> float:
        if state.paused:
            return FOREIGN_WRITER_CHECK_S
        page = self.log.list_events(max(state.handled_index, self._read), self.trigger.events, PAGE)
        budget = {} if self._budget is None else {"budget": self._budget}
        firings, through = due_partitions(self.trigger, state, page.events, **budget)
        if firings and not self._append(self._outcomes(firings), since):
            return 0.0  # another writer got there first: read its outcome, decide again
        taken_all = not page.events or through == page.events[-1].index
        self._read = page.next if taken_all else through
        return 0.0 if page.has_more or not taken_all else FOREIGN_WRITER_CHECK_S


class TriggerRunner:
    """The graph's triggers, each on its own thread (``TriggerLoop``); see the module docstring."""

    def __init__(self, store: StateStore, triggers: Sequence[Trigger], defaults: tuple[int, int] = (0, 0),
                 clock_us: Clock = system_clock, call: FireCall = call_fire) -> None:
        self.store, self.triggers, self.defaults, self.clock_us, self.call = store, triggers, defaults, clock_us, call
        self.loops: dict[str, TriggerLoop] = {}
        # Only appends that may make partitions available wake the reactive triggers.
        store.log.add_listener(self._on_append, types=REACTIVE_TYPES)

    def start(self) -> None:
        """Start every trigger's thread; ticks before now count as missed."""
        started = self.clock_us()
        self.loops = {t.name: TriggerLoop(t, self.store, started, self.defaults, self.clock_us, self.call)
                      for t in self.triggers}
        for loop in self.loops.values():
            loop.start()

    def stop(self) -> None:
        for loop in self.loops.values():
            loop.stop()

    def wake(self, name: str) -> None:
        """Run trigger ``name``'s pass now (it was paused, resumed or fired here)."""
        loop = self.loops.get(name)
        if loop is not None:
            loop.wake()

    def _on_append(self, latest: int) -> None:
        for loop in self.loops.values():
            if loop.trigger.schedule is None:
                loop.wake()
