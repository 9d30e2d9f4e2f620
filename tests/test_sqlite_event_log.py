"""What only the SQLite backend must show: files, processes, schema versions."""

from __future__ import annotations

import hashlib
import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

import pytest

from databuild.errors import (
    AppendConflictError, EventLogBusyError, InvalidArgumentError, InvalidUriError, SchemaTooNewError, StorageError,
)
from databuild.events import EventFilter, KeyKind, MemoryEventLog, SqliteEventLog, TermMatch, Unchanged, open_event_log
from databuild.events import migrations
from databuild.proto import databuild_pb2 as pb
from databuild.state import BUILD, StateProjection, StateStore, open_state_store
from eventgen import partition_event
from sql_plans import assert_index_searches, query_plans


def _writer(path: str, name: str, rounds: int, barrier) -> None:
    log = open_event_log(f"sqlite://{path}", [StateProjection()])
    barrier.wait()
    for i in range(rounds):
        log.append([partition_event(f"{name}/{i}/{k}") for k in range(1 + i % 4)])
    log.close()


def test_two_processes_append_to_one_file(tmp_path):
    path = str(tmp_path / "bel.sqlite3")
    open_event_log(f"sqlite://{path}").close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(path, n, 300, barrier)) for n in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    store = open_state_store(f"sqlite://{path}")
    expected = 2 * sum(1 + i % 4 for i in range(300))
    assert store.log.latest_index() == expected
    page = store.log.list_events(0, limit=10_000)
    assert [e.index for e in page.events] == list(range(1, expected + 1))
    assert len(store.partitions(limit=10_000)) == expected  # read model saw both writers
    store.close()


def test_reopen_keeps_events_and_continues_indices(tmp_path):
    uri = f"sqlite://{tmp_path}/bel.sqlite3"
    store = open_state_store(uri)
    store.log.append([partition_event("a/1"), partition_event("a/2")])
    store.close()
    store = open_state_store(uri)
    assert store.log.latest_index() == 2
    assert store.log.append([partition_event("a/3")]) == [3]
    assert [p.ref for p in store.partitions("a/*")] == ["a/1", "a/2", "a/3"]
    store.close()


