"""Benchmark of the SQLite build event log (BEL): append throughput and query latency.

Measures, on SQLite file logs:

1. one event per transaction (``append([e])``), plain log and state store;
2. batched appends (1,000 events per transaction), plain log and state store,
   against a target of >= 20,000 events/s;
3. building a large log (``--events``, default 1M) with the state store in batches of
   5,000, from a realistic mix of build, job-run, partition and want events over
   ~100k distinct partition refs;
4. latency of filtered ``list_events`` queries and state read-model queries on it.

Event messages are generated outside the timed append sections (pre-built for
phases 1 and 2; per batch for phase 3, with generation timed separately).

Usage::

    python benchmarks/bel_append.py            # 1M-event log (a few minutes)
    python benchmarks/bel_append.py --quick    # smoke run, 20k events
    python benchmarks/bel_append.py --dir /tmp/bel --events 200000   # keep the files

Prints a readable table, then one JSON line ``{"benchmark": "bel_append", ...}``.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from typing import Callable, Iterator

from databuild.events import EventFilter, open_event_log
from databuild.proto import databuild_pb2 as pb
from databuild.state import open_state_store

BATCHED_TARGET_EVENTS_PER_S = 20_000
SLOW_QUERY_MS = 50.0

# ---------------------------------------------------------------------------
# Workload: a realistic stream of events over ~100k distinct partition refs.

COLORS = (
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "black", "white",
    "gray", "cyan", "magenta", "teal", "navy", "olive", "maroon", "lime", "aqua", "silver",
    "gold", "beige", "coral", "ivory", "khaki", "lavender", "mint", "peach", "plum", "salmon",
)
COLORS = COLORS + tuple(f"shade{i:02d}" for i in range(60 - len(COLORS)))  # 60 colors
REGIONS = tuple(f"r{i:02d}" for i in range(30))
FIRST_DAY = dt.date(2024, 1, 1)
DAYS = 731  # 2024-01-01 .. 2025-12-31

JOB_LABELS = {
    "daily_votes": "//examples/votes:daily_votes",
    "raw_events": "//examples/ingest:events",
    "raw_clicks": "//examples/ingest:clicks",
    "votes_by_region": "//examples/votes:votes_by_region",
}


def _dates() -> list[str]:
    return [(FIRST_DAY + dt.timedelta(days=d)).isoformat() for d in range(DAYS)]


def ref_units() -> list[tuple[str, str, list[str]]]:
    """Groups of related refs (one dataset, one date): (dataset, date, refs).

    731 days x (60 colors + 24 + 24 hours + 30 regions) = 100,878 distinct refs.
    """
    units = []
    for date in _dates():
        units.append(("daily_votes", date, [f"daily_votes/{date}/{c}" for c in COLORS]))
        units.append(("raw_events", date, [f"raw/events/date={date}/hour={h:02d}" for h in range(24)]))
        units.append(("raw_clicks", date, [f"raw/clicks/date={date}/hour={h:02d}" for h in range(24)]))
        units.append(
            ("votes_by_region", date, [f"agg/votes_by_region/region={r}/date={date}" for r in REGIONS])
        )
    return units


class Workload:
    """Deterministic generator of build lifecycles as BEL events.

    A build: optional want_created, build_requested, build_status_changed PLANNING
    and EXECUTING, then per requested partition one job run (job_run_status_changed
    SCHEDULED with its config, RUNNING, partition_status_changed BUILDING,
    job_run_status_changed SUCCEEDED/FAILED, partition_status_changed AVAILABLE/FAILED),
    then build_status_changed COMPLETED/FAILED and want_satisfied for its wants.
    Builds walk the refs in shuffled groups, so the first ~100k partition builds
    touch ~100k distinct refs.
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.units = ref_units()
        self.rng.shuffle(self.units)
        self.n_refs = sum(len(refs) for _, _, refs in self.units)
        self._unit = 0
        self._pos = 0
        self.builds = 0
        self.refs_built: set[str] = set()
        self.types: collections.Counter[str] = collections.Counter()
        self.samples: dict[str, list[str]] = collections.defaultdict(list)
        self._stream = self.events()

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _take_refs(self) -> tuple[str, str, list[str]]:
        dataset, date, refs = self.units[self._unit]
        k = self.rng.choice((1, 1, 2, 3, 4, 4, 6, 8, 12))
        chosen = refs[self._pos : self._pos + k]
        self._pos += len(chosen)
        if self._pos >= len(refs):
            self._pos = 0
            self._unit = (self._unit + 1) % len(self.units)
        return dataset, date, chosen

    def events(self) -> Iterator[pb.Event]:
        """An endless stream of events."""
        while True:
            yield from self._build()

    def take(self, n: int) -> list[pb.Event]:
        """The next ``n`` events of the stream."""
        return [next(self._stream) for _ in range(n)]

    def _ev(self, name: str) -> tuple[pb.Event, object]:
        e = pb.Event()
        self.types[name] += 1
        return e, getattr(e, name)

    def _build(self) -> Iterator[pb.Event]:
        rng = self.rng
        dataset, date, refs = self._take_refs()
        build_id = self._uuid()
        job_label = JOB_LABELS[dataset]
        self.builds += 1
        want_ids: list[str] = []
        if rng.random() < 0.03:  # a few builds are asked for through a want
            want_id = self._uuid()
            want_ids.append(want_id)
            e, p = self._ev("want_created")
            p.want.want_id = want_id
            p.want.partitions.extend(refs)
            p.want.created_at.FromDatetime(dt.datetime(2025, 1, 1))
            p.want.ttl_seconds = 7 * 86400
            p.want.sla_seconds = 6 * 3600
            p.want.source.type = pb.WANT_SOURCE_TYPE_SCHEDULED
            p.want.source.name = f"{dataset}_daily"
            yield e
            self.samples["want_id"].append(want_id)
            if rng.random() < 0.2:  # a want still blocked on external data: no build yet
                extra, p2 = self._ev("want_created")
                waiting = self._uuid()
                p2.want.want_id = waiting
                p2.want.partitions.append(f"daily_votes/{date}/{rng.choice(COLORS)}")
                p2.want.external_dependencies.append(f"raw/events/date={date}/hour=23")
                p2.want.source.type = pb.WANT_SOURCE_TYPE_API
                p2.want.source.name = "votes-dashboard"
                yield extra

        e, p = self._ev("build_requested")
        p.build_id = build_id
        p.partitions.extend(refs)
        p.want_ids.extend(want_ids)
        p.graph_label = "//examples/votes:graph"
        yield e
        for status in (pb.BUILD_STATUS_PLANNING, pb.BUILD_STATUS_EXECUTING):
            e, p = self._ev("build_status_changed")
            p.build_id, p.status = build_id, status
            yield e

        failed = False
        for ref in refs:
            job_run_id = self._uuid()
            e, p = self._ev("job_run_status_changed")
            p.job_run_id, p.build_id, p.job_label = job_run_id, build_id, job_label
            p.status = pb.JOB_RUN_STATUS_SCHEDULED
            p.outputs.append(ref)
            p.config.outputs.append(ref)
            dep = p.config.inputs.add()
            dep.ref, dep.dep_type = f"raw/events/date={date}/hour=23", pb.materialize
            p.config.args.extend(("--date", date, "--out", ref))
            p.config.env["DATABUILD_ENV"] = "prod"
            yield e
            e, p = self._ev("job_run_status_changed")
            p.job_run_id, p.build_id, p.job_label = job_run_id, build_id, job_label
            p.status = pb.JOB_RUN_STATUS_RUNNING
            p.log_path = f"/var/log/databuild/{build_id}/{job_run_id}.log"
            yield e
            e, p = self._ev("partition_status_changed")
            p.ref, p.status, p.build_id, p.job_run_id = ref, pb.PARTITION_STATUS_BUILDING, build_id, job_run_id
            yield e
            ok = rng.random() >= 0.03
            failed |= not ok
            e, p = self._ev("job_run_status_changed")
            p.job_run_id, p.build_id, p.job_label = job_run_id, build_id, job_label
            p.status = pb.JOB_RUN_STATUS_SUCCEEDED if ok else pb.JOB_RUN_STATUS_FAILED
            p.exit_code = 0 if ok else 1
            if not ok:
                p.message = "job exited with status 1"
            yield e
            e, p = self._ev("partition_status_changed")
            p.ref, p.build_id, p.job_run_id = ref, build_id, job_run_id
            p.status = pb.PARTITION_STATUS_AVAILABLE if ok else pb.PARTITION_STATUS_FAILED
            if not ok:
                p.message = "job exited with status 1"
            yield e
            self.refs_built.add(ref)
            self.samples["ref"].append(ref)
            self.samples["job_run_id"].append(job_run_id)

        e, p = self._ev("build_status_changed")
        p.build_id = build_id
        p.status = pb.BUILD_STATUS_FAILED if failed else pb.BUILD_STATUS_COMPLETED
        if failed:
            p.message = "1 or more job runs failed"
        yield e
        self.samples["build_id"].append(build_id)
        if not failed:
            for want_id in want_ids:
                e, p = self._ev("want_satisfied")
                p.want_id, p.build_id = want_id, build_id
                yield e


