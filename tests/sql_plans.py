"""SQLite's query plans of what a call runs, so a test can say "an index search, no scan,
no sort" of a query the store makes."""

from __future__ import annotations

from typing import Callable


def query_plans(store, call: Callable[[], object]) -> list[str]:
    """The ``EXPLAIN QUERY PLAN`` details of every SELECT ``call()`` runs on ``store``'s
    SQLite connection (of this thread)."""
    connection = store.log._db.connection()
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    try:
        call()
    finally:
        connection.set_trace_callback(None)
    return [row[3] for sql in statements if sql.startswith("SELECT")
            for row in connection.execute("EXPLAIN QUERY PLAN " + sql)]


def assert_index_searches(plans: list[str]) -> None:
    """Every step is an index search, and nothing is sorted in a temporary B-tree."""
    assert plans and all(p.startswith("SEARCH") for p in plans), plans
    assert not any("TEMP B-TREE" in p for p in plans), plans
