"""SLA prediction: its error on a synthetic history with known noise, and its cost at scale.

1. **Accuracy.** ``--jobs`` job labels, each with a true median duration (60 s to 1 h)
   and log-normal noise (sigma ``--sigma``, default 0.25); external inputs land at a
   daily lag (2 to 8 h after their date) with the same noise. ``--history`` past days
   are recorded as events (landings, builds of a 3-job chain ``extract -> transform ->
   report``, each run's own duration drawn from its job's distribution) and fed to a
   ``JobHistory``. Then ``--trials`` fresh cases, half of each kind:

   - a *waiting* want, created at its date's midnight, for a report whose raw input has
     not landed: the truth is its landing plus the drawn build time; the prediction
     is ``predict(...)`` at midnight;
   - a *building* want, its build planned as the chain and its first run started a
     drawn part of its duration ago: the truth is the drawn remaining chain.

   Each case gets an SLA deadline drawn uniformly within +-50 % of its true duration
   (from ``now``), so about half the cases miss it. Printed: median and p90 absolute
   error in seconds and as a fraction of the true duration, and the at-risk
   classification's precision and recall (at risk = predicted to miss; positive = did
   miss). Targets: median absolute error <= 20 % of the true duration (the noise alone,
   sigma 0.25, gives about 17 % for one run), precision and recall >= 0.8.

2. **Cost.** ``--wants`` (default 100,000) waiting wants with SLAs from 10 min to 10 h
   on an SQLite log in a temporary directory, and a recorded history that a build takes
   an hour: the first page of ``list_wants(sla=at_risk, limit=100)`` (p50/p99 of
   ``--repeat`` calls; target <= 50 ms), the middle page (target <= 50 ms), the last page
   (informational: the walk stops at the prediction horizon) and ``at_risk_count()``
   (predicts the wants inside the horizon, here those due within the hour a build takes:
   informational, it is what the Prometheus gauge costs).

Usage: python benchmarks/sla_prediction.py [--trials 2000] [--wants 100000]
       python benchmarks/sla_prediction.py --quick      # small sizes, a few seconds
Prints a table and one JSON line ``{"benchmark": "sla_prediction", ...}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from databuild.events import open_event_log  # noqa: E402
from databuild.graph import GraphSpec, JobSpec  # noqa: E402
from databuild.proto import databuild_pb2 as pb  # noqa: E402
from databuild.service import DataBuildService  # noqa: E402
from databuild.state import StateProjection, StateStore  # noqa: E402
from databuild.state.history import JobHistory, percentile  # noqa: E402
from databuild.wants.sla import predict  # noqa: E402

S = 1_000_000
DAY = 86400 * S
T0 = 1_735_689_600 * S  # 2025-01-01T00:00Z
CHAIN = ("//b:extract", "//b:transform", "//b:report")


class Clock:
    def __init__(self, us: int) -> None:
        self.us = us

    def __call__(self) -> int:
        return self.us


def _run_events(build_id: str, run_id: str, label: str, status: int) -> pb.Event:
    return pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
        job_run_id=run_id, build_id=build_id, job_label=label, status=status))


def _graph(day: str) -> pb.JobGraph:
    outs = [f"x/{day}", f"t/{day}", f"report/{day}"]
    ins = [[f"raw/{day}"], [outs[0]], [outs[1]]]
    return pb.JobGraph(requested_partitions=[outs[2]], job_runs=[
        pb.PlannedJobRun(job_run_id=f"{day}-{i}", job_label=label, config=pb.JobConfig(
            outputs=[outs[i]], inputs=[pb.DataDep(ref=r) for r in ins[i]])) for i, label in enumerate(CHAIN)])


def accuracy(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    medians = {label: rng.uniform(60, 3600) for label in CHAIN}
    lag_median = rng.uniform(2 * 3600, 8 * 3600)
    draw = lambda median: median * math.exp(rng.gauss(0, args.sigma))
    clock = Clock(T0)
    log = open_event_log("memory://", [StateProjection()], clock)
    for d in range(args.history):  # past days: landing, then the chain's build
        day = time.strftime("%Y-%m-%d", time.gmtime((T0 + d * DAY) / S))
        clock.us = T0 + d * DAY + int(draw(lag_median) * S)
        log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(refs=[f"raw/{day}"]))])
        build = f"b{d}"
        log.append([pb.Event(build_requested=pb.BuildRequested(build_id=build, partitions=[f"report/{day}"])),
                    pb.Event(job_graph_recorded=pb.JobGraphRecorded(build_id=build, job_graph=_graph(day)))])
        for i, label in enumerate(CHAIN):
            log.append([_run_events(build, f"{day}-{i}", label, pb.JOB_RUN_STATUS_RUNNING)])
            clock.us += int(draw(medians[label]) * S)
            log.append([_run_events(build, f"{day}-{i}", label, pb.JOB_RUN_STATUS_SUCCEEDED)])
        log.append([pb.Event(build_status_changed=pb.BuildStatusChanged(build_id=build,
                                                                        status=pb.BUILD_STATUS_COMPLETED))])
    history = JobHistory()
    history.catch_up(log)
    log.close()
    job_of = lambda ref: CHAIN[2] if ref.startswith("report/") else None
    errors, relative, tp, fp, fn = [], [], 0, 0, 0
    for trial in range(args.trials):
        d = args.history + trial
        day = time.strftime("%Y-%m-%d", time.gmtime((T0 + d * DAY) / S))
        midnight = T0 + d * DAY
        want = pb.WantState()
        want.spec.want_id, want.spec.partitions[:] = f"w{trial}", [f"report/{day}"]
        want.spec.data_timestamp.FromMicroseconds(midnight)
        runs_s = [draw(medians[label]) for label in CHAIN]
        build, job_runs = None, {}
        if trial % 2 == 0:  # waiting for its input
            now = midnight
            want.status, want.waiting_for[:] = pb.WANT_STATUS_WAITING, [f"raw/{day}"]
            truth = now + int((draw(lag_median) + sum(runs_s)) * S)
        else:  # building, its first run part-way
            now = midnight + 12 * 3600 * S
            want.status, want.build_id = pb.WANT_STATUS_BUILDING, f"b{d}"
            build = pb.BuildState(build_id=want.build_id, status=pb.BUILD_STATUS_EXECUTING, job_graph=_graph(day))
            done = rng.random() * runs_s[0]
            first = pb.JobRunState(job_run_id=f"{day}-0", status=pb.JOB_RUN_STATUS_RUNNING)
            first.started_at.FromMicroseconds(now - int(done * S))
            job_runs = {first.job_run_id: first}
            truth = now + int((sum(runs_s) - done) * S)
        span = truth - now
        deadline = now + int(span * rng.uniform(0.5, 1.5))
        want.spec.sla_seconds = (deadline - midnight) // S
        found = predict(want, build, job_runs, history, job_of, now)
        errors.append(abs(found.completion_us - truth) / S)
        relative.append(errors[-1] / (span / S))
        missed = truth > midnight + want.spec.sla_seconds * S
        tp += found.at_risk and missed
        fp += found.at_risk and not missed
        fn += (not found.at_risk) and missed
    return {"trials": args.trials, "sigma": args.sigma, "median_abs_error_s": statistics.median(errors),
            "p90_abs_error_s": percentile(errors, 0.9), "median_rel_error": statistics.median(relative),
            "p90_rel_error": percentile(relative, 0.9), "precision": tp / max(1, tp + fp),
            "recall": tp / max(1, tp + fn)}


def cost(args: argparse.Namespace) -> dict:
    clock = Clock(T0)
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(open_event_log(f"sqlite://{tmp}/bel.sqlite3", [StateProjection()], clock))
        graph = GraphSpec("//b:g", (JobSpec("//b:job", "/bin/true", ("daily/*",)),))
        service = DataBuildService(graph, store, os.path.join(tmp, "logs"), clock_us=clock)
        # history: a build of daily/* takes an hour
        store.log.append([pb.Event(build_requested=pb.BuildRequested(build_id="h", partitions=["daily/h"])),
                          pb.Event(job_graph_recorded=pb.JobGraphRecorded(build_id="h", job_graph=pb.JobGraph(
                              requested_partitions=["daily/h"], job_runs=[pb.PlannedJobRun(
                                  job_run_id="hr", job_label="//b:job", config=pb.JobConfig(outputs=["daily/h"]))])))])
        store.log.append([_run_events("h", "hr", "//b:job", pb.JOB_RUN_STATUS_RUNNING)])
        clock.us += 3600 * S
        store.log.append([_run_events("h", "hr", "//b:job", pb.JOB_RUN_STATUS_SUCCEEDED),
                          pb.Event(build_status_changed=pb.BuildStatusChanged(build_id="h",
                                                                              status=pb.BUILD_STATUS_COMPLETED))])
        started = time.perf_counter()
        for start in range(0, args.wants, 10_000):
            service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(
                partitions=[f"daily/{i}"], external_dependencies=[f"up/{i}"], sla_seconds=600 + (i * 7919) % 36000)
                for i in range(start, min(args.wants, start + 10_000))]))
        setup_s = time.perf_counter() - started
        first, middle = [], []
        page = service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, limit=100))
        for _ in range(args.repeat):
            t = time.perf_counter()
            page = service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, limit=100))
            first.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        count = service.at_risk_count()
        count_ms = (time.perf_counter() - t) * 1000
        tokens = [page.next_page_token]  # walk the list: the middle page's token, then the last's
        while tokens[-1]:
            tokens.append(service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, limit=100,
                                                                 after=tokens[-1])).next_page_token)
        token, last = tokens[len(tokens) // 2 - 1] if len(tokens) > 1 else "", tokens[-2] if len(tokens) > 1 else ""
        tail = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, limit=100, after=token))
            middle.append((time.perf_counter() - t) * 1000)
        for _ in range(max(1, args.repeat // 5)):
            t = time.perf_counter()
            service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, limit=100, after=last))
            tail.append((time.perf_counter() - t) * 1000)
        store.close()
    return {"wants": args.wants, "setup_s": setup_s, "at_risk": count, "page_ms_p50": statistics.median(first),
            "page_ms_p99": percentile(first, 0.99), "middle_page_ms_p50": statistics.median(middle),
            "last_page_ms_p50": statistics.median(tail), "count_ms": count_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--sigma", type=float, default=0.25)
    parser.add_argument("--wants", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.wants, args.repeat = 400, 5000, 5
    acc, speed = accuracy(args), cost(args)
    rows = [
        ("median |error| (s)", f"{acc['median_abs_error_s']:.0f}", ""),
        ("p90 |error| (s)", f"{acc['p90_abs_error_s']:.0f}", ""),
        ("median |error| / true duration", f"{acc['median_rel_error']:.1%}", "<= 20%"),
        ("p90 |error| / true duration", f"{acc['p90_rel_error']:.1%}", ""),
        ("at-risk precision", f"{acc['precision']:.2f}", ">= 0.8"),
        ("at-risk recall", f"{acc['recall']:.2f}", ">= 0.8"),
        (f"at-risk list, first page of 100, {speed['wants']} wants (ms p50/p99)",
         f"{speed['page_ms_p50']:.1f} / {speed['page_ms_p99']:.1f}", "<= 50"),
        ("at-risk list, a middle page (ms p50)", f"{speed['middle_page_ms_p50']:.1f}", "<= 50"),
        ("at-risk list, the last page (ms)", f"{speed['last_page_ms_p50']:.0f}",
         "informational"),
        (f"at_risk_count() = {speed['at_risk']} (ms)", f"{speed['count_ms']:.0f}", "informational"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>16}  {target}")
    print(json.dumps({"benchmark": "sla_prediction", **acc, **speed}))


if __name__ == "__main__":
    main()
