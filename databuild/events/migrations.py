"""Numbered, explicit schema migrations of the event log, shared by SQLite and PostgreSQL.

Each migration runs once, inside the transaction that records it in
``schema_migrations``; a database whose recorded version is above ``LATEST``
was written by a newer DataBuild and is refused, never touched. So is a database
without ``schema_migrations`` or missing a table of its recorded version: it is not
(or no longer) an event log, and only a new log gets the schema created.

The statements are SQLite's; PostgreSQL runs the same ones through ``postgres_sql`` (its
types, ``COLLATE "C"`` text so keys sort by code point as in SQLite), except where a
migration gives its own (``Migration.postgres``: SQL with no common spelling).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import peewee

from databuild.errors import SchemaTooNewError, StorageError


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    #: PostgreSQL's statements, where SQLite's cannot be translated (``postgres_sql``).
    postgres: tuple[str, ...] | None = None

    def postgres_statements(self) -> tuple[str, ...]:
        """What PostgreSQL runs for this migration."""
        return self.postgres if self.postgres is not None else tuple(postgres_sql(s) for s in self.statements)

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables this migration creates."""
        return tuple(re.findall(r"CREATE TABLE (\w+)", " ".join(self.statements)))


#: The schema version that gave logs their ``log_metadata`` table and ``log_id``.
LOG_ID_VERSION = 5
#: The schema version that indexed read-model terms by (name, key) instead of (key, name).
TERMS_BY_NAME_KEY_VERSION = 6
#: Index of one term name's entries in key order, value included, so a row query walks only
#: that term's entries (not the rows, nor every term of every row) and checks the value in the
#: index; it also finds a row's entries of one name, as the (key, name) index it replaces did.
TERMS_BY_NAME_KEY = "read_model_terms_by_name_key"
#: The index of terms by (key, name, value) that logs before ``TERMS_BY_NAME_KEY_VERSION`` have.
TERMS_BY_KEY = "read_model_terms_by_key"
#: The schema version that indexed only partition keys by index (the one kind feeds walk that way).
PARTITION_KEYS_BY_IDX_VERSION = 7
#: Partition keys in index order: a ref-pattern feed walks it and stops at its page's limit.
PARTITION_KEYS_BY_IDX = "event_keys_partitions_by_idx"
#: The index of every kind's keys by index that logs before ``PARTITION_KEYS_BY_IDX_VERSION`` have.
KEYS_BY_IDX = "event_keys_by_idx"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events and their index keys",
        (
            """CREATE TABLE events (
                idx INTEGER PRIMARY KEY,      -- gap-free: max+1 under the write lock
                event_id TEXT NOT NULL,
                type TEXT NOT NULL,
                ts INTEGER NOT NULL,          -- UTC microseconds
                body BLOB NOT NULL            -- serialized databuild.v1.Event
            )""",
            "CREATE INDEX events_type ON events (type, idx)",
            "CREATE INDEX events_ts ON events (ts)",
            # kind: 1 partition ref, 2 build id, 3 job run id, 4 want id, 5 upstream, 6 trigger (KeyKind).
            """CREATE TABLE event_keys (
                kind INTEGER NOT NULL,
                key TEXT NOT NULL,
                idx INTEGER NOT NULL,
                PRIMARY KEY (kind, key, idx)
            ) WITHOUT ROWID""",
        ),
    ),
    Migration(
        2,
        "read models kept by projections; rebuilt from the log by replay",
        (
            """CREATE TABLE read_model (
                kind TEXT NOT NULL,
                key TEXT NOT NULL,
                status INTEGER NOT NULL,
                body BLOB NOT NULL,
                PRIMARY KEY (kind, key)
            ) WITHOUT ROWID""",
            "CREATE INDEX read_model_status ON read_model (kind, status, key)",
            """CREATE TABLE projections (
                name TEXT PRIMARY KEY,
                version INTEGER NOT NULL,
                last_index INTEGER NOT NULL   -- events folded into read_model so far
            )""",
        ),
    ),
    Migration(
        3,
        "event keys by index, so ref-pattern feeds scan in index order and stop at their limit",
        (f"CREATE INDEX {KEYS_BY_IDX} ON event_keys (kind, idx, key)",),
    ),
    Migration(
        4,
        "secondary index terms of read-model rows (wants by partition, deadline, source)",
        (
            """CREATE TABLE read_model_terms (
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                value TEXT NOT NULL,
                key TEXT NOT NULL,
                PRIMARY KEY (kind, name, value, key)
            ) WITHOUT ROWID""",
            f"CREATE INDEX {TERMS_BY_KEY} ON read_model_terms (kind, key, name, value)",
        ),
    ),
    Migration(
        LOG_ID_VERSION,
        "the log's identity (log_id): a UUID made once, when the log is created or upgraded",
        (
            """CREATE TABLE log_metadata (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL
            ) WITHOUT ROWID""",
            # A random (version 4) UUID, made by SQLite so the migration stays one transaction of SQL.
            """INSERT INTO log_metadata (name, value)
               SELECT 'log_id', substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-'
                   || substr('89ab', 1 + (random() & 3), 1) || substr(h, 18, 3) || '-'
                   || substr(h, 21, 12)
               FROM (SELECT lower(hex(randomblob(16))) AS h)""",
        ),
        postgres=(
            """CREATE TABLE log_metadata (
                name TEXT COLLATE "C" PRIMARY KEY,
                value TEXT COLLATE "C" NOT NULL
            )""",
            "INSERT INTO log_metadata (name, value) VALUES ('log_id', gen_random_uuid()::text)",
        ),
    ),
    Migration(
        TERMS_BY_NAME_KEY_VERSION,
        "read-model terms indexed by (name, key), not (key, name), so a page of rows matching a broad"
        " term condition walks that term's entries in key order",
        (f"CREATE INDEX {TERMS_BY_NAME_KEY} ON read_model_terms (kind, name, key, value)",
         f"DROP INDEX {TERMS_BY_KEY}"),  # one secondary index to write per term, as before
    ),
    Migration(
        PARTITION_KEYS_BY_IDX_VERSION,
        "only partition keys indexed by event index: no feed walks build, run, want, upstream or trigger"
        " keys in index order, and they were most of that index",
        (f"CREATE INDEX {PARTITION_KEYS_BY_IDX} ON event_keys (idx, key) WHERE kind = 1",
         f"DROP INDEX {KEYS_BY_IDX}"),
    ),
)

