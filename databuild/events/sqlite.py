"""SQLite event log on peewee (``sqlite:///path/to/bel.sqlite3``).

Durability: WAL journal with ``synchronous=NORMAL``. A committed append survives
the process being killed (SIGKILL included); after an OS crash or power loss the
last few commits may be lost, never corrupted. ``?synchronous=full`` in the URI
makes every commit durable against power loss at several times the cost per
transaction (batches amortise it).

Concurrency: one writer at a time. Threads of one process queue on a lock, and
appends queued while another commits share the next transaction (group commit: each
keeps its own indices, precondition and error, and returns once it committed); other
processes wait on SQLite's lock (``BEGIN IMMEDIATE`` + busy timeout) and are
retried until ``busy_timeout_s`` has passed, then EventLogBusyError is raised:
"database is locked" never reaches callers. Readers never block (WAL snapshots).

Files: a new log is built beside its path and linked into place, so the path holds
either nothing or a whole log (said once on stderr: "created a new event log at
PATH"); an existing file must be a DataBuild event log (not empty, not corrupt, not
another database), and its directory must exist. The log and its ``-wal``/``-shm``
files are readable by their owner only (0600). Each call compares the path's
(device, inode) with the file the log opened, so a log deleted or replaced under a
running process is noticed: from then on every call raises EventLogLostError.
Disk full, read-only or unreadable files raise StorageError naming the file and
roll back; the next call tries again.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import sqlite3
import stat
import sys
import threading
import time
import weakref
from typing import Callable, Iterable, Iterator, Sequence, TypeVar
from urllib.parse import quote

import peewee

from databuild.errors import AppendConflictError, EventLogBusyError, EventLogLostError, StorageError, UnavailableError
from databuild.events import migrations
from databuild.events.filter import EventFilter
from databuild.events.keys import Key, KeyKind, event_type
from databuild.events.lease import FileLease, Lease
from databuild.events.log import START, Clock, Cursor, EventLog, Page, Precondition, Unchanged, system_clock
from databuild.events.readmodel import Projection
from databuild.events.sqlcommon import EVENT_COLUMNS as _EVENT_COLUMNS, GroupCommit, StoredReadModels
from databuild.events.sqlcommon import Pending as _Pending
from databuild.events.sqlcommon import body as _body, event_of_row as _event
from databuild.events.types import upcast
from databuild.proto import databuild_pb2 as pb
from databuild.events.sqlite_readmodel import SQLITE, SqliteReadModels, SqliteRows
from databuild.refs import compile_pattern

T = TypeVar("T")
_REPLAY_CHUNK = 5000
_SYNCHRONOUS = {"normal": 1, "full": 2}
# SQLite primary result codes (https://sqlite.org/rescode.html): the stable C ABI.
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_REASONS = {13: "the disk is full", 8: "it is read-only", 11: "it is corrupt",
            26: "it is not an SQLite database", 3: "access to it is denied"}


def _ref_match(pattern: str, key: str) -> bool:
    return compile_pattern(pattern).matches(key)


class _ThreadConnection:
    """One thread's connection to a log, and the lock that thread holds while it uses it."""

    __slots__ = ("lock", "conn", "__weakref__")

    def __init__(self) -> None:
        self.lock = threading.RLock()  # re-entrant: log calls nest (e.g. a check inside an append)
        self.conn: sqlite3.Connection | None = None


