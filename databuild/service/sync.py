"""Upstream sync: one loop per upstream graph, pulling its partition feed into this log.

Each loop long-polls the upstream's ``GET /api/v1/events`` from a cursor kept in this
graph's own event log, with the upstream's patterns. What became available upstream is
recorded here as ``external_partitions_available`` (naming the upstream and the
upstream event's index), an upstream taint as a local taint naming the upstream, and
the advanced cursor in the same append: effects and cursor commit together, on
condition that no other writer moved the cursor meanwhile. What is recorded follows
from the local state (a partition already available from this upstream is not
recorded again), so re-reading a page, or the whole upstream log, records nothing
twice. The evaluator wakes on those events like on any other.

The cursor carries the upstream log's id and the id of the event it points at, and
the upstream checks both: a replaced log (410 ``log_reset``) or a restored backup
written past the cursor (409 ``cursor_diverged``) makes the loop read the new log from
the start, record what is new, taint here what vanished upstream, and record the reset
with the new cursor, in one append.

Failures back off with jitter from 0.5 s to 30 s (no busy loop); the loop's state,
lag and last error are what ``GET /api/v1/upstreams`` shows.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable, Iterable, Protocol, Sequence

from databuild.errors import AppendConflictError, CursorDivergedError, DataBuildError, LogResetError, UnauthorizedError
from databuild.events import KeyKind, Unchanged
from databuild.graph import UpstreamSpec
from databuild.proto import databuild_pb2 as pb
from databuild.refs import compile_pattern
from databuild.state import StateStore

log = logging.getLogger(__name__)

#: Upstream event types that can change what this graph sees of the upstream's partitions.
FEED_TYPES = ("partition_status_changed", "external_partitions_available", "partitions_tainted")
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.5, 30.0
PAGE = 2000  # catching up costs few round trips, and each page a few ms of the upstream's time


class Feed(Protocol):
    """The part of an upstream service the loop uses (``ServiceClient`` is one)."""

    def events(self, request: pb.ListEventsRequest) -> pb.ListEventsResponse:
        """A page of the upstream's feed; long-polls with ``wait_seconds``."""


def upstream_effects(upstream: UpstreamSpec, events: Iterable[pb.Event],
                     local_status: Callable[[Sequence[str]], dict[str, pb.PartitionState]]) -> list[pb.Event]:
    """Local events recording what ``events`` (a page of the upstream's feed) changed in the
    upstream's partitions that this graph reads; nothing for what the local state already says."""
    patterns = [compile_pattern(p) for p in upstream.patterns]
    pages = list(events)
    refs = {r for e in pages for r in _refs(e) if any(p.matches(r) for p in patterns)}
    known = local_status(sorted(refs))
    # The local view as this page's events would leave it: ref -> available from this upstream.
    view = {r: s.status == pb.PARTITION_STATUS_AVAILABLE and s.upstream == upstream.name for r, s in known.items()}
    out: list[pb.Event] = []
    for e in pages:
        name = e.WhichOneof("payload")
        mine = [r for r in _refs(e) if r in refs]
        if name == "partitions_tainted":
            tainted = [r for r in mine if view.get(r)]
            for r in tainted:
                view[r] = False
            if tainted:
                out.append(pb.Event(partitions_tainted=pb.PartitionsTainted(
                    refs=tainted, reason=f"tainted upstream in {upstream.name}: {e.partitions_tainted.reason}",
                    requested_by=f"upstream:{upstream.name}")))
            continue
        if name == "partition_status_changed" and e.partition_status_changed.status != pb.PARTITION_STATUS_AVAILABLE:
            continue  # building, failed or missing upstream: nothing this graph can use
        landed = [r for r in mine if not view.get(r)]
        for r in landed:
            view[r] = True
        if landed:
            out.append(pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
                refs=landed, upstream=upstream.name, upstream_event_index=e.index)))
    return out


def available_upstream(upstream: UpstreamSpec, events: Iterable[pb.Event]) -> set[str]:
    """The refs of ``upstream``'s patterns that its whole log (``events``, in order) leaves available."""
    patterns = [compile_pattern(p) for p in upstream.patterns]
    available: set[str] = set()
    for e in events:
        name = e.WhichOneof("payload")
        refs = [r for r in _refs(e) if any(p.matches(r) for p in patterns)]
        if name == "partitions_tainted" or (name == "partition_status_changed"
                                            and e.partition_status_changed.status != pb.PARTITION_STATUS_AVAILABLE):
            available.difference_update(refs)
        else:
            available.update(refs)
    return available


