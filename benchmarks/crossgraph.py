"""Cross-graph latency: an upstream graph's partition lands, a downstream graph builds.

The path users take: ``bazel build //benchmarks/crossgraph:all``, then real
``<graph>.build serve`` processes over loopback, each on its own SQLite log. The
``reports`` graph declares the upstream ``ingest`` (``ingest/*``; its URL given at run
time as ``DATABUILD_UPSTREAM_INGEST_URL``) and builds ``report/<i>`` from
``ingest/<i>`` with a Bazel-built job that stamps the time it started
(``benchmarks/crossgraph/``). Measured:

1. propagation: a downstream want waits for ``ingest/<i>``; t0 = just before the
   upstream's ``POST /api/v1/partitions:mark-available``; until the downstream job
   started (its stamp). Target p50 <= 100 ms, p99 <= 500 ms.
2. fan-out: ``--fanout`` downstream services (default 20) all subscribed to the one
   upstream; one arrival; until every downstream job started. Target p99 <= 1 s.
3. catch-up: the downstream stopped while the upstream records ``--backlog`` events
   (default 100,000, a tenth matching the downstream's patterns); the downstream starts
   again; events/s until its cursor reaches the upstream's head, and the upstream's
   ``/health`` p99 meanwhile. Targets >= 20,000 events/s and <= 50 ms.

Usage: python benchmarks/crossgraph.py [--trials 30] [--fanout 20] [--backlog 100000]
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import requests

from databuild.proto import databuild_pb2 as pb
from databuild.state import open_state_store
from served import AUTH, ROOT, ServedGraph, build_package, summary, wait_file



class Service(ServedGraph):
    """One graph's service: ``<graph>.build serve`` of ``//benchmarks/crossgraph``."""

    def __init__(self, root: Path, graph: str, name: str, env: dict | None = None) -> None:
        super().__init__(ROOT / "bazel-bin" / "benchmarks" / "crossgraph" / f"{graph}.build", root / name, env)


def wait_status(url: str, want_id: str, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while requests.get(f"{url}/api/v1/wants/{want_id}", timeout=30).json()["status"] != status:
        if time.monotonic() > deadline:
            raise TimeoutError(f"want {want_id} never became {status}")
        time.sleep(0.01)


def want(url: str, ref: str) -> str:
    r = requests.post(f"{url}/api/v1/wants", json={"partitions": [ref]}, headers=AUTH, timeout=30)
    r.raise_for_status()
    return r.json()["want_id"]


def land(url: str, ref: str) -> None:
    requests.post(f"{url}/api/v1/partitions:mark-available", json={"refs": [ref]}, headers=AUTH,
                  timeout=30).raise_for_status()


def propagation(up: str, downs: list[tuple[str, Path]], trials: int, first: int) -> dict:
    samples = []
    for i in range(first, first + trials + 1):  # the first trial warms up
        ids = [want(url, f"report/{i}") for url, _ in downs]
        for (url, _), wid in zip(downs, ids):
            wait_status(url, wid, "waiting")
        time.sleep(0.02)
        t0 = time.time()
        land(up, f"ingest/{i}")
        started = max(wait_file(stamps / str(i)) for _, stamps in downs)
        if i > first:
            samples.append(started - t0)
    return summary(samples)


def catch_up(root: Path, up: Service, down: Service, backlog: int) -> dict:
    down.stop()
    store = open_state_store(f"sqlite://{up.root / 'state' / 'bel.sqlite3'}")
    for start in range(0, backlog, 5000):
        store.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
            refs=[f"ingest/backlog-{n}" if n % 10 == 0 else f"noise/{n}"])) for n in range(start, start + 5000)])
    store.close()
    head = requests.get(f"{up.url}/api/v1/health", timeout=30).json()["latest_event_index"]
    health, stop = [], threading.Event()

    def probe() -> None:
        http = requests.Session()
        while not stop.is_set():
            t = time.perf_counter()
            http.get(f"{up.url}/api/v1/health", timeout=30).raise_for_status()
            health.append(time.perf_counter() - t)
            time.sleep(0.01)

    prober = threading.Thread(target=probe, daemon=True)
    t0 = time.perf_counter()
    down.start()
    prober.start()
    while True:
        status = requests.get(f"{down.url}/api/v1/upstreams", timeout=30).json()["upstreams"][0]
        if status["cursor"] >= head:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    stop.set()
    prober.join(30)
    return {"events": backlog, "seconds": elapsed, "events_per_s": backlog / elapsed, "upstream_health": summary(health)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--fanout", type=int, default=20)
    parser.add_argument("--backlog", type=int, default=100_000)
    args = parser.parse_args()
    results: dict = {}
    build_package("benchmarks/crossgraph")
    with tempfile.TemporaryDirectory(prefix="crossgraph_bench_") as tmp:
        root = Path(tmp)
        up = Service(root, "upstream", "ingest")
        services = [up]
        try:
            up_url = up.start()
            downs = []

            def add_downstream(k: int) -> None:
                stamps = root / f"stamps-{k}"
                stamps.mkdir()
                down = Service(root, "reports", f"reports-{k}",
                               {"STAMPS": str(stamps), "DATABUILD_UPSTREAM_INGEST_URL": up_url})
                services.append(down)
                downs.append((down.start(), stamps))

            add_downstream(0)  # propagation with one subscriber, then the others join for the fan-out
            results["propagation"] = propagation(up_url, downs, args.trials, 0)
            for k in range(1, max(1, args.fanout)):
                add_downstream(k)
            results["fanout"] = propagation(up_url, downs, max(5, args.trials // 3), 10_000)
            results["fanout"]["services"] = len(downs)
            for extra in services[2:]:
                extra.stop()
            results["catch_up"] = catch_up(root, up, services[1], args.backlog)
        finally:
            for service in services:
                service.stop()
    p, f, c = results["propagation"], results["fanout"], results["catch_up"]
    verdict = lambda ok: "ok" if ok else "MISSED"
    print(f"{'measure':<62} {'n':>4} {'p50 ms':>8} {'p99 ms':>8}  target")
    print(f"{'upstream lands -> downstream job started':<62} {p['n']:>4} {p['p50_ms']:>8.1f} {p['p99_ms']:>8.1f}  "
          f"p50<=100 p99<=500 {verdict(p['p50_ms'] <= 100 and p['p99_ms'] <= 500)}")
    fanned = f"one arrival -> all {f['services']} downstream jobs started"
    print(f"{fanned:<62} {f['n']:>4} {f['p50_ms']:>8.1f} {f['p99_ms']:>8.1f}  p99<=1000 {verdict(f['p99_ms'] <= 1000)}")
    print(f"catch-up: {c['events']:,} upstream events in {c['seconds']:.2f} s = {c['events_per_s']:,.0f} events/s "
          f"(target >= 20,000: {verdict(c['events_per_s'] >= 20_000)}); upstream /health meanwhile p50 "
          f"{c['upstream_health']['p50_ms']:.1f} ms p99 {c['upstream_health']['p99_ms']:.1f} ms "
          f"(target <= 50: {verdict(c['upstream_health']['p99_ms'] <= 50)})")
    print(json.dumps({"benchmark": "crossgraph", "results": results}))


if __name__ == "__main__":
    main()