class _Connections:
    """The connections threads opened to one log (peewee opens one per thread), so that the
    memory they cache can be given back while their threads are idle.

    A thread's entry is held only by that thread's locals (here weakly): when the thread ends,
    the entry and its connection, which nothing else references, are freed, so the
    connection is closed with its page cache. A thread that ended leaves nothing behind.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._entries: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()

    def mine(self) -> _ThreadConnection:
        """The calling thread's entry (made on its first call)."""
        entry = getattr(self._local, "entry", None)
        if entry is None:
            entry = self._local.entry = _ThreadConnection()
            with self._lock:
                self._entries.add(entry)
        return entry

    def open_count(self) -> int:
        """How many threads that are alive hold a connection."""
        with self._lock:
            return sum(1 for entry in self._entries if entry.conn is not None)

    def shrink_idle(self) -> int:
        """Free the page cache of each connection whose thread is not inside a log call now
        (``PRAGMA shrink_memory``, from this thread: connections are opened with
        ``check_same_thread=False`` and the entry's lock keeps their thread out meanwhile);
        the number of connections shrunk. A busy thread's cache is left alone."""
        with self._lock:
            entries = list(self._entries)
        shrunk = 0
        for entry in entries:
            if entry.conn is None or not entry.lock.acquire(blocking=False):
                continue
            try:
                entry.conn.execute("PRAGMA shrink_memory")
                shrunk += 1
            except sqlite3.ProgrammingError:  # closed by its thread (the log closed): nothing cached
                entry.conn = None
            finally:
                entry.lock.release()
        return shrunk


class _Database(peewee.SqliteDatabase):
    """peewee's SQLite database telling ``on_connect`` of each connection it opens (in the
    thread that will use it)."""

    def __init__(self, database: str, on_connect: Callable[[sqlite3.Connection], None], **kwargs: object) -> None:
        super().__init__(database, **kwargs)
        self._on_connect = on_connect

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        self._on_connect(conn)
        return conn


