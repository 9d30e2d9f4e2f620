"""Dashboard pages at scale: each page's render time over HTTP with 100,000 wants.

Fills a SQLite event log in process, as benchmarks/wants.py part 2 does: ``--wants``
wants ``fill/<i>`` each waiting on ``external_dependencies: [up/<i>]``, one in ten with
an SLA whose deadline has passed (data timestamp a day ago, SLA 1h), one in a hundred
with an SLA due within the hour (at risk), settled to WAITING (and the SLA violations
recorded) by one ``evaluator.tick()``. Then a uvicorn process serves the log as
``serve`` does (evaluator running) and this process GETs each page ``--reps`` times on
one keep-alive connection, asking for HTML, as a browser would: p50/p99 against the
target of 200 ms (docs/development.md). The client runs on the same two cores; the
figures include loopback HTTP, so they are an upper bound of the server-side time.

Usage: python benchmarks/dashboard.py [--wants 100000] [--reps 30]
       python benchmarks/dashboard.py --quick     # 5,000 wants
Prints a table and one JSON line ``{"benchmark": "dashboard", ...}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.service.serve import bind_socket
from databuild.state import open_state_store

TARGET_MS = 200.0
HTML = {"Accept": "text/html"}
SERVER = r'''
import socket, sys, uvicorn
from databuild.graph import GraphSpec, JobSpec
from databuild.service import DataBuildService
from databuild.service.http import create_app, server_config
from databuild.state import open_state_store
bel, logs, fd = sys.argv[1:]
graph = GraphSpec("//bench:dashboard", (JobSpec("//bench:job", "/bin/true", ("fill/*",)),))
service = DataBuildService(graph, open_state_store(bel), logs)
service.start_evaluator()
server = uvicorn.Server(server_config(create_app(service, "bench-token")))
server.run(sockets=[socket.socket(fileno=int(fd))])
'''


def fill(root: Path, n: int) -> list[str]:
    """``n`` waiting wants in ``root/bel.sqlite3``; their ids in creation order."""
    store = open_state_store(f"sqlite://{root}/bel.sqlite3")
    graph = GraphSpec("//bench:dashboard", (JobSpec("//bench:job", "/bin/true", ("fill/*",)),))
    service = DataBuildService(graph, store, str(root / "logs"))
    now = service.clock_us()
    ids: list[str] = []
    try:
        for start in range(0, n, 10_000):
            wants = []
            for i in range(start, min(n, start + 10_000)):
                w = pb.CreateWantRequest(partitions=[f"fill/{i}"], external_dependencies=[f"up/{i}"])
                if i % 10 == 0:  # violated: its deadline (a day ago + 1h) passed
                    w.sla_seconds = 3600
                    w.data_timestamp.FromMicroseconds(now - 86_400_000_000)
                elif i % 100 == 1:  # at risk: due within the hour
                    w.sla_seconds = 1800
                wants.append(w)
            ids += [w.spec.want_id for w in service.create_wants(pb.CreateWantsRequest(wants=wants)).wants]
        service.evaluator.tick()
        service.evaluator.tick()
    finally:
        store.close()
    return ids


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wants", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="5,000 wants, 10 repetitions")
    args = parser.parse_args()
    if args.quick:
        args.wants, args.reps = 5000, 10
    with tempfile.TemporaryDirectory(prefix="dashboard_bench_") as tmp:
        root = Path(tmp)
        (root / "logs").mkdir()
        t = time.perf_counter()
        ids = fill(root, args.wants)
        fill_s = time.perf_counter() - t
        print(f"filled {len(ids):,} wants in {fill_s:.1f} s", flush=True)
        middle = ids[len(ids) // 2]
        pages = {
            "overview /": "/",
            "wants (first page)": "/wants",
            "wants status=waiting pattern=fill/* after=<middle>": f"/wants?status=waiting&pattern=fill/*&after={middle}",
            "wants sla=violated": "/wants?sla=violated",
            "wants source=dashboard (none match)": "/wants?source=dashboard",
            "want detail": f"/wants/{middle}",
            "want detail by ref": f"/wants/fill/{len(ids) - 1}",
            "new want form": "/wants/new",
            "SLA": "/sla",
            "builds (first page)": "/builds",
        }
        with bind_socket("127.0.0.1", 0) as listener:
            server = subprocess.Popen([sys.executable, "-c", SERVER, f"sqlite://{root}/bel.sqlite3", str(root / "logs"),
                                       str(listener.fileno())], pass_fds=[listener.fileno()])
            url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        results = {}
        try:
            http = requests.Session()
            while True:
                try:
                    http.get(f"{url}/api/v1/health", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.05)
            for name, path in pages.items():
                r = http.get(url + path, headers=HTML)
                assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
                samples = []
                for _ in range(args.reps):
                    t = time.perf_counter()
                    r = http.get(url + path, headers=HTML)
                    samples.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200
                results[name] = {"p50_ms": statistics.median(samples), "p99_ms": pct(samples, 0.99),
                                 "bytes": len(r.content)}
        finally:
            server.terminate()
            server.wait(30)
    print(f"\n{'page (' + format(args.wants, ',') + ' wants)':<58} {'p50 ms':>8} {'p99 ms':>8}  target {TARGET_MS:.0f} ms")
    for name, figures in results.items():
        ok = "ok" if figures["p99_ms"] <= TARGET_MS else "MISSED"
        print(f"{name:<58} {figures['p50_ms']:8.1f} {figures['p99_ms']:8.1f}  {ok}")
    print(json.dumps({"benchmark": "dashboard", "args": vars(args), "fill_s": fill_s, "results": results}))


if __name__ == "__main__":
    main()
