"""What each event type is, declared once.

One ``EventType`` per payload of ``Event.payload`` says which entity the event
changes and by which key, which other entities it is about, which fields it
requires, whether it can move a want, and how to read it when it was written by
an older version. Everything else is derived from these declarations: the keys
the log indexes events by, validation, the state layer's "touched entities" (its
reducers are registered per type and checked against this list), the want
evaluator's wake set and the test event generator. A payload added to the proto
without a declaration here fails at import.

Field paths are dotted and may pass through repeated fields
(``job_graph.job_runs.job_run_id`` is every run's id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Callable, Iterator, Sequence

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from databuild.errors import DeclarationError, SchemaTooNewError
from databuild.events.keys import Key, KeyKind
from databuild.proto import databuild_pb2 as pb

#: Semantics version of the payloads this code writes and reads (see proto/databuild.proto).
#: Bump it when a payload's meaning changes, and declare an upcaster from the old version.
EVENT_SCHEMA_VERSION = 1

#: Turns a payload written at one schema version into the next version's meaning, in place.
Upcaster = Callable[[Message], None]

#: The payload fields of ``Event`` by name, in field-number order.
_PAYLOADS: dict[str, FieldDescriptor] = {f.name: f for f in pb.Event.DESCRIPTOR.oneofs_by_name["payload"].fields}


@dataclass(frozen=True)
class On:
    """Entities of ``kind`` named by the values of the payload field ``path``."""

    kind: KeyKind
    path: str


@dataclass(frozen=True)
class EventType:
    """The declaration of one event type (one ``Event.payload`` field ``name``).

    ``changes``: the entity whose state the event changes, by which key (None: it changes
    none); ``about``: other entities it is indexed by; ``required``: fields that must be
    set (non-empty, non-zero; a oneof name: one member set), including the changed
    entity's key; ``wakes_wants``: whether it can move a want, so the evaluator looks at
    the wants on the entity it changes; ``upcasters``: ``(version, upcaster)`` pairs, each
    reading a payload written at ``version`` as ``version + 1``.
    """

    name: str
    changes: On | None
    about: tuple[On, ...] = ()
    required: tuple[str, ...] = ()
    wakes_wants: bool = False
    upcasters: tuple[tuple[int, Upcaster], ...] = ()
    _keyed: tuple[tuple[KeyKind, Callable[[Message], Sequence[str]]], ...] = field(
        init=False, repr=False, compare=False)
    _changed: Callable[[Message], list[str]] = field(init=False, repr=False, compare=False)
    _present: tuple[tuple[str, Callable[[Message], bool]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.name not in _PAYLOADS:
            raise DeclarationError(f"event type {self.name!r} is not a field of Event.payload")
        payload = _PAYLOADS[self.name].message_type
        # Readers resolved once here, so the append path does no descriptor work per event.
        keyed = tuple((on.kind, _values(self.name, payload, on.path)[0]) for on in (self.changes, *self.about) if on)
        object.__setattr__(self, "_keyed", keyed)
        object.__setattr__(self, "_changed", _distinct(self.name, payload, self.changes.path) if self.changes
                           else lambda m: [])
        object.__setattr__(self, "_present", tuple((p, _presence(self.name, payload, p)) for p in self.required))
        if self.changes and not _required_form(self.name, payload, self.changes.path) & set(self.required):
            raise DeclarationError(f"event type {self.name!r}: the key of the entity it changes, "
                                   f"{self.changes.path!r}, must be among its required fields")

    def keys(self, payload: Message) -> set[Key]:
        """The distinct entity keys an event with ``payload`` is indexed by.

        Empty partition refs are kept so validation rejects them; an empty id names no entity.
        """
        return {(kind, v) for kind, values in self._keyed for v in values(payload)
                if v or kind is KeyKind.PARTITION}

    def changed(self, payload: Message) -> list[str]:
        """Keys (of kind ``changes.kind``) of the entities ``payload`` changes, each once, in field order."""
        return self._changed(payload)

    def missing(self, payload: Message) -> list[str]:
        """The required fields ``payload`` lacks."""
        return [path for path, present in self._present if not present(payload)]


class EventTypes:
    """Every event type's declaration by name, checked complete against ``Event.payload``."""

    def __init__(self, declared: Sequence[EventType], schema_version: int) -> None:
        by_name = {t.name: t for t in declared}
        problems = [f"Event.payload {name!r} has no EventType declaration" for name in _PAYLOADS if name not in by_name]
        problems += [f"event type {name!r} is declared more than once"
                     for name in by_name if sum(t.name == name for t in declared) > 1]
        problems += [f"event type {t.name!r} declares an upcaster from version {v}, outside 1..{schema_version - 1}"
                     for t in declared for v, _ in t.upcasters if not 1 <= v < schema_version]
        if problems:
            raise DeclarationError("; ".join(problems))
        self._by_name = {name: by_name[name] for name in _PAYLOADS}  # in field-number order
        self.schema_version = schema_version
        self.names: tuple[str, ...] = tuple(self._by_name)
        self._upcasters = {(t.name, v): up for t in declared for v, up in t.upcasters}

    def __getitem__(self, name: str) -> EventType:
        return self._by_name[name]

    def __iter__(self) -> Iterator[EventType]:
        return iter(self._by_name.values())

    def of(self, event: pb.Event) -> EventType:
        """The declaration of ``event``'s payload (KeyError if none is set)."""
        return self._by_name[event.WhichOneof("payload")]

    def upcast(self, event: pb.Event) -> pb.Event:
        """Bring a stored ``event`` to this code's schema version, in place; return it.

        Each upcaster declared for the event's type from its version up is applied in
        turn. An event written by a newer DataBuild is refused with SchemaTooNewError.
        """
        version = event.schema_version
        if version == self.schema_version:
            return event
        if version > self.schema_version:
            raise SchemaTooNewError(
                f"event #{event.index} ({event.WhichOneof('payload')}) has schema version {version}, but this "
                f"DataBuild reads versions up to {self.schema_version}; upgrade DataBuild to read it")
        name = event.WhichOneof("payload")
        for v in range(version, self.schema_version):
            upcaster = self._upcasters.get((name, v))
            if upcaster is not None:
                upcaster(getattr(event, name))
        event.schema_version = self.schema_version
        return event


