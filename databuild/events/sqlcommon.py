"""What the SQL backends (SQLite, PostgreSQL) share: how an event is stored in a row, the
queue of a group commit, and the SQL of read-model term conditions, written once over a
small ``Dialect`` (its parameter mark and how it matches a ref glob)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from databuild.events.keys import Key
from databuild.events.log import Precondition
from databuild.events.readmodel import Row, RowQuery, TermMatch
from databuild.proto import databuild_pb2 as pb
from databuild.refs import RefPattern, compile_pattern, prefix_upper_bound

#: What a stored event is read from: its columns, then the body (see ``body``).
EVENT_COLUMNS = "e.idx, e.event_id, e.ts, e.body"


def body(event: pb.Event, ts: int) -> bytes:
    """``event`` serialized without its index, id and timestamp: the row's columns hold them.

    Bodies written before carry them too; ``event_of_row`` reads both kinds alike."""
    index, event_id = event.index, event.event_id
    for name in ("index", "event_id", "timestamp"):
        event.ClearField(name)
    try:
        return event.SerializeToString()
    finally:
        event.index, event.event_id = index, event_id
        event.timestamp.FromMicroseconds(ts)


def event_of_row(index: int, event_id: str, ts: int, body: bytes) -> pb.Event:
    """The event stored in a row (``EVENT_COLUMNS``)."""
    event = pb.Event.FromString(body)
    event.index, event.event_id = index, event_id
    event.timestamp.FromMicroseconds(ts)
    return event


@dataclass
class Pending:
    """One append waiting for a group commit, and its outcome once settled."""

    events: list[pb.Event]
    keys: list[set[Key]]
    condition: Precondition
    indices: list[int] | None = None
    error: BaseException | None = None

    @property
    def settled(self) -> bool:
        return self.indices is not None or self.error is not None


class GroupCommit:
    """Group commit: appends that arrive while another thread commits queue up, and the next
    thread to get the write lock commits all of them in one transaction (a commit costs far
    more than the rows of a small append). Each keeps its own indices, precondition and
    error; none returns before its transaction committed. ``transaction(group)`` writes a
    group in one transaction, settling each append's indices (or its precondition's
    AppendConflictError); if it raises, each append is tried alone, so a fault or a failing
    projection reaches the append that caused it and only that one."""

    def __init__(self, transaction: Callable[[list[Pending]], None]) -> None:
        self._transaction = transaction
        #: Held by the committing thread (and by anything that must not interleave with appends).
        self.write_lock = threading.Lock()
        self._queue_lock = threading.Lock()  # held only to add to or take the queue
        self._queue: list[Pending] = []  # appends waiting for the next group commit

    @property
    def queued(self) -> int:
        """Appends waiting for the next group commit."""
        with self._queue_lock:
            return len(self._queue)

    def append(self, events: list[pb.Event], keys: list[set[Key]], condition: Precondition) -> list[int]:
        mine = Pending(events, keys, condition)
        with self._queue_lock:
            self._queue.append(mine)
        with self.write_lock:
            if not mine.settled:  # no thread took it yet: take it and whatever queued with it
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._commit(group)
        if mine.error is not None:
            raise mine.error
        assert mine.indices is not None
        return mine.indices

    def _commit(self, group: list[Pending]) -> None:
        try:
            try:
                self._transaction(group)
            except Exception as e:  # each caller's _storage names the fault in its own thread
                if len(group) == 1:
                    group[0].error = e
                else:
                    for pending in group:
                        self._commit([pending])
        except BaseException as e:  # interrupted: no waiting caller is left without an answer
            for pending in group:
                if not pending.settled:
                    pending.error = e
            raise


@dataclass(frozen=True)
class Dialect:
    """The SQL spellings that differ between backends: the parameter ``mark`` (``?``,
    ``%s``) and ``glob(pattern, column)``, the exact condition that ``column`` matches a
    ref glob that is not a literal (after the literal prefix's index range)."""

    mark: str
    glob: Callable[[RefPattern, str], tuple[str, list[object]]]
    #: Text cannot hold NUL (PostgreSQL): bounds and values with one are rewritten (``bound``).
    nul_free: bool = False

    def marks(self, values: Sequence[object]) -> str:
        """One parameter mark per value, comma separated (for ``IN (...)``)."""
        return ",".join([self.mark] * len(values))

    def term_condition(self, match: TermMatch, column: str) -> tuple[str, list[object]]:
        """SQL (to AND onto a ``read_model_terms`` query) for ``match``'s conditions on ``column``."""
        sql, params = "", []
        if match.values:
            values = [v for v in match.values if not (self.nul_free and "\0" in v)]  # equal to no stored text
            sql += f" AND {column} IN ({self.marks(values)})" if values else " AND FALSE"
            params += values
        for op, value in ((">=", match.low), ("<", match.high)):
            if value is not None:
                bound_sql, bound_params = self.bound(column, op, value)
                sql += " AND " + bound_sql
                params += bound_params
        if match.pattern is not None:
            pattern_sql, pattern_params = self.pattern_condition(compile_pattern(match.pattern), column)
            sql += " AND " + pattern_sql
            params += pattern_params
        return sql, params

    def bound(self, column: str, op: str, value: str) -> tuple[str, list[object]]:
        """``column op value`` for ``op`` ``>=`` or ``<``. Where text holds no NUL, a bound
        ``p + "\\0" + rest`` (e.g. "just above p": ``p + "\\0"``) compares as ``p`` does with
        the other operator: every stored value is ``<= p`` or ``> p``."""
        if self.nul_free and "\0" in value:
            return f"{column} {'>' if op == '>=' else '<='} {self.mark}", [value[: value.index("\0")]]
        return f"{column} {op} {self.mark}", [value]

    def pattern_condition(self, pattern: RefPattern, column: str) -> tuple[str, list[object]]:
        """``column`` matches the ref glob: equality for a literal, else an index range on
        the literal prefix and the dialect's exact ``glob`` condition."""
        if pattern.is_literal:
            return f"{column} = {self.mark}", [pattern.pattern]
        sql, params = self.prefix_range("", pattern.literal_prefix, column)
        glob_sql, glob_params = self.glob(pattern, column)
        return f"{glob_sql}{sql}", [*glob_params, *params]

    def prefix_range(self, sql: str, prefix: str, column: str = "key") -> tuple[str, list[object]]:
        """Add ``prefix <= column < upper`` to ``sql`` so the column's index can serve it."""
        if not prefix:
            return sql, []
        upper = prefix_upper_bound(prefix)
        if upper is None or not _encodable(upper):
            return sql + f" AND {column} >= {self.mark}", [prefix]
        return sql + f" AND {column} >= {self.mark} AND {column} < {self.mark}", [prefix, upper]


def _encodable(text: str) -> bool:
    """Whether ``text`` is valid UTF-8 material (an upper bound can land on a surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class StoredReadModels:
    """The ``EventLog`` read-model hooks of a SQL backend, answered by its read-model store
    ``self.rows`` on the connection ``self._rows_conn()`` lends this call. Mixed in before
    ``EventLog``."""

    rows: Any

    def _rows_conn(self) -> Any:
        raise NotImplementedError

    @property
    def few_terms(self) -> int:
        """Below this many matches a term condition of a row query is a key list."""
        return self.rows.few_terms

    @few_terms.setter
    def few_terms(self, value: int) -> None:
        self.rows.few_terms = value

    def _get_rows(self, kind: str, keys: list[str]) -> dict[str, Row]:
        return self.rows.get_rows(self._rows_conn(), kind, keys)

    def _get_terms(self, kind: str, keys: list[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        return self.rows.get_terms(self._rows_conn(), kind, keys)

    def _query_rows(self, query: RowQuery) -> list[Row]:
        return self.rows.query_rows(self._rows_conn(), query)

    def _count_rows(self, kind: str, statuses: tuple[int, ...], term: TermMatch | None) -> dict[int, int]:
        return self.rows.count_rows(self._rows_conn(), kind, statuses, term)

    def _count_terms(self, kind: str, term: TermMatch) -> int:
        return self.rows.count_terms(self._rows_conn(), kind, term)

    def _term_entries(self, kind: str, name: str, low: str | None, high: str | None,
                      limit: int, reverse: bool, after: tuple[str, str] | None) -> list[tuple[str, str]]:
        return self.rows.term_entries(self._rows_conn(), kind, name, low, high, limit, reverse, after)

    def _keys_with_prefix(self, kind: str, prefix: str, limit: int) -> list[str]:
        return self.rows.keys_with_prefix(self._rows_conn(), kind, prefix, limit)
