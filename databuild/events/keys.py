"""What each event is about: its type name and the entity keys it is indexed by.

The log stores these next to the serialized event so filters by ref, build, job run
or want use an index instead of decoding every event.
"""

from __future__ import annotations

import enum
from typing import Callable, Iterable, Iterator

from databuild.proto import databuild_pb2 as pb


class KeyKind(enum.IntEnum):
    """Kinds of entity key an event can be indexed by (stored as small ints)."""

    PARTITION = 1
    BUILD = 2
    JOB_RUN = 3
    WANT = 4
    UPSTREAM = 5


Key = tuple[KeyKind, str]
P, B, J, W, U = KeyKind.PARTITION, KeyKind.BUILD, KeyKind.JOB_RUN, KeyKind.WANT, KeyKind.UPSTREAM

#: Every payload name of ``Event.payload``, i.e. every event type.
EVENT_TYPES: tuple[str, ...] = tuple(
    f.name for f in pb.Event.DESCRIPTOR.oneofs_by_name["payload"].fields
)


def _each(kind: KeyKind, values: Iterable[str]) -> Iterator[Key]:
    # Empty partition refs are kept so validation rejects them; empty ids mean "none".
    return ((kind, v) for v in values if v or kind is KeyKind.PARTITION)


def _one(kind: KeyKind, value: str) -> Iterator[Key]:
    return iter(((kind, value),) if value else ())


def _job_graph(p: pb.JobGraphRecorded) -> Iterator[Key]:
    yield from _one(B, p.build_id)
    yield from _each(P, p.job_graph.requested_partitions)
    for run in p.job_graph.job_runs:
        yield from _one(J, run.job_run_id)
        yield from _each(P, run.config.outputs)


_EXTRACTORS: dict[str, Callable[..., Iterable[Key]]] = {
    "build_requested": lambda p: [*_one(B, p.build_id), *_each(P, p.partitions), *_each(W, p.want_ids)],
    "build_status_changed": lambda p: _one(B, p.build_id),
    "job_graph_recorded": _job_graph,
    "job_run_status_changed": lambda p: [*_one(J, p.job_run_id), *_one(B, p.build_id), *_each(P, p.outputs)],
    "partition_status_changed": lambda p: [*_one(P, p.ref), *_one(B, p.build_id), *_one(J, p.job_run_id)],
    "external_partitions_available": lambda p: [*_each(P, p.refs), *_one(U, p.upstream)],
    "partitions_tainted": lambda p: _each(P, p.refs),
    "delegation_recorded": lambda p: [
        *_one(B, p.build_id), *_one(B, p.delegated_to_build_id),
        *_one(J, p.delegated_to_job_run_id), *_each(P, p.partitions),
    ],
    "cancellation_requested": lambda p: [*_one(B, p.build_id), *_one(J, p.job_run_id)],
    "want_created": lambda p: [
        *_one(W, p.want.want_id), *_each(P, p.want.partitions), *_each(P, p.want.external_dependencies),
    ],
    "want_status_changed": lambda p: [*_one(W, p.want_id), *_one(B, p.build_id)],
    "want_cancelled": lambda p: _one(W, p.want_id),
    "want_expired": lambda p: _one(W, p.want_id),
    "want_satisfied": lambda p: [*_one(W, p.want_id), *_one(B, p.build_id)],
    "want_sla_violated": lambda p: _one(W, p.want_id),
    "upstream_cursor_advanced": lambda p: _one(U, p.upstream),
}

assert set(_EXTRACTORS) == set(EVENT_TYPES), "every event type needs a key extractor"


def event_type(event: pb.Event) -> str:
    """The payload name of ``event`` (empty string if no payload is set)."""
    return event.WhichOneof("payload") or ""


def event_keys(event: pb.Event) -> set[Key]:
    """The distinct entity keys ``event`` is indexed by."""
    name = event_type(event)
    return set(_EXTRACTORS[name](getattr(event, name)))
