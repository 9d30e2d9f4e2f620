"""GET /metrics at scale: a scrape with 100,000 wants in a log of about 1,000,000 events.

The log (SQLite, in a temporary directory) is filled in process: ``--wants`` wants (default
100,000) created through the service in batches, each waiting for an external partition
that never lands, with SLAs spread over the next ten hours (1 in 100 of one second, which
the evaluator's pass then records violated), so the at-risk and violated gauges count
real matches; then ``--events`` events in all (default 1,000,000) with finished builds of
ten job runs each (requested, scheduled, running, succeeded, completed), the events that
fill a long-lived log and the outcome counters start from.

Then the service is served over HTTP (uvicorn on a loopback socket, in this process) and
``GET /metrics`` is timed ``--scrapes`` times (p50, p99), against the target of 50 ms
(docs/development.md); beside it, the in-process scrape and each of the gauges' queries
alone, and how long the counters took to start from the read models.

Usage: python benchmarks/metrics.py [--wants 100000] [--events 1000000] [--scrapes 50]
       python benchmarks/metrics.py --quick     # 10,000 wants, 100,000 events
Prints a table and one JSON line ``{"benchmark": "metrics", ...}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import uvicorn

from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.service.http import create_app, server_config
from databuild.service.metrics import ServiceMetrics
from databuild.service.serve import bind_socket
from databuild.state import ACTIVE_WANT_STATUSES, WANT, open_state_store

TARGET_MS = 50.0
JOBS = tuple(JobSpec(f"//bench:job{i}", "/bin/true", (f"out{i}/*",)) for i in range(10))
GRAPH = GraphSpec("//bench:metrics", JOBS)
RUNS_PER_BUILD = 10
EVENTS_PER_BUILD = 2 + 3 * RUNS_PER_BUILD


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def create_wants(service: DataBuildService, n: int) -> float:
    t = time.perf_counter()
    for start in range(0, n, 10_000):
        service.create_wants(pb.CreateWantsRequest(wants=[
            pb.CreateWantRequest(partitions=[f"w/{i}"], external_dependencies=[f"never/{i}"], ttl_seconds=7 * 86400,
                                 sla_seconds=1 if i % 100 == 0 else 600 + (i * 7919) % 36_000)
            for i in range(start, min(n, start + 10_000))]))
    return time.perf_counter() - t


def build_events(b: int) -> list[pb.Event]:
    """A finished build of RUNS_PER_BUILD job runs, as the executor records one."""
    build_id = str(uuid.uuid4())
    out = [pb.Event(build_requested=pb.BuildRequested(build_id=build_id, partitions=[f"out0/{b}"],
                                                      graph_label=GRAPH.label))]
    for r in range(RUNS_PER_BUILD):
        run, job = f"{build_id}-{r}", JOBS[r]
        ref = f"out{r}/{b}"
        for status in (pb.JOB_RUN_STATUS_SCHEDULED, pb.JOB_RUN_STATUS_RUNNING, pb.JOB_RUN_STATUS_SUCCEEDED):
            out.append(pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
                job_run_id=run, build_id=build_id, job_label=job.label, status=status, outputs=[ref])))
    out.append(pb.Event(build_status_changed=pb.BuildStatusChanged(build_id=build_id,
                                                                   status=pb.BUILD_STATUS_COMPLETED)))
    return out


def fill(service: DataBuildService, events: int) -> tuple[int, float]:
    t = time.perf_counter()
    b = 0
    while service.log.latest_index() + 50 * EVENTS_PER_BUILD <= events:
        batch = [e for k in range(50) for e in build_events(b + k)]
        service.log.append(batch)
        b += 50
    return b, time.perf_counter() - t


def timed(call, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wants", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.wants, args.events, args.scrapes = 10_000, 100_000, 20
    with tempfile.TemporaryDirectory(prefix="databuild-metrics-") as tmp:
        root = Path(tmp)
        (root / "logs").mkdir()
        store = open_state_store(f"sqlite://{root}/bel.sqlite3")
        service = DataBuildService(GRAPH, store, str(root / "logs"))
        create_s = create_wants(service, args.wants)
        time.sleep(1.1)  # the 1-second SLAs pass
        t = time.perf_counter()
        service.evaluator.tick()  # the wants' first look: each waits, the 1-in-100 are recorded violated
        settle_s = time.perf_counter() - t
        builds, fill_s = fill(service, args.events)
        head = service.log.latest_index()

        t = time.perf_counter()
        ServiceMetrics(service)  # a second set, to time the start from the read models alone
        start_ms = (time.perf_counter() - t) * 1000
        listener = bind_socket("127.0.0.1", 0)
        port = listener.getsockname()[1]
        server = uvicorn.Server(server_config(create_app(service)))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def get() -> bytes:
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, body
            return body

        text = get().decode()
        http_ms = timed(get, args.scrapes)
        metrics = ServiceMetrics(service)
        in_process_ms = timed(metrics.scrape, args.scrapes)
        now = service.clock_us()
        parts = {
            "wants by status": lambda: store.count_by_status(WANT, ACTIVE_WANT_STATUSES),
            "SLA violated": lambda: store.count_wants(ACTIVE_WANT_STATUSES, sla_violated=True),
            "SLA at risk": service.at_risk_count,
            "oldest waiting": lambda: store.wants([pb.WANT_STATUS_WAITING], limit=1),
            "head index": service.log.latest_index,
        }
        part_ms = {name: statistics.median(timed(call, max(5, args.scrapes // 2))) for name, call in parts.items()}
        gauges = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
                  if line.startswith(("databuild_wants", "databuild_builds_total", "databuild_job_runs_total"))}
        server.should_exit = True
        thread.join(10)
        service.close()
        store.close()
    results = {
        "benchmark": "metrics", "wants": args.wants, "events": head, "builds": builds,
        "create_s": round(create_s, 1), "settle_s": round(settle_s, 1), "fill_s": round(fill_s, 1),
        "counters_start_ms": round(start_ms, 1), "scrape_bytes": len(text),
        "http_p50_ms": round(pct(http_ms, 0.5), 2), "http_p99_ms": round(pct(http_ms, 0.99), 2),
        "in_process_p50_ms": round(pct(in_process_ms, 0.5), 2), "in_process_p99_ms": round(pct(in_process_ms, 0.99), 2),
        "parts_p50_ms": {k: round(v, 2) for k, v in part_ms.items()}, "gauges": gauges,
        "target_ms": TARGET_MS, "met": pct(http_ms, 0.99) <= TARGET_MS,
    }
    report(results)


def report(r: dict) -> None:
    print(f"log: {r['wants']:,} wants (created in {r['create_s']} s, first pass {r['settle_s']} s), "
          f"{r['builds']:,} finished builds, {r['events']:,} events (filled in {r['fill_s']} s)")
    print(f"counters started from the read models in {r['counters_start_ms']} ms; a scrape is {r['scrape_bytes']:,} bytes")
    print(f"{'GET /metrics over HTTP':<32} p50 {r['http_p50_ms']:>7.2f} ms  p99 {r['http_p99_ms']:>7.2f} ms  "
          f"target <= {r['target_ms']:.0f} ms: {'met' if r['met'] else 'NOT met'}")
    print(f"{'scrape in process':<32} p50 {r['in_process_p50_ms']:>7.2f} ms  p99 {r['in_process_p99_ms']:>7.2f} ms")
    for name, ms in r["parts_p50_ms"].items():
        print(f"  {name:<30} p50 {ms:>7.2f} ms")
    for name, v in r["gauges"].items():
        print(f"  {name:<60} {v:,.0f}")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
