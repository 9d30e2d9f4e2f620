"""PostgreSQL specifics of the event log, against a real server (tests/pg_support.py):
commit-ordered indices under concurrent writers, the server going away and coming back,
URIs, what a database must be to be opened. The contract suite runs on it too
(tests/test_event_log_contract.py through conftest's ``backend``)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid

import psycopg
import pytest

from databuild.errors import InvalidUriError, SchemaTooNewError, StorageError, UnavailableError
from databuild.events import EventFilter, open_event_log, migrations
from databuild.events.postgres import PostgresEventLog, describe
from databuild.proto import databuild_pb2 as pb
from pg_support import start_cluster


def partition_event(ref: str) -> pb.Event:
    return pb.Event(partition_status_changed=pb.PartitionStatusChanged(ref=ref, status=pb.PARTITION_STATUS_AVAILABLE))


def test_a_paging_reader_never_skips_an_event_of_concurrent_writers(pg_database):
    """Writers in several connections (log objects, as separate processes would be) and
    threads sharing one log append while a reader pages with ``since``: the reader sees
    every index from 1 to the end exactly once, in order.

    Checked against a naive log: a subclass whose ``_claim_head`` takes no lock and whose
    ``_insert`` numbers events by ``nextval`` of a sequence (what a SERIAL column does),
    with up to 2 ms between taking the numbers and inserting, failed this test: the reader
    saw 7 before 6 and never saw 6 (a lower index committed after it paged past it).
    """
    uri = pg_database()
    shared = PostgresEventLog(uri)
    logs = [PostgresEventLog(uri) for _ in range(4)]
    writers = [(log, n) for n, log in enumerate(logs)] + [(shared, 10 + n) for n in range(3)]
    rounds = 80
    errors: list[BaseException] = []
    done = threading.Event()

    def write(log: PostgresEventLog, n: int) -> None:
        try:
            for i in range(rounds):
                log.append([partition_event(f"w{n}/{i}/{k}") for k in range(1 + i % 3)])
        except BaseException as e:  # surfaced below: any error fails the test
            errors.append(e)

    seen: list[int] = []
    reader = PostgresEventLog(uri)

    def read() -> None:
        since = 0
        try:
            while True:
                finished = done.is_set()  # read before the page: the page then covers every commit
                page = reader.list_events(since, limit=17)
                seen.extend(e.index for e in page.events)
                since = page.next
                if finished and not page.has_more:
                    return
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=w) for w in writers]
    paging = threading.Thread(target=read)
    paging.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    paging.join()
    assert errors == []
    total = len(writers) * sum(1 + i % 3 for i in range(rounds))
    assert shared.latest_index() == total
    assert seen == list(range(1, total + 1))
    for log in (shared, reader, *logs):
        log.close()


def test_a_server_that_goes_away_is_named_and_the_next_call_reconnects():
    root = tempfile.mkdtemp(prefix="pgdown-")
    os.chmod(root, 0o755)
    cluster = start_cluster(root)
    try:
        cluster.execute("CREATE DATABASE bel")
        log = open_event_log(cluster.uri("bel"))
        log.append([partition_event("a/1")])
        cluster.stop("fast")
        with pytest.raises(UnavailableError) as info:
            log.append([partition_event("a/2")])
        message = str(info.value)
        assert "PostgreSQL database bel on " + cluster.socket_dir in message
        assert "Traceback" not in message
        with pytest.raises(UnavailableError, match="database bel"):
            log.latest_index()  # still down: connecting fails, named the same way
        cluster.start()
        assert log.append([partition_event("a/2")]) == [2]
        assert [e.partition_status_changed.ref for e in log.list_events().events] == ["a/1", "a/2"]
        log.close()
    finally:
        try:
            cluster.stop()
        except Exception:  # already stopped by a failed assertion's path: nothing to stop
            pass
        shutil.rmtree(root, ignore_errors=True)


def test_reopening_keeps_the_log_and_its_id(pg_database):
    uri = pg_database()
    log = open_event_log(uri)
    log.append([partition_event("a/1")])
    log_id = log.log_id
    log.close()
    again = open_event_log(uri.replace("postgresql://", "postgres://"))
    assert again.log_id == log_id and uuid.UUID(log_id).version == 4
    assert again.latest_index() == 1
    assert again.schema_version == migrations.LATEST
    again.close()


def test_the_schema_is_sqlites_with_postgres_types(pg_database, tmp_path):
    uri = pg_database()
    open_event_log(uri).close()
    with psycopg.connect(uri) as conn:
        tables = {t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        indexes = {i for (i,) in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    sqlite = open_event_log(f"sqlite://{tmp_path}/bel.sqlite3")
    sqlite_tables = {t for (t,) in sqlite._db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    sqlite.close()
    assert tables == sqlite_tables
    assert versions == [m.version for m in migrations.MIGRATIONS]
    assert {migrations.TERMS_BY_NAME_KEY, migrations.PARTITION_KEYS_BY_IDX} <= indexes
    assert migrations.KEYS_BY_IDX not in indexes and migrations.TERMS_BY_KEY not in indexes


def test_a_database_that_is_not_an_event_log_is_refused_untouched(pg_database):
    uri = pg_database()
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id integer)")
    with pytest.raises(StorageError, match="not a DataBuild event log.*customers"):
        open_event_log(uri)
    with psycopg.connect(uri) as conn:
        assert [t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")] == ["customers"]


def test_a_log_of_a_newer_databuild_is_refused(pg_database):
    uri = pg_database()
    open_event_log(uri).close()
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
    with pytest.raises(SchemaTooNewError, match="schema version 99"):
        open_event_log(uri)


def test_an_old_schema_is_migrated_on_open(pg_database):
    uri = pg_database()
    PostgresEventLog(uri, schema_version=4).close()
    log = PostgresEventLog(uri)
    assert log.schema_version == migrations.LATEST
    assert str(uuid.UUID(log.log_id)) == log.log_id
    log.close()


@pytest.mark.parametrize("uri, fragment", [
    ("postgresql://db/bel?nosuchoption=1", "nosuchoption"),
    ("postgresql://u:secret@[db/bel", "not a valid PostgreSQL URI"),
])
def test_bad_postgres_uris_are_named_without_their_password(uri, fragment):
    with pytest.raises(InvalidUriError) as info:
        open_event_log(uri)
    assert fragment in str(info.value) and "secret" not in str(info.value)


def test_a_server_that_is_not_there_is_named(tmp_path):
    missing = f"postgresql:///bel?host={tmp_path}&user=postgres&connect_timeout=2"
    with pytest.raises(UnavailableError) as info:
        open_event_log(missing)
    assert f"PostgreSQL database bel on {tmp_path}" in str(info.value)
    assert describe("postgresql://u:pw@db.example:5433/bel") == "PostgreSQL database bel on db.example:5433"


def test_ref_patterns_match_as_in_sqlite(pg_database):
    """Regular-expression characters in refs are literal; ``*`` and ``?`` stop at ``/``."""
    log = open_event_log(pg_database())
    refs = ["a.b/1", "axb/1", "a.b/1/x", "a+b/(1)", "a+b/[1]", "a\\b/1", "ü/€/1", "a.b/12"]
    log.append([partition_event(r) for r in refs])
    expect = {"a.b/*": ["a.b/1", "a.b/12"], "a.b/?": ["a.b/1"], "a+b/*": ["a+b/(1)", "a+b/[1]"],
              "a.b/**": ["a.b/1", "a.b/1/x", "a.b/12"], "a\\b/*": ["a\\b/1"], "ü/*/1": ["ü/€/1"],
              "a+b/[1]": ["a+b/[1]"]}
    for pattern, matched in expect.items():
        page = log.list_events(filter=EventFilter(ref_patterns=(pattern,)))
        assert [e.partition_status_changed.ref for e in page.events] == matched, pattern
    log.close()


def test_missing_server_binaries_fail_the_tests_saying_what_installs_them(monkeypatch):
    import pg_support

    monkeypatch.setattr(pg_support, "_DEBIAN_BINARIES", "/nonexistent/*/bin")
    monkeypatch.setattr(pg_support.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="tools/setup"):  # a failure, never a skip
        pg_support.server_binaries()
