"""Checks an event must pass before the log accepts it (its type's declaration says which)."""

from __future__ import annotations

from databuild.errors import InvalidEventError, InvalidRefError
from databuild.events.keys import Key, KeyKind
from databuild.events.types import REGISTRY
from databuild.proto import databuild_pb2 as pb
from databuild.refs import is_valid_ref, validate_ref


def validate_event(event: object, position: int = 0) -> set[Key]:
    """Raise InvalidEventError unless ``event`` is a well-formed Event; return its keys.

    ``position`` is the event's place in its batch, used in the message.
    """
    where = f"event #{position} of the batch"
    if not isinstance(event, pb.Event):
        raise InvalidEventError(f"{where} is a {type(event).__name__}, not a databuild.v1.Event")
    name = event.WhichOneof("payload")
    if name is None:
        raise InvalidEventError(f"{where} has no payload set")
    declared = REGISTRY[name]
    payload = getattr(event, name)
    missing = declared.missing(payload)
    if missing:
        raise InvalidEventError(f"{where} ({name}) is missing required field(s): {', '.join(missing)}")
    keys = declared.keys(payload)
    for kind, key in keys:
        if kind is KeyKind.PARTITION and not is_valid_ref(key):
            try:
                validate_ref(key)
            except InvalidRefError as e:
                raise InvalidRefError(f"{where} ({name}): {e}") from None
    return keys
