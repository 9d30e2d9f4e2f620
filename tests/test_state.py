"""State folds: reducer behaviour, fold split == full replay, read models == fold."""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import given, settings, strategies as st

from databuild.errors import InvalidArgumentError, NotFoundError
from databuild.events import MemoryEventLog, RowQuery, SqliteEventLog
from databuild.events.postgres import PostgresEventLog
from databuild.proto import databuild_pb2 as pb
from databuild.state import (
    BUILD, EMPTY, JOB_RUN, KINDS, PARTITION, StateProjection, StateStore, WANT, fold,
)
from databuild.state.reducers import STATE_TYPES
from databuild.state.builds import REQUESTED, build_terms
from databuild.state.wants import want_terms
from eventgen import partition_event, random_events


def indexed(events):
    for i, e in enumerate(events, 1):
        e.index = i
        e.timestamp.FromMicroseconds(1_000_000 * i)
    return events


def ev(**payload) -> pb.Event:
    return pb.Event(**payload)


def test_partition_lifecycle_external_and_taint():
    events = indexed([
        partition_event("d/1", pb.PARTITION_STATUS_BUILDING, "b1"),
        partition_event("d/1", pb.PARTITION_STATUS_AVAILABLE, "b1"),
        ev(external_partitions_available=pb.ExternalPartitionsAvailable(refs=["raw/1", "raw/1"], upstream="up")),
        ev(partitions_tainted=pb.PartitionsTainted(refs=["d/1"], reason="bad rows")),
    ])
    state = fold(EMPTY, events)
    built, raw = state.get(PARTITION, "d/1"), state.get(PARTITION, "raw/1")
    assert (built.status, built.build_id, built.message, built.last_event_index) == (
        pb.PARTITION_STATUS_TAINTED, "b1", "bad rows", 4)
    assert (raw.status, raw.external, raw.upstream) == (pb.PARTITION_STATUS_AVAILABLE, True, "up")
    assert state.get(PARTITION, "never") is None
    assert state.last_index == 4


def test_job_run_and_build_lifecycle():
    config = pb.JobConfig(outputs=["d/1"], args=["--x"])
    events = indexed([
        ev(build_requested=pb.BuildRequested(build_id="b1", partitions=["d/1"], want_ids=["w1"])),
        ev(build_status_changed=pb.BuildStatusChanged(build_id="b1", status=pb.BUILD_STATUS_EXECUTING)),
        ev(job_run_status_changed=pb.JobRunStatusChanged(
            job_run_id="j1", build_id="b1", job_label="//:job", status=pb.JOB_RUN_STATUS_SCHEDULED, config=config)),
        ev(job_run_status_changed=pb.JobRunStatusChanged(
            job_run_id="j1", build_id="b1", job_label="//:job", status=pb.JOB_RUN_STATUS_RUNNING, log_path="/l")),
        ev(job_run_status_changed=pb.JobRunStatusChanged(
            job_run_id="j1", build_id="b1", job_label="//:job", status=pb.JOB_RUN_STATUS_FAILED, exit_code=3)),
        ev(cancellation_requested=pb.CancellationRequested(build_id="b1", reason="user")),
        ev(build_status_changed=pb.BuildStatusChanged(build_id="b1", status=pb.BUILD_STATUS_FAILED, message="j1")),
    ])
    state = fold(EMPTY, events)
    run = state.get(JOB_RUN, "j1")
    assert run.status == pb.JOB_RUN_STATUS_FAILED and run.exit_code == 3
    assert run.config == config and run.log_path == "/l"
    assert (run.scheduled_at.seconds, run.started_at.seconds, run.finished_at.seconds) == (3, 4, 5)
    build = state.get(BUILD, "b1")
    assert build.status == pb.BUILD_STATUS_FAILED and build.cancel_requested
    assert list(build.want_ids) == ["w1"] and build.finished_at.seconds == 7 and build.message == "j1"


def test_want_terminal_states_are_final():
    spec = pb.WantSpec(want_id="w1", partitions=["d/1"], external_dependencies=["raw/1"])
    events = indexed([
        ev(want_created=pb.WantCreated(want=spec)),
        ev(want_status_changed=pb.WantStatusChanged(want_id="w1", status=pb.WANT_STATUS_BUILDING, build_id="b1", attempt=1)),
        ev(want_satisfied=pb.WantSatisfied(want_id="w1", build_id="b1")),
        ev(want_status_changed=pb.WantStatusChanged(want_id="w1", status=pb.WANT_STATUS_QUEUED)),
        ev(want_expired=pb.WantExpired(want_id="w1")),
        ev(want_sla_violated=pb.WantSlaViolated(want_id="w1")),
    ])
    assert fold(EMPTY, events[:1]).get(WANT, "w1").status == pb.WANT_STATUS_WAITING
    want = fold(EMPTY, events).get(WANT, "w1")
    assert want.status == pb.WANT_STATUS_SATISFIED and want.finished_at.seconds == 3
    assert want.attempts == 1 and want.build_id == "b1" and want.sla_violated


