"""The event log's backends side by side: SQLite and PostgreSQL, same workloads, in process.

1. **Batched appends with read models**: ``--events`` events (default 100,000) of the
   realistic build stream of ``bel_append.py`` in appends of 1,000, through the state
   store (every append updates the read models in its transaction). Target >= 20,000
   events/s on each backend.
2. **Want lists at ``--wants`` wants** (default 100,000, each waiting on an external
   dependency of its own, settled by one evaluator pass): ``list_wants`` with
   ``status=waiting&limit=100``, ``pattern=w/1*&limit=100``,
   ``source=api&limit=100&after=<middle id>``, p50/p99 over ``--reps``.
   On PostgreSQL the tables are vacuumed and analyzed after the set-up (``analyze``), as
   autovacuum would on a live database: else the planner's choices, and the cores the
   measurements share, depend on when it runs.
3. **Arrival latency among those waiting wants**: ``mark_available([up/<i>])`` then
   one ``evaluator.settle()`` (the pass that finds the one affected want, plans it and
   records it building), p50/p99 over ``--arrivals``; the build itself (a tiny shell
   job) is waited for untimed. Target: PostgreSQL within 2x of SQLite.

PostgreSQL: ``--postgres URI`` of an empty database, or by default a throwaway cluster
of Debian's server (tests/pg_support.py, as the tests use) with ``synchronous_commit=off``:
like SQLite's default ``synchronous=normal`` in WAL mode, a commit survives the process
but not the machine losing power (``--pg-durable`` for ``synchronous_commit=on``).
fsync stays on in both.

Usage: python benchmarks/bel_backends.py [--events 100000] [--wants 100000]
       python benchmarks/bel_backends.py --quick      # 20,000 events, 5,000 wants
       python benchmarks/bel_backends.py --quick --count  # PostgreSQL statements, round trips
Prints a table and one JSON line ``{"benchmark": "bel_backends", ...}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bel_append import Workload  # noqa: E402
from pg_trace import Trace  # noqa: E402
from wants import waiting_wants  # noqa: E402

from databuild.graph import GraphSpec, JobSpec  # noqa: E402
from databuild.proto import databuild_pb2 as pb  # noqa: E402
from databuild.service import DataBuildService  # noqa: E402
from databuild.state import open_state_store  # noqa: E402

TARGET_EVENTS_PER_S = 20_000
JOB = """#!/bin/sh
if [ "$1" = config ]; then
  shift; printf '{"configs": ['; sep=
  for r in "$@"; do printf '%s{"outputs": ["%s"]}' "$sep" "$r"; sep=,; done
  printf ']}\\n'; exit 0
