"""PostgreSQL event log on psycopg 3 (``postgresql://`` or ``postgres://`` URIs).

The URI is libpq's (``postgresql://user:password@host:port/dbname?option=value``, a unix
socket as ``?host=/run/postgresql``); every libpq option works (``sslmode``,
``connect_timeout``, default 10 s here, ...). The database must be empty or a DataBuild
event log: the first open creates the schema (the numbered migrations SQLite has, in
PostgreSQL's spelling: ``migrations.postgres_sql``), a later one brings it up to date.

Indices are gap-free and become visible in commit order, whatever the number of writing
processes: an append takes a transaction-scoped advisory lock (``_WRITE_LOCK``) before
it reads the latest index, and PostgreSQL makes a commit visible before it releases the
transaction's locks. So the next writer can only pick its indices once every lower one
is visible, and a reader paging with ``since`` never sees index n+1 before n (a sequence
or SERIAL column, without the lock, would let a later, lower index commit behind a
reader's cursor: the event is skipped). Threads of one process also share a group
commit, as with SQLite. Reads run outside the lock; a page and its head are read in one
REPEATABLE READ snapshot.

Connections are lent to one call at a time from a small pool. A server that cannot be
reached, or a connection it drops, raises UnavailableError naming the database and
server (never a driver traceback); the connection is discarded and the next call
connects again, so the log recovers when the server is back.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from typing import Any, Iterable, Iterator, Sequence

import psycopg
from psycopg import conninfo as pg_conninfo

from databuild.errors import AppendConflictError, InvalidArgumentError, InvalidUriError, StorageError, UnavailableError
from databuild.events import migrations
from databuild.events.filter import EventFilter
from databuild.events.keys import Key, KeyKind, event_type
from databuild.events.lease import Lease
from databuild.events.log import START, Clock, Cursor, EventLog, Page, Precondition, Unchanged, system_clock
from databuild.events.readmodel import Projection, Row, RowQuery, TermMatch
from databuild.events.sqlcommon import EVENT_COLUMNS, Dialect, Pending, body, event_of_row
from databuild.events.types import upcast
from databuild.proto import databuild_pb2 as pb
from databuild.refs import RefPattern, compile_pattern, posix_regex

#: The advisory lock every appender (and migrator) of a log's database holds until commit:
#: "DataBuild" in ASCII, so it stays clear of other applications' keys.
_WRITE_LOCK = 0x4461746142756964
#: Leases are advisory locks with two int4 keys, a space apart from the one-bigint write
#: lock: this one ("DBLs") and a hash of the lease's name.
_LEASE_SPACE = 0x44424C73
_REPLAY_CHUNK = 5000
_COPY_FROM = 100  # events in a group commit from which rows go in by COPY, not pipelined statements
_HEAD = "SELECT idx, event_id FROM events ORDER BY idx DESC LIMIT 1"
_IDLE_CONNECTIONS = 8  # kept open between calls; more are opened under load and closed after
_CONNECT_TIMEOUT_S = "10"


def _glob(pattern: RefPattern, column: str) -> tuple[str, list[object]]:
    """PostgreSQL's exact match of a ref glob: an anchored regular expression."""
    return f"{column} ~ %s", [posix_regex(pattern.pattern)]


_PG = Dialect("%s", _glob, nul_free=True)


def describe(uri: str) -> str:
    """The database and server ``uri`` names, without credentials, for messages."""
    try:
        params = pg_conninfo.conninfo_to_dict(uri)
    except psycopg.ProgrammingError as e:
        reason = str(e).replace(uri, _redact(uri))  # libpq quotes the URI, password and all
        raise InvalidUriError(f"event log URI {_redact(uri)!r} is not a valid PostgreSQL URI: {reason}") from None
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = params.get("port")
    server = f"{host}:{port}" if port else host
    return f"PostgreSQL database {params.get('dbname') or params.get('user') or '(default)'!s} on {server}"


