"""Pure reducers: (previous entity state, event) -> next entity state.

Entity kinds are partitions (keyed by ref), job runs, builds, wants (by id),
upstream cursors (by upstream name) and triggers (by name). Which entity an event changes is declared with
its type (``databuild.events.types``); each type that changes one has a reducer here,
registered by name and checked complete at import. ``reduce`` never mutates its input.
"""

from __future__ import annotations

from typing import Callable, Mapping

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from databuild.errors import DeclarationError
from databuild.events import REGISTRY, EventTypes, KeyKind
from databuild.proto import databuild_pb2 as pb
from databuild.state.wants import waiting_message
from databuild.statuses import (
    ACTIVE_BUILD_STATUSES, ACTIVE_WANT_STATUSES, IN_FLIGHT_PARTITION_STATUSES, TERMINAL_BUILD_STATUSES,
    TERMINAL_JOB_RUN_STATUSES,
)

PARTITION, JOB_RUN, BUILD, WANT, UPSTREAM, TRIGGER = "partition", "job_run", "build", "want", "upstream", "trigger"
KINDS: tuple[str, ...] = (PARTITION, JOB_RUN, BUILD, WANT, UPSTREAM, TRIGGER)

STATE_TYPES: dict[str, type[Message]] = {
    PARTITION: pb.PartitionState,
    JOB_RUN: pb.JobRunState,
    BUILD: pb.BuildState,
    WANT: pb.WantState,
    UPSTREAM: pb.UpstreamState,
    TRIGGER: pb.TriggerState,
}

_TERMINAL_JOB_RUN = set(TERMINAL_JOB_RUN_STATUSES)

Entity = tuple[str, str]

#: The read-model kind (stored: never rename one) of each kind of entity key.
KIND_OF: dict[KeyKind, str] = {
    KeyKind.PARTITION: PARTITION, KeyKind.JOB_RUN: JOB_RUN, KeyKind.BUILD: BUILD, KeyKind.WANT: WANT,
    KeyKind.UPSTREAM: UPSTREAM, KeyKind.TRIGGER: TRIGGER,
}

#: Per event type: the read-model kind of the entity it changes and the keys it changes.
_CHANGES: dict[str, tuple[str, Callable[[Message], list[str]]]] = {
    t.name: (KIND_OF[t.changes.kind] if t.changes else "", t.changed) for t in REGISTRY
}

#: (entity state, its key, the event's payload, the event) -> None, mutating the state.
Reducer = Callable[[Message, str, Message, pb.Event], None]
_REDUCERS: dict[str, Reducer] = {}


def _reduces(*names: str) -> Callable[[Reducer], Reducer]:
    """Register the decorated function as the reducer of the event types ``names``."""
    def register(reducer: Reducer) -> Reducer:
        _REDUCERS.update(dict.fromkeys(names, reducer))
        return reducer
    return register


def touched(event: pb.Event) -> list[Entity]:
    """The entities whose state ``event`` changes (as its type declares)."""
    name = event.WhichOneof("payload")
    kind, changed = _CHANGES[name]
    return [(kind, key) for key in changed(getattr(event, name))]


def status_of(kind: str, state: Message) -> int:
    """The status enum value stored in the read model's status column."""
    if kind in (UPSTREAM, TRIGGER):
        return 0
    return state.status


def reduce(kind: str, key: str, previous: Message | None, event: pb.Event) -> Message:
    """Apply ``event`` to the entity ``(kind, key)`` whose state was ``previous`` (left unchanged)."""
    state = STATE_TYPES[kind]()
    if previous is not None:
        state.CopyFrom(previous)
    apply_in_place(key, state, event)
    return state


def apply_in_place(key: str, state: Message, event: pb.Event) -> None:
    """Apply ``event`` to ``state``, the entity ``key`` it touches, mutating it: for callers that own ``state``."""
    name = event.WhichOneof("payload")
    _REDUCERS[name](state, key, getattr(event, name), event)
    state.last_event_index = event.index


def check_reducers(reducers: Mapping[str, Reducer], registry: EventTypes = REGISTRY) -> None:
    """Raise DeclarationError unless exactly the event types that change an entity have a reducer."""
    changing, reducing = {t.name for t in registry if t.changes is not None}, set(reducers)
    problems = [f"event type {name!r} changes an entity but has no reducer" for name in sorted(changing - reducing)]
    problems += [f"event type {name!r} changes no entity but has a reducer" for name in sorted(reducing - changing)]
    if set(KIND_OF) != set(KeyKind) or set(KIND_OF.values()) != set(KINDS):
        problems.append("every KeyKind needs exactly one read-model kind")
    if problems:
        raise DeclarationError("; ".join(problems))