fi
exit 0
"""


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"n": len(samples), "p50_ms": statistics.median(ordered) * 1e3, "p99_ms": p99 * 1e3}


def batched_appends(uri: str, n: int, batch: int = 1000) -> dict:
    events = Workload(1).take(n)
    store = open_state_store(uri)
    try:
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            store.log.append(events[start : start + batch])
        elapsed = time.perf_counter() - t0
    finally:
        store.close()
    return {"events": n, "seconds": elapsed, "events_per_s": n / elapsed}


def wants_at_scale(uri: str, root: Path, n: int, reps: int, arrivals: int, count: bool = False) -> dict:
    job = root / "job.sh"
    job.write_text(JOB)
    job.chmod(0o755)
    store = open_state_store(uri)
    graph = GraphSpec("//bench:backends", (JobSpec("//bench:job", str(job), ("w/*",)),))
    service = DataBuildService(graph, store, str(root / f"logs-{abs(hash(uri))}"))
    try:
        ids, created_s, settle_s = waiting_wants(service, n)
        if uri.startswith("postgres"):
            analyze(uri)
        queries = {
            "status=waiting&limit=100": pb.ListWantsRequest(statuses=[pb.WANT_STATUS_WAITING], limit=100),
            "pattern=w/1*&limit=100": pb.ListWantsRequest(pattern="w/1*", limit=100),
            "source=api&limit=100&after=<middle>": pb.ListWantsRequest(source="api", limit=100,
                                                                       after=ids[len(ids) // 2]),
        }
        lists = {}
        for name, request in queries.items():
            assert len(service.list_wants(request).wants) == 100, name  # warm, and a full page
            samples = []
            for _ in range(reps):
                t = time.perf_counter()
                service.list_wants(request)
                samples.append(time.perf_counter() - t)
            lists[name] = summary(samples)
            if count:
                with Trace() as trace:
                    service.list_wants(request)
                print(f"  list_wants {name}:")
                trace.report(1, sys.stdout)
        ticks = []
        traced = Trace()
        for k in range(arrivals + 1):  # arrival 0 warms up
            i = (k * 7919) % n
            with traced if count and k else contextlib.nullcontext():
                t = time.perf_counter()
                service.mark_available(pb.MarkAvailableRequest(refs=[f"up/{i}"]))
                assert service.evaluator.settle()
                elapsed = time.perf_counter() - t
            assert service.store.want(ids[i]).status == pb.WANT_STATUS_BUILDING
            deadline = time.monotonic() + 30
            while service.builds.running():
                assert time.monotonic() < deadline, "build did not finish"
                time.sleep(0.002)
            service.evaluator.settle()
            if k:
                ticks.append(elapsed)
        if count:
            print("  arrival -> want building (mark_available + settle, this thread):")
            traced.report(arrivals, sys.stdout)
        return {"wants": n, "create_s": created_s, "settle_s": settle_s, "lists": lists, "arrival": summary(ticks)}
    finally:
        service.close()
        store.close()


def analyze(uri: str) -> None:
    """Vacuum the tables just filled and give PostgreSQL's planner their statistics, as
    autovacuum does on a live database within a minute or so of a load. Without the
    statistics it takes the fresh tables for nearly empty, and a plan can walk all 100,000
    wants to sort them (the by-status list: 9 ms instead of 0.5); without the vacuum,
    autovacuum's own pass over them can run during the measurements, on the same cores.
    Either way a figure would depend on when autovacuum woke up."""
    import psycopg

    with psycopg.connect(uri.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def start_postgres(root: Path, durable: bool):
    """A throwaway cluster as the tests make one, with fsync on; its URI and cluster."""
    import pg_support

    cluster_root = tempfile.mkdtemp(prefix="pgbench-")
    os.chmod(cluster_root, 0o755)
    cluster = pg_support.start_cluster(cluster_root)
    cluster.stop()
    with open(os.path.join(cluster.data_dir, "postgresql.auto.conf"), "a") as conf:
        conf.write(f"fsync = on\nfull_page_writes = on\nsynchronous_commit = {'on' if durable else 'off'}\n")
    cluster.start()
    cluster.execute("CREATE DATABASE bench_appends")
    cluster.execute("CREATE DATABASE bench_wants")
    return cluster, cluster_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--wants", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--arrivals", type=int, default=50)
    parser.add_argument("--postgres", help="URI of an empty PostgreSQL database for the want measurements "
                                           "(appends then use a second run on it: it must be empty again)")
    parser.add_argument("--pg-durable", action="store_true", help="synchronous_commit=on in the throwaway cluster")
    parser.add_argument("--count", action="store_true",
                        help="count PostgreSQL statements and round trips of each list and arrival, and say "
                             "where each comes from (timings then include the tracer)")
    parser.add_argument("--quick", action="store_true", help="20,000 events, 5,000 wants, 10 reps, 5 arrivals")
    args = parser.parse_args()
    if args.quick:
        args.events, args.wants, args.reps, args.arrivals = 20_000, 5_000, 10, 5
    results: dict = {}
    cluster = cluster_root = None
    with tempfile.TemporaryDirectory(prefix="bel_backends_") as tmp:
        root = Path(tmp)
        if args.postgres:
            pg_appends = pg_wants = args.postgres
        else:
            cluster, cluster_root = start_postgres(root, args.pg_durable)
            pg_appends, pg_wants = cluster.uri("bench_appends"), cluster.uri("bench_wants")
        try:
            backends = {"sqlite": (f"sqlite://{root}/appends.sqlite3", f"sqlite://{root}/wants.sqlite3"),
                        "postgresql": (pg_appends, pg_wants)}
            for name, (appends_uri, wants_uri) in backends.items():
                print(f"{name}: {args.events:,} events in batches of 1,000 ...", flush=True)
                results.setdefault(name, {})["appends"] = batched_appends(appends_uri, args.events)
                if args.postgres and name == "postgresql":
                    print("  (--postgres: want measurements on a database with the appends' events too)")
                print(f"{name}: {args.wants:,} waiting wants, lists and arrivals ...", flush=True)
                results[name]["wants"] = wants_at_scale(wants_uri, root, args.wants, args.reps, args.arrivals,
                                                        args.count and name == "postgresql")
        finally:
            if cluster is not None:
                cluster.stop("fast")
                shutil.rmtree(cluster_root, ignore_errors=True)
    report(results, args)
    print(json.dumps({"benchmark": "bel_backends", "args": vars(args), "results": results}))


def report(results: dict, args: argparse.Namespace) -> None:
    s, p = results["sqlite"], results["postgresql"]
    rows = [("batched appends with read models (events/s)", s["appends"]["events_per_s"],
             p["appends"]["events_per_s"], f">= {TARGET_EVENTS_PER_S:,}")]
    rows.append((f"create {args.wants:,} wants (s)", s["wants"]["create_s"], p["wants"]["create_s"], ""))
    rows.append(("settle them: one evaluator pass (s)", s["wants"]["settle_s"], p["wants"]["settle_s"], ""))
    for name in s["wants"]["lists"]:
        for q in ("p50_ms", "p99_ms"):
            rows.append((f"list_wants {name} {q}", s["wants"]["lists"][name][q], p["wants"]["lists"][name][q], ""))
    for q in ("p50_ms", "p99_ms"):
        rows.append((f"arrival -> want building {q}", s["wants"]["arrival"][q], p["wants"]["arrival"][q],
                     "PostgreSQL <= 2x SQLite"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measurement'.ljust(width)}  {'SQLite':>12}  {'PostgreSQL':>12}  {'ratio':>6}  target")
    for label, a, b, target in rows:
        print(f"{label.ljust(width)}  {a:12,.2f}  {b:12,.2f}  {b / a if a else float('nan'):6.2f}  {target}")
    ok = p["appends"]["events_per_s"] >= TARGET_EVENTS_PER_S and s["appends"]["events_per_s"] >= TARGET_EVENTS_PER_S
    within = p["wants"]["arrival"]["p50_ms"] <= 2 * s["wants"]["arrival"]["p50_ms"]
    print(f"\nappend target {'ok' if ok else 'MISSED'}; arrival within 2x of SQLite (p50): {'ok' if within else 'MISSED'}")


if __name__ == "__main__":
    main()
