"""One declaration per event type: it covers the proto, and keys, validation, the
entities reducers change and the evaluator's wake set follow from it."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from databuild.errors import AppendConflictError, DeclarationError, InvalidEventError, SchemaTooNewError
from databuild.events import (
    EVENT_SCHEMA_VERSION, EVENT_TYPES, REGISTRY, EventType, EventTypes, KeyKind, On, Unchanged, event_keys,
    open_event_log,
)
from databuild.events.validate import validate_event
from databuild.proto import databuild_pb2 as pb
from databuild.service.want_runner import WAKE_TYPES
from databuild.state import EMPTY, StateProjection, fold
from databuild.state.reducers import KIND_OF, check_reducers
from eventgen import BUILDS, GENERATORS, REFS, RUNS, TRIGGERS, UPSTREAMS, WANTS, event_of, partition_event

POOLS = {KeyKind.PARTITION: REFS, KeyKind.BUILD: BUILDS, KeyKind.JOB_RUN: RUNS, KeyKind.WANT: WANTS,
         KeyKind.UPSTREAM: UPSTREAMS, KeyKind.TRIGGER: TRIGGERS}


def samples(name: str, n: int = 40) -> list[pb.Event]:
    rng = random.Random(name)
    return [event_of(name, rng) for _ in range(n)]


def strings(message: Message) -> list[str]:
    """Every string value set anywhere in ``message``."""
    found = []
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_MESSAGE and not field.message_type.GetOptions().map_entry:
            for child in (value if field.is_repeated else [value]):
                found += strings(child)
        elif field.type == FieldDescriptor.TYPE_STRING:
            found += list(value) if field.is_repeated else [value]
    return found


def test_every_proto_payload_is_declared_once_in_field_order():
    proto = [f.name for f in pb.Event.DESCRIPTOR.oneofs_by_name["payload"].fields]
    assert list(EVENT_TYPES) == [t.name for t in REGISTRY] == proto
    assert set(GENERATORS) == set(proto)


def test_a_payload_without_a_declaration_fails_loudly():
    with pytest.raises(DeclarationError, match="'want_expired' has no EventType declaration"):
        EventTypes([t for t in REGISTRY if t.name != "want_expired"], EVENT_SCHEMA_VERSION)
    with pytest.raises(DeclarationError, match="'want_expired' is declared more than once"):
        EventTypes([*REGISTRY, REGISTRY["want_expired"]], EVENT_SCHEMA_VERSION)


@pytest.mark.parametrize("declare, fragment", [
    (lambda: EventType("want_renamed", On(KeyKind.WANT, "want_id")), "'want_renamed' is not a field of Event.payload"),
    (lambda: EventType("want_expired", On(KeyKind.WANT, "wantid"), required=("wantid",)), "no field 'wantid'"),
    (lambda: EventType("want_expired", On(KeyKind.WANT, "want_id")), "'want_id', must be among its required"),
    (lambda: EventType("build_status_changed", On(KeyKind.BUILD, "status"), required=("status",)),
     "'status' is not a string field"),
    (lambda: EventType("job_graph_recorded", None, required=("job_graph.job_runs.job_label",)),
     "passes through a repeated field"),
])
def test_a_wrong_declaration_fails_naming_the_problem(declare, fragment):
    with pytest.raises(DeclarationError, match=fragment):
        declare()


def test_every_type_that_changes_an_entity_needs_exactly_one_reducer():
    noop = lambda *args: None  # noqa: E731
    complete = {t.name: noop for t in REGISTRY if t.changes}
    check_reducers(complete)
    with pytest.raises(DeclarationError, match="'want_expired' changes an entity but has no reducer"):
        check_reducers({k: v for k, v in complete.items() if k != "want_expired"})
    no_change = EventTypes([replace(t, changes=None, required=()) if t.name == "want_expired" else t
                            for t in REGISTRY], EVENT_SCHEMA_VERSION)
    with pytest.raises(DeclarationError, match="'want_expired' changes no entity but has a reducer"):
        check_reducers(complete, no_change)


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_keys_are_every_entity_the_event_names(name):
    """Independently of the declaration: each id from the generator's pools an event
    carries, anywhere in its payload, is one of its index keys, of the pool's kind."""
    for event in samples(name):
        expected = {(kind, s) for s in strings(getattr(event, name)) for kind, pool in POOLS.items() if s in pool}
        assert validate_event(event) == event_keys(event) == expected


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_reducers_change_the_declared_entity_which_is_also_a_key(name):
    declared = REGISTRY[name]
    for i, event in enumerate(samples(name), 1):
        event.index = i
        kind = declared.changes.kind if declared.changes else None
        changed = {(kind, key) for key in declared.changed(getattr(event, name))}
        folded = fold(EMPTY, [event]).entities
        assert {(k, key) for k, by_key in folded.items() for key in by_key} == {(KIND_OF[kind], k) for _, k in changed}
        assert all(state.last_event_index == i for by_key in folded.values() for state in by_key.values())
        assert changed <= event_keys(event)  # so a conditional append on that entity sees the event


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_an_append_conditioned_on_an_entity_conflicts_after_any_event_naming_it(name, make_log):
    log = make_log([StateProjection()])
    event = samples(name, 1)[0]
    log.append([event])
    for key in event_keys(event):
        with pytest.raises(AppendConflictError):
            log.append([partition_event("other/1")], unchanged=Unchanged(0, frozenset({key})))
    assert log.append([partition_event("other/1")], unchanged=Unchanged(1, frozenset(event_keys(event)))) == [2]