def test_fold_does_not_mutate_its_input():
    first = fold(EMPTY, indexed([partition_event("d/1", pb.PARTITION_STATUS_BUILDING)]))
    snapshot = first.get(PARTITION, "d/1").SerializeToString()
    fold(first, [pb.Event(index=2, partitions_tainted=pb.PartitionsTainted(refs=["d/1"]))])
    assert first.get(PARTITION, "d/1").SerializeToString() == snapshot
    assert EMPTY.entities == {k: {} for k in KINDS}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(0, 120), data=st.data())
def test_incremental_fold_equals_full_replay(seed, n, data):
    events = indexed(random_events(random.Random(seed), n))
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=5)))
    state = EMPTY
    for start, end in zip([0, *cuts], [*cuts, n]):
        state = fold(state, events[start:end])
    assert state == fold(EMPTY, events)


def read_models(log) -> dict:


    return {
        kind: {r.key: STATE_TYPES[kind].FromString(r.body) for r in log.query_rows(RowQuery(kind, limit=10_000))}
        for kind in KINDS
    }


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 150), batch=st.integers(1, 40),
       backend=st.sampled_from(["memory", "sqlite", "postgres"]))
def test_read_models_equal_pure_fold(tmp_path_factory, pg_cluster, seed, n, batch, backend):
    events = random_events(random.Random(seed), n)
    clock = iter(range(1_000_000, 10**12, 1_000_000)).__next__
    if backend == "sqlite":
        log = SqliteEventLog(str(tmp_path_factory.mktemp("rm") / "bel.sqlite3"), [StateProjection()], clock)
    elif backend == "postgres":
        database = f"rm_{uuid.uuid4().hex[:12]}"
        pg_cluster.execute(f"CREATE DATABASE {database}")
        log = PostgresEventLog(pg_cluster.uri(database), [StateProjection()], clock)
    else:
        log = MemoryEventLog([StateProjection()], clock)
    for start in range(0, n, batch):
        log.append(events[start : start + batch])
    folded = fold(EMPTY, events).entities
    assert read_models(log) == folded
    # The want index holds exactly the terms of each folded want (written as differences).
    expected = sorted((value, key) for key, want in folded[WANT].items()
                      for name, value in want_terms(want) if name == "partition")
    assert sorted(log.term_entries(WANT, "partition", limit=10_000)) == sorted(set(expected))
    for name in ("due", "wait", "build", "source", "queued"):
        expected = {(value, key) for key, want in folded[WANT].items() for n, value in want_terms(want) if n == name}
        assert set(log.term_entries(WANT, name, limit=10_000)) == expected, name
    expected = {(value, key) for key, build in folded[BUILD].items() for _, value in build_terms(build)}
    assert set(log.term_entries(BUILD, REQUESTED, limit=10_000)) == expected
    log.close()
    if backend == "postgres":
        pg_cluster.execute(f"DROP DATABASE {database}")


def test_store_queries(make_log):
    log = make_log([StateProjection()])
    store = StateStore(log)
    A, F = pb.PARTITION_STATUS_AVAILABLE, pb.PARTITION_STATUS_FAILED
    log.append([partition_event(f"votes/2025-01-{d:02d}/{c}", A if d % 3 else F)
                for d in range(1, 31) for c in ("red", "blue")])
    spec = lambda w, s: ev(want_created=pb.WantCreated(want=pb.WantSpec(want_id=w, partitions=["votes/x"])))
    log.append([spec("w1", 0), spec("w2", 0), spec("w3", 0),
                ev(want_cancelled=pb.WantCancelled(want_id="w2"))])
    reds = store.partitions("votes/2025-01-*/red", [A], limit=5)
    assert [p.ref.split("/")[1] for p in reds] == ["2025-01-01", "2025-01-02", "2025-01-04", "2025-01-05", "2025-01-07"]
    more = store.partitions("votes/2025-01-*/red", [A], after=reds[-1].ref, limit=100)
    assert len(reds) + len(more) == 20
    assert store.partition_statuses(["votes/2025-01-03/red", "votes/none"]) == {
        "votes/2025-01-03/red": F, "votes/none": pb.PARTITION_STATUS_MISSING}
    assert [w.spec.want_id for w in store.active_wants()] == ["w1", "w3"]
    assert store.want("w2").status == pb.WANT_STATUS_CANCELLED
    assert store.build("nope") is None and store.job_run("nope") is None and store.upstream("nope") is None
    store.close()