# -- partitions -------------------------------------------------------------

def _stamp(s: pb.PartitionState, ref: str, event: pb.Event) -> None:
    s.ref = ref
    s.updated_at.CopyFrom(event.timestamp)


@_reduces("partition_status_changed")
def _partition_status(s: pb.PartitionState, ref: str, p: pb.PartitionStatusChanged, event: pb.Event) -> None:
    _stamp(s, ref, event)
    s.status, s.external, s.upstream = p.status, False, ""
    s.build_id, s.job_run_id, s.message = p.build_id, p.job_run_id, p.message


@_reduces("external_partitions_available")
def _external(s: pb.PartitionState, ref: str, p: pb.ExternalPartitionsAvailable, event: pb.Event) -> None:
    _stamp(s, ref, event)
    s.status, s.external, s.upstream = pb.PARTITION_STATUS_AVAILABLE, True, p.upstream
    s.build_id, s.job_run_id, s.message = "", "", p.comment


@_reduces("partitions_tainted")
def _tainted(s: pb.PartitionState, ref: str, p: pb.PartitionsTainted, event: pb.Event) -> None:
    _stamp(s, ref, event)
    s.status, s.message = pb.PARTITION_STATUS_TAINTED, p.reason


# -- job runs ---------------------------------------------------------------

@_reduces("job_run_status_changed")
def _job_run(s: pb.JobRunState, _key: str, p: pb.JobRunStatusChanged, event: pb.Event) -> None:
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
        s.log_bytes_dropped = p.log_bytes_dropped
        if p.worker:
            s.worker = p.worker


# -- builds -----------------------------------------------------------------

@_reduces("build_requested")
def _build_requested(s: pb.BuildState, build_id: str, p: pb.BuildRequested, event: pb.Event) -> None:
    s.build_id = build_id
    s.status = pb.BUILD_STATUS_RECEIVED
    s.partitions[:] = p.partitions
    s.want_ids[:] = p.want_ids
    s.executor = p.executor
    s.requested_at.CopyFrom(event.timestamp)


@_reduces("build_status_changed")
def _build_status(s: pb.BuildState, build_id: str, p: pb.BuildStatusChanged, event: pb.Event) -> None:
    s.build_id = build_id
    s.status, s.message, s.executor_lost = p.status, p.message, p.executor_lost
    if p.status in TERMINAL_BUILD_STATUSES:
        s.finished_at.CopyFrom(event.timestamp)


@_reduces("job_graph_recorded")
def _job_graph(s: pb.BuildState, build_id: str, p: pb.JobGraphRecorded, _event: pb.Event) -> None:
    s.build_id = build_id
    s.job_graph.CopyFrom(p.job_graph)


@_reduces("delegation_recorded")
def _delegation(s: pb.BuildState, build_id: str, p: pb.DelegationRecorded, _event: pb.Event) -> None:
    s.build_id = build_id
    s.delegations.add().CopyFrom(p)


@_reduces("cancellation_requested")
def _cancellation(s: pb.BuildState, build_id: str, _p: pb.CancellationRequested, _event: pb.Event) -> None:
    s.build_id = build_id
    s.cancel_requested = True


# -- wants ------------------------------------------------------------------

@_reduces("want_created")
def _want_created(s: pb.WantState, _want_id: str, p: pb.WantCreated, event: pb.Event) -> None:
    s.spec.CopyFrom(p.want)
    s.created_index = event.index
    s.status = pb.WANT_STATUS_WAITING if p.want.external_dependencies else pb.WANT_STATUS_QUEUED
    s.waiting_for[:] = p.want.external_dependencies
    if p.want.external_dependencies:
        s.message = waiting_message(p.want.external_dependencies)


@_reduces("want_sla_violated")
def _want_sla_violated(s: pb.WantState, _want_id: str, _p: pb.WantSlaViolated, _event: pb.Event) -> None:
    s.sla_violated = True


def _while_active(reducer: Reducer) -> Reducer:
    """Terminal states are final: late events do not reopen a want."""
    def reduce_if_active(s: pb.WantState, want_id: str, p: Message, event: pb.Event) -> None:
        if s.status in ACTIVE_WANT_STATUSES:
            reducer(s, want_id, p, event)
    return reduce_if_active