def clear(payload: Message, path: str) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        payload = getattr(payload, name)
    payload.ClearField(leaf)


@pytest.mark.parametrize("name, path", [(t.name, path) for t in REGISTRY for path in t.required])
def test_a_missing_required_field_is_rejected_naming_it(name, path, make_log):
    event = samples(name, 1)[0]
    clear(getattr(event, name), path)
    log = make_log()
    message = rf"event #1 of the batch \({name}\) is missing required field\(s\): {path}$"
    with pytest.raises(InvalidEventError, match=message):
        log.append([partition_event("a/1"), event])
    assert log.latest_index() == 0


def test_the_evaluator_wakes_on_the_declared_types_through_entities_it_can_follow():
    assert WAKE_TYPES == tuple(t.name for t in REGISTRY if t.wakes_wants)
    assert set(WAKE_TYPES) == {"want_created", "external_partitions_available", "partition_status_changed",
                               "partitions_tainted", "build_status_changed", "want_cancelled"}
    # The runner finds the wants an event moves through the want, build or partition it changes.
    assert {REGISTRY[name].changes.kind for name in WAKE_TYPES} <= {KeyKind.WANT, KeyKind.BUILD, KeyKind.PARTITION}


# -- schema versions --------------------------------------------------------

def _mark_v1(p: pb.WantCancelled) -> None:
    p.reason = f"(read from v1) {p.reason}"


def upcasting(name: str, version: int, upcaster, schema_version: int) -> EventTypes:
    """The registry with one upcaster added, as the code of a later schema version would declare it."""
    return EventTypes([replace(t, upcasters=((version, upcaster),)) if t.name == name else t for t in REGISTRY],
                      schema_version)


V2 = upcasting("want_cancelled", 1, _mark_v1, schema_version=2)


def test_upcasters_bring_older_events_to_the_current_version():
    old = pb.Event(index=7, schema_version=1, want_cancelled=pb.WantCancelled(want_id="w1", reason="dup"))
    assert V2.upcast(old) is old
    assert (old.schema_version, old.want_cancelled.reason) == (2, "(read from v1) dup")
    assert V2.upcast(old).want_cancelled.reason == "(read from v1) dup"  # current: left alone
    other = pb.Event(schema_version=1, want_expired=pb.WantExpired(want_id="w1"))
    assert V2.upcast(other) == pb.Event(schema_version=2, want_expired=pb.WantExpired(want_id="w1"))
    with pytest.raises(SchemaTooNewError, match=r"event #7 \(want_cancelled\) has schema version 3.*up to 2"):
        V2.upcast(pb.Event(index=7, schema_version=3, want_cancelled=pb.WantCancelled(want_id="w1")))
    with pytest.raises(DeclarationError, match="upcaster from version 2, outside 1..1"):
        upcasting("want_cancelled", 2, _mark_v1, schema_version=2)


def _rewrite_version(path: str, index: int, version: int) -> None:
    """Store event ``index`` as a writer of schema ``version`` would have."""
    con = sqlite3.connect(path)
    (body,) = con.execute("SELECT body FROM events WHERE idx = ?", (index,)).fetchone()
    event = pb.Event.FromString(body)
    event.schema_version = version
    con.execute("UPDATE events SET body = ? WHERE idx = ?", (event.SerializeToString(), index))
    con.commit()
    con.close()


def test_the_log_reads_events_at_the_current_version_and_refuses_newer_ones(tmp_path):
    path = str(tmp_path / "bel.sqlite3")
    log = open_event_log(f"sqlite://{path}")
    log.append([partition_event("a/1"), partition_event("a/2")])
    _rewrite_version(path, 1, 0)  # written before versions were recorded
    assert [e.schema_version for e in log.list_events(0).events] == [EVENT_SCHEMA_VERSION] * 2
    _rewrite_version(path, 2, EVENT_SCHEMA_VERSION + 1)
    with pytest.raises(SchemaTooNewError, match=f"event #2 .* schema version {EVENT_SCHEMA_VERSION + 1}"):
        log.list_events(0)
    log.close()
    with pytest.raises(SchemaTooNewError, match="event #2"):  # folding it into read models would guess
        open_event_log(f"sqlite://{path}", [StateProjection()])


def test_the_cli_knows_every_field_an_event_has_besides_its_payload():
    """The CLI names an event document's payload without loading protobuf, from a copy of
    the fields ``Event`` has outside its ``payload`` oneof: the copy must match the schema."""
    from databuild.cli.render import EVENT_FIELDS, payload_name
    from databuild.proto import databuild_pb2 as pb
    from databuild.proto.jsonmap import message_dict

    outside = {f.name for f in pb.Event.DESCRIPTOR.fields if f.containing_oneof is None}
    assert EVENT_FIELDS == outside
    event = pb.Event(index=3, event_id="e", schema_version=1, want_cancelled=pb.WantCancelled(want_id="w"))
    event.timestamp.FromMicroseconds(1)
    assert payload_name(message_dict(event)) == "want_cancelled"
