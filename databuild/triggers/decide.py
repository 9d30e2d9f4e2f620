"""What a trigger does now: pure decisions over its declaration, its state, new events and the time.

A schedule trigger's state holds ``handled_until``: every tick at or before it was
fired, failed, skipped or came while the trigger was paused. The ticks after it up to
now are due. Those that came due before this runner started (``started_us``: the
service was down) were missed: the newest ``max_catchup`` of them fire, the older ones
are recorded skipped in one event. Ticks that came due while it ran always fire.

A reactive trigger's state holds ``handled_index``: every event at or before it was
looked at. Each later event that made partitions matching an ``on`` template available
(``partition_status_changed`` to available, ``external_partitions_available``: built
here, landed by hand or synced from an upstream) fires once, for all of them: one
firing of an event that landed 10,000 partitions wants each of them (a want per
partition, or what the binary answers for each), recorded in one ``trigger_fired``.

A trigger a runner sees for the first time is registered (``trigger_registered``) at
the current time and log index, so it neither fires for the past nor loses what comes
while no runner runs. A paused trigger fires nothing; resuming moves both cursors to the
resume, so nothing that came due meanwhile fires.

Firing ids are deterministic: ``<trigger>@<tick, RFC 3339 UTC>`` for a tick,
``<trigger>#<event index>`` for the partitions an event made available (their version),
``<trigger>!<uuid>`` for a manual firing. The runner appends a firing and its wants on condition that no event of the
trigger was recorded since it read the state, so no tick or partition fires twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from databuild.errors import InvalidArgumentError
from databuild.events import EventFilter
from databuild.graph.manifest import TriggerSpec, check_trigger
from databuild.jobs.protocol import JobProtocolError
from databuild.proto import databuild_pb2 as pb
from databuild.refs import RefTemplate, validate_ref, validate_refs
from databuild.timespec import parse_timestamp
from databuild.triggers.fields import check_fields, common_captures, render
from databuild.triggers.protocol import call_fire
from databuild.triggers.schedule import Schedule, utc_of
from databuild.wants import new_want_spec

SCHEDULED, TRIGGERED, MANUAL = pb.WANT_SOURCE_TYPE_SCHEDULED, pb.WANT_SOURCE_TYPE_TRIGGERED, pb.WANT_SOURCE_TYPE_CLI
#: The events a reactive trigger reads: a partition became available.
REACTIVE_TYPES = ("partition_status_changed", "external_partitions_available")
#: Ticks one pass fires per trigger (the rest fire on the next pass, at once).
MAX_TICKS_PER_PASS = 100
#: Partitions one pass fires for per trigger (whole events: one event's refs are never split).
MAX_REFS_PER_PASS = 10_000

#: ``(who, executable, arguments after "fire", timeout seconds)`` -> the wants the binary printed.
FireCall = Callable[[str, str, list[str], float], list[pb.CreateWantRequest]]


@dataclass(frozen=True)
class Firing:
    """One firing to record: what it stands for (a tick, or the partitions ``refs`` the
    event at ``ref_index`` made available, with the fields each one's ``on`` template
    captured, in the same order)."""

    trigger: str
    firing_id: str
    source: int
    tick_us: int
    refs: tuple[str, ...] = ()
    ref_index: int = 0
    captures: tuple[Mapping[str, str], ...] = ()
    requested_by: str = ""


class Trigger:
    """A ``TriggerSpec`` checked (``check_trigger``: what the manifest accepts, so a GraphSpec
    made in code cannot hold a trigger that cannot fire) and compiled: its schedule or ``on``
    templates, its want templates."""

    def __init__(self, spec: TriggerSpec) -> None:
        check_trigger(spec)
        self.spec, self.name = spec, spec.name
        self.tz = ZoneInfo(spec.timezone)
        self.schedule = Schedule(spec.cron, spec.timezone) if spec.cron else None
        self.on = tuple(RefTemplate(t) for t in spec.on)
        captures = common_captures(spec.on)
        self.partitions = [check_fields(t, captures, "partitions template") for t in spec.partitions]
        self.data_timestamp = check_fields(spec.data_timestamp, captures, "data_timestamp") \
            if spec.data_timestamp else None

    @property
    def kind(self) -> int:
        return pb.TRIGGER_KIND_SCHEDULE if self.schedule else pb.TRIGGER_KIND_REACTIVE

    @property
    def events(self) -> EventFilter:
        """The events a reactive trigger reads (a pre-filter: ``on`` templates are checked per ref)."""
        return EventFilter(types=REACTIVE_TYPES, ref_patterns=tuple(t.pattern for t in self.on))

    def captures(self, ref: str) -> dict[str, str] | None:
        """The fields of the first ``on`` template ``ref`` matches; None if it matches none."""
        for template in self.on:
            found = template.fields(ref)
            if found is not None:
                return found
        return None


def registered(state: pb.TriggerState | None) -> bool:
    """Whether a runner registered the trigger (or a resume set its cursors)."""
    return state is not None and state.HasField("handled_until")


def registration(trigger: Trigger, state: pb.TriggerState | None, now_us: int, latest_index: int) -> pb.Event | None:
    """The ``trigger_registered`` event of a trigger no runner saw yet; None once registered."""
    if registered(state):
        return None
    event = pb.Event(trigger_registered=pb.TriggerRegistered(trigger=trigger.name, since_index=latest_index))
    event.trigger_registered.since_time.FromMicroseconds(now_us)
    return event


def tick_id(trigger: str, tick_us: int) -> str:
    """The firing id of a schedule's tick: ``<trigger>@<tick, RFC 3339 UTC>``."""
    return f"{trigger}@{utc_of(tick_us).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def due_ticks(trigger: Trigger, state: pb.TriggerState, now_us: int, started_us: int,
              limit: int = MAX_TICKS_PER_PASS) -> tuple[pb.Event | None, list[Firing]]:
    """A registered schedule trigger's missed ticks beyond ``max_catchup`` (one skip event,
    or None) and the ticks to fire now, oldest first (see the module docstring)."""
    if state.paused:
        return None, []
    schedule, cursor = trigger.schedule, state.handled_until.ToMicroseconds()
    missed_until = min(started_us, now_us)
    skipped, ticks = None, []
    if cursor < missed_until:
        # The newest max_catchup missed ticks, whatever this pass's limit: a later pass fires
        # the rest of them (the cursor is then past every older one, so none is skipped twice).
        caught_up = schedule.newest(cursor, missed_until, trigger.spec.max_catchup)
        ticks = caught_up[:limit]
        older = schedule.newest(cursor, (caught_up[0] - 1) if caught_up else missed_until, 1)
        if older:
            skipped = pb.Event(trigger_ticks_skipped=pb.TriggerTicksSkipped(
                trigger=trigger.name, max_catchup=trigger.spec.max_catchup))
            skipped.trigger_ticks_skipped.first_tick.FromMicroseconds(schedule.next_after(cursor))
            skipped.trigger_ticks_skipped.last_tick.FromMicroseconds(older[0])
    ticks += schedule.ticks(max(cursor, missed_until), now_us, limit - len(ticks))
    return skipped, [Firing(trigger.name, tick_id(trigger.name, t), SCHEDULED, t) for t in ticks]


