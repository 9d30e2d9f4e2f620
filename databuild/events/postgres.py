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
commit, as with SQLite. Reads run outside the lock; a page and its head are read by one
statement, so from one snapshot.

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
from databuild.events.readmodel import Projection, Row, RowQuery, projection_reads
from databuild.events.pg_readmodel import PG, PgReadModels, PgRows, columns as _columns, read as _read
from databuild.events.sqlcommon import EVENT_COLUMNS, GroupCommit, Pending, StoredReadModels, body, event_of_row
from databuild.events.types import upcast
from databuild.proto import databuild_pb2 as pb

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
#: A connection's states inside a transaction (open, or failed and waiting for its rollback).
_OPEN = (psycopg.pq.TransactionStatus.INTRANS, psycopg.pq.TransactionStatus.INERROR)


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


class PostgresEventLog(StoredReadModels, EventLog):
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
        self.rows = PgReadModels()  # the read-model store, in the same transactions
        self._local = threading.local()
        self._group = GroupCommit(self._append_tx)  # as on SQLite
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
    def _transaction(self, pipeline: bool = True) -> Iterator[psycopg.Cursor]:
        """A transaction on this call's connection, in pipeline mode: statements whose
        results are not read go out together (BEGIN with the first, the last writes with
        COMMIT), so a transaction costs a round trip per result it reads, not per
        statement (``pipeline=False`` for COPY, which does not pipeline)."""
        conn = self._conn()
        if not pipeline:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
            return
        # BEGIN and COMMIT by hand: psycopg's ``transaction()`` syncs the pipeline as it
        # opens and as it closes, a round trip each (4 for an append instead of 2).
        try:
            with conn.pipeline(), conn.cursor() as cur:
                cur.execute("BEGIN")
                yield cur
                cur.execute("COMMIT")  # its answer (or a statement's error) comes as the pipeline ends
        except BaseException:
            if not conn.broken and conn.info.transaction_status in _OPEN:
                conn.rollback()  # the connection goes back to the pool (or a retry) usable
            raise

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
        return self._group.append(events, keys, condition)

    def _append_tx(self, group: list[Pending]) -> None:
        """One transaction for the group, in pipeline mode but for a batch's COPY: a round
        trip for what it reads before it writes (the lock and head, each guarded append's
        check, the rows the projections will read), one for the commit; a batch of
        ``_COPY_FROM`` events or more leaves the pipeline for its COPY in between."""
        small = sum(len(pending.events) for pending in group) < _COPY_FROM
        conn = self._conn()
        try:
            with conn.pipeline(), conn.cursor() as cur:
                cur.execute("BEGIN")  # by hand: psycopg's transaction() syncs the pipeline as it opens and closes
                head = self._send_head(cur)
                checks = [self._send_touched(cur, p.condition.unchanged) for p in group]
                tx = PgRows(cur)
                reads = None
                if small and self.projections:  # (a batch's rows cost more than its round trips)
                    wanted: dict[str, set[str]] = {}
                    events = [e for pending in group for e in pending.events]
                    for projection in self.projections:
                        for kind, keys in projection_reads(projection, events).items():
                            wanted.setdefault(kind, set()).update(keys)
                    reads = tx.send_reads(wanted)
                before = self._take_head(head)
                touched = [_take(check) for check in checks]
                tx.take_reads(reads)
                accepted = _accepted(group, before, touched)
                if small:
                    self._write(cur, tx, accepted, before)
            if not small:
                with conn.cursor() as cur:  # COPY does not pipeline
                    for pending in accepted:
                        self._insert(cur, pending.events, pending.keys, pending.events[0].index)
                with conn.pipeline(), conn.cursor() as cur:
                    self._write(cur, PgRows(cur), [], before, projected=accepted)
        except BaseException:
            if not conn.broken and conn.info.transaction_status in _OPEN:
                conn.rollback()  # the connection goes back to the pool (or a retry) usable
            raise
        for pending in accepted:
            pending.indices = [e.index for e in pending.events]

    def _write(self, cur: psycopg.Cursor, tx: PgRows, inserted: list[Pending], before: int,
               projected: list[Pending] | None = None) -> None:
        """Insert ``inserted`` (pipelined), fold them (or ``projected``, inserted already)
        into the projections, and send COMMIT, answered as the pipeline ends."""
        for pending in inserted:
            self._insert(cur, pending.events, pending.keys, pending.events[0].index)
        done = inserted if projected is None else projected
        if self.projections and done:
            self._project(cur, [e for pending in done for e in pending.events], before, tx)
        cur.execute("COMMIT")

    def _claim_head(self, cur: psycopg.Cursor) -> int:
        """Take the log's write lock (until commit) and return its latest index (``_send_head``)."""
        return self._take_head(self._send_head(cur))

    def _send_head(self, cur: psycopg.Cursor) -> psycopg.Cursor:
        """Take the log's write lock (until commit) and send the read of its latest index,
        which runs once the lock was granted: every lower index is committed and visible by
        then. (Two statements: a statement's snapshot is taken when it starts, before a
        lock it waits for; pipelined, they still cost one round trip.) The projections'
        status comes in the same answer; ``_take_head`` reads it.

        The append's statements have one shape whatever their values: the transaction plans
        each once per connection (a custom plan was made on every append, ~0.1 ms a
        statement), set with the lock (a statement less to send)."""
        cur.execute("SELECT pg_advisory_xact_lock(%s), set_config('plan_cache_mode', 'force_generic_plan', true)",
                    (_WRITE_LOCK,))
        own = cur.connection.cursor()
        own.execute("SELECT COALESCE((SELECT MAX(idx) FROM events), 0),"
                    " (SELECT json_agg(json_build_array(name, version, last_index)) FROM projections)")
        return own

    def _take_head(self, own: psycopg.Cursor) -> int:
        """The latest index ``_send_head`` read (and the projections' status, as ``_status``)."""
        try:
            ((latest, status),) = own.fetchall()
        finally:
            own.close()
        self._status = {name: (version, last) for name, version, last in status or ()}
        return latest

    def _send_touched(self, cur: psycopg.Cursor, guard: Unchanged | None) -> psycopg.Cursor | None:
        """Send the check whether an event after ``guard.since`` has one of its keys (read by
        ``_take``): one statement over all its kinds. It sees the log as it was before this
        transaction; ``_touched_by`` adds the appends before it in the group."""
        if guard is None or not guard.keys:
            return None
        kinds, keys = _columns([(int(kind), key) for kind, key in guard.keys], 2)
        own = cur.connection.cursor()
        # A probe of the (kind, key, idx) index per key (a scalar subquery the planner cannot
        # turn into a join that scans event_keys): the cost follows the keys, not the log.
        own.execute("SELECT EXISTS (SELECT 1 FROM unnest(%b::bigint[], %b::text[]) AS k (kind, key)"
                    " WHERE (SELECT 1 FROM event_keys e WHERE e.kind = k.kind AND e.key = k.key AND e.idx > %s"
                    " LIMIT 1) IS NOT NULL)", (kinds, keys, guard.since))
        return own

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
            # One statement for both tables (a data-modifying WITH): each costs the client more
            # than its rows do for a small append.
            cur.execute("WITH e AS (INSERT INTO events (idx, event_id, type, ts, body)"
                        " SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::bigint[], %b::bytea[]))"
                        " INSERT INTO event_keys (kind, key, idx) SELECT * FROM unnest(%b::bigint[], %b::text[], %b::bigint[])",
                        [*_columns(event_rows, 5), *_columns(key_rows, 3)])
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

    def _project(self, cur: psycopg.Cursor, events: list[pb.Event], before: int, tx: PgRows | None = None) -> None:
        """Fold ``events`` into every projection, first replaying what it missed (events
        appended by a process that did not register it), in the same transaction. ``tx``
        may hold rows read up front (``PgRows.send_reads``)."""
        tx = tx or PgRows(cur)
        status = self._status  # read with the head, under the write lock
        for projection in self.projections:
            version, last = status.get(projection.name, (None, 0))
            if version != projection.version:
                for kind in projection.kinds:
                    cur.execute("DELETE FROM read_model WHERE kind = %s", (kind,))
                    cur.execute("DELETE FROM read_model_terms WHERE kind = %s", (kind,))
                last = 0
            if last < before:
                tx.forget()  # rows read up front may be gone (a rebuild) or be rewritten by the replay
            for chunk in self._replay(cur, last, before):
                projection.apply(tx, chunk)
            projection.apply(tx, events)
            last = events[-1].index if events else before
            cur.execute(
                "INSERT INTO projections (name, version, last_index) VALUES (%s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET version = excluded.version, last_index = excluded.last_index",
                (projection.name, projection.version, last))
            self._status[projection.name] = (projection.version, last)  # for the next batch of an import

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
        with self._group.write_lock, self._transaction(pipeline=False) as cur:
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
        # One statement, so one snapshot, for the page and the head (no transaction to open):
        # each page row carries the head, and an empty page is one row of NULLs beside it.
        paged = (f"WITH h AS ({_HEAD}) SELECT p.idx, p.event_id, p.ts, p.body, h.idx, h.event_id"
                 f" FROM (SELECT 1) AS one LEFT JOIN h ON TRUE LEFT JOIN ({sql}) AS p ON TRUE ORDER BY p.idx")
        found = self._query(paged, [*params, limit + 1])
        head = Cursor(found[0][4], found[0][5]) if found[0][4] is not None else START
        rows = [row[:4] for row in found if row[0] is not None]
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
            pattern_sql, pattern_params = PG.pattern_condition(pattern, "k.key")
            matches.append(f"({pattern_sql})")
            key_params += pattern_params
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM event_keys k JOIN events e ON e.idx = k.idx"
            f" WHERE k.kind = {int(KeyKind.PARTITION)} AND k.idx > %s AND ({' OR '.join(matches)})"
            f" AND {' AND '.join(where)} GROUP BY e.idx ORDER BY e.idx LIMIT %s"
        )
        return sql, [since, *key_params, *params]

    # -- read models (pg_readmodel, through StoredReadModels) ----------------------------

    def _rows_conn(self) -> psycopg.Connection:
        return self._conn()

    def _query_rows_each(self, queries: list[RowQuery]) -> list[list[Row]]:
        return self.rows.query_rows_each(self._conn(), queries)

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


