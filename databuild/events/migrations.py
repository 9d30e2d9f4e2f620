"""Numbered, explicit schema migrations of the SQLite event log.

Each migration runs once, inside the transaction that records it in
``schema_migrations``; a database whose recorded version is above ``LATEST``
was written by a newer DataBuild and is refused, never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee

from databuild.errors import SchemaTooNewError


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


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
            # kind: 1 partition ref, 2 build id, 3 job run id, 4 want id, 5 upstream.
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
        ("CREATE INDEX event_keys_by_idx ON event_keys (kind, idx, key)",),
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
            "CREATE INDEX read_model_terms_by_key ON read_model_terms (kind, key, name, value)",
        ),
    ),
)

LATEST = MIGRATIONS[-1].version


def current_version(db: peewee.Database) -> int:
    """The schema version recorded in ``db`` (0 for a new database)."""
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    (version,) = db.execute_sql("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return version


def migrate(db: peewee.Database, path: str, now_us: int, target: int = LATEST) -> int:
    """Bring ``db`` to schema ``target`` inside one write transaction; return it.

    Raises SchemaTooNewError if ``db`` is already past what this code knows.
    """
    with db.atomic("IMMEDIATE"):
        version = current_version(db)
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