def available_refs(event: pb.Event) -> list[str]:
    """The partitions ``event`` made available (each once)."""
    name = event.WhichOneof("payload")
    if name == "partition_status_changed":
        p = event.partition_status_changed
        return [p.ref] if p.status == pb.PARTITION_STATUS_AVAILABLE else []
    if name == "external_partitions_available":
        return list(dict.fromkeys(event.external_partitions_available.refs))
    return []


def due_partitions(trigger: Trigger, state: pb.TriggerState, events: Sequence[pb.Event],
                   budget: int = MAX_REFS_PER_PASS) -> tuple[list[Firing], int]:
    """A registered reactive trigger's firings for ``events`` (read after its cursor, in index
    order): one per event that made matching partitions available, taking whole events while
    their partitions stay within ``budget`` (the first is always taken); and the index of the
    last event taken (0 if none), through which the events are dealt with once these are recorded."""
    if state.paused:
        return [], 0
    firings: list[Firing] = []
    through = refs = 0
    for event in events:
        firing = None
        if event.index > state.handled_index:
            matched = [(ref, found) for ref in available_refs(event) if (found := trigger.captures(ref)) is not None]
            if matched:
                firing = Firing(trigger.name, f"{trigger.name}#{event.index}", TRIGGERED, event.timestamp.ToMicroseconds(),
                                tuple(r for r, _ in matched), event.index, tuple(c for _, c in matched))
        if firing is not None:
            if firings and refs + len(firing.refs) > budget:
                break
            firings.append(firing)
            refs += len(firing.refs)
        through = event.index
    return firings, through