@_reduces("want_status_changed")
@_while_active
def _want_status(s: pb.WantState, _want_id: str, p: pb.WantStatusChanged, event: pb.Event) -> None:
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


# Terminal want events: the status they set and the message they leave.
_WANT_ENDINGS: dict[str, tuple[int, Callable[..., str]]] = {
    "want_cancelled": (pb.WANT_STATUS_CANCELLED, lambda p: p.reason),
    "want_expired": (pb.WANT_STATUS_EXPIRED, lambda p: "its TTL ran out before its partitions were available"),
    "want_satisfied": (pb.WANT_STATUS_SATISFIED, lambda p: ""),
}


@_reduces(*_WANT_ENDINGS)
@_while_active
def _want_ended(s: pb.WantState, _want_id: str, p: Message, event: pb.Event) -> None:
    name = event.WhichOneof("payload")
    s.ClearField("not_before")
    status, message = _WANT_ENDINGS[name]
    s.status, s.message = status, message(p)
    if name == "want_satisfied":
        s.build_id = p.build_id  # never the build it last rode, if that is not what produced its partitions
    s.finished_at.CopyFrom(event.timestamp)


# -- upstreams --------------------------------------------------------------

@_reduces("upstream_cursor_advanced")
def _upstream(s: pb.UpstreamState, name: str, p: pb.UpstreamCursorAdvanced, _event: pb.Event) -> None:
    s.upstream, s.url, s.next_index = name, p.url, p.next_index
    s.log_id, s.next_event_id = p.log_id, p.next_event_id


# -- triggers ---------------------------------------------------------------
# Cursors only move forward: two runners' firings (one of which lost a conditional
# append and re-read) or a manual firing never take a trigger back to ticks it handled.

def _later(current: Timestamp, candidate: Timestamp) -> None:
    if candidate.ToMicroseconds() > current.ToMicroseconds():
        current.CopyFrom(candidate)


@_reduces("trigger_registered")
def _trigger_registered(s: pb.TriggerState, name: str, p: pb.TriggerRegistered, _event: pb.Event) -> None:
    s.name = name
    _later(s.handled_until, p.since_time)
    s.handled_index = max(s.handled_index, p.since_index)


def _handled(s: pb.TriggerState, p: pb.TriggerFired | pb.TriggerFailed) -> None:
    """A scheduled or reactive outcome moves the trigger's cursor past what it stands for (a manual one does not)."""
    if p.source == pb.WANT_SOURCE_TYPE_SCHEDULED:
        _later(s.handled_until, p.tick_time)
    elif p.source == pb.WANT_SOURCE_TYPE_TRIGGERED:
        s.handled_index = max(s.handled_index, p.ref_index)


#: Refs and want ids a trigger's state keeps of its last firing or failure (a firing may have thousands).
LAST_FIRING_ITEMS = 10


@_reduces("trigger_fired")
def _trigger_fired(s: pb.TriggerState, name: str, p: pb.TriggerFired, event: pb.Event) -> None:
    s.name = name
    s.last_firing.CopyFrom(p)
    del s.last_firing.refs[LAST_FIRING_ITEMS:], s.last_firing.want_ids[LAST_FIRING_ITEMS:]
    s.last_fired_at.CopyFrom(event.timestamp)
    s.firings += 1
    s.last_error = ""
    _handled(s, p)


@_reduces("trigger_failed")
def _trigger_failed(s: pb.TriggerState, name: str, p: pb.TriggerFailed, event: pb.Event) -> None:
    s.name = name
    s.last_failure.CopyFrom(p)
    del s.last_failure.refs[LAST_FIRING_ITEMS:]
    s.last_failed_at.CopyFrom(event.timestamp)
    s.failures += 1
    s.last_error = p.error
    _handled(s, p)


@_reduces("trigger_ticks_skipped")
def _trigger_ticks_skipped(s: pb.TriggerState, name: str, p: pb.TriggerTicksSkipped, _event: pb.Event) -> None:
    s.name = name
    s.last_skipped.CopyFrom(p)
    _later(s.handled_until, p.last_tick)


@_reduces("trigger_pause_changed")
def _trigger_pause_changed(s: pb.TriggerState, name: str, p: pb.TriggerPauseChanged, event: pb.Event) -> None:
    s.name, s.paused = name, p.paused
    s.paused_by = p.requested_by if p.paused else ""
    if not p.paused:  # what came due while paused is never fired: the cursors move to the resume
        _later(s.handled_until, event.timestamp)
        s.handled_index = max(s.handled_index, event.index)


check_reducers(_REDUCERS)