def _redact(uri: str) -> str:
    """``uri`` with any password replaced by ``***``."""
    scheme, sep, rest = uri.partition("://")
    auth, at, tail = rest.rpartition("@")
    if at and ":" in auth:
        auth = auth.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{auth}{at}{tail}" if at else uri


class _Pool:
    """Connections lent to one call at a time; at most ``_IDLE_CONNECTIONS`` kept idle."""

    def __init__(self, uri: str, params: dict[str, Any]) -> None:
        self._uri = uri
        self._params = params
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection] = []
        self._closed = False

    def get(self) -> psycopg.Connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
        return self.connect()

    def connect(self) -> psycopg.Connection:
        """A new connection, outside the pool. autocommit: a read is its own short
        transaction; writes open theirs explicitly."""
        return psycopg.connect(self._uri, autocommit=True, **self._params)

    def put(self, conn: psycopg.Connection) -> None:
        usable = not conn.closed and not conn.broken and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with self._lock:
            if usable and not self._closed and len(self._idle) < _IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def discard_idle(self) -> int:
        """Close the idle connections (after a fault they are likely dead too); how many."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        return len(idle)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.discard_idle()


class _PgLease(Lease):
    """A lease held as a session advisory lock on a connection of its own: the server drops
    it when that connection ends (its process killed, the network gone), and ``held`` then
    finds the connection dead, so the holder stops leading."""

    def __init__(self, name: str, log: "PostgresEventLog") -> None:
        super().__init__(name)
        self._log = log
        self._key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)
        self._conn: psycopg.Connection | None = None

    def try_acquire(self) -> bool:
        if self.held():
            return True
        try:
            conn = self._log._pool.connect()
        except psycopg.Error as e:
            raise self._log._fault(e) from None
        try:
            ((got,),) = conn.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)",
                                     (_LEASE_SPACE, self._key)).fetchall()
        except psycopg.Error as e:
            conn.close()
            raise self._log._fault(e) from None
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")  # the lock lives as long as this session
        except psycopg.Error:
            self._conn.close()
            self._conn = None
        return self._conn is not None

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()  # the session's end releases its advisory locks


class _PgRows:
    """ReadModelTx on the append transaction's cursor."""

    def __init__(self, cur: psycopg.Cursor) -> None:
        self._cur = cur

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Row]:
        return _select_rows(self._cur, kind, list(keys))

    def put_many(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        cur = self._cur
        last = {(r.kind, r.key): r for r in rows}  # one upsert may not touch a row twice: the last write wins
        cur.execute(
            "INSERT INTO read_model (kind, key, status, body)"
            " SELECT * FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::bytea[])"
            " ON CONFLICT (kind, key) DO UPDATE SET status = excluded.status, body = excluded.body",
            _columns([(r.kind, r.key, r.status, r.body) for r in last.values()], 4))
        indexed = [r for r in rows if r.terms is not None]
        unknown = [(r.kind, r.key) for r in indexed if r.old_terms is None]
        if unknown:
            self._delete_terms(unknown)
        stale = [(r.kind, name, value, r.key) for r in indexed if r.old_terms
                 for name, value in set(r.old_terms) - set(r.terms or ())]
        if stale:
            cur.execute(
                "DELETE FROM read_model_terms t USING unnest(%b::text[], %b::text[], %b::text[], %b::text[])"
                " AS d (kind, name, value, key)"
                " WHERE t.kind = d.kind AND t.name = d.name AND t.value = d.value AND t.key = d.key",
                _columns(stale, 4))
        added = [(r.kind, name, value, r.key) for r in indexed
                 for name, value in (set(r.terms or ()) - set(r.old_terms) if r.old_terms else r.terms or ())]
        if added:
            cur.execute(
                "INSERT INTO read_model_terms (kind, name, value, key)"
                " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[]) ON CONFLICT DO NOTHING",
                _columns(added, 4))

    def _delete_terms(self, rows: list[tuple[str, str]]) -> None:
        """Delete every term of these (kind, key) rows, whose old terms the writer did not give:
        the (kind, name, key) index finds them name by name, the kind's few names first."""
        for kind in {kind for kind, _ in rows}:
            names = _term_names(self._cur, kind)
            if names:
                self._cur.execute(
                    "DELETE FROM read_model_terms WHERE kind = %s AND name = ANY(%s) AND key = ANY(%s)",
                    (kind, names, [key for k, key in rows if k == kind]))


def _read(cur: psycopg.Cursor, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
    """The rows of one statement, on a cursor of its own: in pipeline mode a cursor that ran
    several statements may be fetched before its last one's answer came (and give an
    earlier one's), so every answer read is read on a fresh cursor."""
    with cur.connection.cursor() as own:
        own.execute(sql, params)
        return own.fetchall()


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as ``width`` column lists (the arrays an ``unnest`` insert takes)."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


def _term_names(cur: psycopg.Cursor, kind: str) -> list[str]:
    """The distinct term names of ``kind``: one index seek per name, not a scan of its terms."""
    return [name for (name,) in _read(
        cur,
        "WITH RECURSIVE names (name) AS (SELECT MIN(name) FROM read_model_terms WHERE kind = %(k)s"
        " UNION ALL SELECT (SELECT MIN(name) FROM read_model_terms WHERE kind = %(k)s AND name > names.name)"
        " FROM names WHERE names.name IS NOT NULL) SELECT name FROM names WHERE name IS NOT NULL", {"k": kind})]


def _select_rows(cur: psycopg.Cursor, kind: str, keys: list[str]) -> dict[str, Row]:
    if not keys:
        return {}
    # A join with the keys, not ``key = ANY(array)``: a prepared statement's generic plan
    # cannot know the array's length and, on a large table, scanned it all.
    rows = _read(cur, "SELECT r.key, r.status, r.body FROM unnest(%b::text[]) AS k (key)"
                      " JOIN read_model r ON r.kind = %s AND r.key = k.key", (keys, kind))
    return {key: Row(kind, key, status, bytes(data)) for key, status, data in rows}


class PostgresEventLog(EventLog):
    """Event log in one PostgreSQL database, shared by threads and processes (and hosts)."""

    def __init__(
        self,
        uri: str,
        projections: Sequence[Projection] = (),
        clock: Clock = system_clock,
        schema_version: int = migrations.LATEST,
    ) -> None:
        super().__init__(projections, clock)
        self.where = describe(uri)
        given = pg_conninfo.conninfo_to_dict(uri)
        params: dict[str, Any] = {}
        if "connect_timeout" not in given:
            params["connect_timeout"] = _CONNECT_TIMEOUT_S
        if "application_name" not in given:
            params["application_name"] = "databuild"
        self._pool = _Pool(uri, params)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()  # held only to add to or take the queue
        self._queue: list[Pending] = []  # appends waiting for the next group commit
        self._status: dict[str, tuple[int, int]] = {}  # projections' (version, last index), read with the head
        try:
            with self._storage():
                with self._transaction(pipeline=False) as cur:  # migrations read each answer
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                    self.schema_version = migrations.migrate_postgres(
                        lambda sql, params: _rows(cur, sql, params), self.where, clock(), schema_version)
                    self._id: str | None = None  # none before LOG_ID_VERSION (tests of old versions)
                    if self.schema_version >= migrations.LOG_ID_VERSION:
                        cur.execute("SELECT value FROM log_metadata WHERE name = 'log_id'")
                        (self._id,) = cur.fetchone()
                if self.projections:
                    self._catch_up_projections()
        except BaseException:
            self._pool.close()
            raise

    # -- connections ---------------------------------------------------------

    @contextlib.contextmanager
    def _storage(self) -> Iterator[None]:
        """Lend this thread a connection for the call (calls nest: the outer one's), and
        name the server's faults."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        try:
            conn = self._pool.get()
        except psycopg.Error as e:
            raise self._fault(e) from None
        self._local.conn = conn
        try:
            yield
        except psycopg.DataError as e:
            if "NUL" not in str(e):
                raise
            # Bad input, not a fault: PostgreSQL text holds no NUL, so no id or key has one.
            raise InvalidArgumentError(f"a key or value given to event log {self.where} contains a NUL "
                                       "character (\\x00), which no stored key has") from None
        except psycopg.Error as e:
            if isinstance(e, (psycopg.IntegrityError, psycopg.ProgrammingError, psycopg.DataError)):
                raise  # bugs, not storage faults
            raise self._fault(e) from None
        finally:
            self._local.conn = None
            self._pool.put(conn)

    def _fault(self, error: psycopg.Error) -> UnavailableError:
        """The named error for a psycopg ``error``; a dropped server's idle connections go too."""
        self._pool.discard_idle()
        text = (str(error).strip().splitlines() or [type(error).__name__])[0]
        state = error.sqlstate or ""
        # No SQLSTATE: libpq's own (no connection); class 08 connection, 57P0x shutdown or crash.
        if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)) and (
                not state or state.startswith("08") or state.startswith("57P")):
            return UnavailableError(f"event log {self.where}: the server cannot be reached or went away "
                                    f"(PostgreSQL: {text}); the next call connects again")
        return StorageError(f"event log {self.where} cannot be read or written (PostgreSQL: {text})")

    def _conn(self) -> psycopg.Connection:
        return self._local.conn

    @contextlib.contextmanager
    def _transaction(self, snapshot: bool = False, pipeline: bool = True) -> Iterator[psycopg.Cursor]:
        """A transaction on this call's connection, in pipeline mode: statements whose
        results are not read go out together (BEGIN with the first, the last writes with
        COMMIT), so a transaction costs a round trip per result it reads, not per
        statement. ``snapshot``: read-only, every statement in one snapshot."""
        conn = self._conn()
        with conn.pipeline() if pipeline else contextlib.nullcontext(), conn.transaction(), conn.cursor() as cur:
            if snapshot:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield cur

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        with self._conn().cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _release_memory(self) -> int:
        """Close the idle connections: each server backend holds its caches."""
        return self._pool.discard_idle()

    def _close(self) -> None:
        self._pool.close()

    # -- writes --------------------------------------------------------------

    def _append(self, events: list[pb.Event], keys: list[set[Key]], condition: Precondition) -> list[int]:
        """Group commit, as in SQLite: appends that queue while another thread commits go
        into the next transaction together, each with its own indices, precondition and error."""
        mine = Pending(events, keys, condition)
        with self._queue_lock:
            self._queue.append(mine)
        with self._write_lock:
            if not mine.settled:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._commit_group(group)
        if mine.error is not None:
            raise mine.error
        assert mine.indices is not None
        return mine.indices

    def _commit_group(self, group: list[Pending]) -> None:
        """Commit ``group`` in one transaction; if that fails, each alone, so a failure
        reaches the append that caused it and only that one."""
        try:
            try:
                self._append_tx(group)
            except Exception as e:  # each caller's _storage names a server fault in its thread
                if len(group) == 1:
                    group[0].error = e
                else:
                    for pending in group:
                        self._commit_group([pending])
        except BaseException as e:
            for pending in group:
                if not pending.settled:
                    pending.error = e
            raise

    def _append_tx(self, group: list[Pending]) -> None:
        # Small appends gain from the pipeline (round trips), batches from COPY (rows).
        small = sum(len(pending.events) for pending in group) < _COPY_FROM
        with self._transaction(pipeline=small) as cur:
            before = latest = self._claim_head(cur)
            accepted = []
            for pending in group:
                pending.error = None
                try:  # each append's precondition sees the appends before it in the group
                    pending.condition.check_latest(latest)
                    guard = pending.condition.unchanged
                    if guard is not None and self._touched_since(cur, guard):
                        raise pending.condition.conflict(guard.since)
                except AppendConflictError as e:
                    pending.error = e
                    continue
                latest = self._insert(cur, pending.events, pending.keys, latest + 1)
                accepted.append(pending)
            if self.projections and accepted:
                self._project(cur, [e for pending in accepted for e in pending.events], before)
        for pending in accepted:
            pending.indices = [e.index for e in pending.events]

    def _claim_head(self, cur: psycopg.Cursor) -> int:
        """Take the log's write lock (until commit) and return its latest index, read after
        the lock was granted: every lower index is committed and visible by then. (Two
        statements: a statement's snapshot is taken when it starts, before a lock it
        waits for; pipelined, they still cost one round trip.) The projections' status
        comes in the same answer (``_status``)."""
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
        ((latest, status),) = _read(
            cur, "SELECT COALESCE((SELECT MAX(idx) FROM events), 0),"
                 " (SELECT json_agg(json_build_array(name, version, last_index)) FROM projections)")
        self._status = {name: (version, last) for name, version, last in status or ()}
        return latest

    def _insert(self, cur: psycopg.Cursor, events: list[pb.Event], keys: list[set[Key]], first: int) -> int:
        """Store ``events`` from index ``first`` on, with their keys; the last index written.
        Pipelined (small appends): one statement each, the rows as arrays; else COPY,
        the fastest way in for a batch (it does not pipeline)."""
        event_rows, key_rows = [], []
        for index, (event, event_keys) in enumerate(zip(events, keys), first):
            event.index = index
            ts = event.timestamp.ToMicroseconds()
            event_rows.append((index, event.event_id, event_type(event), ts, body(event, ts)))
            key_rows.extend((int(kind), key, index) for kind, key in event_keys)
        if cur.connection._pipeline is not None:
            cur.execute("INSERT INTO events (idx, event_id, type, ts, body)"
                        " SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::bigint[], %b::bytea[])",
                        _columns(event_rows, 5))
            if key_rows:
                cur.execute("INSERT INTO event_keys (kind, key, idx)"
                            " SELECT * FROM unnest(%b::bigint[], %b::text[], %b::bigint[])", _columns(key_rows, 3))
        else:
            with cur.copy("COPY events (idx, event_id, type, ts, body) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "text", "text", "int8", "bytea"])
                for row in event_rows:
                    copy.write_row(row)
            with cur.copy("COPY event_keys (kind, key, idx) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "text", "int8"])
                for row in key_rows:
                    copy.write_row(row)
        return first + len(events) - 1

    def _project(self, cur: psycopg.Cursor, events: list[pb.Event], before: int) -> None:
        """Fold ``events`` into every projection, first replaying what it missed (events
        appended by a process that did not register it), in the same transaction."""
        tx = _PgRows(cur)
        status = self._status  # read with the head, under the write lock
        for projection in self.projections:
            version, last = status.get(projection.name, (None, 0))
            if version != projection.version:
                for kind in projection.kinds:
                    cur.execute("DELETE FROM read_model WHERE kind = %s", (kind,))
                    cur.execute("DELETE FROM read_model_terms WHERE kind = %s", (kind,))
                last = 0
            for chunk in self._replay(cur, last, before):
                projection.apply(tx, chunk)
            projection.apply(tx, events)
            last = events[-1].index if events else before
            cur.execute(
                "INSERT INTO projections (name, version, last_index) VALUES (%s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET version = excluded.version, last_index = excluded.last_index",
                (projection.name, projection.version, last))
            self._status[projection.name] = (projection.version, last)  # for the next batch of an import

    def _touched_since(self, cur: psycopg.Cursor, guard: Unchanged) -> bool:
        by_kind: dict[int, list[str]] = {}
        for kind, key in guard.keys:
            by_kind.setdefault(int(kind), []).append(key)
        for kind, keys in by_kind.items():
            if _read(cur, "SELECT 1 FROM unnest(%b::text[]) AS k (key) JOIN event_keys e"
                          " ON e.kind = %s AND e.key = k.key AND e.idx > %s LIMIT 1", (keys, kind, guard.since)):
                return True
        return False

    def _catch_up_projections(self) -> None:
        with self._transaction() as cur:
            self._project(cur, [], self._claim_head(cur))

    def _replay(self, cur: psycopg.Cursor, after: int, upto: int) -> Iterable[list[pb.Event]]:
        while after < upto:
            rows = _read(cur, f"SELECT {EVENT_COLUMNS} FROM events e WHERE idx > %s AND idx <= %s ORDER BY idx LIMIT %s",
                         (after, upto, _REPLAY_CHUNK))
            chunk = [upcast(event_of_row(*row)) for row in rows]
            yield chunk
            after = chunk[-1].index

    @staticmethod
    def _max_index(cur: psycopg.Cursor) -> int:
        return _read(cur, "SELECT COALESCE(MAX(idx), 0) FROM events")[0][0]

    def _import(self, batches: Iterator[list[tuple[pb.Event, set[Key]]]], log_id: str) -> int:
        """One transaction for the whole import, under the write lock (this process's
        appends and every other process's wait): a failure anywhere rolls it all back."""
        from databuild.events.log import duplicate_event_id, not_empty, projected

        if self.schema_version < migrations.LOG_ID_VERSION:
            raise StorageError(f"event log {self.where} is at schema version {self.schema_version}, "
                               f"before logs had an id (version {migrations.LOG_ID_VERSION}): it cannot take one")
        with self._write_lock, self._transaction(pipeline=False) as cur:
            head = self._claim_head(cur)
            if head:
                raise not_empty(head)
            for batch in batches:
                events = [event for event, _ in batch]
                self._insert(cur, events, [keys for _, keys in batch], events[0].index)
                if self.projections:
                    self._project(cur, projected(batch), head)
                head = events[-1].index
            # event_id has no unique index (appends make UUIDs): one grouped pass finds a repeat.
            repeated = _read(cur, "SELECT event_id, MAX(idx) FROM events GROUP BY event_id HAVING COUNT(*) > 1 LIMIT 1")
            if repeated:
                raise duplicate_event_id(*repeated[0])
            cur.execute("UPDATE log_metadata SET value = %s WHERE name = 'log_id'", (log_id,))
        self._id = log_id
        return head

    def _lease(self, name: str) -> Lease:
        return _PgLease(name, self)

    # -- reads ---------------------------------------------------------------

    def _list_events(self, since: int, filter: EventFilter, limit: int) -> Page:
        where, params = ["e.idx > %s"], [since]
        if filter.types:
            where.append("e.type = ANY(%s)")
            params.append(list(filter.types))
        if filter.start is not None:
            where.append("e.ts >= %s")
            params.append(filter.start_us)
        if filter.end is not None:
            where.append("e.ts < %s")
            params.append(filter.end_us)
        if filter.refs and not filter.ref_patterns:
            where.append("e.idx IN (SELECT idx FROM event_keys WHERE kind = %s AND key = ANY(%s) AND idx > %s)")
            params += [int(KeyKind.PARTITION), list(filter.refs), since]
        for kind, ids in filter.id_groups():
            where.append("e.idx IN (SELECT idx FROM event_keys WHERE kind = %s AND key = ANY(%s) AND idx > %s)")
            params += [int(kind), list(ids), since]
        if filter.ref_patterns:
            sql, params = self._pattern_query(filter, since, where, params)
        else:
            sql = f"SELECT {EVENT_COLUMNS} FROM events e WHERE {' AND '.join(where)} ORDER BY e.idx LIMIT %s"
        conn = self._conn()
        # One snapshot and one round trip for the page and the head; each read on a cursor
        # of its own (``cur`` ran SET TRANSACTION, see ``_read``).
        with self._transaction(snapshot=True), conn.cursor() as page_cur, conn.cursor() as head_cur:
            page_cur.execute(sql, [*params, limit + 1])
            head_cur.execute(_HEAD)
            rows = page_cur.fetchall()
            found = head_cur.fetchone()
        head = Cursor(*found) if found else START
        events = [event_of_row(*row) for row in rows[:limit]]
        return Page.of(events, len(rows) > limit, since, head)

    def _pattern_query(self, filter: EventFilter, since: int, where: list[str], params: list[object]
                       ) -> tuple[str, list[object]]:
        """Walk partition keys in index order (their partial index), so a page stops at its limit."""
        matches, key_params = [], []
        if filter.refs:
            matches.append("k.key = ANY(%s)")
            key_params.append(list(filter.refs))
        for pattern in filter.patterns:
            pattern_sql, pattern_params = _PG.pattern_condition(pattern, "k.key")
            matches.append(f"({pattern_sql})")
            key_params += pattern_params
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM event_keys k JOIN events e ON e.idx = k.idx"
            f" WHERE k.kind = {int(KeyKind.PARTITION)} AND k.idx > %s AND ({' OR '.join(matches)})"
            f" AND {' AND '.join(where)} GROUP BY e.idx ORDER BY e.idx LIMIT %s"
        )
        return sql, [since, *key_params, *params]

    def _latest_index(self) -> int:
        with self._conn().cursor() as cur:
            return self._max_index(cur)

    def _head(self) -> Cursor:
        found = self._query(_HEAD)
        return Cursor(*found[0]) if found else START

    def _event_id_at(self, index: int) -> str | None:
        found = self._query("SELECT event_id FROM events WHERE idx = %s", (index,))
        return found[0][0] if found else None

    def _log_id(self) -> str:
        if self._id is None:
            raise StorageError(f"event log {self.where} was opened at schema version {self.schema_version}, "
                               f"before logs had an id (version {migrations.LOG_ID_VERSION})")
        return self._id

    def _get_terms(self, kind: str, keys: list[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        with self._conn().cursor() as cur:
            names = _term_names(cur, kind)  # the (kind, name, key) index, name by name
            if not names or not keys:
                return {}
            rows = _read(cur, "SELECT t.key, t.name, t.value FROM unnest(%b::text[]) AS k (key) JOIN read_model_terms t"
                              " ON t.kind = %s AND t.name = ANY(%s) AND t.key = k.key", (keys, kind, names))
        found: dict[str, list[tuple[str, str]]] = {}
        for key, name, value in rows:
            found.setdefault(key, []).append((name, value))
        return {key: tuple(sorted(terms)) for key, terms in found.items()}

    def _get_rows(self, kind: str, keys: list[str]) -> dict[str, Row]:
        with self._conn().cursor() as cur:
            return _select_rows(cur, kind, keys)

    def _query_rows(self, query: RowQuery) -> list[Row]:
        """Rows in key order, a page costing what it returns rather than every match.

        What drives, as in SQLite: an equality term (its entries are in key order: e.g. the
        wants waiting for one partition); else the rows in key order (the status index for
        one status), where each other term condition is a key list when few rows match
        it (a bounded count) and a probe of the (kind, name, key) term index per row when
        many do."""
        terms = list(query.terms)
        driver = next((m for m in terms if len(m.values) == 1 and m.low is m.high is m.pattern is None), None)
        key = "t.key" if driver else "r.key"
        where: list[str] = []
        params: list[object] = []
        if len(query.statuses) == 1:  # equality: the (kind, status, key) index yields rows in key order
            where.append("r.status = %s")
            params.append(query.statuses[0])
        elif query.statuses:
            where.append("r.status = ANY(%s)")
            params.append(list(query.statuses))
        if query.pattern is not None:
            pattern_sql, pattern_params = _PG.pattern_condition(compile_pattern(query.pattern), "r.key")
            where.append(pattern_sql)
            params += pattern_params
        if query.after_key is not None:
            where.append(f"{key} > %s")
            params.append(query.after_key)
        for match in terms:
            if match is driver:
                continue
            term_sql, term_params = _PG.term_condition(match, "m.value")
            if self._few_terms(query.kind, match):
                where.append(f"r.key IN (SELECT m.key FROM read_model_terms m WHERE m.kind = %s AND m.name = %s{term_sql})")
                params += [query.kind, match.name, *term_params]
            else:
                # A scalar subquery, not EXISTS: the planner cannot turn it into a join that
                # collects every match and sorts (its estimate of a regex's matches is no
                # guide), so the rows are walked in key order and the page stops at its limit.
                where.append("(SELECT 1 FROM read_model_terms m"
                             f" WHERE m.kind = r.kind AND m.name = %s AND m.key = r.key{term_sql} LIMIT 1) IS NOT NULL")
                params += [match.name, *term_params]
        if driver:
            sql = ("SELECT r.key, r.status, r.body FROM read_model_terms t JOIN read_model r"
                   " ON r.kind = t.kind AND r.key = t.key WHERE t.kind = %s AND t.name = %s AND t.value = %s")
            params = [query.kind, driver.name, driver.values[0], *params]
        else:
            sql = "SELECT r.key, r.status, r.body FROM read_model r WHERE r.kind = %s"
            params = [query.kind, *params]
        sql += "".join(f" AND {w}" for w in where) + f" ORDER BY {key} LIMIT %s"
        return [Row(query.kind, k, s, bytes(b)) for k, s, b in self._query(sql, [*params, query.limit])]

    #: Below this many matches a term condition is a key list, above it a per-row probe.
    few_terms = 5000

    def _few_terms(self, kind: str, match: TermMatch) -> bool:
        """Whether fewer than ``few_terms`` rows match ``match`` (a count that stops there)."""
        term_sql, params = _PG.term_condition(match, "value")
        ((count,),) = self._query(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM read_model_terms WHERE kind = %s AND name = %s{term_sql} LIMIT %s) f",
            [kind, match.name, *params, self.few_terms])
        return count < self.few_terms

    def _count_rows(self, kind: str, statuses: tuple[int, ...], term: TermMatch | None) -> dict[int, int]:
        where, params = ["r.kind = %s"], [kind]
        if statuses:
            where.append("r.status = ANY(%s)")
            params.append(list(statuses))
        if term is not None:
            term_sql, term_params = _PG.term_condition(term, "m.value")
            where.append(f"r.key IN (SELECT m.key FROM read_model_terms m WHERE m.kind = %s AND m.name = %s{term_sql})")
            params += [kind, term.name, *term_params]
        sql = f"SELECT r.status, COUNT(*) FROM read_model r WHERE {' AND '.join(where)} GROUP BY r.status"
        return {status: count for status, count in self._query(sql, params)}

    def _count_terms(self, kind: str, term: TermMatch) -> int:
        term_sql, params = _PG.term_condition(term, "value")
        ((count,),) = self._query(f"SELECT COUNT(*) FROM read_model_terms WHERE kind = %s AND name = %s{term_sql}",
                                  [kind, term.name, *params])
        return count

    def _term_entries(self, kind: str, name: str, low: str | None, high: str | None,
                      limit: int, reverse: bool, after: tuple[str, str] | None) -> list[tuple[str, str]]:
        term_sql, params = _PG.term_condition(TermMatch(name, low=low, high=high), "value")
        order = "DESC" if reverse else "ASC"
        if after is not None:  # a row comparison: the (kind, name, value, key) index seeks to it
            term_sql += f" AND (value, key) {'<' if reverse else '>'} (%s, %s)"
            params += [after[0], after[1]]
        rows = self._query(
            f"SELECT value, key FROM read_model_terms WHERE kind = %s AND name = %s{term_sql}"
            f" ORDER BY value {order}, key {order} LIMIT %s", [kind, name, *params, limit])
        return [(value, key) for value, key in rows]

    def _keys_with_prefix(self, kind: str, prefix: str, limit: int) -> list[str]:
        sql, params = _PG.prefix_range("SELECT key FROM read_model WHERE kind = %s", prefix)
        return [key for (key,) in self._query(sql + " ORDER BY key LIMIT %s", [kind, *params, limit])]


def _rows(cur: psycopg.Cursor, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Execute on ``cur``; its rows (none for a statement without a result)."""
    cur.execute(sql, params)
    return cur.fetchall() if cur.description else []
