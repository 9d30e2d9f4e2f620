"""The read-model store of the SQLite event log: rows, their index terms and the queries
on them, written in the append transaction by ``SqliteRows`` (the projections'
``ReadModelTx``) and read by ``SqliteReadModels``. The event store (``sqlite.py``) owns
the database, its connections and the transaction; this module only the read models'
SQL, on SQLite's side of the ``Dialect`` both SQL backends share (``sqlcommon``)."""

from __future__ import annotations

import sqlite3
from typing import Callable, Sequence

import peewee

from databuild.events import migrations
from databuild.events.readmodel import Row, RowQuery, TermMatch
from databuild.events.sqlcommon import Dialect
from databuild.refs import RefPattern, compile_pattern, sqlite_glob


def _glob(pattern: RefPattern, column: str) -> tuple[str, list[object]]:
    """SQLite's exact match of a non-literal ref glob: a GLOB, made exact by the count of
    ``/`` or, with ``**``, by ``ref_match`` (the only case that calls into Python for each row)."""
    sql, params = f"{column} GLOB ?", [sqlite_glob(pattern.pattern)]
    if pattern.slash_count is None:
        return sql + f" AND ref_match(?, {column})", [*params, pattern.pattern]
    return (sql + f" AND length({column}) - length(replace({column}, '/', '')) = ?",
            [*params, pattern.slash_count])


SQLITE = Dialect("?", _glob)
#: The database a read is lent (peewee's, on the calling thread's connection).
Db = peewee.SqliteDatabase
_placeholders = SQLITE.marks
_term_condition = SQLITE.term_condition
_pattern_condition = SQLITE.pattern_condition
_prefix_range = SQLITE.prefix_range


class SqliteRows:
    """ReadModelTx on the open write transaction's cursor."""

    def __init__(self, db: Db, by_name_key: bool) -> None:
        self._db = db
        self._by_name_key = by_name_key  # terms indexed by (name, key), not by (key, name)

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Row]:
        return _select_rows(self._db, kind, list(keys))

    def put_many(self, rows: Sequence[Row]) -> None:
        cursor = self._db.cursor()
        cursor.executemany(
            "INSERT INTO read_model (kind, key, status, body) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (kind, key) DO UPDATE SET status = excluded.status, body = excluded.body",
            [(r.kind, r.key, r.status, r.body) for r in rows],
        )
        indexed = [r for r in rows if r.terms is not None]
        unknown = [(r.kind, r.key) for r in indexed if r.old_terms is None]
        if unknown:
            self._delete_terms(cursor, unknown)
        # Only statements with rows to write: new rows (a batch of created wants) have no old terms.
        stale = [(r.kind, name, value, r.key) for r in indexed if r.old_terms
                 for name, value in set(r.old_terms) - set(r.terms)]
        if stale:
            cursor.executemany("DELETE FROM read_model_terms WHERE kind = ? AND name = ? AND value = ? AND key = ?",
                               stale)
        added = [(r.kind, name, value, r.key) for r in indexed
                 for name, value in (set(r.terms) - set(r.old_terms) if r.old_terms else r.terms)]
        if added:
            cursor.executemany("INSERT OR IGNORE INTO read_model_terms (kind, name, value, key) VALUES (?, ?, ?, ?)",
                               added)

    def _delete_terms(self, cursor: sqlite3.Cursor, rows: list[tuple[str, str]]) -> None:
        """Delete every term of these (kind, key) rows, whose old terms the writer did not give."""
        if not self._by_name_key:
            cursor.executemany("DELETE FROM read_model_terms WHERE kind = ? AND key = ?", rows)
            return
        for kind in {kind for kind, _ in rows}:
            # The (name, key) index finds a row's entries name by name: the kind's few names first.
            names = _term_names(cursor, kind)
            if names:
                cursor.executemany(
                    f"DELETE FROM read_model_terms WHERE kind = ? AND name IN ({_placeholders(names)}) AND key = ?",
                    [(kind, *names, key) for k, key in rows if k == kind])


def _term_names(cursor: sqlite3.Cursor, kind: str) -> list[str]:
    """The distinct term names of ``kind``: one primary-key seek per name, not a scan of its terms."""
    cursor.execute(
        "WITH RECURSIVE names (name) AS (SELECT MIN(name) FROM read_model_terms WHERE kind = ?1"
        " UNION ALL SELECT (SELECT MIN(name) FROM read_model_terms WHERE kind = ?1 AND name > names.name)"
        " FROM names WHERE names.name IS NOT NULL) SELECT name FROM names WHERE name IS NOT NULL", (kind,))
    return [name for (name,) in cursor.fetchall()]