def test_migration_from_previous_schema_version(tmp_path):
    path = str(tmp_path / "bel.sqlite3")
    old = SqliteEventLog(path, schema_version=1)  # what the previous release wrote
    old.append([partition_event("a/1"), partition_event("a/2", pb.PARTITION_STATUS_FAILED)])
    old.close()
    tables = lambda: {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "read_model" not in tables()

    store = open_state_store(f"sqlite://{path}")
    assert store.log.schema_version == migrations.LATEST == 7
    assert "read_model" in tables()
    assert store.partition("a/1").status == pb.PARTITION_STATUS_AVAILABLE
    assert store.partition("a/2").status == pb.PARTITION_STATUS_FAILED
    store.log.append([partition_event("a/3")])
    versions = sqlite3.connect(path).execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert versions == [(1,), (2,), (3,), (4,), (5,), (6,), (7,)]
    indexes = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert migrations.TERMS_BY_NAME_KEY in indexes and migrations.TERMS_BY_KEY not in indexes  # replaced: one to write
    assert migrations.PARTITION_KEYS_BY_IDX in indexes and migrations.KEYS_BY_IDX not in indexes
    store.close()


def test_pattern_feeds_on_a_log_kept_before_the_partition_keys_index(tmp_path):
    """A log opened at schema 6 (every kind's keys by index) and the same log upgraded answer
    a ref-pattern feed alike, a page at a time."""
    path = str(tmp_path / "bel.sqlite3")
    log = SqliteEventLog(path, schema_version=6)
    log.append([partition_event(f"{prefix}/{i}") for i in range(5) for prefix in ("a", "b")])
    wanted = EventFilter(ref_patterns=("a/*",))

    def feed(log: SqliteEventLog) -> list[str]:
        refs, since = [], 0
        while True:
            page = log.list_events(since, wanted, limit=2)
            refs += [e.partition_status_changed.ref for e in page.events]
            if not page.has_more:
                return refs
            since = page.next

    assert feed(log) == [f"a/{i}" for i in range(5)]
    log.close()
    upgraded = SqliteEventLog(path)
    assert upgraded.schema_version == migrations.LATEST
    assert feed(upgraded) == [f"a/{i}" for i in range(5)]
    plan = " ".join(str(r) for r in sqlite3.connect(path).execute(
        "EXPLAIN QUERY PLAN SELECT idx FROM event_keys INDEXED BY event_keys_partitions_by_idx"
        " WHERE kind = 1 AND idx > 0 ORDER BY idx"))
    assert migrations.PARTITION_KEYS_BY_IDX in plan
    upgraded.close()


def test_bodies_leave_out_what_the_row_holds_and_old_bodies_read_alike(tmp_path):
    """A stored body has no index, id or timestamp (its columns do); one written with them
    (before) reads the same."""
    path = str(tmp_path / "bel.sqlite3")
    log = SqliteEventLog(path)
    log.append([partition_event("a/1"), partition_event("a/2")])
    con = sqlite3.connect(path)
    (body,) = con.execute("SELECT body FROM events WHERE idx = 1").fetchone()
    stored = pb.Event.FromString(body)
    assert (stored.index, stored.event_id, stored.HasField("timestamp")) == (0, "", False)
    assert stored.partition_status_changed.ref == "a/1"
    first = log.list_events(0).events[0]
    assert first.index == 1 and len(first.event_id) == 36 and first.timestamp.ToMicroseconds() > 0
    con.execute("UPDATE events SET body = ? WHERE idx = 1", (first.SerializeToString(),))  # as written before
    con.commit()
    assert log.list_events(0).events[0] == first
    con.close()
    log.close()


def test_upgrade_indexes_wants_already_in_the_log(tmp_path):
    """A log written before migration 4 gets its wants indexed (by partition, source, deadline) on open."""
    path = str(tmp_path / "bel.sqlite3")
    old = SqliteEventLog(path, schema_version=3)
    spec = pb.WantSpec(want_id="w1", partitions=["d/1"], external_dependencies=["raw/1"], ttl_seconds=60,
                       source=pb.WantSource(type=pb.WANT_SOURCE_TYPE_CLI, name="ann"))
    spec.created_at.FromSeconds(1000)
    old.append([pb.Event(want_created=pb.WantCreated(want=spec))])
    old.close()

    store = open_state_store(f"sqlite://{path}")
    assert store.log.schema_version == migrations.LATEST
    assert [w.spec.want_id for w in store.wants(terms=[TermMatch("partition", pattern="d/*")])] == ["w1"]
    assert [w.spec.want_id for w in store.wants(terms=[TermMatch("source", values=("cli:ann",))])] == ["w1"]
    assert [w.spec.want_id for w in store.active_wants_on(["raw/1"])] == ["w1"]
    assert store.next_due_us() == 1060 * 1_000_000
    store.close()


def test_term_queries_on_a_log_kept_before_the_terms_by_name_index(tmp_path):
    """A log opened at schema 5 (no ``read_model_terms_by_name_key``) answers broad term queries too."""
    path = str(tmp_path / "bel.sqlite3")
    log = SqliteEventLog(path, [StateProjection()], schema_version=5)
    log.few_terms = 0  # every term condition counts as broad
    for i, refs in enumerate((["d/1"], ["e/1"], ["d/2", "d/3"])):
        spec = pb.WantSpec(want_id=f"w{i}", partitions=refs)
        log.append([pb.Event(want_created=pb.WantCreated(want=spec))])
    store = StateStore(log)
    assert [w.spec.want_id for w in store.find_wants(pattern="d/*")] == ["w0", "w2"]
    store.close()
    upgraded = open_state_store(f"sqlite://{path}")
    upgraded.log.few_terms = 0
    assert upgraded.log.schema_version == migrations.LATEST
    assert [w.spec.want_id for w in upgraded.find_wants(pattern="d/*")] == ["w0", "w2"]
    upgraded.close()


def test_upgrade_gives_an_existing_log_its_id_once(tmp_path):
    """A log written before migration 5 gets a fresh log id on its first open at 5, kept from then on."""
    path = str(tmp_path / "bel.sqlite3")
    old = SqliteEventLog(path, schema_version=4)
    old.append([partition_event("a/1")])
    with pytest.raises(StorageError, match="before logs had an id"):
        old.log_id
    old.close()

    first = SqliteEventLog(path)
    log_id = first.log_id
    assert uuid.UUID(log_id).version == 4 and str(uuid.UUID(log_id)) == log_id
    first.close()
    again = SqliteEventLog(path)
    assert again.log_id == log_id and again.latest_index() == 1
    again.close()
    other = SqliteEventLog(str(tmp_path / "other.sqlite3"))
    assert other.log_id != log_id  # every log made gets its own
    other.close()


def test_newer_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "bel.sqlite3"
    log = open_event_log(f"sqlite://{path}")
    log.append([partition_event("a/1")])
    log.close()
    con = sqlite3.connect(path)
    con.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
    con.commit()
    con.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(SchemaTooNewError, match=f"schema version 99.*only knows versions up to {migrations.LATEST}"):
        open_event_log(f"sqlite://{path}")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_events_appended_without_projection_are_caught_up(tmp_path):
    uri = f"sqlite://{tmp_path}/bel.sqlite3"
    store = open_state_store(uri)
    store.log.append([partition_event("a/1")])
    plain = open_event_log(uri)  # a writer that does not maintain read models
    plain.append([partition_event("a/2")])
    assert store.partition("a/2") is None  # not folded yet...
    store.log.append([partition_event("a/3")])  # ...until the next append catches up
    assert [p.ref for p in store.partitions("a/*")] == ["a/1", "a/2", "a/3"]
    plain.append([partition_event("a/4")])
    plain.close()
    store.close()
    reopened = open_state_store(uri)  # and opening catches up too
    assert reopened.partition("a/4").status == pb.PARTITION_STATUS_AVAILABLE
    reopened.close()


def test_projection_version_change_rebuilds_rows(tmp_path):
    uri = f"sqlite://{tmp_path}/bel.sqlite3"
    store = open_state_store(uri)
    store.log.append([partition_event("a/1"), partition_event("a/1", pb.PARTITION_STATUS_TAINTED)])
    con = sqlite3.connect(tmp_path / "bel.sqlite3")
    con.execute("UPDATE read_model SET status = 0, body = x''")  # corrupt the derived rows
    con.execute("UPDATE projections SET version = 0")
    con.commit()
    store.close()
    store = open_state_store(uri)
    assert store.partition("a/1").status == pb.PARTITION_STATUS_TAINTED
    store.close()


def test_busy_writer_gets_named_error_not_database_locked(tmp_path):
    path = tmp_path / "bel.sqlite3"
    log = open_event_log(f"sqlite://{path}?busy_timeout=0.5")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(EventLogBusyError, match="stayed locked"):
            log.append([partition_event("a/1")])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert log.append([partition_event("a/1")]) == [1]
    log.close()


def test_uri_selects_backend(tmp_path, monkeypatch):
    assert isinstance(open_event_log("memory://"), MemoryEventLog)
    absolute = open_event_log(f"sqlite://{tmp_path}/abs.sqlite3?synchronous=full")
    assert absolute.path == f"{tmp_path}/abs.sqlite3"
    absolute.close()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    relative = open_event_log("sqlite://sub/rel.sqlite3")
    assert (tmp_path / "sub" / "rel.sqlite3").exists()
    relative.close()


@pytest.mark.parametrize(
    "uri, error, fragment",
    [
        ("postgresql://db/bel?nosuchoption=1", InvalidUriError, "nosuchoption"),
        ("mysql://x", InvalidUriError, "'mysql'"),
        ("bel.sqlite3", InvalidUriError, "'bel.sqlite3'"),
        ("sqlite://", InvalidUriError, "names no file"),
        ("sqlite:///tmp/x.db?synchronous=off", InvalidUriError, "'off'"),
        ("sqlite:///tmp/x.db?cache=big", InvalidUriError, "cache"),
    ],
)
def test_bad_uris_are_named(uri, error, fragment):
    with pytest.raises(error) as info:
        open_event_log(uri)
    assert fragment in str(info.value)


def test_state_store_requires_projection():
    with pytest.raises(InvalidArgumentError, match="StateProjection"):
        StateStore(MemoryEventLog())


def test_build_pages_and_id_prefixes_are_index_searches(tmp_path):
    """Neither newest-first build pages nor shortened ids scan the read model."""
    store = open_state_store(f"sqlite://{tmp_path}/bel.sqlite3")
    store.log.append([pb.Event(build_requested=pb.BuildRequested(build_id=f"b{i:03d}-{j}", partitions=["d/1"]))
                      for i in range(300) for j in range(2)])
    def pages() -> None:
        assert store.resolve_id(BUILD, "b123-1") == "b123-1"
        with pytest.raises(InvalidArgumentError, match="ambiguous"):
            store.resolve_id(BUILD, "b123")
        assert len(store.builds_newest_first("b100-0", limit=10)) == 10
    assert_index_searches(query_plans(store, pages))
    store.close()


def test_upgrade_indexes_builds_already_in_the_log(tmp_path, monkeypatch):
    """A log whose state rows predate build index terms (projection version 2) gets them on open."""
    import databuild.state.projection as projection
    from databuild.state import WANT
    from databuild.state.wants import want_terms

    uri = f"sqlite://{tmp_path}/bel.sqlite3"
    with monkeypatch.context() as old_code:
        old_code.setattr(projection, "TERMS", {WANT: want_terms})
        old_code.setattr(projection.StateProjection, "version", 2)
        old = open_state_store(uri)
        old.log.append([pb.Event(build_requested=pb.BuildRequested(build_id=b, partitions=["d/1"]))
                        for b in ("b1", "b2")])
        assert old.builds_newest_first() == []
        old.close()
    store = open_state_store(uri)
    assert [b.build_id for b in store.builds_newest_first()] == ["b2", "b1"]
    store.close()


class _GatedProjection:
    """Counts the events of each apply; the first apply waits on ``gate`` so appends queue behind it."""

    name, version, kinds = "gated", 1, ("gated",)

    def __init__(self) -> None:
        self.gate, self.entered, self.applied = threading.Event(), threading.Event(), []

    def apply(self, tx, events):
        if events and not self.applied:
            self.entered.set()
            self.gate.wait(10)
        if events:
            self.applied.append([e.partition_status_changed.ref for e in events])
        for event in events:
            if event.partition_status_changed.ref == "explode/now":
                raise RuntimeError("projection failed")


def _queue_behind_first_append(log, projection, appends):
    """Start one append that holds the write lock, queue ``appends`` (name, events, kwargs)
    behind it, release it; each append's indices or error by name."""
    outcome = {}

    def run(name, events, kwargs):
        try:
            outcome[name] = log.append(events, **kwargs)
        except Exception as e:  # the outcome under test
            outcome[name] = e

    first = threading.Thread(target=run, args=("first", [partition_event("a/1")], {}))
    first.start()
    assert projection.entered.wait(10)
    threads = [threading.Thread(target=run, args=a) for a in appends]
    for n, t in enumerate(threads, 1):
        t.start()
        deadline = time.monotonic() + 10
        while log._group.queued < n and time.monotonic() < deadline:  # queued in this order behind the first
            time.sleep(0.001)
    projection.gate.set()
    for t in [first, *threads]:
        t.join(10)
    return outcome


def test_appends_queued_behind_a_commit_share_one_and_keep_their_own_outcome(tmp_path):
    projection = _GatedProjection()
    log = SqliteEventLog(str(tmp_path / "bel.sqlite3"), [projection])
    outcome = _queue_behind_first_append(log, projection, [
        ("b", [partition_event("b/1"), partition_event("b/2")], {}),
        ("stale", [partition_event("s/1")], {"expect_latest": 0}),
        # b/2 was appended earlier in the same transaction, after index 1: a conflict
        ("guarded", [partition_event("g/1")], {"unchanged": Unchanged(1, frozenset({(KeyKind.PARTITION, "b/2")}))}),
        ("c", [partition_event("c/1")], {"expect_latest": 3}),
    ])
    assert outcome["first"] == [1]
    assert outcome["b"] == [2, 3]
    assert isinstance(outcome["stale"], AppendConflictError)
    assert isinstance(outcome["guarded"], AppendConflictError)
    assert outcome["c"] == [4]
    assert len(projection.applied) == 2  # the three that queued went in one transaction
    events = log.list_events().events
    assert sorted(e.partition_status_changed.ref for e in events) == ["a/1", "b/1", "b/2", "c/1"]
    reopened = SqliteEventLog(str(tmp_path / "bel.sqlite3"))
    assert reopened.latest_index() == 4  # committed before they returned
    reopened.close()


def test_a_failing_append_in_a_group_fails_alone(tmp_path):
    projection = _GatedProjection()
    log = SqliteEventLog(str(tmp_path / "bel.sqlite3"), [projection])
    outcome = _queue_behind_first_append(log, projection, [
        ("b", [partition_event("b/1")], {}),
        ("bad", [partition_event("explode/now")], {}),
        ("c", [partition_event("c/1")], {}),
    ])
    assert isinstance(outcome["bad"], RuntimeError)
    assert (outcome["b"], outcome["c"]) == ([2], [3])
    assert sorted(e.partition_status_changed.ref for e in log.list_events().events) == ["a/1", "b/1", "c/1"]


def test_a_lease_is_freed_when_its_holder_is_killed(tmp_path):
    """The lease's flock goes with the process: a SIGKILLed holder frees it at once."""
    uri = f"sqlite://{tmp_path}/bel.sqlite3"
    open_state_store(uri).close()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from databuild.events import open_event_log\n"
        f"lease = open_event_log({uri!r}).lease('evaluator')\n"
        "assert lease.try_acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        log = open_state_store(uri).log
        mine = log.lease("evaluator")
        assert not mine.try_acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert mine.try_acquire()
        log.close()
    finally:
        holder.kill()