def _take(own: psycopg.Cursor | None) -> bool:
    """The answer of a check ``_send_touched`` sent (False if none was sent)."""
    if own is None:
        return False
    try:
        ((found,),) = own.fetchall()
    finally:
        own.close()
    return bool(found)


def _accepted(group: list[Pending], latest: int, touched: list[bool]) -> list[Pending]:
    """The appends of ``group`` whose preconditions hold, each seeing the appends before it
    in the group, their events indexed from ``latest + 1`` on; the others get their
    AppendConflictError. ``touched``: each one's guard check against the log before the group."""
    accepted: list[Pending] = []
    for pending, touched_before in zip(group, touched):
        pending.error = None
        try:
            pending.condition.check_latest(latest)
            guard = pending.condition.unchanged
            if guard is not None and (touched_before or _touched_by(accepted, guard)):
                raise pending.condition.conflict(guard.since)
        except AppendConflictError as e:
            pending.error = e
            continue
        for event in pending.events:
            latest += 1
            event.index = latest
        accepted.append(pending)
    return accepted


def _touched_by(accepted: list[Pending], guard: Unchanged) -> bool:
    """Whether an event of these appends (earlier in the group, indexed) after ``guard.since`` has one of its keys."""
    return any(event.index > guard.since and not guard.keys.isdisjoint(keys)
               for pending in accepted for event, keys in zip(pending.events, pending.keys))


def _rows(cur: psycopg.Cursor, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Execute on ``cur``; its rows (none for a statement without a result)."""
    cur.execute(sql, params)
    return cur.fetchall() if cur.description else []
