"""Pure reducers: (previous entity state, event) -> next entity state.

Entity kinds are partitions (keyed by ref), job runs, builds, wants (by id) and
upstream cursors (by upstream name). Reducers never mutate their input.
"""

from __future__ import annotations

from typing import Callable, Iterator

from google.protobuf.message import Message

from databuild.proto import databuild_pb2 as pb
from databuild.state.wants import ACTIVE_WANT_STATUSES, waiting_message

PARTITION, JOB_RUN, BUILD, WANT, UPSTREAM = "partition", "job_run", "build", "want", "upstream"
KINDS: tuple[str, ...] = (PARTITION, JOB_RUN, BUILD, WANT, UPSTREAM)

STATE_TYPES: dict[str, type[Message]] = {
    PARTITION: pb.PartitionState,
    JOB_RUN: pb.JobRunState,
    BUILD: pb.BuildState,
    WANT: pb.WantState,
    UPSTREAM: pb.UpstreamState,
}

_TERMINAL_JOB_RUN = {pb.JOB_RUN_STATUS_SUCCEEDED, pb.JOB_RUN_STATUS_FAILED, pb.JOB_RUN_STATUS_CANCELLED, pb.JOB_RUN_STATUS_SKIPPED}
TERMINAL_BUILD_STATUSES = (pb.BUILD_STATUS_COMPLETED, pb.BUILD_STATUS_FAILED, pb.BUILD_STATUS_CANCELLED)
ACTIVE_BUILD_STATUSES = (pb.BUILD_STATUS_RECEIVED, pb.BUILD_STATUS_PLANNING, pb.BUILD_STATUS_EXECUTING)
IN_FLIGHT_PARTITION_STATUSES = (pb.PARTITION_STATUS_SCHEDULED, pb.PARTITION_STATUS_BUILDING)

Entity = tuple[str, str]


def touched(event: pb.Event) -> Iterator[Entity]:
    """The entities whose state ``event`` changes."""
    name = event.WhichOneof("payload")
    p = getattr(event, name)
    if name == "partition_status_changed":
        yield PARTITION, p.ref
    elif name in ("external_partitions_available", "partitions_tainted"):
        yield from ((PARTITION, ref) for ref in dict.fromkeys(p.refs))
    elif name == "job_run_status_changed":
        yield JOB_RUN, p.job_run_id
    elif name in ("build_requested", "build_status_changed", "job_graph_recorded", "delegation_recorded"):
        yield BUILD, p.build_id
    elif name == "cancellation_requested" and p.WhichOneof("target") == "build_id":
        yield BUILD, p.build_id
    elif name == "want_created":
        yield WANT, p.want.want_id
    elif name.startswith("want_"):
        yield WANT, p.want_id
    elif name == "upstream_cursor_advanced":
        yield UPSTREAM, p.upstream


def status_of(kind: str, state: Message) -> int:
    """The status enum value stored in the read model's status column."""
    if kind == UPSTREAM:
        return 0
    return state.status


def reduce(kind: str, key: str, previous: Message | None, event: pb.Event) -> Message:
    """Apply ``event`` to the entity ``(kind, key)`` whose state was ``previous`` (left unchanged)."""
    state = STATE_TYPES[kind]()
    if previous is not None:
        state.CopyFrom(previous)
    apply_in_place(kind, key, state, event)
    return state


def apply_in_place(kind: str, key: str, state: Message, event: pb.Event) -> None:
    """Apply ``event`` to ``state``, mutating it: for callers that own ``state``."""
    name = event.WhichOneof("payload")
    _REDUCERS[kind](state, key, name, getattr(event, name), event)
    state.last_event_index = event.index


def _partition(s: pb.PartitionState, ref: str, name: str, p, event: pb.Event) -> None:
    s.ref = ref
    s.updated_at.CopyFrom(event.timestamp)
    if name == "partition_status_changed":
        s.status, s.external, s.upstream = p.status, False, ""
        s.build_id, s.job_run_id, s.message = p.build_id, p.job_run_id, p.message
    elif name == "external_partitions_available":
        s.status, s.external, s.upstream = pb.PARTITION_STATUS_AVAILABLE, True, p.upstream
        s.build_id, s.job_run_id, s.message = "", "", p.comment
    elif name == "partitions_tainted":
        s.status, s.message = pb.PARTITION_STATUS_TAINTED, p.reason


