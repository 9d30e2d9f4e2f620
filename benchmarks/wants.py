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
   dependencies that never arrive, so no build runs): ``--single`` sequential
   POSTs of one want on a keep-alive session (target >= 2,000/s) and ``--batched``
   wants in ``{"wants": [...]}`` bodies of 1,000 (target >= 20,000/s). Bodies are
   encoded before timing. The time until the evaluator has moved every one of them
   to WAITING is reported as well, and (informational) the one-by-one rate from
   ``--clients`` concurrent keep-alive clients.
4. **Filtered, paginated want list at ``--wants`` wants** (the served log is topped
   up to that many wants, all settled): ``GET /api/v1/wants`` with
   ``status=waiting&limit=100``, ``pattern=<prefix>/*&limit=100`` and
   ``source=api&limit=100&after=<id in the middle>``, p50/p99; with, as a breakdown,
   the in-process ``list_wants`` call and its JSON encoding (this process opens the
   same log). Target <= 50 ms.

Usage: python benchmarks/wants.py [--trials 50] [--wants 100000] [--single 2000] [--batched 50000]
       python benchmarks/wants.py --quick          # small sizes, ~15 s
       python benchmarks/wants.py --skip scale     # parts: latency, scale, http
The full defaults take about 3.5 minutes on 2 cores.
Prints a table and one JSON line ``{"benchmark": "wants", ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from google.protobuf import json_format

from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
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
from databuild.service.http import create_app
from databuild.state import WANT, open_state_store
job, bel, logs, fd, outputs = sys.argv[1:]
graph = GraphSpec("//bench:wants", (JobSpec("//bench:job", job, tuple(outputs.split(","))),))
service = DataBuildService(graph, open_state_store(bel), logs)
service.start_evaluator()
server = uvicorn.Server(uvicorn.Config(create_app(service, "bench-token"), log_level="warning"))
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


def arrival_at_scale(root: Path, job: Path, n: int, arrivals: int) -> dict:
    store = open_state_store(f"sqlite://{root}/scale.sqlite3")
    graph = GraphSpec("//bench:wants", (JobSpec("//bench:job", str(job), OUTPUTS),))
    service = DataBuildService(graph, store, str(root / "scale-logs"))
    try:
        t = time.perf_counter()
        ids: list[str] = []
        for start in range(0, n, 10_000):
            ids += [w.spec.want_id for w in service.create_wants(pb.CreateWantsRequest(wants=[
                pb.CreateWantRequest(partitions=[f"w/{i}"], external_dependencies=[f"up/{i}"])
                for i in range(start, min(n, start + 10_000))])).wants]
        created_s = time.perf_counter() - t
        t = time.perf_counter()
        service.evaluator.tick()
        settle_s = time.perf_counter() - t
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


def concurrent_rate(client: Client, first: int, count: int, clients: int) -> dict:
    """``count`` one-want POSTs from ``clients`` threads, each with its own keep-alive session."""
    bodies = [json.dumps(want_body(f"single/{i}", f"never/single/{i}")).encode() for i in range(first, first + count)]
    url = f"{client.url}/api/v1/wants"

    def work(k: int) -> None:
        http = requests.Session()
        for body in bodies[k::clients]:
            r = http.post(url, data=body, headers=JSON_AUTH)
            assert r.status_code == 201, r.text

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    t = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - t
    return {"wants": count, "clients": clients, "seconds": seconds, "per_s": count / seconds}


def creation_rate(client: Client, single: int, batched: int, batch: int = 1000) -> dict:
    bodies = [json.dumps(want_body(f"single/{i}", f"never/single/{i}")).encode() for i in range(single)]
    url = f"{client.url}/api/v1/wants"
    t = time.perf_counter()
    last = None
    for body in bodies:
        r = client.http.post(url, data=body, headers=JSON_AUTH)
        assert r.status_code == 201, r.text
        last = r
    single_s = time.perf_counter() - t
    client.wait_status(last.json()["want_id"], "waiting", poll=0.05)
    single_settled_s = time.perf_counter() - t
    bodies = [json.dumps({"wants": [want_body(f"batch/{i}", f"never/batch/{i}")
                                    for i in range(start, min(batched, start + batch))]}).encode()
              for start in range(0, batched, batch)]
    t = time.perf_counter()
    for body in bodies:
        r = client.http.post(url, data=body, headers=JSON_AUTH)
        assert r.status_code == 201, r.text
        last = r
    batched_s = time.perf_counter() - t
    client.wait_status(last.json()["wants"][-1]["want_id"], "waiting", timeout=600, poll=0.05)
    batched_settled_s = time.perf_counter() - t
    return {"single": {"wants": single, "seconds": single_s, "per_s": single / single_s,
                       "settled_s": single_settled_s},
            "batched": {"wants": batched, "batch": batch, "seconds": batched_s, "per_s": batched / batched_s,
                        "settled_s": batched_settled_s}}


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
    parser.add_argument("--clients", type=int, default=4,
                        help="also create --single wants one by one from this many concurrent clients (1: skip)")
    parser.add_argument("--batched", type=int, default=50_000, help="wants created in batches of 1,000")
    parser.add_argument("--reps", type=int, default=100, help="repetitions of each want list query")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: latency,scale,http")
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
                    results["create"] = creation_rate(client, args.single, args.batched)
                    if args.clients > 1:
                        results["create"]["concurrent"] = concurrent_rate(client, args.single, args.single,
                                                                          args.clients)
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
        s, b = r["single"], r["batched"]
        print(f"   one by one: {s['wants']:,} wants in {s['seconds']:.2f} s = {s['per_s']:,.0f}/s   "
              f"target >= 2,000/s {ok(s['per_s'] >= 2000)}   (all WAITING after {s['settled_s']:.2f} s)")
        print(f"   batched ({b['batch']:,}/request): {b['wants']:,} wants in {b['seconds']:.2f} s = "
              f"{b['per_s']:,.0f}/s   target >= 20,000/s {ok(b['per_s'] >= 20000)}   "
              f"(all WAITING after {b['settled_s']:.2f} s)")
        if "concurrent" in r:
            c = r["concurrent"]
            print(f"   one by one, {c['clients']} concurrent keep-alive clients (threads): {c['wants']:,} wants in "
                  f"{c['seconds']:.2f} s = {c['per_s']:,.0f}/s   (informational)")
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