def manual_firing(trigger: Trigger, at_us: int, partition: str, requested_by: str, uuid: str) -> Firing:
    """A firing on request (source cli): a schedule trigger's for the tick time ``at_us``, a
    reactive trigger's for ``partition``, which must match its ``on`` templates."""
    firing_id = f"{trigger.name}!{uuid}"
    if trigger.schedule is not None:
        if partition:
            raise InvalidArgumentError(f"trigger {trigger.name!r} runs on a schedule: fire it with a time "
                                       f"(at), not a partition ({partition!r})")
        return Firing(trigger.name, firing_id, MANUAL, at_us, requested_by=requested_by)
    if not partition:
        raise InvalidArgumentError(f"trigger {trigger.name!r} fires when partitions matching "
                                   f"{', '.join(trigger.spec.on)} become available: name the partition to fire for")
    captures = trigger.captures(validate_ref(partition))
    if captures is None:
        raise InvalidArgumentError(f"partition {partition!r} matches none of trigger {trigger.name!r}'s "
                                   f"on templates {', '.join(trigger.spec.on)}")
    return Firing(trigger.name, firing_id, MANUAL, at_us, (partition,), 0, (captures,), requested_by)


def wake_us(trigger: Trigger, state: pb.TriggerState, now_us: int) -> int | None:
    """When a registered schedule trigger has a tick to handle next (at or before ``now_us``:
    at once); None for a reactive trigger. A paused one wakes at its next tick from now, so a
    resume recorded by another process is seen by then."""
    if trigger.schedule is None:
        return None
    cursor = state.handled_until.ToMicroseconds()
    return trigger.schedule.next_after(max(cursor, now_us) if state.paused else cursor)


def next_fire_us(trigger: Trigger, state: pb.TriggerState | None, now_us: int) -> int | None:
    """A schedule trigger's next tick from now on (None if reactive or paused), for status."""
    if trigger.schedule is None or (state is not None and state.paused):
        return None
    cursor = state.handled_until.ToMicroseconds() if registered(state) else now_us
    return trigger.schedule.next_after(max(cursor, now_us))


def tick_argument(trigger: Trigger, firing: Firing) -> str:
    """The tick time a trigger binary's ``fire`` is called with: RFC 3339 in the trigger's timezone."""
    return utc_of(firing.tick_us).astimezone(trigger.tz).isoformat(timespec="seconds")


def want_requests(trigger: Trigger, firing: Firing, call: FireCall = call_fire) -> list[pb.CreateWantRequest]:
    """What ``firing`` wants: its binary's answers (one call per partition, or one for the tick),
    or its templates rendered for its tick and, per partition, that partition's captures."""
    spec = trigger.spec
    if spec.executable:
        who = f"trigger {spec.name}"
        arguments = [["--partition", ref] for ref in firing.refs] or [[tick_argument(trigger, firing)]]
        return [w for argument in arguments for w in call(who, spec.executable, argument, spec.timeout_seconds)]
    wall = utc_of(firing.tick_us).astimezone(trigger.tz).replace(tzinfo=None, fold=0)
    return [_rendered(trigger, wall, captures) for captures in (firing.captures or ({},))]


def _rendered(trigger: Trigger, wall: datetime, captures: Mapping[str, str]) -> pb.CreateWantRequest:
    request = pb.CreateWantRequest(partitions=validate_refs([render(t, wall, captures) for t in trigger.partitions]))
    if trigger.data_timestamp is not None:
        text = render(trigger.data_timestamp, wall, captures)
        request.data_timestamp.FromDatetime(parse_timestamp(text, trigger.tz).astimezone(timezone.utc)
                                            .replace(tzinfo=None))
    return request