def _job_run(s: pb.JobRunState, _key: str, _name: str, p: pb.JobRunStatusChanged, event: pb.Event) -> None:
    s.job_run_id, s.build_id, s.job_label, s.status = p.job_run_id, p.build_id, p.job_label, p.status
    if p.outputs:
        s.outputs[:] = p.outputs
    if p.HasField("config"):
        s.config.CopyFrom(p.config)
    if p.log_path:
        s.log_path = p.log_path
    if p.pid:
        s.pid = p.pid
    s.exit_code, s.message = p.exit_code, p.message
    if p.status == pb.JOB_RUN_STATUS_SCHEDULED:
        s.scheduled_at.CopyFrom(event.timestamp)
    elif p.status == pb.JOB_RUN_STATUS_RUNNING:
        s.started_at.CopyFrom(event.timestamp)
    elif p.status in _TERMINAL_JOB_RUN:
        s.finished_at.CopyFrom(event.timestamp)


def _build(s: pb.BuildState, build_id: str, name: str, p, event: pb.Event) -> None:
    s.build_id = build_id
    if name == "build_requested":
        s.status = pb.BUILD_STATUS_RECEIVED
        s.partitions[:] = p.partitions
        s.want_ids[:] = p.want_ids
        s.executor = p.executor
        s.requested_at.CopyFrom(event.timestamp)
    elif name == "build_status_changed":
        s.status, s.message, s.executor_lost = p.status, p.message, p.executor_lost
        if p.status in TERMINAL_BUILD_STATUSES:
            s.finished_at.CopyFrom(event.timestamp)
    elif name == "job_graph_recorded":
        s.job_graph.CopyFrom(p.job_graph)
    elif name == "delegation_recorded":
        s.delegations.add().CopyFrom(p)
    elif name == "cancellation_requested":
        s.cancel_requested = True


# Terminal want events: the status they set and the message they leave.
_WANT_ENDINGS: dict[str, tuple[int, Callable[..., str]]] = {
    "want_cancelled": (pb.WANT_STATUS_CANCELLED, lambda p: p.reason),
    "want_expired": (pb.WANT_STATUS_EXPIRED, lambda p: "its TTL ran out before its partitions were available"),
    "want_satisfied": (pb.WANT_STATUS_SATISFIED, lambda p: ""),
}


def _want(s: pb.WantState, _want_id: str, name: str, p, event: pb.Event) -> None:
    if name == "want_created":
        s.spec.CopyFrom(p.want)
        s.created_index = event.index
        s.status = pb.WANT_STATUS_WAITING if p.want.external_dependencies else pb.WANT_STATUS_QUEUED
        s.waiting_for[:] = p.want.external_dependencies
        if p.want.external_dependencies:
            s.message = waiting_message(p.want.external_dependencies)
        return
    if name == "want_sla_violated":
        s.sla_violated = True
        return
    if s.status not in ACTIVE_WANT_STATUSES:
        return  # terminal states are final; late events do not reopen a want
    if name == "want_status_changed":
        s.status, s.message = p.status, p.message
        s.build_id = p.build_id
        s.attempts = p.attempt  # may go down: a build lost with its executor is given back
        s.waiting_for[:] = p.waiting_for
        if p.HasField("not_before"):
            s.not_before.CopyFrom(p.not_before)
        else:
            s.ClearField("not_before")
        if p.error:
            s.last_error = p.error
        if p.status not in ACTIVE_WANT_STATUSES:
            s.finished_at.CopyFrom(event.timestamp)
        return
    s.ClearField("not_before")
    status, message = _WANT_ENDINGS[name]
    s.status, s.message = status, message(p)
    if name == "want_satisfied":
        s.build_id = p.build_id  # never the build it last rode, if that is not what produced its partitions
    s.finished_at.CopyFrom(event.timestamp)


def _upstream(s: pb.UpstreamState, name: str, _n: str, p: pb.UpstreamCursorAdvanced, _e: pb.Event) -> None:
    s.upstream, s.url, s.next_index = name, p.url, p.next_index


_REDUCERS: dict[str, Callable[..., None]] = {
    PARTITION: _partition,
    JOB_RUN: _job_run,
    BUILD: _build,
    WANT: _want,
    UPSTREAM: _upstream,
}