LATEST = MIGRATIONS[-1].version

# SQLite spellings and their PostgreSQL ones: 64-bit integers (indices, microseconds),
# BYTEA for blobs, text compared by code point (the C collation, as SQLite's BINARY), and
# no WITHOUT ROWID (every PostgreSQL table is a heap beside its primary-key index).
_POSTGRES_SPELLING = ((re.compile(r"\bINTEGER\b"), "BIGINT"), (re.compile(r"\bBLOB\b"), "BYTEA"),
                      (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'), (re.compile(r"\s*WITHOUT ROWID"), ""))


def postgres_sql(statement: str) -> str:
    """SQLite DDL ``statement`` as PostgreSQL spells it."""
    for pattern, spelling in _POSTGRES_SPELLING:
        statement = pattern.sub(spelling, statement)
    return statement


def _tables(db: peewee.Database) -> set[str]:
    return {name for (name,) in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}


def current_version(db: peewee.Database, path: str) -> int:
    """The schema version recorded in the event log ``db`` at ``path``.

    Raises StorageError if ``db`` is not an event log or lacks a table of its version.
    """
    tables = _tables(db)
    if "schema_migrations" not in tables:
        found = f"its tables: {', '.join(sorted(tables))}" if tables else "it has no tables"
        raise StorageError(f"{path} is an SQLite database but not a DataBuild event log ({found}); "
                           "move it away or point the event log URI elsewhere (the file was not modified)")
    (version,) = db.execute_sql("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    missing = [t for m in MIGRATIONS if m.version <= version for t in m.tables if t not in tables]
    if missing:
        raise StorageError(f"event log {path} at schema version {version} lacks its table(s) "
                           f"{', '.join(missing)}: the file is damaged (it was not modified)")
    return version


def migrate(db: peewee.Database, path: str, now_us: int, target: int = LATEST, new: bool = False) -> int:
    """Bring the event log ``db`` at ``path`` to schema ``target`` inside one write
    transaction; return it. ``new``: ``db`` is an empty database to make a log of.

    Raises SchemaTooNewError if ``db`` is already past what this code knows, StorageError
    if it is not an event log.
    """
    with db.atomic("IMMEDIATE"):
        if new:
            db.execute_sql("CREATE TABLE schema_migrations ("
                           " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)")
        version = current_version(db, path)
        if version > LATEST:
            raise SchemaTooNewError(
                f"event log {path} has schema version {version}, but this DataBuild only knows "
                f"versions up to {LATEST}; upgrade DataBuild to open it (the file was not modified)"
            )
        for migration in MIGRATIONS:
            if version < migration.version <= target:
                for statement in migration.statements:
                    db.execute_sql(statement)
                db.execute_sql(
                    "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.description, now_us),
                )
                version = migration.version
    return version


#: Executes one statement with ``%s`` parameters and returns its rows (a PostgreSQL cursor's).
Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def check_version(version: int, tables: set[str], where: str) -> None:
    """Refuse a log at ``where`` newer than this code or lacking a table of its ``version``."""
    if version > LATEST:
        raise SchemaTooNewError(
            f"event log {where} has schema version {version}, but this DataBuild only knows "
            f"versions up to {LATEST}; upgrade DataBuild to open it (the database was not modified)")
    missing = [t for m in MIGRATIONS if m.version <= version for t in m.tables if t not in tables]
    if missing:
        raise StorageError(f"event log {where} at schema version {version} lacks its table(s) "
                           f"{', '.join(missing)}: the database is damaged (it was not modified)")


def migrate_postgres(execute: Execute, where: str, now_us: int, target: int = LATEST) -> int:
    """Bring the PostgreSQL event log to schema ``target``; return its version. Call inside
    a transaction holding the log's write lock (so concurrent openers migrate once).

    A database without tables becomes a new log; one with tables but no
    ``schema_migrations`` is not an event log and is refused untouched.
    """
    tables = {name for (name,) in execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()", ())}
    if "schema_migrations" not in tables:
        if tables:
            raise StorageError(f"{where} is a PostgreSQL database but not a DataBuild event log (its tables: "
                               f"{', '.join(sorted(tables))}); point the event log URI at an empty database "
                               "(this one was not modified)")
        execute("CREATE TABLE schema_migrations ("
                " version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)", ())
        tables.add("schema_migrations")
    ((version,),) = execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", ())
    check_version(version, tables, where)
    for migration in MIGRATIONS:
        if version < migration.version <= target:
            for statement in migration.postgres_statements():
                execute(statement, ())
            execute("INSERT INTO schema_migrations (version, description, applied_at) VALUES (%s, %s, %s)",
                    (migration.version, migration.description, now_us))
            version = migration.version
    return version
