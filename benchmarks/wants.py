"""Wants through the service: arrival latency, evaluator cost at scale, creation rate, want lists.

Four measurements (targets from docs/development.md), on SQLite event logs and a tiny
shell job (``config`` answers one run per ref; ``exec`` first writes
``date +%s.%N`` to a stamp file, then exits 0):

1. **External arrival -> first job started**, p50/p99 over ``--trials`` trials. A
   service with its evaluator runs in a separate uvicorn process (as `serve` does);
   this process is a keep-alive HTTP client. Each trial creates a want, waits until
   it is waiting, records t0 and POSTs ``/api/v1/partitions:mark-available``; the
   latency is the job's stamp - t0. Two kinds of wait are measured:
   ``derived/<i>``, whose plan reads ``raw/<i>`` that no job produces (a plan leaf),
   and ``plain/<i>`` with ``external_dependencies: [ext/<i>]``. A breakdown from the
   event timestamps (arrival recorded, build requested, job run RUNNING recorded)
   is printed too. Target p50 <= 0.25 s, p99 <= 1 s.
2. **One arrival with ``--wants`` active waiting wants** (default 100,000), in
   process: a DataBuildService whose evaluator thread is not started; wants
   ``w/<i>`` each wait on ``external_dependencies: [up/<i>]``; one
   ``evaluator.tick()`` settles them to WAITING (timed, informational). Then, per
   arrival, ``mark_available([up/<i>])`` and one timed ``evaluator.settle()``: a pass
   finds the one affected want and hands it to a planning worker (one job ``config``
   call), and the pass after the plan returns records the want BUILDING with its build
   request (the build itself runs in the pool's thread and is waited for, untimed,
   before the next arrival; the settle that then records the want satisfied is timed
   too). Target <= 0.1 s per arrival.
3. **Want creation rate over HTTP** (evaluator running, wants wait on external
   dependencies that never arrive, so no build runs): ``--single`` POSTs of one want
   from one client, then ``--single`` more from ``--clients`` client processes (default
   8; target >= 2,000/s), then ``--batched`` wants in ``{"wants": [...]}`` bodies of
   1,000 from one client (target >= 20,000/s). Each client process holds one keep-alive
   connection (the standard library's client, the lightest there is) and its bodies are
   encoded before timing. Beside each rate: the server process's CPU ms per want while
   posting and until the evaluator has moved every want to WAITING (``/proc/PID/stat``:
   it explains the rate when the machine, not the server, is the limit), the clients'
   CPU ms per want, and the time until all are WAITING. Then where a want's server CPU
   goes, in process on a log of its own (the route's steps run by hand, one thread): the
   body read, specs and events, the append (SQLite), the projection, the answer's JSON
   and the evaluator's pass, per want, one by one and batched. What is left of the
   served figure is HTTP (uvicorn, Starlette, the worker-thread hop) and the threads
   contending for the GIL.
4. **Filtered, paginated want list at ``--wants`` wants** (the served log is topped
   up to that many wants, all settled): ``GET /api/v1/wants`` with
   ``status=waiting&limit=100``, ``pattern=<prefix>/*&limit=100`` and
   ``source=api&limit=100&after=<id in the middle>``, p50/p99; with, as a breakdown,
   the in-process ``list_wants`` call and its JSON encoding (this process opens the
   same log). Target <= 50 ms.

Usage: python benchmarks/wants.py [--trials 50] [--wants 100000] [--single 2000] [--batched 50000]
       python benchmarks/wants.py --quick          # small sizes, ~15 s
       python benchmarks/wants.py --skip scale     # parts: latency, scale, http, list
The full defaults take about 3.5 minutes on 2 cores.
Prints a table and one JSON line ``{"benchmark": "wants", ...}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import multiprocessing.synchronize
import os
import sqlite3
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from google.protobuf import json_format

from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service.http import json_response
from databuild.service.http_input import parse_body
from databuild.service.serve import bind_socket
from databuild.service import DataBuildService
from databuild.proto.jsonmap import message_dict, parse_dict
from databuild.state import WANT, open_state_store

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON_AUTH = {**AUTH, "Content-Type": "application/json"}
OUTPUTS = ("derived/*", "plain/*", "w/*", "single/*", "batch/*", "fill/*")

# config: derived/<i> reads raw/<i> (produced by no job: an external plan leaf); other
# refs have no inputs. args are "<kind> <i>", so exec names its stamp file without forks.
JOB = r"""#!/bin/sh
if [ "$1" = config ]; then
  shift; printf '{"configs": ['; sep=
  for r in "$@"; do
    kind=${r%%/*}; i=${r#*/}
    case "$r" in
      derived/*) printf '%s{"outputs": ["%s"], "inputs": [{"ref": "raw/%s", "dep_type": "materialize"}], "args": ["%s", "%s"]}' \
                 "$sep" "$r" "$i" "$kind" "$i";;
      *) printf '%s{"outputs": ["%s"], "args": ["%s", "%s"]}' "$sep" "$r" "$kind" "$i";;
    esac
    sep=,
  done
  printf ']}\n'; exit 0
fi
date +%s.%N > "$BENCH_STAMPS/$2.$3"
exit 0
"""

SERVER = r'''
import socket, sys, uvicorn
from databuild.graph import GraphSpec, JobSpec
from databuild.service import DataBuildService
from databuild.proto.jsonmap import message_dict, parse_dict
from databuild.service.http import create_app, server_config
from databuild.state import WANT, open_state_store
job, bel, logs, fd, outputs = sys.argv[1:]
graph = GraphSpec("//bench:wants", (JobSpec("//bench:job", job, tuple(outputs.split(","))),))
service = DataBuildService(graph, open_state_store(bel), logs)
service.start_evaluator()
server = uvicorn.Server(server_config(create_app(service, "bench-token")))  # as serve runs it
server.run(sockets=[socket.socket(fileno=int(fd))])  # the socket the parent bound
'''


# -- helpers -----------------------------------------------------------------------


def make_job(root: Path) -> Path:
    job = root / "job.sh"
    job.write_text(JOB)
    job.chmod(0o755)
    (root / "stamps").mkdir()
    os.environ["BENCH_STAMPS"] = str(root / "stamps")  # inherited by the server and the in-process pool
    return job


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


def summary(samples: list[float]) -> dict:
    return {"n": len(samples), "p50": statistics.median(samples), "p99": pct(samples, 0.99), "max": max(samples)}


def read_stamp(path: Path, timeout: float = 30.0) -> float:
    """The job's start time: polls the local file (no load on the server)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = path.read_text()
            if text.endswith("\n"):
                return float(text)
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no job stamp {path} after {timeout:.0f} s")
        time.sleep(0.001)


def want_body(ref: str, dep: str | None = None) -> dict:
    body = {"partitions": [ref]}
    if dep:
        body["external_dependencies"] = [dep]
    return body


class Client:
    """Keep-alive HTTP client of the served graph."""

    def __init__(self, url: str) -> None:
        self.url, self.http = url, requests.Session()

    def wait_up(self) -> None:
        while True:
            try:
                self.http.get(f"{self.url}/api/v1/health", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):  # queued on the bound socket until it serves
                time.sleep(0.05)

    def latest(self) -> int:
        return int(self.http.get(f"{self.url}/api/v1/health").json()["latest_event_index"])

    def create(self, body: dict) -> dict:
        r = self.http.post(f"{self.url}/api/v1/wants", json=body, headers=AUTH)
        assert r.status_code == 201, r.text
        return r.json()

    def status(self, want_id: str) -> str:
        r = self.http.get(f"{self.url}/api/v1/wants/{want_id}")
        r.raise_for_status()
        return r.json()["status"]

    def wait_status(self, want_id: str, status: str, timeout: float = 120, poll: float = 0.005) -> None:
        deadline = time.monotonic() + timeout
        while (current := self.status(want_id)) != status:
            if current in ("failed", "expired", "cancelled"):
                raise RuntimeError(f"want {want_id} ended {current}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"want {want_id} still {current} after {timeout:.0f} s")
            time.sleep(poll)

    def events(self, since: int, types: str) -> list[pb.Event]:
        r = self.http.get(f"{self.url}/api/v1/events", params={"since": since, "types": types, "limit": 1000})
        r.raise_for_status()
        return list(parse_dict(r.json(), pb.ListEventsResponse(), ignore_unknown=True).events)


# -- 1. arrival -> first job started -------------------------------------------------


def arrival_latency(client: Client, stamps: Path, trials: int, kind: str) -> dict:
    """kind ``derived``: the plan leaf raw/<i> arrives; ``plain``: the external dependency ext/<i> arrives."""
    samples, to_recorded, to_requested, to_running = [], [], [], []
    for i in range(trials + 1):  # trial 0 warms up (first config call, first build thread)
        ref, arrival = (f"derived/{i}", f"raw/{i}") if kind == "derived" else (f"plain/{i}", f"ext/{i}")
        want = client.create(want_body(ref, arrival if kind == "plain" else None))
        wid = want["want_id"]
        client.wait_status(wid, "waiting")
        time.sleep(0.02)  # let the server go idle
        since = client.latest()
        t0 = time.time()
        r = client.http.post(f"{client.url}/api/v1/partitions:mark-available", json={"refs": [arrival]}, headers=AUTH)
        assert r.status_code == 201, r.text
        started = read_stamp(stamps / f"{kind}.{i}")
        client.wait_status(wid, "satisfied", poll=0.01)
        if i == 0:
            continue
        samples.append(started - t0)
        events = client.events(since, "external_partitions_available,build_requested,job_run_status_changed")
        ts = lambda e: e.timestamp.ToMicroseconds() / 1e6  # noqa: E731
        for e in events:
            name = e.WhichOneof("payload")
            if name == "external_partitions_available":
                to_recorded.append(ts(e) - t0)
            elif name == "build_requested":
                to_requested.append(ts(e) - t0)
            elif name == "job_run_status_changed" and e.job_run_status_changed.status == pb.JOB_RUN_STATUS_RUNNING:
                to_running.append(ts(e) - t0)
    return {"job_started": summary(samples), "arrival_recorded": summary(to_recorded),
            "build_requested": summary(to_requested), "running_recorded": summary(to_running)}


# -- 2. one arrival among many waiting wants (in process) ----------------------------


def waiting_wants(service: DataBuildService, n: int) -> tuple[list[str], float, float]:
    """``n`` wants ``w/<i>``, each waiting on an external ``up/<i>`` of its own, created in
    batches of 10,000 and settled by one evaluator pass: their ids, and the seconds each took."""
    t = time.perf_counter()
    ids: list[str] = []
    for start in range(0, n, 10_000):
        ids += [w.spec.want_id for w in service.create_wants(pb.CreateWantsRequest(wants=[
            pb.CreateWantRequest(partitions=[f"w/{i}"], external_dependencies=[f"up/{i}"])
            for i in range(start, min(n, start + 10_000))])).wants]
    created_s = time.perf_counter() - t
    t = time.perf_counter()
    service.evaluator.tick()
    return ids, created_s, time.perf_counter() - t


def arrival_at_scale(root: Path, job: Path, n: int, arrivals: int) -> dict:
    store = open_state_store(f"sqlite://{root}/scale.sqlite3")
    graph = GraphSpec("//bench:wants", (JobSpec("//bench:job", str(job), OUTPUTS),))
    service = DataBuildService(graph, store, str(root / "scale-logs"))
    try:
        ids, created_s, settle_s = waiting_wants(service, n)
        with sqlite3.connect(root / "scale.sqlite3") as db:
            waiting = db.execute("SELECT COUNT(*) FROM read_model WHERE kind = ? AND status = ?",
                                 (WANT, pb.WANT_STATUS_WAITING)).fetchone()[0]
        assert waiting == n, f"{waiting} of {n} wants waiting after settling"
        mark, handle, complete = [], [], []
        for k in range(arrivals + 1):  # arrival 0 warms up
            i = (k * 7919) % n
            t = time.perf_counter()
            service.mark_available(pb.MarkAvailableRequest(refs=[f"up/{i}"]))
            t1 = time.perf_counter()
            assert service.evaluator.settle()
            t2 = time.perf_counter()
            want = service.store.want(ids[i])
            assert want.status == pb.WANT_STATUS_BUILDING, pb.WantStatus.Name(want.status)
            deadline = time.monotonic() + 30
            while service.builds.running():
                assert time.monotonic() < deadline, "build did not finish"
                time.sleep(0.002)
            t3 = time.perf_counter()
            assert service.evaluator.settle()
            t4 = time.perf_counter()
            want = service.store.want(want.spec.want_id)
            assert want.status == pb.WANT_STATUS_SATISFIED, pb.WantStatus.Name(want.status)
            if k:
                mark.append(t1 - t)
                handle.append(t2 - t1)
                complete.append(t4 - t3)
        return {"wants": n, "create_s": created_s, "settle_s": settle_s, "mark_available": summary(mark),
                "arrival_tick": summary(handle), "completion_tick": summary(complete)}
    finally:
        store.close()


# -- 3. creation rate and 4. list latency (over HTTP) ---------------------------------


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` has used so far, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _post_worker(port: int, bodies: list[bytes], ready: multiprocessing.synchronize.Barrier,
                 results: multiprocessing.Queue) -> None:
    """One client process: one keep-alive connection, ``bodies`` POSTed in order once all are ready.

    The standard library's client, so the clients take as little of the machine's CPU as they can."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ready.wait()
    cpu = time.process_time()
    start = time.clock_gettime(time.CLOCK_MONOTONIC)
    answer = b""
    for body in bodies:
        conn.request("POST", "/api/v1/wants", body, JSON_AUTH)
        response = conn.getresponse()
        answer = response.read()
        assert response.status == 201, answer
    end = time.clock_gettime(time.CLOCK_MONOTONIC)
    doc = json.loads(answer) if answer else {}
    last = doc["wants"][-1]["want_id"] if "wants" in doc else doc.get("want_id")
    results.put((start, end, time.process_time() - cpu, last))
    conn.close()


def post_rate(client: Client, server_pid: int, bodies: list[bytes], wants: int, clients: int) -> dict:
    """POST ``bodies`` (holding ``wants`` wants) from ``clients`` processes, each with its own
    keep-alive connection; the rate, the server's CPU per want while posting and until the
    evaluator has moved the last want of every client to WAITING."""
    ctx = multiprocessing.get_context("fork")
    ready, results = ctx.Barrier(clients + 1), ctx.Queue()
    port = int(client.url.rsplit(":", 1)[1])
    procs = [ctx.Process(target=_post_worker, args=(port, bodies[k::clients], ready, results))
             for k in range(clients)]
    for proc in procs:
        proc.start()
    cpu0 = server_cpu_s(server_pid)
    ready.wait()
    done = [results.get(timeout=600) for _ in procs]
    cpu1 = server_cpu_s(server_pid)
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0, f"client process exited {proc.exitcode}"
    seconds = max(d[1] for d in done) - min(d[0] for d in done)
    for *_, last in done:
        client.wait_status(last, "waiting", timeout=600, poll=0.05)
    settled_s = time.clock_gettime(time.CLOCK_MONOTONIC) - min(d[0] for d in done)
    cpu2 = server_cpu_s(server_pid)
    return {"wants": wants, "requests": len(bodies), "clients": clients, "seconds": seconds,
            "per_s": wants / seconds, "server_cpu_ms_per_want": (cpu1 - cpu0) * 1000 / wants,
            "server_cpu_ms_per_want_settled": (cpu2 - cpu0) * 1000 / wants,
            "client_cpu_ms_per_want": sum(d[2] for d in done) * 1000 / wants, "settled_s": settled_s}


def creation_rate(client: Client, server_pid: int, single: int, batched: int, clients: int,
                  batch: int = 1000) -> dict:
    """One by one from one client and from ``clients`` processes, then batched from one client."""
    def one_by_one(kind: str, first: int) -> list[bytes]:
        return [json.dumps(want_body(f"{kind}/{i}", f"never/{kind}/{i}")).encode()
                for i in range(first, first + single)]

    out = {"single": post_rate(client, server_pid, one_by_one("single", 0), single, 1)}
    if clients > 1:
        out["concurrent"] = post_rate(client, server_pid, one_by_one("single", single), single, clients)
    bodies = [json.dumps({"wants": [want_body(f"batch/{i}", f"never/batch/{i}")
                                    for i in range(start, min(batched, start + batch))]}).encode()
              for start in range(0, batched, batch)]
    out["batched"] = {**post_rate(client, server_pid, bodies, batched, 1), "batch": batch}
    return out


def creation_split(root: Path, job: Path, single: int, batched: int, batch: int = 1000) -> dict:
    """Where a created want's server CPU goes, in process (``time.process_time``, one thread): the
    route's steps run by hand on a log of their own, for bodies like part 3's, one by one and in
    batches. Stages: the body read (JSON, then the request message), the wants' specs and events
    (validation, ids, the answer's fold), the append without its projection (keys, protobuf
    bodies, SQLite inserts, commit, listeners), the projection (fold, read-model rows and terms),
    the answer's JSON, and the evaluator's pass over the new wants (reads, decisions)."""
    store = open_state_store(f"sqlite://{root}/split.sqlite3")
    service = DataBuildService(GraphSpec("//bench:wants", (JobSpec("//bench:job", str(job), OUTPUTS),)), store,
                               str(root / "split-logs"))
    spent = dict.fromkeys(("parse", "specs", "append", "projection", "answer", "evaluator"), 0.0)

    def timed(stage: str, call):
        def run(*args, **kwargs):
            t = time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                spent[stage] += time.process_time() - t
        return run

    log, projection = store.log, store.log.projections[0]
    log.append = timed("append", log.append)  # instance attributes: this service's log only
    projection.apply = timed("projection", projection.apply)
    out = {}
    try:
        for kind, bodies in (
                ("single", [json.dumps(want_body(f"split1/{i}", f"never/split1/{i}")).encode() for i in range(single)]),
                ("batched", [json.dumps({"wants": [want_body(f"split/{i}", f"never/split/{i}")
                                                   for i in range(start, min(batched, start + batch))]}).encode()
                             for start in range(0, batched, batch)])):
            spent.update(dict.fromkeys(spent, 0.0))
            wants = 0
            for body in bodies:
                t = time.process_time()
                doc = parse_body(body)
                one = "wants" not in doc
                request = parse_dict({"wants": [doc]} if one else doc, pb.CreateWantsRequest())
                t1 = time.process_time()
                created = service.create_wants(request)
                t2 = time.process_time()
                json_response(message_dict(created.wants[0] if one else created), 201)
                t3 = time.process_time()
                service.evaluator.tick()
                t4 = time.process_time()
                spent["parse"] += t1 - t
                spent["specs"] += t2 - t1
                spent["answer"] += t3 - t2
                spent["evaluator"] += t4 - t3
                wants += len(created.wants)
            # create_wants' own time holds the append, and the append holds the projection.
            spent["specs"] -= spent["append"]
            spent["append"] -= spent["projection"]
            out[kind] = {stage: seconds * 1000 / wants for stage, seconds in spent.items()}
    finally:
        store.close()
    return out


def top_up(client: Client, have: int, total: int, batch: int = 5000) -> tuple[int, float]:
    """Create ``fill/<i>`` wants until the log holds ``total``; wait until they are all WAITING."""
    t = time.perf_counter()
    last = None
    for start in range(have, total, batch):
        body = {"wants": [want_body(f"fill/{i}", f"never/fill/{i}") for i in range(start, min(total, start + batch))]}
        r = client.http.post(f"{client.url}/api/v1/wants", data=json.dumps(body).encode(), headers=JSON_AUTH)
        assert r.status_code == 201, r.text
        last = r
    if last is not None:
        client.wait_status(last.json()["wants"][-1]["want_id"], "waiting", timeout=600, poll=0.1)
    return max(total - have, 0), time.perf_counter() - t


def list_latency(client: Client, reps: int, uri: str, job: Path, root: Path) -> dict:
    """Each query over HTTP, and (breakdown) in this process on the same log: the
    service call, then its JSON encoding as the route does it."""
    url = f"{client.url}/api/v1/wants"
    everything, after = [], None
    while True:  # the ids in creation order (untimed), to pick a page in the middle
        page = client.http.get(url, params={"limit": 10_000, **({"after": after} if after else {})}).json()
        everything += [(w["want_id"], w["partitions"][0]) for w in page["wants"]]
        after = page["next_page_token"]
        if not after:
            break
    middle = everything[len(everything) // 2][0]
    batch = [wid for wid, ref in everything if ref.startswith("batch/")]
    batch_middle = batch[len(batch) // 2]
    queries = {
        "status=waiting&limit=100": {"status": "waiting", "limit": 100},
        "pattern=batch/*&limit=100 (half the wants match)": {"pattern": "batch/*", "limit": 100},
        "pattern=fill/*&limit=100 (matches are the newest)": {"pattern": "fill/*", "limit": 100},
        "pattern=single/*&limit=100 (2% match, oldest)": {"pattern": "single/*", "limit": 100},
        "source=api&limit=100&after=<middle id>": {"source": "api", "limit": 100, "after": middle},
        "status=waiting&pattern=batch/*&limit=100&after=<mid batch>": {
            "status": "waiting", "pattern": "batch/*", "limit": 100, "after": batch_middle},
    }
    out = {"total_wants": len(everything)}
    store = open_state_store(uri)
    local = DataBuildService(GraphSpec("//bench:wants", (JobSpec("//bench:job", str(job), OUTPUTS),)), store,
                             str(root / "logs"))
    for name, params in queries.items():
        def get() -> None:
            r = client.http.get(url, params=params)
            r.raise_for_status()
            assert len(r.json()["wants"]) == 100, f"{name}: {len(r.json()['wants'])} wants"
        get()
        samples = []
        for _ in range(reps):
            t = time.perf_counter()
            get()
            samples.append(time.perf_counter() - t)
        out[name] = summary(samples)
        request = parse_dict({"statuses": [params["status"]] if "status" in params else [],
                              **{k: v for k, v in params.items() if k != "status"}}, pb.ListWantsRequest())
        query_s, encode_s = [], []
        for _ in range(max(reps // 5, 5)):
            t = time.perf_counter()
            found = local.list_wants(request)
            t1 = time.perf_counter()
            json.dumps(message_dict(found))
            query_s.append(t1 - t)
            encode_s.append(time.perf_counter() - t1)
        out[name]["query_p50"], out[name]["encode_p50"] = statistics.median(query_s), statistics.median(encode_s)
    store.close()
    return out


# -- main -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50, help="arrival -> job start trials per kind")
    parser.add_argument("--wants", type=int, default=100_000, help="waiting wants for the scale measurements")
    parser.add_argument("--arrivals", type=int, default=20, help="arrivals timed among --wants waiting wants")
    parser.add_argument("--single", type=int, default=2000, help="wants created one per request")
    parser.add_argument("--clients", type=int, default=8,
                        help="also create --single wants one by one from this many client processes (1: skip)")
    parser.add_argument("--batched", type=int, default=50_000, help="wants created in batches of 1,000")
    parser.add_argument("--reps", type=int, default=100, help="repetitions of each want list query")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: latency,scale,http (creation and lists),list")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.wants, args.arrivals, args.single, args.batched, args.reps = 10, 5000, 5, 200, 2000, 20
    skip = set(filter(None, args.skip.split(",")))
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="wants_bench_") as tmp:
        root = Path(tmp)
        job = make_job(root)
        if "scale" not in skip:
            print(f"2. one arrival among {args.wants:,} waiting wants (in process) ...", flush=True)
            results["scale"] = arrival_at_scale(root, job, args.wants, args.arrivals)
        if not {"latency", "http"} <= skip:
            uri = f"sqlite://{root}/bel.sqlite3"
            with bind_socket("127.0.0.1", 0) as listener:
                server = subprocess.Popen([sys.executable, "-c", SERVER, str(job), uri, str(root / "logs"),
                                           str(listener.fileno()), ",".join(OUTPUTS)], pass_fds=[listener.fileno()])
                client = Client(f"http://127.0.0.1:{listener.getsockname()[1]}")
            try:
                client.wait_up()
                if "latency" not in skip:
                    print(f"1. arrival -> first job started, {args.trials} trials x 2 ...", flush=True)
                    results["latency"] = {kind: arrival_latency(client, root / "stamps", args.trials, kind)
                                          for kind in ("derived", "plain")}
                if "http" not in skip:
                    print(f"3. want creation: {args.single:,} one by one, {args.batched:,} batched ...", flush=True)
                    results["create"] = creation_rate(client, server.pid, args.single, args.batched, args.clients)
                    results["create_split"] = creation_split(root, job, min(args.single, 1000), min(args.batched, 20_000))
                    if "list" not in skip:
                        have = (args.single * (2 if args.clients > 1 else 1) + args.batched
                                + (2 * (args.trials + 1) if "latency" not in skip else 0))
                        print(f"4. want lists: topping up to {args.wants:,} wants ...", flush=True)
                        added, seconds = top_up(client, have, args.wants)
                        results["top_up"] = {"wants": added, "seconds": seconds}
                        results["list"] = list_latency(client, args.reps, uri, job, root)
            finally:
                server.terminate()
                server.wait(30)
    report(results)
    print(json.dumps({"benchmark": "wants", "args": vars(args), "results": results}))


def report(results: dict) -> None:
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    print()
    if "latency" in results:
        print("1. external arrival -> first job started (evaluator in a served process, keep-alive HTTP)")
        print(f"   {'':<58} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  target")
        for kind, label in (("derived", "plan leaf raw/<i> arrives (want derived/<i>)"),
                            ("plain", "external_dependencies ext/<i> arrives (want plain/<i>)")):
            r = results["latency"][kind]
            print(f"   {label}")
            for key, what, target in (("arrival_recorded", "t0 -> arrival event recorded", None),
                                      ("build_requested", "t0 -> build_requested recorded", None),
                                      ("running_recorded", "t0 -> job run RUNNING recorded", None),
                                      ("job_started", "t0 -> job process started (its stamp)", True)):
                s = r[key]
                tgt = (f"p50<=250 p99<=1000 {ok(s['p50'] <= 0.25 and s['p99'] <= 1.0)}" if target else "")
                print(f"     {what:<56} {s['n']:>4} {s['p50'] * 1000:>8.1f} {s['p99'] * 1000:>8.1f} "
                      f"{s['max'] * 1000:>8.1f}  {tgt}")
    if "scale" in results:
        r = results["scale"]
        print(f"\n2. one arrival among {r['wants']:,} active waiting wants (in process, evaluator tick)")
        print(f"   created {r['wants']:,} wants in {r['create_s']:.1f} s; settling them to WAITING (one tick) "
              f"took {r['settle_s']:.1f} s")
        print(f"   {'':<58} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  target")
        for key, what, target in (("mark_available", "mark_available(up/<i>) (append)", None),
                                  ("arrival_tick", "settle after the arrival (plan + build request)", 0.1),
                                  ("completion_tick", "settle after its build ended (want satisfied)", None)):
            s = r[key]
            tgt = f"<=100 {ok(s['max'] <= target)} (max)" if target else ""
            print(f"   {what:<58} {s['n']:>4} {s['p50'] * 1000:>8.1f} {s['p99'] * 1000:>8.1f} "
                  f"{s['max'] * 1000:>8.1f}  {tgt}")
    if "create" in results:
        r = results["create"]
        print("\n3. want creation over HTTP (evaluator running; wants wait on external deps that never arrive)")
        print(f"   {'':<44} {'wants':>7} {'s':>6} {'wants/s':>8} {'target':<17} {'server CPU ms/want':>18}"
              f" {'+settling':>9} {'client':>6} {'WAITING s':>9}")
        rows = [("single", "one by one, 1 client", None)]
        if "concurrent" in r:
            rows.append(("concurrent", f"one by one, {r['concurrent']['clients']} client processes", 2000))
        rows.append(("batched", f"batched ({r['batched']['batch']:,}/request), 1 client", 20000))
        for key, what, target in rows:
            x = r[key]
            tgt = f">= {target:,} {ok(x['per_s'] >= target)}" if target else "(informational)"
            print(f"   {what:<44} {x['wants']:>7,} {x['seconds']:>6.2f} {x['per_s']:>8,.0f} {tgt:<17}"
                  f" {x['server_cpu_ms_per_want']:>18.3f} {x['server_cpu_ms_per_want_settled']:>9.3f}"
                  f" {x['client_cpu_ms_per_want']:>6.3f} {x['settled_s']:>9.2f}")
        if "create_split" in results:
            split = results["create_split"]
            stages = (("parse", "body read"), ("specs", "specs+events"), ("append", "append"),
                      ("projection", "projection"), ("answer", "answer JSON"), ("evaluator", "evaluator"))
            print("   where it goes, in process (CPU ms per want; append = keys, bodies, SQLite inserts, commit):")
            print(f"   {'':<44} " + " ".join(f"{label:>12}" for _, label in stages) + f" {'total':>8}")
            for key, what in (("single", "one by one"), ("batched", "batched (1,000/request)")):
                x = split[key]
                print(f"   {what:<44} " + " ".join(f"{x[stage]:>12.4f}" for stage, _ in stages)
                      + f" {sum(x.values()):>8.4f}")
        if "top_up" in results:
            t = results["top_up"]
            print(f"   (top-up: {t['wants']:,} more wants in batches of 5,000, created and settled in "
                  f"{t['seconds']:.1f} s)")
    if "list" in results:
        r = results["list"]
        print(f"\n4. GET /api/v1/wants over {r['total_wants']:,} wants (keep-alive HTTP)")
        print(f"   {'query':<58} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  {'target':<13}"
              f"  {'query':>6} {'JSON':>6}  (in-process p50 ms)")
        for name, s in r.items():
            if name == "total_wants":
                continue
            print(f"   {name:<58} {s['n']:>4} {s['p50'] * 1000:>8.1f} {s['p99'] * 1000:>8.1f} "
                  f"{s['max'] * 1000:>8.1f}  p50<=50 {ok(s['p50'] <= 0.05):<6}"
                  f"  {s['query_p50'] * 1000:>6.1f} {s['encode_p50'] * 1000:>6.1f}")
    print()


if __name__ == "__main__":
    main()