class SqliteEventLog(StoredReadModels, EventLog):
    """Event log in one SQLite file, shared safely by threads and processes."""

    def __init__(
        self,
        path: str,
        projections: Sequence[Projection] = (),
        clock: Clock = system_clock,
        synchronous: str = "normal",
        busy_timeout_s: float = 60.0,
        schema_version: int = migrations.LATEST,
    ) -> None:
        super().__init__(projections, clock)
        self.path = os.path.abspath(path)
        self.busy_timeout_s = busy_timeout_s
        # A busy SQLite lock is waited out (``_retry``) inside the group's transaction.
        self._group = GroupCommit(lambda group: self._retry(lambda: self._append_tx(group)))
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self._connections = _Connections()
        with self._storage():
            created = self._create_if_missing(schema_version)
            if not created:
                self._inspect()
        _restrict_to_owner(self.path)
        # mode=rw: a connection opened later (one per thread) never creates a file at the path.
        self._db = _Database(
            f"file:{quote(self.path)}?mode=rw",
            on_connect=self._connected,
            uri=True,
            # Only so that release_memory can shrink an idle thread's cache from another thread;
            # each connection is still used by its own thread alone (see _Connections).
            check_same_thread=False,
            pragmas={
                "journal_mode": "wal",
                "synchronous": _SYNCHRONOUS[synchronous],
                "cache_size": -256_000,  # KiB: keeps the key indexes of large logs in memory
                "temp_store": "memory",
                "wal_autocheckpoint": 10_000,  # pages: fewer checkpoint fsyncs under batched load
            },
            timeout=busy_timeout_s,  # SQLite's busy handler waits this long for another process's lock
        )
        self._db.register_function(_ref_match, "ref_match", 2, deterministic=True)
        self.rows = SqliteReadModels(lambda: self._by_name_key)  # the read-model store, same transactions
        try:
            with self._storage():
                self.schema_version = self._retry(
                    lambda: migrations.migrate(self._db, self.path, clock(), schema_version))
                self._identity = _file_identity(self.path)
                self._id = self._read_log_id()
                if self.projections:
                    self._retry(self._catch_up_projections)
        except BaseException:
            self._db.close()
            raise
        if created:
            print(f"created a new event log at {self.path}", file=sys.stderr, flush=True)

    # -- files ---------------------------------------------------------------

    def _create_if_missing(self, schema_version: int) -> bool:
        """Create the log if nothing is at its path; True if this call created it.

        Refuses what cannot be a log: a missing directory, an empty or non-regular file.
        """
        directory = os.path.dirname(self.path)
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            if not os.path.isdir(directory):
                raise StorageError(f"the directory of event log {self.path} does not exist: {directory}") from None
            return self._create(schema_version)
        except OSError as e:
            raise StorageError(f"event log {self.path} cannot be read: {e.strerror}") from e
        if not stat.S_ISREG(found.st_mode):
            raise StorageError(f"event log {self.path} is not a regular file")
        if found.st_size == 0:
            raise StorageError(f"event log {self.path} is an empty file (0 bytes), not a DataBuild event log; "
                               "remove it to start a new log there (the file was not modified)")
        return False

    def _inspect(self) -> None:
        """Check, read-only, that the existing file is an event log before anything
        (even switching it to WAL) writes to it."""
        db = peewee.SqliteDatabase(f"file:{quote(self.path)}?mode=ro", uri=True)
        try:
            migrations.current_version(db, self.path)
        finally:
            db.close()

    def _create(self, schema_version: int) -> bool:
        """Build a new log beside the path and link it into place: the path never
        holds a half-made log, and of two processes creating it at once one wins."""
        tmp = f"{self.path}.new-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            db = peewee.SqliteDatabase(tmp)  # rollback journal: all of it is in the one file once closed
            try:
                migrations.migrate(db, self.path, self.clock(), schema_version, new=True)
            finally:
                db.close()
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False  # another process created it first
        except OSError as e:
            raise StorageError(f"cannot create event log {self.path}: {e.strerror}") from e
        finally:
            for leftover in (tmp, f"{tmp}-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)

    def _check_identity(self) -> None:
        """Raise (and mark the log lost) if the path no longer names the file opened."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            raise self._lose(EventLogLostError(
                f"event log {self.path} was deleted while in use; nothing more is recorded")) from None
        except OSError as e:
            raise StorageError(f"event log {self.path} cannot be checked: {e.strerror}") from e
        if (found.st_dev, found.st_ino) != self._identity:
            raise self._lose(EventLogLostError(
                f"event log {self.path} was replaced by another file while in use; nothing more is recorded"))

    def _connected(self, conn: sqlite3.Connection) -> None:
        self._connections.mine().conn = conn

    @contextlib.contextmanager
    def _storage(self) -> Iterator[None]:
        # The thread's lock, held around every use of its connection: release_memory skips it meanwhile.
        with self._connections.mine().lock:
            if self._identity is not None:
                self._check_identity()
            try:
                yield
            except peewee.DatabaseError as e:
                if type(e) not in (peewee.DatabaseError, peewee.OperationalError):
                    raise  # integrity or programming errors are bugs, not storage faults
                raise self._fault(e) from e

    def _release_memory(self) -> int:
        return self._connections.shrink_idle()

    def open_connections(self) -> int:
        """How many live threads hold a connection to this log (threads that ended hold none)."""
        return self._connections.open_count()

    def _fault(self, error: peewee.DatabaseError) -> UnavailableError:
        """The named error for SQLite's ``error``: busy, or a storage fault and why."""
        cause = _sqlite_cause(error)
        text = str(cause or error)
        code = getattr(cause, "sqlite_errorcode", None)
        if _is_busy(cause or error):
            return EventLogBusyError(f"event log {self.path} is locked by another process ({text})")
        reason = _REASONS.get(code & 0xFF) if code is not None else None
        if reason is None:
            directory = os.path.dirname(self.path)
            reason = ("it is read-only" if os.path.exists(self.path) and not os.access(self.path, os.W_OK)
                      else "its directory is read-only" if not os.access(directory, os.W_OK)
                      else "it cannot be read or written")
        return StorageError(f"event log {self.path}: {reason} (SQLite: {text})")

    # -- writes ------------------------------------------------------------

    def _append(self, events: list[pb.Event], keys: list[set[Key]], condition: Precondition) -> list[int]:
        return self._group.append(events, keys, condition)

    def _append_tx(self, group: list[_Pending]) -> None:
        with self._db.atomic("IMMEDIATE"):
            before = latest = self._max_index()
            accepted = []
            for pending in group:
                pending.error = None
                try:  # each append's precondition sees the appends before it in the group
                    pending.condition.check_latest(latest)
                    guard = pending.condition.unchanged
                    if guard is not None and self._touched_since(guard):
                        raise pending.condition.conflict(guard.since)
                except AppendConflictError as e:
                    pending.error = e
                    continue
                latest = self._insert(pending.events, pending.keys, latest + 1)
                accepted.append(pending)
            if self.projections and accepted:
                self._project([e for pending in accepted for e in pending.events], before)
            self._check_identity()  # last, inside the transaction: a lost file gets no commit
        for pending in accepted:
            pending.indices = [e.index for e in pending.events]

    def _insert(self, events: list[pb.Event], keys: list[set[Key]], first: int) -> int:
        """Store ``events`` from index ``first`` on, with their keys; the last index written."""
        event_rows, key_rows = [], []
        for index, (event, event_keys) in enumerate(zip(events, keys), first):
            event.index = index
            ts = event.timestamp.ToMicroseconds()
            event_rows.append((index, event.event_id, event_type(event), ts, _body(event, ts)))
            key_rows.extend((int(kind), key, index) for kind, key in event_keys)
        cursor = self._db.cursor()
        cursor.executemany("INSERT INTO events (idx, event_id, type, ts, body) VALUES (?, ?, ?, ?, ?)", event_rows)
        cursor.executemany("INSERT INTO event_keys (kind, key, idx) VALUES (?, ?, ?)", key_rows)
        return first + len(events) - 1

    def _project(self, events: list[pb.Event], before: int) -> None:
        """Fold ``events`` into every projection, first replaying what it missed.

        A projection misses events appended by a process that did not register it
        (an older DataBuild, a tool): it catches up here, in the same transaction.
        """
        tx = SqliteRows(self._db, self._by_name_key)
        status = self._projection_status()
        for projection in self.projections:
            version, last = status.get(projection.name, (None, 0))
            if version != projection.version:
                self._reset(projection)
                last = 0
            for chunk in self._replay(last, before):
                projection.apply(tx, chunk)
            projection.apply(tx, events)
            # An upsert changes the row in place; a REPLACE would also rewrite the name's index
            # entry: one WAL page more in every append.
            self._db.execute_sql(
                "INSERT INTO projections (name, version, last_index) VALUES (?, ?, ?) ON CONFLICT (name)"
                " DO UPDATE SET version = excluded.version, last_index = excluded.last_index",
                (projection.name, projection.version, events[-1].index if events else before),
            )

    def _touched_since(self, guard: Unchanged) -> bool:
        by_kind: dict[int, list[str]] = {}
        for kind, key in guard.keys:
            by_kind.setdefault(int(kind), []).append(key)
        for kind, keys in by_kind.items():
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                found = self._db.execute_sql(
                    f"SELECT 1 FROM event_keys WHERE kind = ? AND key IN ({_placeholders(chunk)}) AND idx > ? LIMIT 1",
                    [kind, *chunk, guard.since]).fetchone()
                if found:
                    return True
        return False

    def _catch_up_projections(self) -> None:
        with self._db.atomic("IMMEDIATE"):
            self._project([], self._max_index())

    def _reset(self, projection: Projection) -> None:
        for kind in projection.kinds:
            self._db.execute_sql("DELETE FROM read_model WHERE kind = ?", (kind,))
            self._db.execute_sql("DELETE FROM read_model_terms WHERE kind = ?", (kind,))

    def _replay(self, after: int, upto: int) -> Iterable[list[pb.Event]]:
        while after < upto:
            cursor = self._db.execute_sql(
                f"SELECT {_EVENT_COLUMNS} FROM events e WHERE idx > ? AND idx <= ? ORDER BY idx LIMIT ?",
                (after, upto, _REPLAY_CHUNK),
            )
            chunk = [upcast(_event(*row)) for row in cursor]
            yield chunk
            after = chunk[-1].index

    def _projection_status(self) -> dict[str, tuple[int, int]]:
        cursor = self._db.execute_sql("SELECT name, version, last_index FROM projections")
        return {name: (version, last) for name, version, last in cursor}

    def _max_index(self) -> int:
        return self._db.execute_sql("SELECT COALESCE(MAX(idx), 0) FROM events").fetchone()[0]

    def _retry(self, operation: Callable[[], T]) -> T:
        """Run ``operation``, retrying while another process holds the write lock."""
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.001
        while True:
            try:
                return operation()
            except peewee.OperationalError as e:
                if not _is_busy(_sqlite_cause(e) or e):
                    raise
                if time.monotonic() >= deadline:
                    raise EventLogBusyError(
                        f"event log {self.path} stayed locked by another writer for {self.busy_timeout_s:.0f}s"
                    ) from e
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.1)

    # -- reads -------------------------------------------------------------

    def _list_events(self, since: int, filter: EventFilter, limit: int) -> Page:
        where, params = ["e.idx > ?"], [since]
        if filter.types:
            where.append(f"e.type IN ({_placeholders(filter.types)})")
            params += filter.types
        if filter.start is not None:
            where.append("e.ts >= ?")
            params.append(filter.start_us)
        if filter.end is not None:
            where.append("e.ts < ?")
            params.append(filter.end_us)
        if filter.refs and not filter.ref_patterns:
            where.append(f"e.idx IN (SELECT idx FROM event_keys WHERE kind = ? AND key IN ({_placeholders(filter.refs)})"
                         " AND idx > ?)")
            params += [int(KeyKind.PARTITION), *filter.refs, since]
        for kind, ids in filter.id_groups():
            where.append(f"e.idx IN (SELECT idx FROM event_keys WHERE kind = ? AND key IN ({_placeholders(ids)}) AND idx > ?)")
            params += [int(kind), *ids, since]
        if filter.ref_patterns:
            sql, params = self._pattern_query(filter, since, where, params)
        else:
            sql = f"SELECT {_EVENT_COLUMNS} FROM events e WHERE {' AND '.join(where)} ORDER BY e.idx LIMIT ?"
        with self._db.atomic():  # one snapshot for the page and the head
            rows = self._db.execute_sql(sql, [*params, limit + 1]).fetchall()
            head = self._head()
        events = [_event(*row) for row in rows[:limit]]
        return Page.of(events, len(rows) > limit, since, head)

    def _pattern_query(self, filter: EventFilter, since: int, where: list[str], params: list[object]
                       ) -> tuple[str, list[object]]:
        """Walk partition keys in index order, so a page stops at its limit however old ``since`` is."""
        matches, key_params = [], []
        if filter.refs:
            matches.append(f"k.key IN ({_placeholders(filter.refs)})")
            key_params += filter.refs
        for pattern in filter.patterns:
            pattern_sql, pattern_params = _pattern_condition(pattern, "k.key")
            matches.append(f"({pattern_sql})")
            key_params += pattern_params
        # The kind is written into the SQL, not bound: only then can SQLite use the partial index.
        index = (migrations.PARTITION_KEYS_BY_IDX if self.schema_version >= migrations.PARTITION_KEYS_BY_IDX_VERSION
                 else migrations.KEYS_BY_IDX)
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM event_keys k INDEXED BY {index} JOIN events e ON e.idx = k.idx"
            f" WHERE k.kind = {int(KeyKind.PARTITION)} AND k.idx > ? AND ({' OR '.join(matches)})"
            f" AND {' AND '.join(where)} GROUP BY k.idx ORDER BY k.idx LIMIT ?"
        )
        return sql, [since, *key_params, *params]

    def _latest_index(self) -> int:
        return self._max_index()

    def _head(self) -> Cursor:
        found = self._db.execute_sql("SELECT idx, event_id FROM events ORDER BY idx DESC LIMIT 1").fetchone()
        return Cursor(*found) if found else START

    def _event_id_at(self, index: int) -> str | None:
        found = self._db.execute_sql("SELECT event_id FROM events WHERE idx = ?", (index,)).fetchone()
        return found[0] if found else None

    def _read_log_id(self) -> str | None:
        """The stored log id; None for a log kept at a schema before it (tests of old versions)."""
        if self.schema_version < migrations.LOG_ID_VERSION:
            return None
        (log_id,) = self._db.execute_sql("SELECT value FROM log_metadata WHERE name = 'log_id'").fetchone()
        return log_id

    def _log_id(self) -> str:
        if self._id is None:
            raise StorageError(f"event log {self.path} was opened at schema version {self.schema_version}, "
                               f"before logs had an id (version {migrations.LOG_ID_VERSION})")
        return self._id

    # -- read models (sqlite_readmodel, through StoredReadModels) -------------------------

    @property
    def _by_name_key(self) -> bool:
        """Whether the log's terms are indexed by (name, key) (``TERMS_BY_NAME_KEY``)."""
        return self.schema_version >= migrations.TERMS_BY_NAME_KEY_VERSION

    def _rows_conn(self) -> peewee.SqliteDatabase:
        return self._db

    def _lease(self, name: str) -> Lease:
        # A file beside the log: its flock goes with the holding process, SIGKILL included.
        return FileLease(name, f"{self.path}.lease-{name}")

    def _close(self) -> None:
        mine = self._connections.mine()
        with mine.lock:
            self._db.close()
            mine.conn = None

    def _import(self, batches: Iterator[list[tuple[pb.Event, set[Key]]]], log_id: str) -> int:
        """One IMMEDIATE transaction for the whole import: a failure anywhere rolls it all back.
        The write lock keeps this process's appends out; other processes wait on SQLite's."""
        # Imported here, so that this addition leaves the module's header as it was.
        from databuild.events.log import duplicate_event_id, not_empty, projected

        if self.schema_version < migrations.LOG_ID_VERSION:
            raise StorageError(f"event log {self.path} is at schema version {self.schema_version}, "
                               f"before logs had an id (version {migrations.LOG_ID_VERSION}): it cannot take one")
        with self._group.write_lock, self._db.atomic("IMMEDIATE"):
            head = self._max_index()
            if head:
                raise not_empty(head)
            for batch in batches:
                events = [event for event, _ in batch]
                self._insert(events, [keys for _, keys in batch], events[0].index)
                if self.projections:
                    self._project(projected(batch), head)
                head = events[-1].index
            # event_id has no unique index (appends make UUIDs): one grouped pass finds a repeat.
            repeated = self._db.execute_sql(
                "SELECT event_id, MAX(idx) FROM events GROUP BY event_id HAVING COUNT(*) > 1 LIMIT 1").fetchone()
            if repeated:
                raise duplicate_event_id(*repeated)
            self._db.execute_sql("UPDATE log_metadata SET value = ? WHERE name = 'log_id'", (log_id,))
            self._check_identity()
        self._id = log_id
        return head

def _sqlite_cause(error: BaseException | None) -> sqlite3.Error | None:
    """The sqlite3 error behind peewee's ``error``, looking past a failed ROLLBACK that
    masks it (SQLite rolls back by itself after e.g. a full disk)."""
    while error is not None:
        cause = error if isinstance(error, sqlite3.Error) else (
            error.args[0] if error.args and isinstance(error.args[0], sqlite3.Error) else None)
        if cause is not None and "no transaction is active" not in str(cause):
            return cause
        error = error.__context__
    return None


def _is_busy(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    return "locked" in str(error) or "busy" in str(error)  # Python < 3.11 has no error codes


def _file_identity(path: str) -> tuple[int, int]:
    found = os.stat(path)
    return found.st_dev, found.st_ino


def _restrict_to_owner(path: str) -> None:
    """Make the log and its -wal/-shm files owner-only (logs of older versions were 0644)."""
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            found = os.stat(name)
            if found.st_mode & 0o077 and found.st_uid == os.geteuid():
                os.chmod(name, stat.S_IMODE(found.st_mode) & 0o700)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise StorageError(f"cannot make event log file {name} private: {e.strerror}") from e


_placeholders = SQLITE.marks
_pattern_condition = SQLITE.pattern_condition
