"""EventLog.import_events and get_terms on every backend: events kept as they were, the
source's log id taken, and an import that fails keeping nothing."""

from __future__ import annotations

import random

import pytest

from databuild.errors import ConflictError, InvalidArgumentError, InvalidEventError
from databuild.state import WANT, StateProjection
from databuild.events import RowQuery
from eventgen import random_events

SOURCE_ID = "0b9e1f3a-2c4d-4e5f-8a6b-7c8d9e0f1a2b"


def _source(make_log, n: int = 300):
    """A log of ``n`` random valid events (every type), with the state projection."""
    from databuild.events import MemoryEventLog

    log = MemoryEventLog([StateProjection()])
    rng = random.Random(11)
    for _ in range(n // 100):
        log.append(random_events(rng, 100))
    return log


def _all(log):
    return log.list_events(0, limit=10_000).events


def test_import_keeps_index_id_timestamp_schema_version_and_takes_the_log_id(make_log):
    source = _source(make_log)
    events = _all(source)
    target = make_log([StateProjection()])
    assert target.import_events(iter(events), SOURCE_ID, batch_size=64) == len(events)
    assert target.log_id == SOURCE_ID
    copied = _all(target)
    assert [(e.index, e.event_id, e.timestamp.ToMicroseconds(), e.schema_version) for e in copied] == [
        (e.index, e.event_id, e.timestamp.ToMicroseconds(), e.schema_version) for e in events]
    assert copied == events
    assert target.head() == source.head()
    # read models projected as an append would have: rows and terms
    for kind in StateProjection.kinds:
        want = source.query_rows(RowQuery(kind, limit=1000))
        got = target.query_rows(RowQuery(kind, limit=1000))
        assert [(r.key, r.status, r.body) for r in got] == [(r.key, r.status, r.body) for r in want]
        keys = [r.key for r in want]
        assert target.get_terms(kind, keys) == source.get_terms(kind, keys)
    assert any(source.get_terms(WANT, [r.key for r in source.query_rows(RowQuery(WANT))]).values())
    # and it goes on from there: the next append gets the next index
    assert target.append([random_events(random.Random(5), 1)[0]]) == [len(events) + 1]


def test_import_refuses_a_log_that_is_not_empty_naming_its_head(make_log):
    target = make_log([StateProjection()])
    target.append(random_events(random.Random(1), 3))
    own_id = target.log_id
    with pytest.raises(ConflictError, match="holds events up to index 3"):
        target.import_events(_all(_source(make_log)), SOURCE_ID)
    assert target.latest_index() == 3 and target.log_id == own_id


@pytest.mark.parametrize("spoil, message", [
    (lambda events: events.pop(150), "event #151 of the import has index 152, expected 151"),
    (lambda events: events.insert(10, events.pop(20)), "event #11 of the import has index 21, expected 11"),
    (lambda events: events[200].ClearField("event_id"), "event #201 of the import has no event_id"),
    (lambda events: events[250].ClearField("timestamp"), "event #251 of the import has no timestamp"),
    (lambda events: setattr(events[5], "schema_version", 99), "event #6 of the import has schema version 99"),
    (lambda events: events[299].MergeFrom(type(events[0])(event_id=events[3].event_id)),
     "event #300 of the import has event_id .* which an earlier event has"),
])
def test_a_failed_import_keeps_nothing(make_log, spoil, message):
    events = _all(_source(make_log))
    spoil(events)
    target = make_log([StateProjection()])
    own_id = target.log_id
    with pytest.raises(InvalidEventError, match=message):
        target.import_events(iter(events), SOURCE_ID, batch_size=50)  # fails after several batches
    assert target.latest_index() == 0 and target.log_id == own_id
    for kind in StateProjection.kinds:
        assert target.query_rows(RowQuery(kind)) == []
    # the log is still usable: the good events import
    assert target.import_events(_all(_source(make_log)), SOURCE_ID) == 300


def test_import_arguments_are_checked(make_log):
    target = make_log()
    with pytest.raises(InvalidArgumentError, match="log_id"):
        target.import_events([], "")
    with pytest.raises(InvalidArgumentError, match="batch_size .* got 0"):
        target.import_events([], SOURCE_ID, batch_size=0)
    assert target.import_events([], SOURCE_ID) == 0 and target.log_id == SOURCE_ID


def test_export_then_import_then_verify_through_the_ndjson_format(make_log, tmp_path):
    import io

    from databuild.events.portable import export_log, import_log, verify_log
    from databuild.state.reducers import STATE_TYPES

    decode = lambda kind, body: STATE_TYPES[kind].FromString(body)  # noqa: E731
    for n in (0, 300):
        source = _source(make_log, n)
        text = io.StringIO()
        assert export_log(source, text, 1_735_689_600_000_000) == n
        header, *lines = text.getvalue().splitlines(keepends=True)
        assert len(lines) == n
        target = make_log([StateProjection()], path=tmp_path / f"n{n}.sqlite3")
        found = import_log(target, [header.encode(), *(line.encode() for line in lines)])
        assert (found.log_id, found.head, found.exported_at) == (source.log_id, n, "2025-01-01T00:00:00Z")
        assert target.log_id == source.log_id and _all(target) == _all(source)
        for log in (source, target):
            report = verify_log(log, decode=decode)
            assert report.consistent and report.events == n and report.moved_to is None, report.differences
        assert report.rows == sum(len(source.query_rows(RowQuery(k, limit=1000))) for k in StateProjection.kinds)
