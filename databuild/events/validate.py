"""Checks an event must pass before the log accepts it."""

from __future__ import annotations

from typing import Callable

from databuild.errors import InvalidEventError, InvalidRefError
from databuild.events.keys import Key, KeyKind, event_keys, event_type
from databuild.proto import databuild_pb2 as pb
from databuild.refs import is_valid_ref, validate_ref

# Fields (dotted paths inside the payload) that must be non-empty / non-zero.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "build_requested": ("build_id", "partitions"),
    "build_status_changed": ("build_id", "status"),
    "job_graph_recorded": ("build_id",),
    "job_run_status_changed": ("job_run_id", "build_id", "job_label", "status"),
    "partition_status_changed": ("ref", "status"),
    "external_partitions_available": ("refs",),
    "partitions_tainted": ("refs",),
    "delegation_recorded": ("build_id", "partitions", "delegated_to_build_id"),
    "cancellation_requested": ("target",),
    "want_created": ("want.want_id", "want.partitions"),
    "want_status_changed": ("want_id", "status"),
    "want_cancelled": ("want_id",),
    "want_expired": ("want_id",),
    "want_satisfied": ("want_id",),
    "want_sla_violated": ("want_id",),
    "upstream_cursor_advanced": ("upstream",),
}


def _checker(payload_descriptor, path: str) -> Callable[[object], bool]:
    """A fast presence test for one dotted field path, resolved once at import."""
    *parents, leaf = path.split(".")
    descriptor = payload_descriptor
    for name in parents:
        descriptor = descriptor.fields_by_name[name].message_type
    is_oneof = leaf in descriptor.oneofs_by_name

    def present(message) -> bool:
        for name in parents:
            message = getattr(message, name)
        return message.WhichOneof(leaf) is not None if is_oneof else bool(getattr(message, leaf))

    return present


_CHECKS: dict[str, list[tuple[str, Callable[[object], bool]]]] = {
    name: [(path, _checker(pb.Event.DESCRIPTOR.fields_by_name[name].message_type, path)) for path in paths]
    for name, paths in _REQUIRED.items()
}


def validate_event(event: object, position: int = 0) -> set[Key]:
    """Raise InvalidEventError unless ``event`` is a well-formed Event; return its keys.

    ``position`` is the event's place in its batch, used in the message.
    """
    where = f"event #{position} of the batch"
    if not isinstance(event, pb.Event):
        raise InvalidEventError(f"{where} is a {type(event).__name__}, not a databuild.v1.Event")
    name = event_type(event)
    if not name:
        raise InvalidEventError(f"{where} has no payload set")
    payload = getattr(event, name)
    missing = [path for path, present in _CHECKS[name] if not present(payload)]
    if missing:
        raise InvalidEventError(f"{where} ({name}) is missing required field(s): {', '.join(missing)}")
    keys = event_keys(event)
    for kind, key in keys:
        if kind is KeyKind.PARTITION and not is_valid_ref(key):
            try:
                validate_ref(key)
            except InvalidRefError as e:
                raise InvalidRefError(f"{where} ({name}): {e}") from None
    return keys
