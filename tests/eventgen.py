"""Random but valid events over small key pools, for property tests and load.

Values from the pools (``REFS``, ``BUILDS``, ...) go only into fields that name an
entity, so a test can tell every key an event should be indexed by; other strings
stay outside them.

One generator per declared event type (``databuild.events.REGISTRY``); importing this
module fails if a declared type has none, so a new event type is covered by every
property test that uses ``random_events``.
"""

from __future__ import annotations

import random
from typing import Callable

from databuild.errors import DeclarationError
from databuild.events import EVENT_TYPES
from databuild.proto import databuild_pb2 as pb

REFS = [f"daily/{d}/{c}" for d in ("2025-01-01", "2025-01-02") for c in ("red", "blue")] + ["raw/a", "raw/b/c"]
BUILDS = ["b1", "b2", "b3"]
RUNS = ["j1", "j2", "j3"]
WANTS = ["w1", "w2", "w3"]
UPSTREAMS = ["up1", "up2"]
TRIGGERS = ["t1", "t2"]

#: Fills the payload (of the type it is registered for) with random valid values.
Generator = Callable[[random.Random, object], None]
GENERATORS: dict[str, Generator] = {}


def _generates(*names: str) -> Callable[[Generator], Generator]:
    def register(generator: Generator) -> Generator:
        GENERATORS.update(dict.fromkeys(names, generator))
        return generator
    return register


def _enum(rng: random.Random, enum) -> int:
    return rng.choice([v for v in enum.values() if v != 0])


@_generates("partition_status_changed")
def _partition_status(rng: random.Random, p: pb.PartitionStatusChanged) -> None:
    p.ref, p.status = rng.choice(REFS), _enum(rng, pb.PartitionStatus)
    p.build_id, p.job_run_id, p.message = rng.choice(BUILDS), rng.choice(RUNS), rng.choice(["", "boom"])


@_generates("external_partitions_available")
def _external(rng: random.Random, p: pb.ExternalPartitionsAvailable) -> None:
    p.refs.extend(rng.sample(REFS, rng.randint(1, 3)))
    p.upstream = rng.choice(["", *UPSTREAMS])


@_generates("partitions_tainted")
def _tainted(rng: random.Random, p: pb.PartitionsTainted) -> None:
    p.refs.extend(rng.sample(REFS, rng.randint(1, 2)))
    p.reason = "bad data"


@_generates("job_run_status_changed")
def _job_run(rng: random.Random, p: pb.JobRunStatusChanged) -> None:
    p.job_run_id, p.build_id, p.job_label = rng.choice(RUNS), rng.choice(BUILDS), "//x:job"
    p.status = _enum(rng, pb.JobRunStatus)
    p.outputs.extend(rng.sample(REFS, rng.randint(0, 2)))
    p.exit_code = rng.choice([0, 1])
    if rng.random() < 0.3:
        p.config.args.append("--flag")


@_generates("build_requested")
def _build_requested(rng: random.Random, p: pb.BuildRequested) -> None:
    p.build_id = rng.choice(BUILDS)
    p.partitions.extend(rng.sample(REFS, rng.randint(1, 3)))
    p.want_ids.extend(rng.sample(WANTS, rng.randint(0, 2)))


@_generates("build_status_changed")
def _build_status(rng: random.Random, p: pb.BuildStatusChanged) -> None:
    p.build_id, p.status = rng.choice(BUILDS), _enum(rng, pb.BuildStatus)


@_generates("job_graph_recorded")
def _job_graph(rng: random.Random, p: pb.JobGraphRecorded) -> None:
    p.build_id = rng.choice(BUILDS)
    run = p.job_graph.job_runs.add(job_run_id=rng.choice(RUNS), job_label="//x:job")
    run.config.outputs.append(rng.choice(REFS))


@_generates("delegation_recorded")
def _delegation(rng: random.Random, p: pb.DelegationRecorded) -> None:
    p.build_id, p.delegated_to_build_id = rng.sample(BUILDS, 2)
    p.delegated_to_job_run_id = rng.choice(["", *RUNS])
    p.partitions.append(rng.choice(REFS))


@_generates("cancellation_requested")
def _cancellation(rng: random.Random, p: pb.CancellationRequested) -> None:
    if rng.random() < 0.5:
        p.build_id = rng.choice(BUILDS)
    else:
        p.job_run_id = rng.choice(RUNS)


