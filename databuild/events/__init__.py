"""The build event log (BEL): storage of events behind one interface.

Backends are chosen by URI: ``sqlite:///path/bel.sqlite3`` (the default; options as
query parameters: ``?synchronous=full``, ``?busy_timeout=SECONDS`` to wait for another
process's write lock, default 60), ``memory://`` and, for a shared deployment,
``postgresql://user:password@host:port/dbname`` (or ``postgres://``; a libpq URI, every
libpq option as a query parameter, e.g. ``?host=/run/postgresql`` for a unix socket or
``?sslmode=require``; see ``databuild.events.postgres``).
"""

from __future__ import annotations

from typing import Sequence
from urllib.parse import parse_qs, urlsplit

from databuild.errors import InvalidUriError
from databuild.events.filter import ALL_EVENTS, EventFilter
from databuild.events.keys import KeyKind, event_type
from databuild.events.log import Clock, Cursor, EventLog, Page, Unchanged, system_clock
from databuild.events.memory import MemoryEventLog
from databuild.events.readmodel import Projection, ReadModelTx, Row, RowQuery, Term, TermMatch
from databuild.events.sqlite import SqliteEventLog
from databuild.events.types import EVENT_SCHEMA_VERSION, EVENT_TYPES, REGISTRY, EventType, EventTypes, On, event_keys

__all__ = [
    "ALL_EVENTS", "EVENT_SCHEMA_VERSION", "EVENT_TYPES", "REGISTRY", "Clock", "Cursor", "EventFilter", "EventLog",
    "EventType", "EventTypes", "KeyKind", "MemoryEventLog", "On", "Page", "Projection", "ReadModelTx", "Row",
    "RowQuery", "SqliteEventLog", "Term", "TermMatch", "Unchanged", "event_keys", "event_type", "open_event_log",
    "system_clock",
]


def open_event_log(uri: str, projections: Sequence[Projection] = (), clock: Clock = system_clock) -> EventLog:
    """Open (creating and migrating if needed) the event log named by ``uri``."""
    if not isinstance(uri, str) or "://" not in uri:
        raise InvalidUriError(f"event log URI {uri!r} is not of the form sqlite:///path or memory://")
    scheme, rest = uri.split("://", 1)
    if scheme == "memory":
        return MemoryEventLog(projections, clock)
    if scheme == "sqlite":
        return _open_sqlite(uri, rest, projections, clock)
    if scheme in ("postgresql", "postgres"):
        # Imported here: the driver loads libpq, which SQLite users need not pay for.
        from databuild.events.postgres import PostgresEventLog

        return PostgresEventLog(uri, projections, clock)
    raise InvalidUriError(f"unknown event log backend {scheme!r} in {uri!r}; "
                          "use sqlite:///path, postgresql://host/dbname or memory://")


def _open_sqlite(uri: str, rest: str, projections: Sequence[Projection], clock: Clock) -> SqliteEventLog:
    parts = urlsplit("file://" + rest)
    path = parts.netloc + parts.path  # sqlite:///abs/path -> /abs/path, sqlite://rel -> rel
    if not path:
        raise InvalidUriError(f"event log URI {uri!r} names no file")
    options = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    synchronous = options.pop("synchronous", "normal").lower()
    if synchronous not in ("normal", "full"):
        raise InvalidUriError(f"synchronous must be 'normal' or 'full' in {uri!r}, got {synchronous!r}")
    busy = options.pop("busy_timeout", "60")
    try:
        busy_timeout_s = float(busy)
    except ValueError:
        busy_timeout_s = -1.0
    if not 0 <= busy_timeout_s < float("inf"):
        raise InvalidUriError(f"busy_timeout must be seconds (0 or more) in {uri!r}, got {busy!r}")
    if options:
        raise InvalidUriError(f"unknown option(s) {', '.join(sorted(options))} in event log URI {uri!r}")
    return SqliteEventLog(path, projections, clock, synchronous=synchronous, busy_timeout_s=busy_timeout_s)