def _chain(event_type: str, payload: Descriptor, path: str) -> list[FieldDescriptor]:
    """The fields along ``path`` from ``payload``; DeclarationError if one does not exist."""
    chain, descriptor = [], payload
    for name in path.split("."):
        found = descriptor.fields_by_name.get(name) if descriptor is not None else None
        if found is None:
            raise DeclarationError(f"event type {event_type!r}: {payload.name} has no field {path!r}")
        chain.append(found)
        descriptor = found.message_type
    return chain


def _values(event_type: str, payload: Descriptor, path: str) -> tuple[Callable[[Message], Sequence[str]], bool]:
    """A fast reader of the string values at ``path``, and whether there can be several."""
    chain = _chain(event_type, payload, path)
    if chain[-1].type != FieldDescriptor.TYPE_STRING:
        raise DeclarationError(f"event type {event_type!r}: entity key {path!r} is not a string field")
    get = attrgetter(path)
    if not any(f.is_repeated for f in chain[:-1]):
        return (get, True) if chain[-1].is_repeated else ((lambda m: (get(m),)), False)
    steps = [(f.name, f.is_repeated) for f in chain]

    def through_repeated(message: Message) -> list[str]:
        values = [message]
        for name, repeated in steps:
            values = [v for m in values for v in getattr(m, name)] if repeated else [getattr(m, name) for m in values]
        return values

    return through_repeated, True


def _distinct(event_type: str, payload: Descriptor, path: str) -> Callable[[Message], list[str]]:
    """A reader of the values at ``path`` without empty or repeated ones: an entity is changed once."""
    values, several = _values(event_type, payload, path)
    if several:
        return lambda m: [v for v in dict.fromkeys(values(m)) if v]
    get = attrgetter(path)
    return lambda m: [v] if (v := get(m)) else []


def _presence(event_type: str, payload: Descriptor, path: str) -> Callable[[Message], bool]:
    """A fast test that the field (or oneof) at ``path`` is set."""
    *parents, leaf = path.split(".")
    chain = _chain(event_type, payload, ".".join(parents)) if parents else []
    if any(f.is_repeated for f in chain):
        raise DeclarationError(f"event type {event_type!r}: required field {path!r} passes through a repeated field")
    descriptor = chain[-1].message_type if chain else payload
    if leaf in descriptor.oneofs_by_name:
        parent = attrgetter(".".join(parents)) if parents else (lambda m: m)
        return lambda m: parent(m).WhichOneof(leaf) is not None
    _chain(event_type, payload, path)  # the field exists
    get = attrgetter(path)
    return lambda m: bool(get(m))


