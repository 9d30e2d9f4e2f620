"""The read-model store of the PostgreSQL event log: rows, their index terms and the
queries on them, written in the append transaction by ``PgRows`` (the projections'
``ReadModelTx``) and read by ``PgReadModels``. The event store (``postgres.py``) owns the
connections and the transaction; this module only the read models' SQL, on PostgreSQL's
side of the ``Dialect`` both SQL backends share (``sqlcommon``)."""

from __future__ import annotations

import time
from typing import Any, Collection, Mapping, Sequence

import psycopg

from databuild.events.readmodel import Row, RowQuery, TermMatch
from databuild.events.sqlcommon import Dialect
from databuild.refs import RefPattern, compile_pattern, posix_regex


def _glob(pattern: RefPattern, column: str) -> tuple[str, list[object]]:
    """PostgreSQL's exact match of a ref glob: an anchored regular expression."""
    return f"{column} ~ %s", [posix_regex(pattern.pattern)]


#: How long a term condition's few-or-many answer is remembered, and for how many conditions.
_FEW_TERMS_TTL_S, _FEW_TERMS_REMEMBERED = 10.0, 256

#: PostgreSQL's side of the SQL both backends share: ``%s`` parameters, globs as regular
#: expressions, and text that cannot hold NUL.
PG = Dialect("%s", _glob, nul_free=True)


class PgRows:
    """ReadModelTx on the append transaction's cursor.

    Rows the projections said they would read can be fetched up front, in one statement
    over all kinds that goes out in the pipeline with the transaction's first reads
    (``send_reads``, then ``take_reads``): ``get_many`` then answers from them, and asks
    the server only for the others. They stay current: the transaction holds the write
    lock, and ``put_many`` writes through; ``forget`` drops them (before a replay, which
    rewrites rows)."""

    def __init__(self, cur: psycopg.Cursor) -> None:
        self._cur = cur
        self._known: dict[tuple[str, str], Row | None] = {}  # None: no such row

    def send_reads(self, wanted: Mapping[str, Collection[str]]) -> tuple[psycopg.Cursor, list[tuple[str, str]]] | None:
        """Send the statement reading the rows ``wanted`` (kind -> keys); its answer is
        read by ``take_reads`` (in a pipeline, with whatever else was sent before it)."""
        ids = [(kind, key) for kind, keys in wanted.items() for key in keys]
        if not ids:
            return None
        own = self._cur.connection.cursor()
        own.execute("SELECT r.kind, r.key, r.status, r.body FROM unnest(%b::text[], %b::text[]) AS k (kind, key)"
                    " JOIN read_model r ON r.kind = k.kind AND r.key = k.key", columns(ids, 2))
        return own, ids

    def take_reads(self, sent: tuple[psycopg.Cursor, list[tuple[str, str]]] | None) -> None:
        """Keep the rows ``send_reads`` asked for (and that those it did not find do not exist)."""
        if sent is None:
            return
        own, ids = sent
        try:
            found = {(kind, key): Row(kind, key, status, bytes(data)) for kind, key, status, data in own.fetchall()}
        finally:
            own.close()
        self._known.update({id: found.get(id) for id in ids})

    def forget(self) -> None:
        """Drop the rows read up front: they may change behind ``put_many`` (a replay, a rebuild)."""
        self._known.clear()

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Row]:
        found, unknown = {}, []
        for key in keys:
            if (kind, key) in self._known:
                row = self._known[(kind, key)]
                if row is not None:
                    found[key] = row
            else:
                unknown.append(key)
        if unknown:
            found.update(_select_rows(self._cur, kind, unknown))
        return found

    def put_many(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        cur = self._cur
        if self._known:
            self._known.update({(r.kind, r.key): Row(r.kind, r.key, r.status, r.body) for r in rows})
        last = {(r.kind, r.key): r for r in rows}  # one upsert may not touch a row twice: the last write wins
        cur.execute(
            "INSERT INTO read_model (kind, key, status, body)"
            " SELECT * FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::bytea[])"
            " ON CONFLICT (kind, key) DO UPDATE SET status = excluded.status, body = excluded.body",
            columns([(r.kind, r.key, r.status, r.body) for r in last.values()], 4))
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
                columns(stale, 4))
        added = [(r.kind, name, value, r.key) for r in indexed
                 for name, value in (set(r.terms or ()) - set(r.old_terms) if r.old_terms else r.terms or ())]
        if added:
            cur.execute(
                "INSERT INTO read_model_terms (kind, name, value, key)"
                " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[]) ON CONFLICT DO NOTHING",
                columns(added, 4))

    def _delete_terms(self, rows: list[tuple[str, str]]) -> None:
        """Delete every term of these (kind, key) rows, whose old terms the writer did not give:
        the (kind, name, key) index finds them name by name, the kind's few names first."""
        for kind in {kind for kind, _ in rows}:
            names = _term_names(self._cur, kind)
            if names:
                self._cur.execute(
                    "DELETE FROM read_model_terms WHERE kind = %s AND name = ANY(%s) AND key = ANY(%s)",
                    (kind, names, [key for k, key in rows if k == kind]))