def test_due_wants_are_all_found_across_pages_of_equal_deadlines(monkeypatch):
    """Wants created in one batch share their deadline; paging must not stop at a page."""
    import databuild.state.store as store_module

    monkeypatch.setattr(store_module, "_PAGE", 3)
    store = StateStore(MemoryEventLog([StateProjection()]))
    specs = [pb.WantSpec(want_id=f"w{i}", partitions=[f"d/{i}"], ttl_seconds=60) for i in range(7)]
    for spec in specs:
        spec.created_at.FromSeconds(1000)
    store.log.append([ev(want_created=pb.WantCreated(want=spec)) for spec in specs])
    due = store.wants_due(0, 1060 * 1_000_000)
    assert sorted(w.spec.want_id for w in due) == [f"w{i}" for i in range(7)]
    assert [w.spec.want_id for w in store.queued_wants(5)] == [f"w{i}" for i in range(5)]


def requested(build_id: str) -> pb.Event:
    return ev(build_requested=pb.BuildRequested(build_id=build_id, partitions=["d/1"]))


def test_builds_newest_first_pages_by_request_time_then_id(make_log):
    """Keyset pages over (requested_at, build_id) descending: every build once, ties by id."""
    store = StateStore(make_log([StateProjection()]))
    ids = [f"{i:02d}-{'x' if i % 2 else 'a'}" for i in range(23)]
    for start in range(0, len(ids), 3):  # three builds per append share one timestamp
        store.log.append([requested(b) for b in ids[start:start + 3]])
    store.log.append([ev(build_status_changed=pb.BuildStatusChanged(build_id=ids[0], status=pb.BUILD_STATUS_FAILED))])
    expected = sorted(ids, key=lambda b: (store.build(b).requested_at.ToMicroseconds(), b), reverse=True)
    pages, after = [], None
    while page := store.builds_newest_first(after, limit=5):
        pages.append([b.build_id for b in page])
        after = page[-1].build_id
    assert [b for p in pages for b in p] == expected and [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert store.builds_newest_first(limit=1)[0].build_id == ids[-1]
    assert store.build(ids[0]).status == pb.BUILD_STATUS_FAILED  # a later change keeps its place
    assert store.builds_newest_first(ids[1], limit=5)[0].build_id == ids[0]
    with pytest.raises(NotFoundError, match="'nope'"):
        store.builds_newest_first("nope")


def test_resolve_id_takes_an_exact_id_or_a_unique_prefix(make_log):
    store = StateStore(make_log([StateProjection()]))
    builds = ["abcd0001", "abcd0002", "abce0001", "abc"]
    store.log.append([requested(b) for b in builds] + [
        ev(want_created=pb.WantCreated(want=pb.WantSpec(want_id="abcd9999", partitions=["d/1"]))),
        ev(job_run_status_changed=pb.JobRunStatusChanged(job_run_id="abcd7777", build_id="abcd0001", job_label="//x:job",
                                                         status=pb.JOB_RUN_STATUS_RUNNING))])
    assert store.resolve_id(BUILD, "abcd0001") == "abcd0001"
    assert store.resolve_id(BUILD, "abc") == "abc"  # exact beats prefix, whatever its length
    assert store.resolve_id(BUILD, " abce ") == "abce0001"
    assert store.resolve_id(WANT, "abcd") == "abcd9999"  # other kinds' ids do not count
    assert store.resolve_id(JOB_RUN, "abcd7") == "abcd7777"
    with pytest.raises(InvalidArgumentError, match="'abcd' is ambiguous: it matches abcd0001, abcd0002;"):
        store.resolve_id(BUILD, "abcd")
    with pytest.raises(NotFoundError, match="no build with id 'abcf'"):
        store.resolve_id(BUILD, "abcf")
    with pytest.raises(NotFoundError, match="at least 4 characters"):
        store.resolve_id(BUILD, "ab")
    with pytest.raises(InvalidArgumentError, match="empty"):
        store.resolve_id(WANT, "  ")
    with pytest.raises(InvalidArgumentError, match="'partition'"):
        store.resolve_id(PARTITION, "abcd")


def test_an_ambiguous_prefix_lists_at_most_ten_matches(make_log):
    store = StateStore(make_log([StateProjection()]))
    store.log.append([requested(f"beef{i:04d}") for i in range(12)])
    with pytest.raises(InvalidArgumentError) as info:
        store.resolve_id(BUILD, "beef")
    message = str(info.value)
    assert "beef0009" in message and "beef0010" not in message and message.count("beef0") == 10
