"""In-memory event log (``memory://``): for unit tests and throwaway runs."""

from __future__ import annotations

import threading
from typing import Iterator, Sequence

from databuild.events.filter import EventFilter
from databuild.events.keys import Key, event_type
from databuild.events.lease import Lease, LocalLease
from databuild.events.log import (
    START, Clock, Cursor, EventLog, Page, Precondition, duplicate_event_id, not_empty, projected, system_clock,
    uuid4_batch,
)
from databuild.events.readmodel import Projection, Row, RowQuery, Term, TermMatch, row_matches
from databuild.proto import databuild_pb2 as pb


class _BufferedRows:
    """ReadModelTx over a dict; writes become visible only on ``commit``."""

    def __init__(self, rows: dict[tuple[str, str], Row], terms: dict[tuple[str, str], tuple[Term, ...]]) -> None:
        self._rows, self._terms = rows, terms
        self._pending: dict[tuple[str, str], Row] = {}

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Row]:
        found = {}
        for key in keys:
            row = self._pending.get((kind, key)) or self._rows.get((kind, key))
            if row is not None:
                found[key] = Row(row.kind, row.key, row.status, row.body)
        return found

    def put_many(self, rows: Sequence[Row]) -> None:
        for row in rows:
            self._pending[(row.kind, row.key)] = row

    def commit(self) -> None:
        for id, row in self._pending.items():
            self._rows[id] = Row(row.kind, row.key, row.status, row.body)
            if row.terms is not None:
                self._terms[id] = tuple(dict.fromkeys(row.terms))


class MemoryEventLog(EventLog):
    """Keeps events and read-model rows in process memory."""

    def __init__(self, projections: Sequence[Projection] = (), clock: Clock = system_clock) -> None:
        super().__init__(projections, clock)
        self._lock = threading.Lock()
        self._leases: dict[str, threading.Lock] = {}
        self._events: list[tuple[pb.Event, str, int, set[Key]]] = []
        self._rows: dict[tuple[str, str], Row] = {}
        self._terms: dict[tuple[str, str], tuple[Term, ...]] = {}
        self._id = uuid4_batch(1)[0]

    def _append(self, events: list[pb.Event], keys: list[set[Key]], condition: Precondition) -> list[int]:
        with self._lock:
            condition.check_latest(len(self._events))
            guard = condition.unchanged
            if guard is not None and any(k & guard.keys for *_, k in self._events[guard.since:]):
                raise condition.conflict(guard.since)
            first = len(self._events) + 1
            stored = []
            for offset, (event, event_keys) in enumerate(zip(events, keys)):
                event.index = first + offset
                copy = pb.Event()
                copy.CopyFrom(event)
                stored.append((copy, event_type(event), event.timestamp.ToMicroseconds(), event_keys))
            tx = _BufferedRows(self._rows, self._terms)
            for projection in self.projections:
                projection.apply(tx, events)
            self._events.extend(stored)
            tx.commit()
            return [e.index for e in events]

    def _list_events(self, since: int, filter: EventFilter, limit: int) -> Page:
        with self._lock:
            head = self._head()
            matched: list[pb.Event] = []
            for event, type_, ts, keys in self._events[since:]:
                if filter.matches(type_, ts, keys):
                    if len(matched) == limit:
                        return Page.of(matched, True, since, head)
                    copy = pb.Event()
                    copy.CopyFrom(event)
                    matched.append(copy)
            return Page.of(matched, False, since, head)

    def _latest_index(self) -> int:
        return len(self._events)

    def _head(self) -> Cursor:
        n = len(self._events)  # appends only extend: the event at n stays whatever comes after
        return Cursor(n, self._events[n - 1][0].event_id) if n else START

    def _event_id_at(self, index: int) -> str | None:
        return self._events[index - 1][0].event_id if index <= len(self._events) else None

    def _log_id(self) -> str:
        return self._id

    def _get_rows(self, kind: str, keys: list[str]) -> dict[str, Row]:
        with self._lock:
            return {k: self._rows[(kind, k)] for k in keys if (kind, k) in self._rows}

    def _query_rows(self, query: RowQuery) -> list[Row]:
        with self._lock:
            rows = sorted((r for id, r in self._rows.items() if row_matches(query, r, self._terms.get(id, ()))),
                          key=lambda r: r.key)
        return rows[: query.limit]

    def _count_rows(self, kind: str, statuses: tuple[int, ...], term: TermMatch | None) -> dict[int, int]:
        counts: dict[int, int] = {}
        with self._lock:
            for id, row in self._rows.items():
                if row.kind != kind or (statuses and row.status not in statuses):
                    continue
                if term is not None and not any(term.matches(t) for t in self._terms.get(id, ())):
                    continue
                counts[row.status] = counts.get(row.status, 0) + 1
        return counts

    def _count_terms(self, kind: str, term: TermMatch) -> int:
        with self._lock:
            return sum(1 for (k, _), terms in self._terms.items() if k == kind for t in terms if term.matches(t))

    def _term_entries(self, kind: str, name: str, low: str | None, high: str | None,
                      limit: int, reverse: bool, after: tuple[str, str] | None) -> list[tuple[str, str]]:
        with self._lock:
            found = sorted(
                ((value, key)
                 for (k, key), terms in self._terms.items() if k == kind
                 for n, value in terms
                 if n == name and (low is None or value >= low) and (high is None or value < high)),
                reverse=reverse,
            )
        if after is not None:
            found = [e for e in found if (e < after if reverse else e > after)]
        return found[:limit]

    def _keys_with_prefix(self, kind: str, prefix: str, limit: int) -> list[str]:
        with self._lock:
            return sorted(key for k, key in self._rows if k == kind and key.startswith(prefix))[:limit]

    def _lease(self, name: str) -> Lease:
        return LocalLease(name, self._leases, self._lock)

    def _close(self) -> None:
        self._events.clear()
        self._rows.clear()
        self._terms.clear()

    def _import(self, batches: Iterator[list[tuple[pb.Event, set[Key]]]], log_id: str) -> int:
        with self._lock:
            if self._events:
                raise not_empty(len(self._events))
            # Staged aside and kept only once every batch is in: a failed import leaves nothing.
            stored: list[tuple[pb.Event, str, int, set[Key]]] = []
            seen: set[str] = set()
            tx = _BufferedRows(self._rows, self._terms)
            for batch in batches:
                for event, event_keys in batch:
                    if event.event_id in seen:
                        raise duplicate_event_id(event.event_id, event.index)
                    seen.add(event.event_id)
                    copy = pb.Event()
                    copy.CopyFrom(event)
                    stored.append((copy, event_type(event), event.timestamp.ToMicroseconds(), event_keys))
                folded = projected(batch)
                for projection in self.projections:
                    projection.apply(tx, folded)
            self._events.extend(stored)
            tx.commit()
            self._id = log_id
            return len(self._events)

    def _get_terms(self, kind: str, keys: list[str]) -> dict[str, tuple[Term, ...]]:
        with self._lock:
            return {key: tuple(sorted(self._terms[(kind, key)])) for key in keys if self._terms.get((kind, key))}