# ---------------------------------------------------------------------------
# Helpers.


def sqlite_uri(path: str, synchronous: str) -> str:
    uri = "sqlite:///" + os.path.abspath(path).lstrip("/")
    return uri if synchronous == "normal" else uri + "?synchronous=" + synchronous


def remove_db(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def file_sizes(path: str) -> tuple[int, int]:
    def size(p: str) -> int:
        try:
            return os.path.getsize(p)
        except FileNotFoundError:
            return 0

    return size(path), size(path + "-wal")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


class Table:
    """Collects rows and prints them aligned (``align``: one "l" or "r" per column)."""

    def __init__(self, title: str, header: tuple[str, ...], align: str) -> None:
        self.title, self.header, self.align, self.rows = title, header, align, []

    def add(self, *row: object) -> None:
        self.rows.append(tuple(str(c) for c in row))

    def print(self) -> None:
        widths = [max(len(r[i]) for r in (self.header, *self.rows)) for i in range(len(self.header))]
        line = "  ".join("-" * w for w in widths)

        def fmt(row: tuple[str, ...], header: bool = False) -> str:
            cells = [
                c.rjust(w) if a == "r" and not header else c.ljust(w) for c, w, a in zip(row, widths, self.align)
            ]
            return "  ".join(cells).rstrip()

        print(f"\n{self.title}")
        print(line)
        print(fmt(self.header, header=True))
        print(line)
        for r in self.rows:
            print(fmt(r))
        sys.stdout.flush()


# ---------------------------------------------------------------------------
# Phases.


def open_log(kind: str, path: str, synchronous: str):
    uri = sqlite_uri(path, synchronous)
    if kind == "plain":
        return open_event_log(uri), None
    store = open_state_store(uri)
    return store.log, store


def bench_single(kind: str, path: str, n: int, seed: int, synchronous: str) -> dict:
    """``n`` appends of one event each on a fresh log."""
    remove_db(path)
    events = Workload(seed).take(n)
    log, _ = open_log(kind, path, synchronous)
    try:
        latencies = []
        t0 = time.perf_counter()
        for e in events:
            s = time.perf_counter()
            log.append([e])
            latencies.append(time.perf_counter() - s)
        elapsed = time.perf_counter() - t0
    finally:
        log.close()
    return {
        "events": n,
        "seconds": elapsed,
        "events_per_s": n / elapsed,
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
    }


def bench_batched(kind: str, path: str, n: int, batch: int, seed: int, synchronous: str) -> dict:
    """``n`` events in appends of ``batch`` events on a fresh log."""
    remove_db(path)
    events = Workload(seed).take(n)
    batches = [events[i : i + batch] for i in range(0, n, batch)]
    log, _ = open_log(kind, path, synchronous)
    try:
        latencies = []
        t0 = time.perf_counter()
        for b in batches:
            s = time.perf_counter()
            log.append(b)
            latencies.append(time.perf_counter() - s)
        elapsed = time.perf_counter() - t0
    finally:
        log.close()
    return {
        "events": n,
        "batch": batch,
        "seconds": elapsed,
        "events_per_s": n / elapsed,
        "p50_batch_ms": statistics.median(latencies) * 1e3,
        "p99_batch_ms": percentile(latencies, 99) * 1e3,
    }


def build_big_log(path: str, n: int, batch: int, seed: int, synchronous: str, progress: bool):
    """Append ``n`` workload events with the state store; return (store, workload, stats)."""
    remove_db(path)
    workload = Workload(seed)
    store = open_state_store(sqlite_uri(path, synchronous))
    gen_s = append_s = 0.0
    done = 0
    slowest = 0.0
    t_start = time.perf_counter()
    next_report = t_start + 15
    while done < n:
        size = min(batch, n - done)
        t0 = time.perf_counter()
        events = workload.take(size)
        t1 = time.perf_counter()
        store.log.append(events)
        t2 = time.perf_counter()
        gen_s += t1 - t0
        append_s += t2 - t1
        slowest = max(slowest, t2 - t1)
        done += size
        if progress and t2 >= next_report:
            print(f"  ... {done:,} / {n:,} events, {done / append_s:,.0f} events/s appending", file=sys.stderr)
            next_report = t2 + 15
    wall = time.perf_counter() - t_start
    db_size, wal_size = file_sizes(path)
    stats = {
        "events": n,
        "batch": batch,
        "wall_s": wall,
        "generate_s": gen_s,
        "append_s": append_s,
        "append_events_per_s": n / append_s,
        "slowest_batch_ms": slowest * 1e3,
        "builds": workload.builds,
        "distinct_refs": len(workload.refs_built),
        "db_bytes": db_size,
        "wal_bytes": wal_size,
        "types": dict(workload.types),
    }
    return store, workload, stats


def time_query(fn: Callable[[], object], reps: int, budget_s: float) -> dict:
    """Median / p99 latency of ``fn`` over ``reps`` runs (fewer if over ``budget_s``)."""
    result = fn()  # warm-up; also gives the result size
    times = []
    deadline = time.perf_counter() + budget_s
    for i in range(reps):
        s = time.perf_counter()
        fn()
        times.append(time.perf_counter() - s)
        if i >= 4 and time.perf_counter() > deadline:
            break
    if hasattr(result, "events"):
        size = len(result.events)
    elif isinstance(result, list):
        size = len(result)
    elif result is None or isinstance(result, int):
        size = 1 if result is not None else 0
    else:
        size = 1
    return {
        "n": len(times),
        "median_ms": statistics.median(times) * 1e3,
        "p99_ms": percentile(times, 99) * 1e3,
        "rows": size,
    }


def bench_queries(store, workload: Workload, reps: int, budget_s: float) -> dict[str, dict]:
    log = store.log
    latest = log.latest_index()
    pick = random.Random(7)
    mid = lambda xs: xs[len(xs) // 2]  # noqa: E731 - an entity from the middle of the log
    ref = mid(workload.samples["ref"])
    red_refs = [r for r in workload.samples["ref"] if r.startswith("daily_votes/") and r.endswith("/red")]
    build_id = mid(workload.samples["build_id"])
    job_run_id = mid(workload.samples["job_run_id"])
    near_end = max(0, latest - 5_000)
    queries: list[tuple[str, Callable[[], object]]] = [
        ("list_events refs=(1 ref,) since=0 limit=100", lambda: log.list_events(0, EventFilter(refs=(ref,)), 100)),
        (
            f"list_events ref_patterns=daily_votes/*/red since=latest-5000 limit=100",
            lambda: log.list_events(near_end, EventFilter(ref_patterns=("daily_votes/*/red",)), 100),
        ),
        (
            "list_events ref_patterns=daily_votes/*/red since=0 limit=100",
            lambda: log.list_events(0, EventFilter(ref_patterns=("daily_votes/*/red",)), 100),
        ),
        (
            "list_events types=build_requested since=0 limit=100",
            lambda: log.list_events(0, EventFilter(types=("build_requested",)), 100),
        ),
        (
            "list_events types=build_requested since=latest-5000 limit=100",
            lambda: log.list_events(near_end, EventFilter(types=("build_requested",)), 100),
        ),
        ("list_events build_ids=(1 id,) since=0 limit=100", lambda: log.list_events(0, EventFilter(build_ids=(build_id,)), 100)),
        (
            "list_events job_run_ids=(1 id,) since=0 limit=100",
            lambda: log.list_events(0, EventFilter(job_run_ids=(job_run_id,)), 100),
        ),
        ("list_events tail since=latest-1000 limit=1000", lambda: log.list_events(max(0, latest - 1000), limit=1000)),
        ("latest_index()", log.latest_index),
        ("store.partition(ref)", lambda: store.partition(ref)),
        (
            "store.partitions(daily_votes/2025-01-*/red, AVAILABLE, limit=100)",
            lambda: store.partitions("daily_votes/2025-01-*/red", statuses=[pb.PARTITION_STATUS_AVAILABLE], limit=100),
        ),
        ("store.active_wants(limit=100)", lambda: store.active_wants(limit=100)),
    ]
    if red_refs:
        some_red = pick.choice(red_refs)
        queries.insert(
            1, ("list_events refs=(1 red ref,) since=0 limit=100", lambda: log.list_events(0, EventFilter(refs=(some_red,)), 100))
        )
    return {name: time_query(fn, reps, budget_s) for name, fn in queries}


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=None, help="events in the big log (default 1,000,000; 20,000 with --quick)")
    parser.add_argument("--dir", default=None, help="directory for the SQLite files (kept); default: a temp dir, deleted")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--single-events", type=int, default=None, help="events appended one per transaction (default 5,000)")
    parser.add_argument("--batched-events", type=int, default=None, help="events appended in batches of 1,000 (default 100,000)")
    parser.add_argument("--reps", type=int, default=50, help="repetitions per query (default 50)")
    parser.add_argument("--query-budget", type=float, default=6.0, help="max seconds per query (at least 5 reps run)")
    parser.add_argument("--synchronous", choices=("normal", "full"), default="normal", help="SQLite synchronous mode")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    n_big = args.events if args.events is not None else (20_000 if args.quick else 1_000_000)
    n_single = args.single_events if args.single_events is not None else (1_000 if args.quick else 5_000)
    n_batched = args.batched_events if args.batched_events is not None else (20_000 if args.quick else 100_000)
    reps = min(args.reps, 20) if args.quick else args.reps

    keep = args.dir is not None
    directory = os.path.abspath(args.dir) if keep else tempfile.mkdtemp(prefix="bel_append_")
    os.makedirs(directory, exist_ok=True)
    t_all = time.perf_counter()
    result: dict = {
        "benchmark": "bel_append",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "synchronous": args.synchronous,
        "quick": args.quick,
    }
    print(
        f"bel_append: SQLite {sqlite3.sqlite_version}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, synchronous={args.synchronous}, dir={directory}{'' if keep else ' (temporary)'}"
    )
    try:
        # 1 + 2: append throughput on fresh logs.
        appends = Table(
            "Append throughput (fresh log per row; event generation not timed)",
            ("mode", "log", "events", "seconds", "events/s", "p50 ms/append", "p99 ms/append", "target"),
            "llrrrrrl",
        )
        result["single"], result["batched"] = {}, {}
        for kind in ("plain", "state"):
            r = bench_single(kind, os.path.join(directory, f"single_{kind}.sqlite3"), n_single, args.seed + 1, args.synchronous)
            result["single"][kind] = r
            appends.add(
                "1 event/transaction", kind, f"{n_single:,}", f"{r['seconds']:.2f}", fmt_rate(r["events_per_s"]),
                f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}", "",
            )
        for kind in ("plain", "state"):
            r = bench_batched(
                kind, os.path.join(directory, f"batched_{kind}.sqlite3"), n_batched, 1000, args.seed + 2, args.synchronous
            )
            r["target_events_per_s"] = BATCHED_TARGET_EVENTS_PER_S
            r["pass"] = r["events_per_s"] >= BATCHED_TARGET_EVENTS_PER_S
            result["batched"][kind] = r
            appends.add(
                "1,000 events/transaction", kind, f"{n_batched:,}", f"{r['seconds']:.2f}", fmt_rate(r["events_per_s"]),
                f"{r['p50_batch_ms']:.1f}", f"{r['p99_batch_ms']:.1f}",
                f">= {BATCHED_TARGET_EVENTS_PER_S:,}/s {'PASS' if r['pass'] else 'MISS'}",
            )
        appends.print()

        # 3: the big log.
        big_path = os.path.join(directory, "big_state.sqlite3")
        store, workload, big = build_big_log(big_path, n_big, 5000, args.seed, args.synchronous, progress=not args.quick)
        result["big_log"] = big
        bl = Table(f"Big log: {n_big:,} events, state store, batches of 5,000", ("metric", "value"), "lr")
        bl.add("wall time (generate + append)", f"{big['wall_s']:.1f} s")
        bl.add("event generation (protobuf, not append)", f"{big['generate_s']:.1f} s")
        bl.add("append time", f"{big['append_s']:.1f} s")
        bl.add("append rate", f"{fmt_rate(big['append_events_per_s'])} events/s")
        bl.add("slowest batch", f"{big['slowest_batch_ms']:.0f} ms")
        bl.add("builds / distinct refs built", f"{big['builds']:,} / {big['distinct_refs']:,}")
        bl.add("file size (db + wal)", f"{mb(big['db_bytes'])} + {mb(big['wal_bytes'])}")
        bl.add("bytes per event (db)", f"{big['db_bytes'] / n_big:,.0f}")
        for name, count in sorted(big["types"].items(), key=lambda kv: -kv[1]):
            bl.add(f"  {name}", f"{count:,} ({count / n_big:.1%})")
        bl.print()

        # 4: queries on it.
        try:
            queries = bench_queries(store, workload, reps, args.query_budget)
        finally:
            store.close()
        result["queries"] = queries
        qt = Table(
            f"Query latency on the {n_big:,}-event log (ms; up to {reps} reps each)",
            ("query", "rows", "reps", "median ms", "p99 ms", "note"),
            "lrrrrl",
        )
        for name, q in queries.items():
            slow = q["median_ms"] > SLOW_QUERY_MS or q["p99_ms"] > SLOW_QUERY_MS
            qt.add(name, q["rows"], q["n"], f"{q['median_ms']:.3f}", f"{q['p99_ms']:.3f}", f"SLOW > {SLOW_QUERY_MS:.0f} ms" if slow else "")
        qt.print()
        result["slow_queries"] = [
            name for name, q in queries.items() if q["median_ms"] > SLOW_QUERY_MS or q["p99_ms"] > SLOW_QUERY_MS
        ]
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)
    result["total_s"] = time.perf_counter() - t_all
    print(f"\ntotal benchmark time: {result['total_s']:.1f} s")
    print(json.dumps(result, sort_keys=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
