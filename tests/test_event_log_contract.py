"""The contract every event log backend must keep (runs against memory and SQLite)."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import timezone

import pytest

from databuild.errors import (
    AppendConflictError, EventLogClosedError, InvalidArgumentError, InvalidEventError, InvalidRefError, NotFoundError,
)
from databuild.events import Cursor, EventFilter, KeyKind, Row, RowQuery, TermMatch, Unchanged, event_keys, event_type
from databuild.proto import databuild_pb2 as pb
from eventgen import partition_event, random_events


def all_events(log, filter=EventFilter(), limit=7):
    """Read everything matching ``filter`` page by page."""
    out, since = [], 0
    while True:
        page = log.list_events(since, filter, limit)
        out += page.events
        assert page.next >= since
        since = page.next
        if not page.has_more:
            return out


def test_indices_are_gap_free_and_increasing(make_log):
    log = make_log()
    assert log.latest_index() == 0
    assert log.append([partition_event("a/1")]) == [1]
    assert log.append([partition_event(f"a/{i}") for i in range(3)]) == [2, 3, 4]
    assert log.append([]) == []
    assert log.latest_index() == 4
    assert [e.index for e in all_events(log)] == [1, 2, 3, 4]


def test_append_stamps_id_time_and_version(make_log, clock):
    log = make_log()
    mine = partition_event("a/1")
    mine.event_id = "my-id"
    fresh = partition_event("a/2")
    log.append([mine, fresh])
    stored = all_events(log)
    assert stored[0].event_id == "my-id"
    uuid.UUID(stored[1].event_id)
    assert stored[0].timestamp == stored[1].timestamp  # one server time per batch
    assert stored[0].timestamp.ToMicroseconds() >= 1_735_689_600_000_000
    assert stored[0].schema_version == 1
    assert stored[1] == fresh  # the caller's message was filled in


def test_events_round_trip_unchanged(make_log):
    log = make_log()
    events = random_events(random.Random(1), 200)
    log.append(events)
    assert all_events(log) == events


def test_paging_returns_each_event_once(make_log):
    log = make_log()
    log.append(random_events(random.Random(2), 95))
    page = log.list_events(0, limit=10)
    assert [e.index for e in page.events] == list(range(1, 11)) and page.has_more and page.next == 10
    assert [e.index for e in all_events(log, limit=10)] == list(range(1, 96))
    last = log.list_events(90, limit=10)
    assert [e.index for e in last.events] == [91, 92, 93, 94, 95] and not last.has_more and last.next == 95


def test_exhausted_filtered_page_advances_to_latest(make_log):
    log = make_log()
    log.append([partition_event("a/1"), partition_event("b/1"), partition_event("b/2")])
    page = log.list_events(0, EventFilter(refs=("a/1",)), limit=10)
    assert [e.index for e in page.events] == [1]
    assert page.next == 3 and not page.has_more
    empty = log.list_events(3, EventFilter(refs=("a/1",)))
    assert empty.events == [] and empty.next == 3


def test_pages_carry_the_head_and_the_event_id_at_next(make_log):
    log = make_log()
    empty = log.list_events(0)
    assert (empty.next, empty.head, empty.next_event_id) == (0, 0, "")
    assert log.head() == Cursor(0, "")
    events = [partition_event("a/1"), partition_event("b/1"), partition_event("b/2")]
    log.append(events)
    ids = [e.event_id for e in events]
    full = log.list_events(0, limit=2)  # a full page: next is its last event
    assert (full.next, full.has_more, full.head, full.next_event_id) == (2, True, 3, ids[1])
    filtered = log.list_events(0, EventFilter(refs=("a/1",)))  # exhausted: next is the head
    assert (filtered.next, filtered.head, filtered.next_event_id) == (3, 3, ids[2])
    beyond = log.list_events(7)  # since past the end: no event at next
    assert (beyond.events, beyond.next, beyond.head, beyond.next_event_id) == ([], 7, 3, "")
    assert log.head() == Cursor(3, ids[2])
    assert [log.event_id_at(i) for i in range(4)] == ["", *ids]
    with pytest.raises(NotFoundError, match="no event at index 4"):
        log.event_id_at(4)
    with pytest.raises(InvalidArgumentError, match="-1"):
        log.event_id_at(-1)


def test_log_id_is_a_uuid_made_with_the_log(make_log, backend, tmp_path):
    log = make_log()
    log_id = log.log_id
    assert str(uuid.UUID(log_id)) == log_id and uuid.UUID(log_id).version == 4
    log.append([partition_event("a/1")])
    assert log.log_id == log_id  # appends do not change it
    other = make_log(path=tmp_path / "other.sqlite3")
    assert other.log_id != log_id
    if backend == "sqlite":  # stored with the log: the same when it is opened again
        log.close()
        assert make_log().log_id == log_id


@pytest.mark.parametrize(
    "bad, error, fragment",
    [
        (pb.Event(), InvalidEventError, "no payload"),
        ("not an event", InvalidEventError, "str"),
        (partition_event("x" * 1025), InvalidRefError, "1025 characters"),
        (partition_event("daily/2025 01"), InvalidRefError, "'daily/2025 01'"),
        (partition_event("tab\there"), InvalidRefError, "whitespace"),
        (pb.Event(build_status_changed=pb.BuildStatusChanged(build_id="b1")), InvalidEventError, "status"),
        (pb.Event(want_created=pb.WantCreated(want=pb.WantSpec(want_id="w"))), InvalidEventError, "want.partitions"),
    ],
)
def test_malformed_event_rejects_whole_batch(make_log, bad, error, fragment):
    log = make_log()
    log.append([partition_event("a/0")])
    good = partition_event("a/1")
    with pytest.raises(error, match="event #1") as info:
        log.append([good, bad, partition_event("a/2")])
    assert fragment in str(info.value)
    assert log.latest_index() == 1
    assert good.index == 0
    assert [e.index for e in all_events(log)] == [1]


class ExplodingProjection:
    """A projection that fails on one ref, to prove rows and events commit together."""

    name, version, kinds = "exploding", 1, ("count",)

    def apply(self, tx, events):
        for event in events:
            if event.partition_status_changed.ref == "explode/now":
                raise RuntimeError("projection failed")
        row = tx.get_many("count", ["n"]).get("n")
        n = int(row.body) if row else 0
        tx.put_many([Row("count", "n", 0, str(n + len(events)).encode())])


@pytest.mark.parametrize("batch", [2, 150])  # 150: a batch PostgreSQL copies in
def test_projection_failure_rolls_back_events_and_rows(make_log, batch):
    log = make_log([ExplodingProjection()])
    log.append([partition_event(f"a/{i}") for i in range(batch)])
    with pytest.raises(RuntimeError):
        log.append([partition_event(f"b/{i}") for i in range(batch - 1)] + [partition_event("explode/now")])
    assert log.latest_index() == batch
    assert log.get_row("count", "n").body == str(batch).encode()
    assert log.append([partition_event("a/4")]) == [batch + 1]
    assert log.get_row("count", "n").body == str(batch + 1).encode()
    assert [e.index for e in all_events(log, limit=1000)] == list(range(1, batch + 2))


def brute_force(events, filter):
    return [e for e in events if filter.matches(event_type(e), e.timestamp.ToMicroseconds(), event_keys(e))]


FILTERS = [
    EventFilter(types=("partition_status_changed",)),
    EventFilter(types=("want_created", "want_satisfied")),
    EventFilter(refs=("raw/a",)),
    EventFilter(refs=("raw/a", "daily/2025-01-01/red")),
    EventFilter(ref_patterns=("daily/*/red",)),
    EventFilter(ref_patterns=("raw/*",)),
    EventFilter(ref_patterns=("raw/**",)),
    EventFilter(ref_patterns=("daily/2025-01-0?/blue",), refs=("raw/a",)),
    EventFilter(build_ids=("b1",)),
    EventFilter(job_run_ids=("j2", "j3")),
    EventFilter(want_ids=("w1",)),
    EventFilter(build_ids=("b2",), types=("build_status_changed",)),
    EventFilter(want_ids=("w2",), refs=("raw/b/c",)),
    EventFilter(ref_patterns=("**",), build_ids=("b3",), job_run_ids=("j1",)),
]


@pytest.mark.parametrize("filter", FILTERS, ids=repr)
def test_filters_match_brute_force(make_log, filter):
    log = make_log()
    events = random_events(random.Random(3), 400)
    for start in range(0, 400, 50):
        log.append(events[start : start + 50])
    expected = brute_force(events, filter)
    assert expected, "the generated log should exercise this filter"
    assert all_events(log, filter, limit=13) == expected
    since = len(events) // 2
    assert log.list_events(since, filter, 1000).events == [e for e in expected if e.index > since]


def test_glob_semantics(make_log):
    log = make_log()
    log.append([partition_event(r) for r in ["raw/a", "raw/x/y", "rawx/a", "raw"]])
    refs = lambda f: [e.partition_status_changed.ref for e in all_events(log, f)]
    assert refs(EventFilter(ref_patterns=("raw/*",))) == ["raw/a"]
    assert refs(EventFilter(ref_patterns=("raw/**",))) == ["raw/a", "raw/x/y"]
    assert refs(EventFilter(ref_patterns=("raw*",))) == ["raw"]  # * stays within a segment
    assert refs(EventFilter(ref_patterns=("raw",))) == ["raw"]


def test_time_range_filter(make_log, clock):
    log = make_log()
    for i in range(5):  # the fake clock advances 1 ms per append
        log.append([partition_event(f"a/{i}")])
    times = [e.timestamp.ToDatetime(tzinfo=timezone.utc) for e in all_events(log)]
    got = all_events(log, EventFilter(start=times[1], end=times[3]))
    assert [e.index for e in got] == [2, 3]
    naive_start = times[4].replace(tzinfo=None)
    assert [e.index for e in all_events(log, EventFilter(start=naive_start))] == [5]


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda log: log.list_events(-1), "since"),
        (lambda log: log.list_events("3"), "since"),
        (lambda log: log.list_events(0, limit=0), "limit"),
        (lambda log: log.list_events(0, limit=10_001), "limit"),
        (lambda log: EventFilter(types=("nope",)), "'nope'"),
        (lambda log: EventFilter(types="want_created"), "string"),
        (lambda log: EventFilter(refs=("has space",)), "'has space'"),
        (lambda log: EventFilter(ref_patterns=("",)), "empty"),
        (lambda log: log.query_rows(RowQuery("partition", limit=0)), "limit"),
        (lambda log: log.query_rows_each([RowQuery("partition"), RowQuery("partition", limit=0)]), "limit"),
        (lambda log: log.keys_with_prefix("build", "", 10), "empty"),
        (lambda log: log.keys_with_prefix("build", "ab", limit=0), "limit"),
    ],
)
def test_bad_query_arguments_are_named(make_log, call, fragment):
    log = make_log()
    with pytest.raises(InvalidArgumentError) as info:
        call(log)
    assert fragment in str(info.value)


def test_closed_log_refuses_use(make_log):
    log = make_log()
    log.close()
    with pytest.raises(EventLogClosedError):
        log.append([partition_event("a/1")])
    with pytest.raises(EventLogClosedError):
        log.latest_index()
    with pytest.raises(EventLogClosedError):
        log.log_id


def test_concurrent_appends_from_threads(make_log):
    log = make_log()
    errors = []

    def writer(n):
        try:
            for i in range(60):
                log.append([partition_event(f"t{n}/{i}/{k}") for k in range(1 + i % 3)])
        except Exception as e:  # surfaced below: any error fails the test
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    expected = 6 * sum(1 + i % 3 for i in range(60))
    events = all_events(log, limit=1000)
    assert [e.index for e in events] == list(range(1, expected + 1))
    per_writer = {}
    for e in events:  # each writer's events keep their order
        n, i, _ = e.partition_status_changed.ref.split("/")
        per_writer.setdefault(n, []).append(int(i))
    assert all(seq == sorted(seq) for seq in per_writer.values())


def test_read_model_queries(make_log):
    class Statuses:
        name, version, kinds = "statuses", 1, ("p",)

        def apply(self, tx, events):
            tx.put_many([Row("p", e.partition_status_changed.ref, e.partition_status_changed.status, b"") for e in events])

    log = make_log([Statuses()])
    A, F = pb.PARTITION_STATUS_AVAILABLE, pb.PARTITION_STATUS_FAILED
    log.append([partition_event(f"d/{i:02d}/{c}", A if i % 2 else F) for i in range(10) for c in ("red", "blue")])
    keys = lambda q: [r.key for r in log.query_rows(q)]
    assert keys(RowQuery("p", (A,), "d/*/red")) == [f"d/{i:02d}/red" for i in range(1, 10, 2)]
    assert keys(RowQuery("p", (), "d/0[1]/red")) == []  # brackets are literal, not a class
    assert keys(RowQuery("p", (A, F), "d/0*/blue", after_key="d/05/blue", limit=2)) == ["d/06/blue", "d/07/blue"]
    assert keys(RowQuery("p", (), "d/03/red")) == ["d/03/red"]
    assert keys(RowQuery("p", (), "d/0")) == []  # a literal pattern is the ref itself, not a prefix
    assert len(keys(RowQuery("p"))) == 20
    assert log.get_row("p", "d/03/red").status == A
    assert log.get_row("p", "nope") is None
    assert set(log.get_rows("p", ["d/03/red", "nope"])) == {"d/03/red"}


def test_keys_with_prefix(make_log):
    class Keys:
        name, version, kinds = "keys", 1, ("p", "q")

        def apply(self, tx, events):
            tx.put_many([Row(e.partition_status_changed.build_id, e.partition_status_changed.ref, 0, b"")
                         for e in events])

    log = make_log([Keys()])
    keyed = lambda kind, key: partition_event(key, build_id=kind)
    log.append([keyed("p", k) for k in ("ab/2", "ab/1", "abc/1", "ac/1", "a/1")] + [keyed("q", "ab/3")])
    assert log.keys_with_prefix("p", "ab", 10) == ["ab/1", "ab/2", "abc/1"]
    assert log.keys_with_prefix("p", "ab/", 10) == ["ab/1", "ab/2"]
    assert log.keys_with_prefix("p", "ab", limit=2) == ["ab/1", "ab/2"]
    assert log.keys_with_prefix("p", "a/1", 10) == ["a/1"] and log.keys_with_prefix("p", "b", 10) == []
    assert log.keys_with_prefix("q", "ab", 10) == ["ab/3"]


def check_broad_terms(keys, A, F) -> None:
    """Rows w1 c/9, w2 a/2, w3 (no refs), w4 a/3 a/4 b/2, all A; w5 a/5 b/5, F."""
    assert keys(TermMatch("ref", pattern="a/*")) == ["w2", "w4", "w5"]
    assert keys(TermMatch("ref", pattern="*/*")) == ["w1", "w2", "w4", "w5"]
    assert keys(TermMatch("ref", pattern="a/*"), statuses=(A,)) == ["w2", "w4"]
    assert keys(TermMatch("ref", pattern="a/*"), statuses=(F,)) == ["w5"]
    assert keys(TermMatch("ref", pattern="*/*"), statuses=(F,)) == ["w5"]
    assert keys(TermMatch("ref", pattern="a/*"), TermMatch("ref", pattern="b/*")) == ["w4", "w5"]
    assert keys(TermMatch("ref", pattern="*/*"), TermMatch("due", low="0004")) == ["w1", "w4", "w5"]


def check_terms(keys, A, F) -> None:
    assert keys(TermMatch("ref", values=("b/1",))) == ["w1", "w3"]
    assert keys(TermMatch("ref", pattern="a/*")) == ["w1", "w2"]
    assert keys(TermMatch("ref", pattern="a/1")) == ["w1"] and keys(TermMatch("ref", pattern="a/")) == []
    assert keys(TermMatch("ref", values=("b/1",)), TermMatch("due", low="0003")) == ["w1"]
    assert keys(TermMatch("ref", values=("b/1",)), statuses=(A,)) == ["w1"]
    assert keys(TermMatch("ref", pattern="a/*"), TermMatch("ref", values=("b/1",))) == ["w1"]
    assert keys(TermMatch("ref", values=("b/1",)), statuses=(F,)) == ["w3"]
    assert keys(TermMatch("due", low="0002")) == ["w1", "w3"]
    assert keys(TermMatch("due", low="0002"), TermMatch("ref", pattern="c/*")) == ["w3"]


def test_read_model_terms(make_log):
    class Tagged:
        """Rows ``w<i>`` with terms ("ref", each of its refs) and ("due", a sortable time)."""

        name, version, kinds = "tagged", 1, ("w",)

        def apply(self, tx, events):
            rows = []
            for e in events:
                key, due, *refs = e.partition_status_changed.message.split()
                terms = None if due == "-" else (("due", due), *(("ref", r) for r in refs))
                rows.append(Row("w", key, e.partition_status_changed.status, b"", terms))
            tx.put_many(rows)

    log = make_log([Tagged()])
    A, F = pb.PARTITION_STATUS_AVAILABLE, pb.PARTITION_STATUS_FAILED
    tag = lambda text, status=A: pb.Event(partition_status_changed=pb.PartitionStatusChanged(
        ref="x/1", status=status, message=text))
    log.append([tag("w1 0003 a/1 b/1"), tag("w2 0001 a/2"), tag("w3 0002 b/1 c/9", F)])
    keys = lambda *terms, statuses=(): [r.key for r in log.query_rows(RowQuery("w", statuses, terms=terms))]
    if hasattr(log, "few_terms"):  # SQLite: check both query forms (key list and walking a term's entries)
        check_terms(keys, A, F)
        log.few_terms = 0
    check_terms(keys, A, F)
    after = RowQuery("w", after_key="w1", terms=(TermMatch("ref", values=("b/1",)),))
    assert [r.key for r in log.query_rows(after)] == ["w3"]
    # Several queries at once (one round trip on PostgreSQL) answer as each does alone.
    each = [RowQuery("w", terms=(TermMatch("ref", values=("b/1",)),)), after, RowQuery("w", statuses=(F,)),
            RowQuery("w", pattern="nothing/*"), RowQuery("w", limit=1)]
    answers = log.query_rows_each(each)
    assert answers == [log.query_rows(q) for q in each]
    assert [[r.key for r in rows] for rows in answers] == [["w1", "w3"], ["w3"], ["w3"], [], ["w1"]]
    assert log.query_rows_each([after]) == [log.query_rows(after)] and log.query_rows_each([]) == []
    assert log.term_entries("w", "due", high="0003") == [("0001", "w2"), ("0002", "w3")]
    # Bounds just above a value (v + NUL, as the state store asks for a ref's newest entry),
    # also where text cannot hold NUL (PostgreSQL).
    assert log.term_entries("w", "due", low="0001\0", high="0002\0") == [("0002", "w3")]
    assert keys(TermMatch("due", low="0002\0")) == ["w1"]

    assert log.count_rows("w") == {A: 2, F: 1}
    assert log.count_rows("w", statuses=(F,)) == {F: 1} and log.count_rows("nothing") == {}
    assert log.count_rows("w", term=TermMatch("ref", pattern="*/*")) == {A: 2, F: 1}  # w1's two refs: once
    assert log.count_rows("w", term=TermMatch("due", low="0002", high="0003")) == {F: 1}
    assert log.count_rows("w", statuses=(A,), term=TermMatch("ref", values=("b/1",))) == {A: 1}
    assert log.count_terms("w", TermMatch("ref", pattern="*/*")) == 5  # entries: w1's two refs count twice
    assert log.count_terms("w", TermMatch("due", low="0002")) == 2 and log.count_terms("w", TermMatch("no")) == 0
    assert log.term_entries("w", "due", limit=1) == [("0001", "w2")]
    assert log.term_entries("w", "due", limit=2, reverse=True) == [("0003", "w1"), ("0002", "w3")]
    assert log.term_entries("w", "due", after=("0001", "w2")) == [("0002", "w3"), ("0003", "w1")]
    assert log.term_entries("w", "due", reverse=True, after=("0002", "w3")) == [("0001", "w2")]
    assert log.term_entries("w", "ref", after=("b/1", "w1")) == [("b/1", "w3"), ("c/9", "w3")]  # same value, later key first

    log.append([tag("w1 0009 c/9"), tag("w2 - ignored")])  # w1's terms replaced; w2's left alone
    assert keys(TermMatch("ref", values=("a/1",))) == []
    assert keys(TermMatch("ref", values=("c/9",))) == ["w1", "w3"]
    assert log.term_entries("w", "due") == [("0001", "w2"), ("0002", "w3"), ("0009", "w1")]
    log.append([tag("w3 0002")])
    assert sorted(log.term_entries("w", "ref")) == [("a/2", "w2"), ("c/9", "w1")]
    assert log.get_row("w", "w1").terms is None  # rows read back do not carry terms

    log.append([tag("w4 0004 a/3 a/4 b/2"), tag("w5 0005 a/5 b/5", F)])  # w4: two refs match a/*, listed once
    if hasattr(log, "few_terms"):  # SQLite: 3 makes a/* broad, b/* and the one F row few (F's index drives)
        log.few_terms = 3
        check_broad_terms(keys, A, F)
        log.few_terms = 0
    check_broad_terms(keys, A, F)


def test_conditional_append(make_log):
    log = make_log()
    log.append([partition_event("a/1")])
    assert log.append([partition_event("a/2")], expect_latest=1) == [2]
    stale = partition_event("a/3")
    with pytest.raises(AppendConflictError, match="end at index 1, but it ends at 2"):
        log.append([stale], expect_latest=1)
    assert stale.index == 0 and log.latest_index() == 2


def test_append_unless_keys_changed(make_log):
    log = make_log()
    log.append([partition_event("a/1"), partition_event("b/1")])
    guard = Unchanged(2, frozenset({(KeyKind.PARTITION, "a/1"), (KeyKind.WANT, "w1")}))
    log.append([partition_event("b/1")])  # unrelated: the guarded append still goes in
    assert log.append([partition_event("c/1")], unchanged=guard) == [4]
    log.append([partition_event("a/1", pb.PARTITION_STATUS_FAILED)])
    stale = partition_event("c/2")
    with pytest.raises(AppendConflictError, match="after index 2"):
        log.append([stale], unchanged=guard)
    assert stale.index == 0 and log.latest_index() == 5
    assert log.append([partition_event("c/2")], unchanged=Unchanged(5, guard.keys)) == [6]


class SaysWhatItReads:
    """Counts events per ref in rows of kind "n", and says which rows it reads (``reads``),
    except those of refs under "quiet/" (read as usual) and of "nothing/" refs, which it
    does not read at all: rows read up front and rows read as usual must agree."""

    name, kinds = "says_reads", ("n",)

    def __init__(self, version: int = 1) -> None:
        self.version = version

    def reads(self, events):
        refs = {e.partition_status_changed.ref for e in events}
        return {"n": {r for r in refs if not r.startswith("quiet/")} | {"absent/never"}}

    def apply(self, tx, events):
        refs = [e.partition_status_changed.ref for e in events if not e.partition_status_changed.ref.startswith("nothing/")]
        rows = tx.get_many("n", sorted(set(refs)))
        counts = {ref: self._count(rows[ref]) if ref in rows else 0 for ref in refs}
        for ref in refs:
            counts[ref] += 1
        tx.put_many([Row("n", ref, 0, f"{self.version}:{n}".encode()) for ref, n in counts.items()])
        # Written rows read back in the same transaction are the new ones.
        assert {k: self._count(r) for k, r in tx.get_many("n", sorted(counts)).items()} == counts

    def _count(self, row):
        version, n = row.body.decode().split(":")
        assert int(version) == self.version, f"a row of version {version} read by version {self.version}"
        return int(n)


def test_rows_a_projection_says_it_reads_are_current(make_log, backend, tmp_path):
    log = make_log([SaysWhatItReads()], path=tmp_path / "reads.sqlite3")
    for refs in (["a/1"], ["a/1", "a/2"], ["quiet/1", "a/1"], ["quiet/1"], ["nothing/1"], ["a/2", "quiet/1"]):
        log.append([partition_event(ref) for ref in refs])
    counts = lambda log: {k: int(r.body.split(b":")[1]) for k, r in log.get_rows("n", ["a/1", "a/2", "quiet/1", "nothing/1"]).items()}
    assert counts(log) == {"a/1": 3, "a/2": 2, "quiet/1": 3}
    if backend == "memory":
        return  # nothing to reopen
    log.close()
    # A new version rebuilds its rows by replay in the next append: rows read up front before then are stale.
    log = make_log([SaysWhatItReads(version=2)], path=tmp_path / "reads.sqlite3")
    log.append([partition_event("a/1")])
    assert counts(log) == {"a/1": 4, "a/2": 2, "quiet/1": 3}
    # Events appended meanwhile by a writer without the projection are replayed into it by
    # the next append that has it: rows read up front before the replay are stale.
    other = make_log([], path=tmp_path / "reads.sqlite3")
    other.append([partition_event("a/1"), partition_event("quiet/1")])
    log.append([partition_event("a/1")])
    assert counts(log) == {"a/1": 6, "a/2": 2, "quiet/1": 4}
    # A writer of another version rebuilds the rows its way (on open), and the next append
    # of this one rebuilds them back: the rows read up front were the other version's.
    make_log([SaysWhatItReads(version=3)], path=tmp_path / "reads.sqlite3")
    log.append([partition_event("a/1")])
    assert counts(log) == {"a/1": 7, "a/2": 2, "quiet/1": 4}


def test_a_guarded_append_sees_the_appends_before_it_in_a_group_commit(make_log):
    """Appends that queue while another commits go in together (SQL backends): a guard is
    checked against the earlier appends of its group too."""
    log = make_log()
    log.append([partition_event("a/1")])
    guard = Unchanged(1, frozenset({(KeyKind.PARTITION, "a/1")}))
    group = getattr(log, "_group", None)
    results: dict[str, object] = {}

    def append(name, events, **kwargs):
        try:
            results[name] = log.append(events, **kwargs)
        except AppendConflictError as e:
            results[name] = e

    threads = [threading.Thread(target=append, args=("touch", [partition_event("a/1")])),
               threading.Thread(target=append, args=("guarded", [partition_event("b/1")]), kwargs={"unchanged": guard})]
    if group is None:  # memory: no group commit, the same outcome one by one
        for thread in threads:
            thread.start()
            thread.join()
    else:
        with group.write_lock:  # both queue up, then one commit takes them together, in order
            for thread in threads:
                thread.start()
                while group.queued < threads.index(thread) + 1:
                    pass
        for thread in threads:
            thread.join()
    assert results["touch"] == [2]
    assert isinstance(results["guarded"], AppendConflictError)
    assert log.latest_index() == 2
    assert log.append([partition_event("b/1")], unchanged=Unchanged(2, guard.keys)) == [3]


def test_listeners_hear_committed_appends_only(make_log):
    log = make_log()
    heard = []
    log.add_listener(heard.append)
    log.append([partition_event("a/1"), partition_event("a/2")])
    with pytest.raises(InvalidRefError):
        log.append([partition_event("bad ref")])
    log.append([partition_event("a/3")])
    assert heard == [2, 3]


def test_append_observers_see_committed_events_and_their_time(make_log):
    log = make_log()
    seen = []
    log.add_listener(lambda latest: seen.append(("listener", latest)))
    log.add_append_observer(lambda events, seconds: seen.append(([e.index for e in events], seconds >= 0)))
    log.append([partition_event("a/1"), partition_event("a/2")])
    with pytest.raises(InvalidRefError):
        log.append([partition_event("bad ref")])
    assert seen == [("listener", 2), ([1, 2], True)]  # after the listeners; a failed append unseen


def test_a_listener_of_some_types_hears_only_appends_holding_one(make_log):
    log = make_log()
    heard = []
    log.add_listener(heard.append, types=("want_cancelled", "partition_status_changed"))
    log.append([pb.Event(want_expired=pb.WantExpired(want_id="w1"))])
    log.append([pb.Event(want_expired=pb.WantExpired(want_id="w2")), partition_event("a/1")])
    log.append([pb.Event(build_requested=pb.BuildRequested(build_id="b1", partitions=["a/2"]))])
    assert heard == [3]


def test_a_lease_has_one_holder_at_a_time(make_log):
    log = make_log()
    first, second = log.lease("evaluator"), log.lease("evaluator")
    other = log.lease("sync-ingest")
    assert first.try_acquire() and first.held()
    assert first.try_acquire()  # a holder asking again keeps it
    assert not second.try_acquire() and not second.held()
    assert other.try_acquire()  # another name is another lease
    first.release()
    assert not first.held() and second.try_acquire()
    second.release()
    other.release()
    with pytest.raises(InvalidArgumentError, match="lease name"):
        log.lease("Not A Name")