def read(cur: psycopg.Cursor, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
    """The rows of one statement, on a cursor of its own: in pipeline mode a cursor that ran
    several statements may be fetched before its last one's answer came (and give an
    earlier one's), so every answer read is read on a fresh cursor."""
    with cur.connection.cursor() as own:
        own.execute(sql, params)
        return own.fetchall()


def columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as ``width`` column lists (the arrays an ``unnest`` insert takes)."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


def _term_names(cur: psycopg.Cursor, kind: str) -> list[str]:
    """The distinct term names of ``kind``: one index seek per name, not a scan of its terms."""
    return [name for (name,) in read(
        cur,
        "WITH RECURSIVE names (name) AS (SELECT MIN(name) FROM read_model_terms WHERE kind = %(k)s"
        " UNION ALL SELECT (SELECT MIN(name) FROM read_model_terms WHERE kind = %(k)s AND name > names.name)"
        " FROM names WHERE names.name IS NOT NULL) SELECT name FROM names WHERE name IS NOT NULL", {"k": kind})]


def _select_rows(cur: psycopg.Cursor, kind: str, keys: list[str]) -> dict[str, Row]:
    if not keys:
        return {}
    # A join with the keys, not ``key = ANY(array)``: a prepared statement's generic plan
    # cannot know the array's length and, on a large table, scanned it all.
    rows = read(cur, "SELECT r.key, r.status, r.body FROM unnest(%b::text[]) AS k (key)"
                      " JOIN read_model r ON r.kind = %s AND r.key = k.key", (keys, kind))
    return {key: Row(kind, key, status, bytes(data)) for key, status, data in rows}


class PgReadModels:
    """Queries of the read models, each on the connection a call was lent."""

    #: Below this many matches a term condition is a key list, above it a per-row probe.
    few_terms = 5000

    def __init__(self) -> None:
        #: ``_few_terms`` answers: (kind, match, threshold) -> (few, until when, monotonic seconds).
        self._few_cache: dict[tuple[str, TermMatch, int], tuple[bool, float]] = {}

    def get_terms(self, conn: psycopg.Connection, kind: str, keys: list[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        with conn.cursor() as cur:
            names = _term_names(cur, kind)  # the (kind, name, key) index, name by name
            if not names or not keys:
                return {}
            rows = read(cur, "SELECT t.key, t.name, t.value FROM unnest(%b::text[]) AS k (key) JOIN read_model_terms t"
                              " ON t.kind = %s AND t.name = ANY(%s) AND t.key = k.key", (keys, kind, names))
        found: dict[str, list[tuple[str, str]]] = {}
        for key, name, value in rows:
            found.setdefault(key, []).append((name, value))
        return {key: tuple(sorted(terms)) for key, terms in found.items()}

    def get_rows(self, conn: psycopg.Connection, kind: str, keys: list[str]) -> dict[str, Row]:
        with conn.cursor() as cur:
            return _select_rows(cur, kind, keys)

    def query_rows(self, conn: psycopg.Connection, query: RowQuery) -> list[Row]:
        """Rows in key order, a page costing what it returns rather than every match (``_row_query``)."""
        sql, params = self._row_query(conn, query)
        return _rows_of(query, _query(conn, sql, params, binary=True))

    def query_rows_each(self, conn: psycopg.Connection, queries: list[RowQuery]) -> list[list[Row]]:
        """``query_rows`` of each query, sent in one pipeline: one round trip for all."""
        statements = [self._row_query(conn, query) for query in queries]
        if len(statements) == 1:
            return [_rows_of(queries[0], _query(conn, *statements[0], binary=True))]
        with conn.pipeline():
            cursors = [conn.cursor(binary=True) for _ in statements]
            try:
                for cur, (sql, params) in zip(cursors, statements):
                    cur.execute(sql, params)
                return [_rows_of(query, cur.fetchall()) for query, cur in zip(queries, cursors)]
            finally:
                for cur in cursors:
                    cur.close()

    def _row_query(self, conn: psycopg.Connection, query: RowQuery) -> tuple[str, list[object]]:
        """The statement of a row query and its parameters.

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
            pattern_sql, pattern_params = PG.pattern_condition(compile_pattern(query.pattern), "r.key")
            where.append(pattern_sql)
            params += pattern_params
        if query.after_key is not None:
            where.append(f"{key} > %s")
            params.append(query.after_key)
        for match in terms:
            if match is driver:
                continue
            term_sql, term_params = PG.term_condition(match, "m.value")
            if self._few_terms(conn, query.kind, match):
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
            # The rows' side starts at the first entry's key (after ``after_key``): a merge join,
            # the planner's choice for a dense term (a source), then walks the rows from there,
            # not from the kind's first row (a page after the middle of 20,000 wants: 3.4 ms
            # of execution before, 0.2 after; the condition on ``t.key`` alone did not bound ``r``).
            # (Only for a page after a key: the subquery costs planning time, a tenth of a
            # millisecond, on every lookup of the wants on a partition.)
            sql = ("SELECT r.key, r.status, r.body FROM read_model_terms t JOIN read_model r"
                   " ON r.kind = t.kind AND r.key = t.key WHERE t.kind = %s AND t.name = %s AND t.value = %s")
            first = [query.kind, driver.name, driver.values[0]]
            if query.after_key is not None:
                sql += (" AND r.key >= (SELECT f.key FROM read_model_terms f WHERE f.kind = %s AND f.name = %s"
                        " AND f.value = %s AND f.key > %s ORDER BY f.key LIMIT 1)")
                first += [*first, query.after_key]
            params = [*first, *params]
        else:
            sql = "SELECT r.key, r.status, r.body FROM read_model r WHERE r.kind = %s"
            params = [query.kind, *params]
        sql += "".join(f" AND {w}" for w in where) + f" ORDER BY {key} LIMIT %s"
        return sql, [*params, query.limit]

    def _few_terms(self, conn: psycopg.Connection, kind: str, match: TermMatch) -> bool:
        """Whether fewer than ``few_terms`` rows match ``match`` (a count that stops there).

        The answer only picks the plan, so it is remembered a while (``_FEW_TERMS_TTL_S``)
        for the next page or the next rendering of the same list: on PostgreSQL the count
        reads every entry up to the threshold (its heap too, until a vacuum marks the pages
        all-visible), 2 to 5 ms for a broad pattern, ten times the page it chooses for."""
        known = (kind, match, self.few_terms)
        now = time.monotonic()
        remembered = self._few_cache.get(known)
        if remembered is not None and remembered[1] > now:
            return remembered[0]
        term_sql, params = PG.term_condition(match, "value")
        ((count,),) = _query(conn,
            f"SELECT COUNT(*) FROM (SELECT 1 FROM read_model_terms WHERE kind = %s AND name = %s{term_sql} LIMIT %s) f",
            [kind, match.name, *params, self.few_terms])
        if len(self._few_cache) >= _FEW_TERMS_REMEMBERED:
            self._few_cache.clear()
        self._few_cache[known] = (count < self.few_terms, now + _FEW_TERMS_TTL_S)
        return count < self.few_terms

    def count_rows(self, conn: psycopg.Connection, kind: str, statuses: tuple[int, ...], term: TermMatch | None) -> dict[int, int]:
        where, params = ["r.kind = %s"], [kind]
        if statuses:
            where.append("r.status = ANY(%s)")
            params.append(list(statuses))
        if term is not None:
            term_sql, term_params = PG.term_condition(term, "m.value")
            where.append(f"r.key IN (SELECT m.key FROM read_model_terms m WHERE m.kind = %s AND m.name = %s{term_sql})")
            params += [kind, term.name, *term_params]
        sql = f"SELECT r.status, COUNT(*) FROM read_model r WHERE {' AND '.join(where)} GROUP BY r.status"
        return {status: count for status, count in _query(conn, sql, params)}

    def count_terms(self, conn: psycopg.Connection, kind: str, term: TermMatch) -> int:
        term_sql, params = PG.term_condition(term, "value")
        ((count,),) = _query(conn, f"SELECT COUNT(*) FROM read_model_terms WHERE kind = %s AND name = %s{term_sql}",
                                  [kind, term.name, *params])
        return count

    def term_entries(self, conn: psycopg.Connection, kind: str, name: str, low: str | None, high: str | None,
                      limit: int, reverse: bool, after: tuple[str, str] | None) -> list[tuple[str, str]]:
        term_sql, params = PG.term_condition(TermMatch(name, low=low, high=high), "value")
        order = "DESC" if reverse else "ASC"
        if after is not None:  # a row comparison: the (kind, name, value, key) index seeks to it
            term_sql += f" AND (value, key) {'<' if reverse else '>'} (%s, %s)"
            params += [after[0], after[1]]
        rows = _query(conn, 
            f"SELECT value, key FROM read_model_terms WHERE kind = %s AND name = %s{term_sql}"
            f" ORDER BY value {order}, key {order} LIMIT %s", [kind, name, *params, limit])
        return [(value, key) for value, key in rows]

    def keys_with_prefix(self, conn: psycopg.Connection, kind: str, prefix: str, limit: int) -> list[str]:
        sql, params = PG.prefix_range("SELECT key FROM read_model WHERE kind = %s", prefix)
        return [key for (key,) in _query(conn, sql + " ORDER BY key LIMIT %s", [kind, *params, limit])]


def _rows_of(query: RowQuery, found: list[tuple[Any, ...]]) -> list[Row]:
    return [Row(query.kind, k, s, bytes(b)) for k, s, b in found]


def _query(conn: psycopg.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = (),
           binary: bool = False) -> list[tuple[Any, ...]]:
    """The rows of one statement outside a transaction (autocommit: its own); ``binary``
    for rows with bodies (bytea comes as it is, not as hex text to decode)."""
    with conn.cursor(binary=binary) as cur:
        cur.execute(sql, params)
        return cur.fetchall()
