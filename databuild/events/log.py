"""The build event log interface every backend implements."""

from __future__ import annotations

import abc
import contextlib
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Collection, ContextManager, Iterable, Iterator, Sequence

from databuild.errors import (
    AppendConflictError, ConflictError, EventLogClosedError, EventLogLostError, InvalidArgumentError,
    InvalidEventError, NotFoundError, UnsupportedBackendError,
)
from databuild.events.filter import ALL_EVENTS, EventFilter
from databuild.events.keys import Key
from databuild.events.lease import Lease, check_lease_name
from databuild.events.readmodel import Projection, Row, RowQuery, Term, TermMatch
from databuild.events.types import EVENT_SCHEMA_VERSION, upcast
from databuild.events.validate import validate_event
from databuild.proto import databuild_pb2 as pb

MAX_PAGE_SIZE = 10_000
#: Events an import hands its backend at a time (each batch projected as one).
IMPORT_BATCH = 1000

#: Returns the current time as UTC microseconds since the epoch.
Clock = Callable[[], int]


def system_clock() -> int:
    """Wall-clock time in UTC microseconds."""
    return time.time_ns() // 1000


def uuid4_batch(n: int) -> list[str]:
    """``n`` random (version 4) UUID strings from one ``urandom`` call.

    ``uuid.uuid4()`` costs a system call and object construction per id, a
    measurable share of batched appends.
    """
    raw = bytearray(os.urandom(16 * n))
    out = []
    for i in range(0, 16 * n, 16):
        raw[i + 6] = (raw[i + 6] & 0x0F) | 0x40  # version 4
        raw[i + 8] = (raw[i + 8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw[i : i + 16].hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


@dataclass(frozen=True)
class Cursor:
    """A position in a log: an index and the id of the event there ("" at index 0)."""

    index: int
    event_id: str


START = Cursor(0, "")


@dataclass(frozen=True)
class Page:
    """One page of events. Pass ``next`` as ``since`` to continue after it.

    ``head`` is the log's latest index when the page was read (same snapshot), and
    ``next_event_id`` the id of the event at ``next`` ("" if there is none), so a
    follower can later check that its cursor still names the same event.
    """

    events: list[pb.Event]
    next: int
    has_more: bool
    head: int
    next_event_id: str

    @classmethod
    def of(cls, events: list[pb.Event], has_more: bool, since: int, head: Cursor) -> "Page":
        """The page of ``events`` read after ``since`` when the log ended at ``head``."""
        if has_more:
            return cls(events, events[-1].index, True, head.index, events[-1].event_id)
        if since > head.index:
            return cls(events, since, False, head.index, "")
        return cls(events, head.index, False, head.index, head.event_id)


@dataclass(frozen=True)
class Unchanged:
    """A precondition: no event after index ``since`` has any of ``keys``."""

    since: int
    keys: frozenset[Key]


@dataclass(frozen=True)
class Precondition:
    """What must hold, inside the append transaction, for a conditional append."""

    latest: int | None = None
    unchanged: Unchanged | None = None

    def check_latest(self, latest: int) -> None:
        if self.latest is not None and self.latest != latest:
            raise AppendConflictError(f"expected the event log to end at index {self.latest}, but it ends at {latest}")

    def conflict(self, since: int) -> AppendConflictError:
        return AppendConflictError(f"events after index {since} touched what this append depends on")


class EventLog(abc.ABC):
    """Append-only, indexed log of ``databuild.v1.Event``.

    ``append`` fills in ``index`` (gap-free, increasing in commit order),
    ``event_id`` (a UUID, unless the caller set one), ``timestamp`` (from the
    injected clock) and ``schema_version`` on the given messages, and updates every
    registered projection's rows in the same transaction.

    Storage faults raise StorageError naming the file (EventLogBusyError when another
    writer held it too long); the next call tries again, so the log recovers when the
    cause goes. A file deleted or replaced under the open log is final: every later
    call raises EventLogLostError and the fatal listeners are told once.
    """

    def __init__(self, projections: Sequence[Projection] = (), clock: Clock = system_clock) -> None:
        names = [p.name for p in projections]
        if len(set(names)) != len(names):
            raise InvalidArgumentError(f"projection names must be unique, got {names}")
        self.projections: tuple[Projection, ...] = tuple(projections)
        self.clock = clock
        self._closed = False
        self._listeners: list[tuple[Callable[[int], None], frozenset[str], Callable[[list[pb.Event]], bool] | None]] = []
        self._fatal_listeners: list[Callable[[EventLogLostError], None]] = []
        self._observers: list[Callable[[list[pb.Event], float], None]] = []
        self._lost: EventLogLostError | None = None
        self._lost_lock = threading.Lock()

    def add_listener(self, listener: Callable[[int], None], types: Collection[str] = (),
                     when: Callable[[list[pb.Event]], bool] | None = None) -> None:
        """Call ``listener(latest_index)`` after each append of this process commits; with
        ``types``, only after those holding an event of one of these types; with ``when``,
        only if ``when(events)`` holds for the appended events (it runs in the appending thread).

        For waking waiters (long-polling feeds, the want evaluator, reactive triggers)
        without polling; appends by other processes are not seen.
        """
        self._listeners.append((listener, frozenset(types), when))

    def add_append_observer(self, observer: Callable[[list[pb.Event], float], None]) -> None:
        """Call ``observer(events, seconds)`` in the appending thread after each append of this
        object commits and its listeners ran: the events (indexed and stamped) and how long
        the append took, validation, transaction with its read models and listeners included
        (for metrics). Failed appends are not observed."""
        self._observers.append(observer)

    def add_fatal_listener(self, listener: Callable[[EventLogLostError], None]) -> None:
        """Call ``listener(error)`` once, from the thread that noticed, when the log is
        lost for good (its file deleted or replaced): a service stops on it."""
        self._fatal_listeners.append(listener)

    def check_storage(self) -> None:
        """Raise StorageError if the log's storage is unusable (for periodic checks:
        every other call checks too)."""
        self._check_open()
        with self._storage():
            pass

    # -- public API --------------------------------------------------------

    def append(self, events: Sequence[pb.Event], expect_latest: int | None = None,
               unchanged: Unchanged | None = None) -> list[int]:
        """Append ``events`` atomically; return their indices.

        Optimistic concurrency (decide from state read at some index, then commit the
        decision only if nothing relevant happened meanwhile), else AppendConflictError:
        with ``expect_latest``, append only if the log still ends at that index; with
        ``unchanged``, only if no event after ``unchanged.since`` has one of its keys.
        Raises InvalidEventError / InvalidRefError (nothing written) for a malformed
        event, EventLogBusyError if the log stayed locked past the busy timeout.
        """
        self._check_open()
        start = time.perf_counter()
        events = list(events)
        keys = [validate_event(event, position) for position, event in enumerate(events)]
        if not events:
            return []
        now = self.clock()
        fresh_ids = iter(uuid4_batch(sum(1 for e in events if not e.event_id)))
        for event in events:
            if not event.event_id:
                event.event_id = next(fresh_ids)
            event.timestamp.FromMicroseconds(now)
            event.schema_version = EVENT_SCHEMA_VERSION
        try:
            with self._storage():
                indices = self._append(events, keys, Precondition(expect_latest, unchanged))
        except BaseException:
            for event in events:
                event.index = 0
            raise
        appended: set[str] | None = None
        for listener, types, when in self._listeners:
            if types:
                appended = appended or {e.WhichOneof("payload") for e in events}
                if types.isdisjoint(appended):
                    continue
            if when is None or when(events):
                listener(indices[-1])
        if self._observers:
            seconds = time.perf_counter() - start
            for observer in self._observers:
                observer(events, seconds)
        return indices

    def list_events(self, since: int = 0, filter: EventFilter = ALL_EVENTS, limit: int = 1000) -> Page:
        """Events with index > ``since`` matching ``filter``, in index order.

        ``next`` is the index to pass as ``since`` for the following page. When
        ``has_more`` is false it is the log's latest index at query time, so a
        follower does not rescan non-matching events. ``head`` and ``next_event_id``
        come from the same snapshot (see ``Page``). Events written at an older
        ``schema_version`` are returned upcast to the current one (see ``types``).
        """
        self._check_open()
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise InvalidArgumentError(f"since must be a non-negative integer, got {since!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidArgumentError(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}, got {limit!r}")
        with self._storage():
            page = self._list_events(since, filter, limit)
        for event in page.events:
            upcast(event)
        return page

    def latest_index(self) -> int:
        """Index of the newest event, 0 for an empty log."""
        self._check_open()
        with self._storage():
            return self._latest_index()

    def head(self) -> Cursor:
        """The newest event's index and id, read together (``START`` for an empty log)."""
        self._check_open()
        with self._storage():
            return self._head()

    def event_id_at(self, index: int) -> str:
        """The id of the event at ``index`` ("" for index 0); NotFoundError beyond the log's end."""
        self._check_open()
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise InvalidArgumentError(f"an event index must be a non-negative integer, got {index!r}")
        if index == 0:
            return ""
        with self._storage():
            found = self._event_id_at(index)
        if found is None:
            raise NotFoundError(f"the event log has no event at index {index}")
        return found

    @property
    def log_id(self) -> str:
        """This log's identity: a UUID made when the log was created and stored with it,
        so a follower can tell a replaced log (a restored backup, a new file) from its own."""
        self._check_open()
        return self._log_id()

    def get_row(self, kind: str, key: str) -> Row | None:
        """The read-model row ``(kind, key)``, if any."""
        return self.get_rows(kind, [key]).get(key)

    def get_rows(self, kind: str, keys: Sequence[str]) -> dict[str, Row]:
        """Read-model rows of ``kind`` for those ``keys`` that exist."""
        self._check_open()
        keys = list(keys)
        if not keys:  # nothing to ask a server for (a pass with nothing due)
            return {}
        with self._storage():
            return self._get_rows(kind, keys)

    def query_rows(self, query: RowQuery) -> list[Row]:
        """Read-model rows matching ``query``, in key order."""
        self._check_open()
        _check_page_size(query.limit)
        with self._storage():
            return self._query_rows(query)

    def query_rows_each(self, queries: Sequence[RowQuery]) -> list[list[Row]]:
        """``query_rows`` of each of ``queries`` (independent of one another), in their order:
        a server backend sends them together, one round trip for all."""
        self._check_open()
        for query in queries:
            _check_page_size(query.limit)
        with self._storage():
            return self._query_rows_each(list(queries))

    def count_rows(self, kind: str, statuses: Sequence[int] = (), term: TermMatch | None = None) -> dict[int, int]:
        """How many read-model rows of ``kind`` there are by status (statuses with none left
        out): only those with one of ``statuses`` if given, and with a term matching ``term``
        if given (each row counted once). One aggregate over the status index (or the term's
        entries), no row read: for counts a monitor asks for on every scrape."""
        self._check_open()
        with self._storage():
            return self._count_rows(kind, tuple(statuses), term)

    def count_terms(self, kind: str, term: TermMatch) -> int:
        """How many term entries of rows of ``kind`` match ``term``: a range of the terms'
        index, no row read, cost following the matches. A row with several matching entries
        counts for each; for a term a row has at most one of (a deadline, a flag), that is
        the number of rows."""
        self._check_open()
        with self._storage():
            return self._count_terms(kind, term)

    def term_entries(self, kind: str, name: str, low: str | None = None, high: str | None = None,
                     limit: int = 1000, reverse: bool = False,
                     after: tuple[str, str] | None = None) -> list[tuple[str, str]]:
        """``(value, key)`` of rows of ``kind`` with a term ``name`` valued in ``[low, high)``,
        by value then key (descending with ``reverse``); page on with ``after`` = the
        last entry of the previous page.

        E.g. the wants whose deadline passed: ``term_entries("want", "due", high=now)``.
        """
        self._check_open()
        _check_page_size(limit)
        with self._storage():
            return self._term_entries(kind, name, low, high, limit, reverse, after)

    def keys_with_prefix(self, kind: str, prefix: str, limit: int) -> list[str]:
        """Keys of read-model rows of ``kind`` starting with ``prefix``, in key order, at most
        ``limit``: a range of the row index (for ids typed shortened), never a scan of the kind."""
        self._check_open()
        if not prefix:
            raise InvalidArgumentError("a key prefix must not be empty")
        _check_page_size(limit)
        with self._storage():
            return self._keys_with_prefix(kind, prefix, limit)

    def release_memory(self) -> int:
        """Give back what the backend caches for reading while its threads are idle (SQLite:
        the page cache of each thread's connection), e.g. once a build ended; how many caches
        it freed. Threads inside a call keep theirs; later reads fill the caches again."""
        if self._closed:
            return 0
        return self._release_memory()

    def lease(self, name: str) -> Lease:
        """A new holder's handle on the log's lease ``name`` (``databuild.events.lease``):
        what makes one of the processes sharing this log the one running a singleton."""
        self._check_open()
        return self._lease(check_lease_name(name))

    def close(self) -> None:
        """Release the backend's resources; later calls raise EventLogClosedError."""
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> "EventLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise EventLogClosedError("the event log is closed")
        if self._lost is not None:
            raise self._lost

    def _lose(self, error: EventLogLostError) -> EventLogLostError:
        """Mark the log lost (first error wins) and tell the fatal listeners once."""
        with self._lost_lock:
            first = self._lost is None
            if first:
                self._lost = error
        if first:
            for listener in self._fatal_listeners:
                listener(error)
        return self._lost

    # -- backend hooks -----------------------------------------------------

    def _storage(self) -> ContextManager[None]:
        """Around every backend call: check the storage, name its faults (StorageError)."""
        return contextlib.nullcontext()

    def _release_memory(self) -> int:
        """Free read caches of idle threads (a backend without any: nothing)."""
        return 0

    @abc.abstractmethod
    def _lease(self, name: str) -> Lease: ...

    @abc.abstractmethod
    def _append(self, events: list[pb.Event], keys: list[set[Key]], condition: Precondition) -> list[int]:
        """Assign indices, store events, their keys and projection rows in one transaction.

        Raise AppendConflictError (writing nothing) if ``condition`` does not hold
        inside that transaction.
        """

    @abc.abstractmethod
    def _list_events(self, since: int, filter: EventFilter, limit: int) -> Page: ...

    @abc.abstractmethod
    def _latest_index(self) -> int: ...

    @abc.abstractmethod
    def _head(self) -> Cursor: ...

    @abc.abstractmethod
    def _event_id_at(self, index: int) -> str | None: ...

    @abc.abstractmethod
    def _log_id(self) -> str: ...

    @abc.abstractmethod
    def _get_rows(self, kind: str, keys: list[str]) -> dict[str, Row]: ...

    @abc.abstractmethod
    def _query_rows(self, query: RowQuery) -> list[Row]: ...

    def _query_rows_each(self, queries: list[RowQuery]) -> list[list[Row]]:
        return [self._query_rows(query) for query in queries]

    @abc.abstractmethod
    def _count_rows(self, kind: str, statuses: tuple[int, ...], term: TermMatch | None) -> dict[int, int]: ...

    @abc.abstractmethod
    def _count_terms(self, kind: str, term: TermMatch) -> int: ...

    @abc.abstractmethod
    def _term_entries(self, kind: str, name: str, low: str | None, high: str | None,
                      limit: int, reverse: bool, after: tuple[str, str] | None) -> list[tuple[str, str]]: ...

    @abc.abstractmethod
    def _keys_with_prefix(self, kind: str, prefix: str, limit: int) -> list[str]: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    # -- moving a log between backends (bel export / import / verify) ------

    def import_events(self, events: Iterable[pb.Event], log_id: str, batch_size: int = IMPORT_BATCH) -> int:
        """Load another log's ``events`` into this empty log as they were; return the new head.

        Unlike ``append``, each event keeps its own ``index``, ``event_id``, ``timestamp`` and
        ``schema_version``, and this log takes ``log_id`` (so followers' cursors of the source
        stay valid here). The indices must run 1, 2, 3, ... without a gap and the event ids be
        unique. ``events`` is consumed lazily, ``batch_size`` at a time, each batch projected
        into the read models as an append would; all of it is one transaction: on any error
        (InvalidEventError naming the event, ConflictError if the log is not empty) nothing
        is kept. Listeners and observers are not told (an import is an offline operation).
        """
        self._check_open()
        if not isinstance(log_id, str) or not log_id.strip():
            raise InvalidArgumentError(f"an imported log needs the source's log_id, got {log_id!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_PAGE_SIZE:
            raise InvalidArgumentError(f"batch_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {batch_size!r}")
        with self._storage():
            head = self._import(_batches(_checked_imports(events), batch_size), log_id)
        return head

    def get_terms(self, kind: str, keys: Sequence[str]) -> dict[str, tuple[Term, ...]]:
        """The secondary index terms of the read-model rows ``(kind, key)`` for ``keys``, sorted;
        a key without terms is left out (for ``bel verify``, which compares them)."""
        self._check_open()
        with self._storage():
            return self._get_terms(kind, list(keys))

    def _import(self, batches: Iterator[list[tuple[pb.Event, set[Key]]]], log_id: str) -> int:
        """Store the checked ``batches`` (events with their keys, indices already 1..N) and
        their projection rows, set the log id, all in one transaction; refuse a log that is
        not empty (ConflictError naming its head) or a duplicate event id; return the head."""
        raise UnsupportedBackendError(f"{type(self).__name__} cannot import events yet")

    def _get_terms(self, kind: str, keys: list[str]) -> dict[str, tuple[Term, ...]]:
        raise UnsupportedBackendError(f"{type(self).__name__} cannot list read-model terms yet")


def _check_page_size(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(f"limit must be from 1 to {MAX_PAGE_SIZE}, got {limit!r}")


def not_empty(head: int) -> ConflictError:
    """The error for importing into a log that already holds events."""
    return ConflictError(f"an import needs an empty event log, but this one holds events up to index {head}")


def duplicate_event_id(event_id: str, index: int) -> InvalidEventError:
    """The error for an imported event whose id an earlier one has; ``event_index`` says which
    event (a backend may find the repeat only once every event is in)."""
    error = InvalidEventError(f"event #{index} of the import has event_id {event_id!r}, which an earlier event has")
    error.event_index = index  # type: ignore[attr-defined]
    return error


def _checked_imports(events: Iterable[pb.Event]) -> Iterator[tuple[pb.Event, set[Key]]]:
    """Each event with its keys, once it passed the checks of an append and of an import
    (its index the next one, an id, a timestamp, a schema version this code reads). Checked
    as they are pulled, so a caller reading them from a file knows which one failed."""
    expected = 1
    for event in events:
        if not isinstance(event, pb.Event):
            raise InvalidEventError(f"event #{expected} of the import is a {type(event).__name__}, "
                                    "not a databuild.v1.Event")
        where = f"event #{expected} of the import"
        if event.index != expected:
            raise InvalidEventError(f"{where} has index {event.index}, expected {expected}: an import needs the "
                                    "indices 1, 2, 3, ... in order, without a gap")
        keys = validate_event(event, expected)
        if not event.event_id:
            raise InvalidEventError(f"{where} has no event_id")
        if not event.HasField("timestamp"):
            raise InvalidEventError(f"{where} has no timestamp")
        if event.schema_version > EVENT_SCHEMA_VERSION:
            raise InvalidEventError(f"{where} has schema version {event.schema_version}, but this DataBuild reads "
                                    f"versions up to {EVENT_SCHEMA_VERSION}; upgrade DataBuild to import it")
        if event.schema_version < 1:
            raise InvalidEventError(f"{where} has schema version {event.schema_version}; versions start at 1")
        yield event, keys
        expected += 1


def projected(batch: Sequence[tuple[pb.Event, set[Key]]]) -> list[pb.Event]:
    """The events of an import batch as the projections fold them: at the current schema
    version (an event written at an older one is stored as it is, folded upcast, as a replay
    folds it)."""
    events = []
    for event, _ in batch:
        if event.schema_version != EVENT_SCHEMA_VERSION:
            copy = pb.Event()
            copy.CopyFrom(event)
            event = upcast(copy)
        events.append(event)
    return events


def _batches(items: Iterator[tuple[pb.Event, set[Key]]], size: int) -> Iterator[list[tuple[pb.Event, set[Key]]]]:
    batch: list[tuple[pb.Event, set[Key]]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