def _required_form(event_type: str, payload: Descriptor, path: str) -> set[str]:
    """How a required list can name the field at ``path``: itself or, in a oneof, that oneof."""
    leaf = _chain(event_type, payload, path)[-1]
    if leaf.containing_oneof is None:
        return {path}
    return {path, ".".join([*path.split(".")[:-1], leaf.containing_oneof.name])}


P, B, J, W, U, T = KeyKind.PARTITION, KeyKind.BUILD, KeyKind.JOB_RUN, KeyKind.WANT, KeyKind.UPSTREAM, KeyKind.TRIGGER

REGISTRY = EventTypes(
    (
        EventType("build_requested", On(B, "build_id"), about=(On(P, "partitions"), On(W, "want_ids")),
                  required=("build_id", "partitions")),
        EventType("build_status_changed", On(B, "build_id"), required=("build_id", "status"), wakes_wants=True),
        EventType("job_graph_recorded", On(B, "build_id"),
                  about=(On(P, "job_graph.requested_partitions"), On(J, "job_graph.job_runs.job_run_id"),
                         On(P, "job_graph.job_runs.config.outputs")),
                  required=("build_id",)),
        EventType("job_run_status_changed", On(J, "job_run_id"), about=(On(B, "build_id"), On(P, "outputs")),
                  required=("job_run_id", "build_id", "job_label", "status")),
        EventType("partition_status_changed", On(P, "ref"), about=(On(B, "build_id"), On(J, "job_run_id")),
                  required=("ref", "status"), wakes_wants=True),
        EventType("external_partitions_available", On(P, "refs"), about=(On(U, "upstream"),),
                  required=("refs",), wakes_wants=True),
        EventType("partitions_tainted", On(P, "refs"), required=("refs",), wakes_wants=True),
        EventType("delegation_recorded", On(B, "build_id"),
                  about=(On(B, "delegated_to_build_id"), On(J, "delegated_to_job_run_id"), On(P, "partitions")),
                  required=("build_id", "partitions", "delegated_to_build_id")),
        # A job run's cancellation changes no entity: the executor records the run's end.
        EventType("cancellation_requested", On(B, "build_id"), about=(On(J, "job_run_id"),), required=("target",)),
        EventType("want_created", On(W, "want.want_id"),
                  about=(On(P, "want.partitions"), On(P, "want.external_dependencies")),
                  required=("want.want_id", "want.partitions"), wakes_wants=True),
        EventType("want_status_changed", On(W, "want_id"), about=(On(B, "build_id"),),
                  required=("want_id", "status")),
        EventType("want_cancelled", On(W, "want_id"), required=("want_id",), wakes_wants=True),
        EventType("want_expired", On(W, "want_id"), required=("want_id",)),
        EventType("want_satisfied", On(W, "want_id"), about=(On(B, "build_id"),), required=("want_id",)),
        EventType("want_sla_violated", On(W, "want_id"), required=("want_id",)),
        EventType("upstream_cursor_advanced", On(U, "upstream"), required=("upstream",)),
        EventType("trigger_registered", On(T, "trigger"), required=("trigger",)),
        # Indexed by the wants it made too, so a want's timeline starts with the firing.
        EventType("trigger_fired", On(T, "trigger"), about=(On(W, "want_ids"),),
                  required=("trigger", "firing_id", "source")),
        EventType("trigger_failed", On(T, "trigger"), required=("trigger", "firing_id", "error")),
        EventType("trigger_ticks_skipped", On(T, "trigger"), required=("trigger",)),
        EventType("trigger_pause_changed", On(T, "trigger"), required=("trigger",)),
    ),
    EVENT_SCHEMA_VERSION,
)

#: Every payload name of ``Event.payload``, i.e. every event type, in field-number order.
EVENT_TYPES: tuple[str, ...] = REGISTRY.names


def event_keys(event: pb.Event) -> set[Key]:
    """The distinct entity keys ``event`` is indexed by."""
    declared = REGISTRY.of(event)
    return declared.keys(getattr(event, declared.name))


def upcast(event: pb.Event) -> pb.Event:
    """Bring a stored ``event`` to this code's schema version (see ``EventTypes.upcast``)."""
    return REGISTRY.upcast(event)
