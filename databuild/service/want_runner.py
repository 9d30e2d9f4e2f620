"""The want evaluator's runtime: wakes on events and deadlines, carries out decisions.

It follows the log from a cursor. Each wake-up reads only the new events of the
types that can move a want, finds the wants they touch through the read model's
index terms (by partition, by the partition waited for, by build), adds the wants
whose deadline came and, when build capacity was freed, the most urgent queued
ones, and evaluates just those: cost per event follows the wants it touches, never
the number of active wants. A timer runs only until the next TTL, SLA or backoff
deadline. Decisions are appended on condition that nothing they were based on (the
wants, their partitions, their builds) changed meanwhile, so two evaluators on one log
(a daemon and an in-process command) never record an outcome twice, while unrelated
appends (other builds' progress) do not force a re-decision.

Wants that need a plan are planned by a ``PlanningPool`` (job ``config`` calls, which
may hang until their timeout), never on this thread: their decision waits for the plan,
which comes back as an input of a later pass, while every other want is decided. A
running build none of whose wants is active any more (they expired) is cancelled, its
jobs' process groups killed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Callable, Iterable, NamedTuple, Protocol, Sequence

from databuild.errors import AppendConflictError, EventLogLostError
from databuild.events import REGISTRY, Clock, EventFilter, KeyKind, Unchanged, system_clock
from databuild.planner import Plan, Resolver
from databuild.proto import databuild_pb2 as pb
from databuild.service.planning import DEFAULT_PLANNERS, Planned, PlanningPool, plan_wants
from databuild.state import ACTIVE_WANT_STATUSES, IN_FLIGHT_PARTITION_STATUSES, StateStore, TERMINAL_BUILD_STATUSES
from databuild.wants import BuildOrder, Policy, WantView, decide, schedule

log = logging.getLogger(__name__)

#: The event types that can move a want, as their declarations say (``databuild.events.types``).
WAKE_TYPES = tuple(t.name for t in REGISTRY if t.wakes_wants)
#: Built once: constructing a filter checks its types, a tenth of a pass that handles one new want.
_WAKE_FILTER = EventFilter(types=WAKE_TYPES)
_NOT_BUILDING = tuple(s for s in ACTIVE_WANT_STATUSES if s != pb.WANT_STATUS_BUILDING)
_UNCLAIMED = (pb.BUILD_STATUS_RECEIVED, pb.BUILD_STATUS_PLANNING)
_SETTLED = (pb.PARTITION_STATUS_AVAILABLE, pb.PARTITION_STATUS_FAILED, pb.PARTITION_STATUS_MISSING)
#: Writers in other processes do not call our listener; this bounds how late we see them.
FOREIGN_WRITER_CHECK_S = 1.0
_BATCH = 1000
#: An appended event naming more keys than this wakes a pass without first looking which wants it touches.
_CHECK_KEYS_UP_TO = 16
#: A pass within BUSY_WITHIN_S of the previous one first waits COALESCE_S, so a stream
#: of events (wants created one by one) is handled in batches; an isolated event is not delayed.
BUSY_WITHIN_S, COALESCE_S = 0.01, 0.005


class Decisions(NamedTuple):
    """One pass's outcome: what to record, builds to start, wants to plan, wants to decide
    again at once, builds that lost their last active want, and the keys the decisions read."""

    events: list[pb.Event]
    orders: list[BuildOrder]
    to_plan: list[pb.WantState]
    again: list[str]
    unwanted: list[str]
    basis: set[tuple[KeyKind, str]]


class Builds(Protocol):
    """Where the runner's builds run (the service's executor threads)."""

    def requested_event(self, order: BuildOrder) -> pb.Event:
        """The ``build_requested`` event of ``order``; recorded by the runner with the wants' moves."""

    def start(self, order: BuildOrder, planned: Plan | None = None) -> None:
        """Run ``order`` (its request is recorded) in the background, with ``planned`` if given."""

    def running(self) -> int:
        """Builds running now."""

    def cancel_unwanted(self, build_id: str, reason: str) -> bool:
        """Cancel ``build_id`` (killing its jobs) if it runs here and no active want rides on it."""

    def add_finished_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` each time a build stops counting as running (after its final event)."""


class WantRunner:
    """Evaluates wants in a background thread; see the module docstring."""

    def __init__(
        self,
        store: StateStore,
        graph_label: str,
        resolver: Resolver,
        builds: Builds,
        policy: Policy = Policy(),
        clock_us: Clock = system_clock,
        planners: int = DEFAULT_PLANNERS,
    ) -> None:
        self.store, self.log, self.builds = store, store.log, builds
        self.policy, self.clock_us = policy, clock_us
        self._wake = threading.Condition()
        self._stopped = False
        self._cursor = self.log.latest_index()
        self._due_floor = 0
        self._again: dict[str, None] = {}  # wants to evaluate on the next pass whatever happens (guarded by _wake)
        self._urgent = False  # a plan came back or a decision asked for another look (guarded by _wake)
        self._freed = False  # a build stopped running since the last pass (guarded by _wake)
        self._requested: dict[str, frozenset[str]] = {}  # refs of the builds not claimed yet, by build
        # Indices of events this process appended whose wants the append listener already
        # found (guarded by _wake): the pass that reads them skips the lookup.
        self._examined: set[int] = set()
        # The commit time (log clock, µs) of the earliest event that woke a pass and has not led
        # to a decision yet (guarded by _wake): what the reaction listeners measure from.
        self._woken_us: int | None = None
        self._reaction_listeners: list[Callable[[float], None]] = []
        self.planning = PlanningPool(
            lambda wants: plan_wants(graph_label, wants, resolver, store.partition_statuses), self._planned, planners)
        self._thread = threading.Thread(target=self._loop, name="want-evaluator", daemon=True)
        self.log.add_listener(self._on_append, types=WAKE_TYPES, when=self._moves_a_want)
        self._recording = threading.local()  # set on this runner's thread while it records its decisions
        builds.add_finished_listener(self._build_finished)

    def start(self) -> None:
        self._thread.start()

    def add_reaction_listener(self, listener: Callable[[float], None]) -> None:
        """Call ``listener(seconds)`` each time decisions are recorded after an event that can
        move a want: the seconds from that event's commit (the earliest such event not yet
        decided on) to the decisions' commit, both by the log's clock (for metrics)."""
        self._reaction_listeners.append(listener)

    def _woke(self, timestamp_us: int) -> None:
        """An event committed at ``timestamp_us`` woke a pass (call holding ``_wake``)."""
        if self._woken_us is None or timestamp_us < self._woken_us:
            self._woken_us = timestamp_us

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        self.planning.close()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def settle(self, timeout: float = 60.0) -> bool:
        """Passes until no plan is pending and nothing is left to evaluate, for callers that
        drive the runner by hand (tests, benchmarks) instead of starting its thread; False
        if planning still ran after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.tick()
            if not self.planning.wait_idle(max(deadline - time.monotonic(), 0.0)):
                return False
            with self._wake:
                if not self._again:
                    return True

    def _planned(self, want_ids: list[str]) -> None:
        """From a planning worker: these wants have their plan; decide them on the next pass."""
        with self._wake:
            self._again.update(dict.fromkeys(want_ids))
            self._urgent = True
            self._wake.notify_all()

    def _on_append(self, latest: int) -> None:
        with self._wake:
            self._wake.notify_all()

    def _moves_a_want(self, events: list[pb.Event]) -> bool:
        """Whether events just appended in this process may move a want, so the pass they
        wake finds something to do: a build's own progress (its partitions building, then
        available to the wants riding it) wakes no pass per job. The wants found are handed
        to the next pass, which skips looking them up again; events not looked at here are
        read, from the cursor, by the next pass (at the latest FOREIGN_WRITER_CHECK_S later)."""
        found: list[tuple[int, list[str], bool]] = []
        big = False
        for event in events:
            declared = REGISTRY.of(event)
            if not declared.wakes_wants:
                continue
            if len(declared.changed(getattr(event, declared.name))) > _CHECK_KEYS_UP_TO:
                big = True  # a big batch (marked available, say): the pass reads it once, not twice
                break
            # A want this runner just decided on needs no other look for that decision: it was
            # made on the state as of the append (a conditional one), and one that asks for
            # another look says so (``again``). Marked examined, so no pass reads it back.
            own = getattr(self._recording, "active", False) and declared.changes.kind is KeyKind.WANT
            touched, ended = ([], False) if own else self._touched(event)
            # A cancellation is left for the pass to read: it releases the want's build.
            found.append((-1 if declared.name == "want_cancelled" else event.index, touched, ended))
        if found:
            with self._wake:  # once per append, not per event: a batch of 1,000 wants is one hand-over
                if self._reaction_listeners and any(touched or ended for _, touched, ended in found):
                    self._woke(events[0].timestamp.ToMicroseconds())  # one append: one commit time
                for index, touched, ended in found:
                    if index > self._cursor:  # else the pass read it already (-1: left to the pass)
                        self._examined.add(index)
                    self._again.update(dict.fromkeys(touched))
                    self._freed |= ended
        return big or any(touched or ended for _, touched, ended in found)

    def _build_finished(self) -> None:
        """A build's thread let go of its capacity. Its final event woke a pass already, which
        may have run before then and seen no room: look at the queue again."""
        with self._wake:
            self._freed = True
            self._wake.notify_all()

    # -- the loop ------------------------------------------------------------

    def _loop(self) -> None:
        self._resume()
        last_tick = 0.0
        while True:
            with self._wake:
                if self._stopped:
                    return
                if self.log.latest_index() <= self._cursor and not self._again and not self._freed:
                    self._wake.wait(self._sleep_s())
                if self._stopped:
                    return
                # Not the wants the append listener handed over (in ``_again`` too): those are
                # the stream to batch (a pass per want created one by one cost more than the
                # want's own write).
                urgent = self._urgent
            if time.monotonic() - last_tick < BUSY_WITHIN_S and not urgent:
                # Under a stream of events: one pass for several. Not when plans came back or a
                # decision asked for another look: those wants waited already.
                time.sleep(COALESCE_S)
            try:
                self.tick()
            except EventLogLostError as e:  # final: the service stops; nothing more can be decided
                log.error("want evaluator stopped: %s", e)
                return
            except Exception:  # the evaluator must outlive one bad pass; the next event retries
                log.exception("want evaluation failed")
                time.sleep(0.5)
            last_tick = time.monotonic()

    def _sleep_s(self) -> float:
        if self._again:
            return 0.0
        due = self.store.next_due_us(after_us=self._due_floor)
        if due is None:
            return FOREIGN_WRITER_CHECK_S
        return min(max((due - self.clock_us()) / 1e6, 0.0), FOREIGN_WRITER_CHECK_S)

    def _resume(self) -> None:
        """After a (re)start: every active want gets one look, in pages."""
        after = None
        while True:
            page = self.store.active_wants(after=after, limit=_BATCH)
            if page:
                self.evaluate([w.spec.want_id for w in page], resume=True)
            if len(page) < _BATCH:
                return
            after = page[-1].spec.want_id

    def tick(self) -> None:
        """One pass: new events, due deadlines, freed capacity, finished plans."""
        with self._wake:
            ids, self._again = self._again, {}
            self._urgent = False
            woken, self._woken_us = self._woken_us, None
            freed, self._freed = self._freed, False
        while not self._all_examined():
            page = self.log.list_events(self._cursor, _WAKE_FILTER, _BATCH)
            with self._wake:
                examined = {e.index for e in page.events if e.index in self._examined}
            for event in page.events:
                if event.WhichOneof("payload") == "want_cancelled":
                    self._release(event.want_cancelled.want_id)
                if event.index in examined:
                    continue
                touched, ended = self._touched(event)
                ids.update(dict.fromkeys(touched))
                freed |= ended
                if woken is None and (touched or ended):  # in index order: the first is the earliest
                    woken = event.timestamp.ToMicroseconds()
            with self._wake:
                self._cursor = page.next
                # Also those the listener marked after this page was read: behind the cursor now.
                self._examined = {i for i in self._examined if i > self._cursor}
            if not page.has_more:
                break
        now = self.clock_us()
        if now > self._due_floor:
            ids.update(dict.fromkeys(w.spec.want_id for w in self.store.wants_due(self._due_floor, now)))
            self._due_floor = now
        if freed:
            free = self.policy.max_concurrent_builds - self.builds.running()
            if free > 0:
                ids.update(dict.fromkeys(w.spec.want_id for w in self.store.queued_wants(free * 50)))
        if ids:
            # The cursor is the log's head as the pass last read it: the decisions' basis needs
            # no read of its own (a later event touching what they read still conflicts).
            self.evaluate(list(ids), woken_us=woken, latest=self._cursor)

    def _all_examined(self) -> bool:
        """Whether every event after the cursor was appended here and its wants handed over by
        the append listener (a stream of created wants): then the cursor moves to the end
        without reading them back. Any other event in the range (another process's, a job's,
        a cancellation) and the pass reads the page as usual."""
        latest = self.log.latest_index()
        with self._wake:
            if latest <= self._cursor:
                return True  # nothing after the cursor: no page to read
            if not all(i in self._examined for i in range(self._cursor + 1, latest + 1)):
                return False
            self._cursor = latest
            self._examined = {i for i in self._examined if i > latest}
            return True

    def _release(self, want_id: str) -> None:
        """A want was cancelled, perhaps by another process: stop its build if nothing else needs it."""
        want = self.store.want(want_id)
        if want is not None and want.build_id:
            self.builds.cancel_unwanted(want.build_id, f"its want {want_id} was cancelled")

    def _touched(self, event: pb.Event) -> tuple[list[str], bool]:
        """Want ids ``event`` may move, and whether it freed build capacity.

        They are found through the entity its type declares it changes: the want itself,
        the wants riding a build once it ends (which frees capacity), the active wants on
        a partition that are not building. An event that sets a partition's status moves
        them once it settles.
        """
        declared = REGISTRY.of(event)
        p = getattr(event, declared.name)
        kind, keys, status = declared.changes.kind, declared.changed(p), getattr(p, "status", None)
        if kind is KeyKind.WANT:
            return keys, False
        if kind is KeyKind.BUILD:
            ended = status in TERMINAL_BUILD_STATUSES
            return ([w.spec.want_id for b in keys for w in self.store.wants_riding(b)] if ended else []), ended
        refs = keys if status is None or status in _SETTLED else []
        # A building want is decided again when its build ends (above), not on each of its
        # partitions: else a build of N partitions re-reads the want's N partitions N times.
        return ([w.spec.want_id for w in self.store.active_wants_on(refs, _NOT_BUILDING)] if refs else []), False

    # -- evaluation ----------------------------------------------------------

    def evaluate(self, want_ids: Sequence[str], resume: bool = False, woken_us: int | None = None,
                 latest: int | None = None) -> None:
        """Decide for ``want_ids`` and carry the decisions out; retried on concurrent appends.

        Wants whose plan is ready decide with it; those that need one go to planning
        and are decided again when it is done (one whose plan is pending meanwhile is
        decided on everything but the plan: satisfied, expired, SLA). ``woken_us``: the
        commit time of the event that woke this pass, for the reaction listeners; ``latest``:
        an index of the log read before the wants' state (else read here)."""
        plans = self.planning.take(want_ids)
        for attempt in range(100):
            if attempt or latest is None:
                latest = self.log.latest_index()
            decided = self._decide_all(want_ids, plans, resume)
            try:
                recorded_us = self._carry_out(decided, Unchanged(latest, frozenset(decided.basis)), plans)
            except AppendConflictError:
                continue  # what the decisions read changed meanwhile: decide again on fresh state
            self.planning.submit(decided.to_plan)
            if decided.again:
                with self._wake:
                    self._again.update(dict.fromkeys(decided.again))
                    self._urgent = True
            self._reacted(woken_us, recorded_us, bool(decided.to_plan or decided.again))
            return
        log.warning("want evaluation of %d wants kept conflicting; retried on the next pass", len(want_ids))
        with self._wake:
            self._again.update(dict.fromkeys(want_ids))

    def _reacted(self, woken_us: int | None, recorded_us: int | None, pending: bool) -> None:
        """Tell the reaction listeners how long decisions took after the event that woke the
        pass; without a decision yet but with plans pending, the next pass measures from it."""
        if woken_us is None or not self._reaction_listeners:
            return
        if recorded_us is not None:
            for listener in self._reaction_listeners:
                listener(max(0, recorded_us - woken_us) / 1e6)
        elif pending:
            with self._wake:
                self._woke(woken_us)

    def _decide_all(self, want_ids: Sequence[str], plans: dict[str, Planned], resume: bool) -> Decisions:
        """Decisions for ``want_ids``; wants that need a plan first are left to planning."""
        now = self.clock_us()
        wants = list(self.store.wants_by_id(want_ids).values())
        parts, statuses, made, builds, basis = self._read(wants, plans)
        events, buildable, to_plan, again, unwanted = [], [], [], [], []
        for want in wants:
            building = want.status == pb.WANT_STATUS_BUILDING
            build = builds.get(want.build_id) if building else None
            if resume and building and build is None:
                build = pb.BuildState(build_id=want.build_id, status=pb.BUILD_STATUS_FAILED, executor_lost=True,
                                      message="its build was never recorded (service stopped)")
            planned = plans.get(want.spec.want_id, Planned())
            view = WantView(want, statuses, build, planned.leaves, planned.error, planned.permanent, made)
            decision = decide(view, now, self.policy)
            events += decision.events
            if decision.needs_plan:
                to_plan.append(want)
            elif decision.buildable:
                buildable.append(view)
            if decision.again:
                again.append(want.spec.want_id)
            if _left(want, decision.events):
                unwanted.append(want.build_id)
        more, orders = schedule(buildable, self._in_flight(buildable, parts), self.builds.running(), self.policy,
                                lambda: str(uuid.uuid4()))
        return Decisions(events + more, orders, to_plan, again, unwanted, basis)

    def _read(self, wants: Sequence[pb.WantState], plans: dict[str, Planned]) -> tuple[
            dict[str, pb.PartitionState], dict[str, int], dict[str, tuple[int, str]], dict[str, pb.BuildState | None],
            set[tuple[KeyKind, str]]]:
        """What decisions about ``wants`` read: the state of every partition they involve that
        has one, the status of each, how their available ones were made (event index,
        build), the builds they ride, and those keys (the basis of the conditional append)."""
        refs = sorted({r for w in wants for r in _refs_of(w, plans)})
        parts = self.store.partitions_by_ref(refs)
        statuses = {r: parts[r].status if r in parts else pb.PARTITION_STATUS_MISSING for r in refs}
        made = {r: (p.last_event_index, p.build_id) for r, p in parts.items() if p.status == pb.PARTITION_STATUS_AVAILABLE}
        builds = {b: self.store.build(b) for b in {w.build_id for w in wants if w.status == pb.WANT_STATUS_BUILDING}}
        basis = {(KeyKind.WANT, w.spec.want_id) for w in wants} | {(KeyKind.PARTITION, r) for r in refs} | {
            (KeyKind.BUILD, b) for b in builds if b}
        return parts, statuses, made, builds, basis

    def _in_flight(self, views: Iterable[WantView], parts: dict[str, pb.PartitionState]) -> dict[str, str]:
        """Missing refs of ``views`` that a live build is producing or will claim, and that
        build; ``parts``: the partitions' states as the decisions read them."""
        refs = sorted({r for v in views for r in v.missing})
        if not refs:
            return {}
        producing = {ref: parts[ref].build_id for ref in refs
                     if ref in parts and parts[ref].status in IN_FLIGHT_PARTITION_STATUSES}
        builds = {b: self.store.build(b) for b in set(producing.values())}
        live = {ref: b for ref, b in producing.items()
                if builds[b] is not None and builds[b].status not in TERMINAL_BUILD_STATUSES}
        return self._unclaimed(refs) | live

    def _unclaimed(self, refs: Sequence[str]) -> dict[str, str]:
        """Of ``refs``, those requested by a build still planning (its claim, which marks them
        scheduled, is not recorded yet), and that build: a want for one of them planned a pass
        later rides on it instead of starting a second build that would only delegate to it."""
        pending = self.store.builds(statuses=_UNCLAIMED, limit=_BATCH)
        self._requested = {b.build_id: self._requested.get(b.build_id) or frozenset(b.partitions) for b in pending}
        return {ref: b for b, requested in self._requested.items() for ref in refs if ref in requested}

    def _carry_out(self, decided: Decisions, basis: Unchanged, plans: dict[str, Planned]) -> int | None:
        """Record the decisions and each new build's request in one append, start the builds,
        and cancel those left without an active want; the decisions' commit time (µs, log
        clock), None if there were none."""
        recorded_us = None
        if decided.events or decided.orders:
            events = [self.builds.requested_event(o) for o in decided.orders] + decided.events
            self._recording.active = True
            try:
                self.log.append(events, unchanged=basis)
            finally:
                self._recording.active = False
            recorded_us = events[0].timestamp.ToMicroseconds()
        made = {id(p.plan): p.plan for p in plans.values() if p.plan is not None}.values()  # one per batch
        for order in decided.orders:
            self.builds.start(order, next((plan for plan in made if _plans_exactly(plan, order.refs)), None))
        for build_id in dict.fromkeys(decided.unwanted):
            self.builds.cancel_unwanted(build_id, "no active want needs it any more (its wants expired)")
        return recorded_us


def _plans_exactly(planned: Plan, refs: Sequence[str]) -> bool:
    """Whether ``planned`` builds just ``refs``: it asked for them, and anything else it
    asked for was available (so the executor need not plan again: one config call less
    between data landing and the first job starting)."""
    extra = set(planned.requested) - set(refs)
    return set(refs) <= set(planned.requested) and extra <= set(planned.available)


def _left(want: pb.WantState, events: Sequence[pb.Event]) -> bool:
    """Whether ``events`` end ``want``'s ride on its build: it expired while building. (A
    cancelled want's build is released when its ``want_cancelled`` event is read.)"""
    return want.status == pb.WANT_STATUS_BUILDING and any(e.WhichOneof("payload") == "want_expired" for e in events)


def _refs_of(want: pb.WantState, plans: dict[str, Planned]) -> list[str]:
    """Every partition a decision about ``want`` reads."""
    leaves = plans.get(want.spec.want_id, Planned()).leaves or []
    return [*want.spec.partitions, *want.spec.external_dependencies, *want.waiting_for, *leaves]
