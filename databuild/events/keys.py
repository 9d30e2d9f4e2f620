"""The entity keys events are indexed by.

The log stores them next to the serialized event so filters by ref, build, job run
want or trigger use an index instead of decoding every event. Which keys each event type
has is declared in ``databuild.events.types``.
"""

from __future__ import annotations

import enum

from databuild.proto import databuild_pb2 as pb


class KeyKind(enum.IntEnum):
    """Kinds of entity key an event can be indexed by (stored as small ints)."""

    PARTITION = 1
    BUILD = 2
    JOB_RUN = 3
    WANT = 4
    UPSTREAM = 5
    TRIGGER = 6


Key = tuple[KeyKind, str]


def event_type(event: pb.Event) -> str:
    """The payload name of ``event`` (empty string if no payload is set)."""
    return event.WhichOneof("payload") or ""