def want_spec(trigger: Trigger, firing: Firing, request: pb.CreateWantRequest, now_us: int,
              defaults: tuple[int, int] = (0, 0), source: pb.WantSource | None = None) -> pb.WantSpec:
    """The want ``request`` of ``firing`` describes (``request`` is filled in: it is the
    firing's own), with the trigger's TTL, SLA and comment, its source naming the firing
    (``source``, made once per firing when given), its data timestamp the tick's unless
    given; ``defaults``: the graph's (TTL, SLA)."""
    spec = trigger.spec
    if spec.ttl_seconds > 0:
        request.ttl_seconds = spec.ttl_seconds
    request.sla_seconds = spec.sla_seconds
    if not request.comment:
        request.comment = spec.comment
    if not request.HasField("data_timestamp"):
        request.data_timestamp.FromMicroseconds(firing.tick_us)
    request.source.CopyFrom(source or firing_source(trigger, firing))
    return new_want_spec(request, now_us, defaults[0], defaults[1], firing.source)


def firing_source(trigger: Trigger, firing: Firing) -> pb.WantSource:
    """The source of the wants ``firing`` creates: its kind, the trigger and the firing id."""
    return pb.WantSource(type=firing.source, name=trigger.spec.name, firing_id=firing.firing_id)


def _firing_payload(message: pb.TriggerFired | pb.TriggerFailed, firing: Firing) -> None:
    message.trigger, message.firing_id, message.source = firing.trigger, firing.firing_id, firing.source
    message.tick_time.FromMicroseconds(firing.tick_us)
    message.refs.extend(firing.refs)
    message.ref_index, message.requested_by = firing.ref_index, firing.requested_by


def fired_events(firing: Firing, wants: Sequence[pb.WantSpec]) -> list[pb.Event]:
    """``trigger_fired`` naming ``wants``, then their ``want_created`` events: one append."""
    event = pb.Event(trigger_fired=pb.TriggerFired(want_ids=[w.want_id for w in wants]))
    _firing_payload(event.trigger_fired, firing)
    return [event, *(pb.Event(want_created=pb.WantCreated(want=w)) for w in wants)]


def failed_event(firing: Firing, error: str) -> pb.Event:
    """``trigger_failed``: ``firing`` wanted nothing because of ``error``."""
    event = pb.Event(trigger_failed=pb.TriggerFailed(error=error))
    _firing_payload(event.trigger_failed, firing)
    return event


def resolve(trigger: Trigger, firing: Firing, now_us: int, defaults: tuple[int, int] = (0, 0),
            call: FireCall = call_fire) -> list[pb.WantSpec]:
    """The wants ``firing`` creates. TriggerProtocolError if its binary failed, InvalidArgumentError
    if what it wants is invalid (a template rendering a bad ref, a capture an offset cannot read)."""
    source = firing_source(trigger, firing)
    return [want_spec(trigger, firing, r, now_us, defaults, source) for r in want_requests(trigger, firing, call)]


def outcome(trigger: Trigger, firing: Firing, now_us: int, defaults: tuple[int, int] = (0, 0),
            call: FireCall = call_fire) -> list[pb.Event]:
    """The events recording ``firing``: ``fired_events``, or its ``trigger_failed`` if ``resolve`` failed."""
    try:
        wants = resolve(trigger, firing, now_us, defaults, call)
    except (InvalidArgumentError, JobProtocolError) as e:
        return [failed_event(firing, str(e))]
    return fired_events(firing, wants)


def status(trigger: Trigger, state: pb.TriggerState | None, now_us: int) -> pb.TriggerStatus:
    """What ``GET /api/v1/triggers`` shows of one trigger: its declaration, state and next tick."""
    spec = trigger.spec
    out = pb.TriggerStatus(
        label=spec.label, kind=trigger.kind, cron=spec.cron, timezone=spec.timezone, on=spec.on,
        partitions=spec.partitions, binary=bool(spec.executable), max_catchup=spec.max_catchup,
        ttl_seconds=spec.ttl_seconds, sla_seconds=spec.sla_seconds, comment=spec.comment)
    out.state.CopyFrom(state or pb.TriggerState())
    out.state.name = spec.name
    upcoming = next_fire_us(trigger, state, now_us)
    if upcoming is not None:
        out.next_fire_time.FromMicroseconds(upcoming)
    return out