def _refs(event: pb.Event) -> list[str]:
    name = event.WhichOneof("payload")
    if name == "partition_status_changed":
        return [event.partition_status_changed.ref]
    if name in ("external_partitions_available", "partitions_tainted"):
        return list(getattr(event, name).refs)
    return []


class UpstreamSync:
    """The sync loop of one upstream, on a thread of its own; see the module docstring."""

    def __init__(self, store: StateStore, upstream: UpstreamSpec, feed: Feed, wait_seconds: float = 25.0,
                 rng: random.Random | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store, self.upstream, self.feed = store, upstream, feed
        self.wait_seconds, self.rng, self.clock = wait_seconds, rng or random.Random(), clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._status = pb.UpstreamStatus(name=upstream.name, url=upstream.url, patterns=upstream.patterns,
                                         state=pb.UPSTREAM_SYNC_STATE_STARTING, cursor=self._stored_cursor())
        self._thread = threading.Thread(target=self._loop, name=f"sync-{upstream.name}", daemon=True)
        #: Failed requests and log resets since this loop was made (guarded by ``_lock``), for metrics.
        self._errors = self._resets = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)  # a long-poll in flight is abandoned: the thread is a daemon

    def describe(self) -> str:
        """The sync's state in words, for explanations ("unreachable since ..., retrying")."""
        s = self.status()
        if s.state == pb.UPSTREAM_SYNC_STATE_OK:
            return f"synced, {s.lag_events} events behind" if s.lag_events else "synced"
        if s.state == pb.UPSTREAM_SYNC_STATE_STARTING:
            return "connecting"
        what = "refusing our token" if s.state == pb.UPSTREAM_SYNC_STATE_UNAUTHORISED else "unreachable"
        since = s.failing_since.ToDatetime().strftime("%Y-%m-%d %H:%M:%SZ")
        return f"{what} since {since} ({s.consecutive_failures} failures), retrying: {s.last_error}"

    def status(self) -> pb.UpstreamStatus:
        with self._lock:
            out = pb.UpstreamStatus()
            out.CopyFrom(self._status)
        if out.HasField("last_success") and out.lag_events > 0:
            out.lag_seconds = max(0.0, self.clock() - out.last_success.ToMicroseconds() / 1e6)
        return out

    def counts(self) -> tuple[int, int]:
        """Failed requests and upstream log resets (replaced or restored) since this loop was made."""
        with self._lock:
            return self._errors, self._resets

    def _stored_cursor(self) -> int:
        return self._stored().next_index

    def _stored(self) -> pb.UpstreamState:
        return self.store.upstream(self.upstream.name) or pb.UpstreamState(upstream=self.upstream.name)

    def _loop(self) -> None:
        first = True  # answered at once, so the state is known without waiting out a long-poll
        while not self._stop.is_set():
            try:
                self.step(0 if first else None)
                first = False
            except DataBuildError as e:
                self._failed(e)
            except Exception as e:  # the loop must outlive one bad page; the failure is shown and retried
                log.exception("sync with upstream %s failed", self.upstream.name)
                self._failed(e)

    def step(self, wait_seconds: float | None = None) -> int:
        """One request to the upstream and what it brought recorded; the number of local events."""
        stored = self._stored()
        since_local = self.store.log.latest_index()
        try:
            page = self.feed.events(self._request(stored.next_index, stored.log_id, stored.next_event_id,
                                                  self.wait_seconds if wait_seconds is None else wait_seconds))
        except (LogResetError, CursorDivergedError) as e:
            return self._reset(since_local, e)
        effects = upstream_effects(self.upstream, page.events, self.store.partitions_by_ref)
        recorded = 0
        if effects or page.next != stored.next_index or page.log_id != stored.log_id:
            if not self._record(since_local, [*effects, self._advanced(page)]):
                return 0
            recorded = len(effects)
        self._succeeded(page)
        return recorded

    def _request(self, since: int, log_id: str, cursor_event_id: str, wait: float) -> pb.ListEventsRequest:
        return pb.ListEventsRequest(since=since, patterns=self.upstream.patterns, types=FEED_TYPES, limit=PAGE,
                                    wait_seconds=wait, log_id=log_id, cursor_event_id=cursor_event_id)

    def _advanced(self, page: pb.ListEventsResponse, reset: str = "") -> pb.Event:
        return pb.Event(upstream_cursor_advanced=pb.UpstreamCursorAdvanced(
            upstream=self.upstream.name, url=self.upstream.url, next_index=page.next, log_id=page.log_id,
            next_event_id=page.next_event_id, reset=reset))

    def _record(self, since_local: int, events: list[pb.Event]) -> bool:
        """Append ``events`` unless another writer moved this upstream's cursor since ``since_local``."""
        try:
            self.store.log.append(events, unchanged=Unchanged(
                since_local, frozenset({(KeyKind.UPSTREAM, self.upstream.name)})))
            return True
        except AppendConflictError:
            log.info("cursor of upstream %s moved meanwhile (another sync loop): reading again", self.upstream.name)
            return False

    def _mirrored(self) -> list[str]:
        """The partitions available here because this upstream said so."""
        out: list[str] = []
        for pattern in self.upstream.patterns:
            after = None
            while True:
                page = self.store.partitions(pattern, [pb.PARTITION_STATUS_AVAILABLE], after, PAGE)
                out += [p.ref for p in page if p.upstream == self.upstream.name]
                if len(page) < PAGE:
                    break
                after = page[-1].ref
        return out

    def _reset(self, since_local: int, why: DataBuildError) -> int:
        """The upstream log was replaced: read it all again, record what is new, taint what vanished."""
        with self._lock:
            self._status.state, self._status.last_error = pb.UPSTREAM_SYNC_STATE_RESET, f"{why.code}: {why}"
            self._resets += 1
        events, since = [], 0
        while True:
            page = self.feed.events(self._request(since, "", "", 0))
            events += page.events
            since = page.next
            if not page.has_more:
                break
        effects = upstream_effects(self.upstream, events, self.store.partitions_by_ref)
        still = available_upstream(self.upstream, events)
        mine = [ref for ref in self._mirrored() if ref not in still]
        vanished = [pb.Event(partitions_tainted=pb.PartitionsTainted(
            refs=mine, reason=f"vanished from upstream {self.upstream.name} (its log was replaced)",
            requested_by=f"upstream:{self.upstream.name}"))] if mine else []
        reason = f"{why.code}: {why}"
        log.warning("upstream %s: %s; read its log again (%d events recorded, %d partitions tainted)",
                    self.upstream.name, reason, len(effects), len(mine))
        if not self._record(since_local, [*effects, *vanished, self._advanced(page, reset=reason)]):
            return 0
        self._succeeded(page)
        return len(effects) + len(vanished)

    def _succeeded(self, page: pb.ListEventsResponse) -> None:
        with self._lock:
            s = self._status
            s.state, s.cursor, s.last_error, s.consecutive_failures = pb.UPSTREAM_SYNC_STATE_OK, page.next, "", 0
            s.ClearField("failing_since")
            s.head = page.next if not page.has_more else max(s.head, page.next)
            s.lag_events = max(0, s.head - page.next)
            s.last_success.FromMicroseconds(int(self.clock() * 1e6))

    def _failed(self, error: Exception) -> None:
        with self._lock:
            s = self._status
            s.consecutive_failures += 1
            self._errors += 1
            if s.consecutive_failures == 1:
                s.failing_since.FromMicroseconds(int(self.clock() * 1e6))
            s.state = (pb.UPSTREAM_SYNC_STATE_UNAUTHORISED if isinstance(error, UnauthorizedError)
                       else pb.UPSTREAM_SYNC_STATE_BACKOFF)
            s.last_error = f"{type(error).__name__}: {error}"
            failures = s.consecutive_failures
        self._stop.wait(backoff_s(failures, self.rng))


def backoff_s(failures: int, rng: random.Random) -> float:
    """The wait after ``failures`` failures in a row: doubling from 0.5 s, at most 30 s, jittered."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** max(0, failures - 1))
    return rng.uniform(max(BACKOFF_MIN_S, ceiling / 2), ceiling)