@_generates("want_created")
def _want_created(rng: random.Random, p: pb.WantCreated) -> None:
    p.want.want_id = rng.choice(WANTS)
    p.want.partitions.extend(rng.sample(REFS, rng.randint(1, 2)))
    if rng.random() < 0.5:
        p.want.external_dependencies.append("raw/a")


@_generates("want_status_changed")
def _want_status(rng: random.Random, p: pb.WantStatusChanged) -> None:
    p.want_id, p.status, p.attempt = rng.choice(WANTS), _enum(rng, pb.WantStatus), rng.randint(0, 3)


@_generates("want_satisfied")
def _want_satisfied(rng: random.Random, p: pb.WantSatisfied) -> None:
    p.want_id, p.build_id = rng.choice(WANTS), rng.choice(["", *BUILDS])


@_generates("want_cancelled", "want_expired", "want_sla_violated")
def _want_id_only(rng: random.Random, p) -> None:
    p.want_id = rng.choice(WANTS)


@_generates("upstream_cursor_advanced")
def _upstream(rng: random.Random, p: pb.UpstreamCursorAdvanced) -> None:
    p.upstream, p.url, p.next_index = rng.choice(UPSTREAMS), "http://127.0.0.1:1", rng.randint(0, 99)


_TRIGGER_SOURCES = (pb.WANT_SOURCE_TYPE_SCHEDULED, pb.WANT_SOURCE_TYPE_TRIGGERED, pb.WANT_SOURCE_TYPE_CLI)


@_generates("trigger_registered")
def _trigger_registered(rng: random.Random, p: pb.TriggerRegistered) -> None:
    p.trigger, p.since_index = rng.choice(TRIGGERS), rng.randint(0, 99)
    p.since_time.FromSeconds(rng.randint(0, 10**9))


@_generates("trigger_fired", "trigger_failed")
def _trigger_outcome(rng: random.Random, p) -> None:
    p.trigger, p.source = rng.choice(TRIGGERS), rng.choice(_TRIGGER_SOURCES)
    p.firing_id = f"{p.trigger}@{rng.randint(0, 99)}"
    p.tick_time.FromSeconds(rng.randint(0, 10**9))
    p.ref_index = rng.randint(0, 99)
    p.refs.extend(f"raw/{i}" for i in range(rng.choice((0, 1, 2, 12))))
    if isinstance(p, pb.TriggerFired):
        p.want_ids.extend(rng.sample(WANTS, rng.randint(0, 2)))
    else:
        p.error = "exited with code 1"


@_generates("trigger_ticks_skipped")
def _trigger_skipped(rng: random.Random, p: pb.TriggerTicksSkipped) -> None:
    p.trigger, p.max_catchup = rng.choice(TRIGGERS), rng.randint(0, 3)
    p.first_tick.FromSeconds(rng.randint(0, 10**9))
    p.last_tick.FromSeconds(p.first_tick.seconds + rng.randint(0, 10**6))


@_generates("trigger_pause_changed")
def _trigger_pause(rng: random.Random, p: pb.TriggerPauseChanged) -> None:
    p.trigger, p.paused, p.requested_by = rng.choice(TRIGGERS), rng.random() < 0.5, "cli:ann"


_missing = [name for name in EVENT_TYPES if name not in GENERATORS]
if _missing:
    raise DeclarationError(f"tests/eventgen.py has no generator for the declared event type(s) {', '.join(_missing)}")


def event_of(name: str, rng: random.Random) -> pb.Event:
    """One random event of type ``name`` with valid required fields."""
    e = pb.Event()
    GENERATORS[name](rng, getattr(e, name))
    return e


def random_event(rng: random.Random) -> pb.Event:
    """One event of a random declared type with valid required fields."""
    return event_of(rng.choice(EVENT_TYPES), rng)


def random_events(rng: random.Random, n: int) -> list[pb.Event]:
    return [random_event(rng) for _ in range(n)]


def partition_event(ref: str, status: int = pb.PARTITION_STATUS_AVAILABLE, build_id: str = "b1") -> pb.Event:
    e = pb.Event()
    e.partition_status_changed.ref = ref
    e.partition_status_changed.status = status
    e.partition_status_changed.build_id = build_id
    return e