def _select_rows(db: peewee.SqliteDatabase, kind: str, keys: list[str]) -> dict[str, Row]:
    found: dict[str, Row] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        cursor = db.execute_sql(
            f"SELECT key, status, body FROM read_model WHERE kind = ? AND key IN ({_placeholders(chunk)})",
            [kind, *chunk],
        )
        for key, status, body in cursor:
            found[key] = Row(kind, key, status, bytes(body))
    return found


class SqliteReadModels:
    """Queries of the read models, each on the database a call was lent (its thread's connection)."""

    #: Below this many matches a term condition is a key list, above it a per-row check.
    few_terms = 5000

    def __init__(self, by_name_key: Callable[[], bool]) -> None:
        #: Whether the log's terms are indexed by (name, key) (``TERMS_BY_NAME_KEY``), by its schema version.
        self.by_name_key = by_name_key

    def get_rows(self, db: Db, kind: str, keys: list[str]) -> dict[str, Row]:
        return _select_rows(db, kind, keys)

    def query_rows(self, db: Db, query: RowQuery) -> list[Row]:
        """Rows in key order, a page costing what it returns rather than every match.

        What drives the scan, best first: an equality term (its entries are in key order);
        else, when no term condition matches few rows, the first term's entries in key order
        (``TERMS_BY_NAME_KEY``: its value is checked in the index and a row read only for an
        entry that matches), unless statuses that few rows have drive instead (their index,
        then a sort); else the rows in key order. Term conditions that do not drive are a key list when few rows match,
        a per-row check when many do."""
        terms = list(query.terms)
        driver = next((m for m in terms if len(m.values) == 1 and m.low is m.high is m.pattern is None), None)
        few = {i for i, m in enumerate(terms) if m is not driver and self._few_terms(db, query.kind, m)}
        walker, by_status = None, False
        if driver is None and not few and terms:
            by_status = bool(query.statuses) and self._few_statuses(db, query.kind, query.statuses)
            if not by_status and self.by_name_key():
                walker = terms[0]
        where, params = ["r.kind = ?"], [query.kind]
        if query.statuses:
            where.append(f"r.status IN ({_placeholders(query.statuses)})")
            params += query.statuses
        if query.pattern is not None:
            pattern_sql, pattern_params = _pattern_condition(compile_pattern(query.pattern), "r.key")
            where.append(pattern_sql)
            params += pattern_params
        key = "t.key" if driver or walker else "r.key"
        if query.after_key is not None:
            where.append(f"{key} > ?")
            params.append(query.after_key)
        for i, match in enumerate(terms):
            if match is driver or match is walker:
                continue
            term_sql, term_params = _term_condition(match, "m.value")
            if i in few:
                where.append(f"r.key IN (SELECT m.key FROM read_model_terms m WHERE m.kind = ? AND m.name = ?{term_sql})")
            else:
                index = migrations.TERMS_BY_NAME_KEY if self.by_name_key() else migrations.TERMS_BY_KEY
                where.append(f"EXISTS (SELECT 1 FROM read_model_terms m INDEXED BY {index}"
                             f" WHERE m.kind = ? AND m.key = r.key AND m.name = ?{term_sql})")
            params += [query.kind, match.name, *term_params]
        group = ""
        if driver:
            sql = ("SELECT r.key, r.status, r.body FROM read_model_terms t JOIN read_model r"
                   " ON r.kind = t.kind AND r.key = t.key WHERE t.kind = ? AND t.name = ? AND t.value = ? AND ")
            params = [query.kind, driver.name, driver.values[0], *params]
        elif walker:
            # A row may have several entries that match (two partitions in one pattern): one each.
            term_sql, term_params = _term_condition(walker, "t.value")
            sql = (f"SELECT r.key, r.status, r.body FROM read_model_terms t INDEXED BY {migrations.TERMS_BY_NAME_KEY}"
                   f" JOIN read_model r ON r.kind = t.kind AND r.key = t.key WHERE t.kind = ? AND t.name = ?{term_sql}"
                   " AND ")
            params = [query.kind, walker.name, *term_params, *params]
            group = " GROUP BY t.key"
        else:
            # Few rows with these statuses: walk them (then sort) rather than every row.
            indexed = " INDEXED BY read_model_status" if by_status else ""
            sql = f"SELECT r.key, r.status, r.body FROM read_model r{indexed} WHERE "
        sql += " AND ".join(where) + f"{group} ORDER BY {key} LIMIT ?"
        params.append(query.limit)
        return [Row(query.kind, k, s, bytes(b)) for k, s, b in db.execute_sql(sql, params)]

    def _few_terms(self, db: Db, kind: str, match: TermMatch) -> bool:
        """Whether fewer than ``few_terms`` rows match ``match`` (a bounded count)."""
        threshold = self.few_terms
        term_sql, params = _term_condition(match, "value")
        (count,) = db.execute_sql(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM read_model_terms WHERE kind = ? AND name = ?{term_sql} LIMIT ?)",
            [kind, match.name, *params, threshold]).fetchone()
        return count < threshold

    def _few_statuses(self, db: Db, kind: str, statuses: Sequence[int]) -> bool:
        """Whether fewer than ``few_terms`` rows have one of ``statuses`` (a bounded count on
        ``read_model_status``): then walking those rows beats walking a broad term's entries."""
        (count,) = db.execute_sql(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM read_model WHERE kind = ? AND status IN ({_placeholders(statuses)})"
            " LIMIT ?)", [kind, *statuses, self.few_terms]).fetchone()
        return count < self.few_terms

    def count_rows(self, db: Db, kind: str, statuses: tuple[int, ...], term: TermMatch | None) -> dict[int, int]:
        """A covering scan of ``read_model_status`` (kind, status[, key]); with ``term``, the
        keys its entries name (a range of the terms' primary key) probe the rows."""
        where, params = ["r.kind = ?"], [kind]
        if statuses:
            where.append(f"r.status IN ({_placeholders(statuses)})")
            params += statuses
        if term is not None:
            term_sql, term_params = _term_condition(term, "m.value")
            where.append(f"r.key IN (SELECT m.key FROM read_model_terms m WHERE m.kind = ? AND m.name = ?{term_sql})")
            params += [kind, term.name, *term_params]
        sql = f"SELECT r.status, COUNT(*) FROM read_model r WHERE {' AND '.join(where)} GROUP BY r.status"
        return {status: count for status, count in db.execute_sql(sql, params)}

    def count_terms(self, db: Db, kind: str, term: TermMatch) -> int:
        term_sql, params = _term_condition(term, "value")
        (count,) = db.execute_sql(
            f"SELECT COUNT(*) FROM read_model_terms WHERE kind = ? AND name = ?{term_sql}",
            [kind, term.name, *params]).fetchone()
        return count

    def term_entries(self, db: Db, kind: str, name: str, low: str | None, high: str | None,
                      limit: int, reverse: bool, after: tuple[str, str] | None) -> list[tuple[str, str]]:
        term_sql, params = _term_condition(TermMatch(name, low=low, high=high), "value")
        order = "DESC" if reverse else "ASC"
        if after is not None:
            beyond = "<" if reverse else ">"
            term_sql += f" AND (value {beyond} ? OR (value = ? AND key {beyond} ?))"
            params += [after[0], after[0], after[1]]
        cursor = db.execute_sql(
            f"SELECT value, key FROM read_model_terms WHERE kind = ? AND name = ?{term_sql}"
            f" ORDER BY value {order}, key {order} LIMIT ?",
            [kind, name, *params, limit],
        )
        return [(value, key) for value, key in cursor]

    def keys_with_prefix(self, db: Db, kind: str, prefix: str, limit: int) -> list[str]:
        sql, params = _prefix_range("SELECT key FROM read_model WHERE kind = ?", prefix)
        cursor = db.execute_sql(sql + " ORDER BY key LIMIT ?", [kind, *params, limit])
        return [key for (key,) in cursor]

    def get_terms(self, db: Db, kind: str, keys: list[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        found: dict[str, list[tuple[str, str]]] = {}
        # The (name, key) index finds a row's entries name by name: the kind's few names first.
        names = _term_names(db.cursor(), kind) if self.by_name_key() else []
        by_name = f" AND name IN ({_placeholders(names)})" if names else ""
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            cursor = db.execute_sql(
                f"SELECT key, name, value FROM read_model_terms WHERE kind = ?{by_name}"
                f" AND key IN ({_placeholders(chunk)})", [kind, *names, *chunk])
            for key, name, value in cursor:
                found.setdefault(key, []).append((name, value))
        return {key: tuple(sorted(terms)) for key, terms in found.items()}
