"""Random but valid events over small key pools, for property tests and load."""

from __future__ import annotations

import random

from databuild.proto import databuild_pb2 as pb

REFS = [f"daily/{d}/{c}" for d in ("2025-01-01", "2025-01-02") for c in ("red", "blue")] + ["raw/a", "raw/b/c"]
BUILDS = ["b1", "b2", "b3"]
RUNS = ["j1", "j2", "j3"]
WANTS = ["w1", "w2", "w3"]


def _enum(rng: random.Random, enum) -> int:
    return rng.choice([v for v in enum.values() if v != 0])


def random_event(rng: random.Random) -> pb.Event:
    """One event of a random type with valid required fields."""
    e = pb.Event()
    kind = rng.randrange(12)
    if kind == 0:
        p = e.partition_status_changed
        p.ref, p.status = rng.choice(REFS), _enum(rng, pb.PartitionStatus)
        p.build_id, p.job_run_id, p.message = rng.choice(BUILDS), rng.choice(RUNS), rng.choice(["", "boom"])
    elif kind == 1:
        e.external_partitions_available.refs.extend(rng.sample(REFS, rng.randint(1, 3)))
        e.external_partitions_available.upstream = rng.choice(["", "up1"])
    elif kind == 2:
        e.partitions_tainted.refs.extend(rng.sample(REFS, rng.randint(1, 2)))
        e.partitions_tainted.reason = "bad data"
    elif kind == 3:
        p = e.job_run_status_changed
        p.job_run_id, p.build_id, p.job_label = rng.choice(RUNS), rng.choice(BUILDS), "//x:job"
        p.status = _enum(rng, pb.JobRunStatus)
        p.outputs.extend(rng.sample(REFS, rng.randint(0, 2)))
        p.exit_code = rng.choice([0, 1])
        if rng.random() < 0.3:
            p.config.args.append("--flag")
    elif kind == 4:
        p = e.build_requested
        p.build_id = rng.choice(BUILDS)
        p.partitions.extend(rng.sample(REFS, rng.randint(1, 3)))
        p.want_ids.extend(rng.sample(WANTS, rng.randint(0, 2)))
    elif kind == 5:
        p = e.build_status_changed
        p.build_id, p.status = rng.choice(BUILDS), _enum(rng, pb.BuildStatus)
    elif kind == 6:
        p = e.job_graph_recorded
        p.build_id = rng.choice(BUILDS)
        run = p.job_graph.job_runs.add(job_run_id=rng.choice(RUNS), job_label="//x:job")
        run.config.outputs.append(rng.choice(REFS))
    elif kind == 7:
        p = e.delegation_recorded
        p.build_id, p.delegated_to_build_id = rng.sample(BUILDS, 2)
        p.partitions.append(rng.choice(REFS))
    elif kind == 8:
        if rng.random() < 0.5:
            e.cancellation_requested.build_id = rng.choice(BUILDS)
        else:
            e.cancellation_requested.job_run_id = rng.choice(RUNS)
    elif kind == 9:
        w = e.want_created.want
        w.want_id = rng.choice(WANTS)
        w.partitions.extend(rng.sample(REFS, rng.randint(1, 2)))
        if rng.random() < 0.5:
            w.external_dependencies.append("raw/a")
    elif kind == 10:
        name = rng.choice(["want_status_changed", "want_cancelled", "want_expired", "want_satisfied", "want_sla_violated"])
        p = getattr(e, name)
        p.want_id = rng.choice(WANTS)
        if name == "want_status_changed":
            p.status, p.attempt = _enum(rng, pb.WantStatus), rng.randint(0, 3)
    else:
        p = e.upstream_cursor_advanced
        p.upstream, p.url, p.next_index = rng.choice(["up1", "up2"]), "http://127.0.0.1:1", rng.randint(0, 99)
    return e


def random_events(rng: random.Random, n: int) -> list[pb.Event]:
    return [random_event(rng) for _ in range(n)]


def partition_event(ref: str, status: int = pb.PARTITION_STATUS_AVAILABLE, build_id: str = "b1") -> pb.Event:
    e = pb.Event()
    e.partition_status_changed.ref = ref
    e.partition_status_changed.status = status
    e.partition_status_changed.build_id = build_id
    return e
