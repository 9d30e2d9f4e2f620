"""A service's Prometheus metrics, served at ``GET /metrics`` (docs/metrics.md).

Each service has a registry of its own (never the process-global one), so tests and
several services in one process do not share series. Labels are bounded: statuses and
outcomes (enums), declared job labels and upstream names, route templates; never refs
or ids. Every label set is made up front, so a series reads 0 before anything happened.

Where the figures come from, so a scrape costs what the active state is, not the log:

- gauges are read at scrape time: active wants by status and SLA violated, one aggregate
  query each over an index (their cost follows the matching rows); SLA at risk, the
  wants inside the prediction horizon predicted (``DataBuildService.at_risk_count``;
  ``Refreshed`` once that is slow); the oldest
  waiting want is one seek of the status index (want ids are UUIDv7: key order is
  creation order); upstreams from their sync loops' status;
- counters of outcomes (wants ended, builds, job runs, SLA violations) start from the
  read models (one aggregate each, when the app is made) and count the events this
  process appends from then on;
- histograms and the append counters count what this process did since it started.

Events and their latency are seen by the log's append observer
(``EventLog.add_append_observer``): the storage backends know nothing of metrics, and every
writer of the service (HTTP operations, the evaluator, executors, sync loops, triggers)
appends through that one object.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from databuild.events import EVENT_TYPES, EventLog
from databuild.proto import databuild_pb2 as pb
from databuild.service.interface import OPERATIONS
from databuild.state import ACTIVE_WANT_STATUSES, BUILD, JOB_RUN, WANT
from databuild.statuses import TERMINAL_BUILD_STATUSES, TERMINAL_JOB_RUN_STATUSES

if TYPE_CHECKING:
    from databuild.service.core import DataBuildService

__all__ = ["CONTENT_TYPE_LATEST", "METRICS_PATH", "RequestMetrics", "ServiceMetrics"]

# No ``*_created`` series beside every counter and histogram: they double the scrape and say
# when this process made the series, which ``process_start_time``-style alerts do not need.
disable_created_metrics()

METRICS_PATH = "/metrics"
#: The route label of requests no route matched (unknown paths, refused hosts).
UNMATCHED = "unmatched"
#: Methods kept as they are in the method label; any other is "other".
METHODS = frozenset({"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"})
#: Job runs of a job the graph does not declare (an older graph's runs): one label for all.
OTHER_JOB = "other"

#: Bucket bounds (seconds) for what takes milliseconds (appends, the evaluator, requests)
#: and for what takes seconds to hours (builds, job runs and their queue wait).
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0,
                86400.0)


def _names(enum: Any, prefix: str, values: Iterable[int]) -> dict[int, str]:
    """Enum values -> their lower-case names without ``prefix`` (``WANT_STATUS_WAITING`` -> ``waiting``)."""
    return {v: enum.Name(v).removeprefix(prefix).lower() for v in values}


ACTIVE_WANTS = _names(pb.WantStatus, "WANT_STATUS_", ACTIVE_WANT_STATUSES)
ENDED_WANTS = _names(pb.WantStatus, "WANT_STATUS_", (pb.WANT_STATUS_SATISFIED, pb.WANT_STATUS_EXPIRED,
                                                     pb.WANT_STATUS_CANCELLED, pb.WANT_STATUS_FAILED))
BUILD_OUTCOMES = _names(pb.BuildStatus, "BUILD_STATUS_", TERMINAL_BUILD_STATUSES)
JOB_RUN_OUTCOMES = _names(pb.JobRunStatus, "JOB_RUN_STATUS_", TERMINAL_JOB_RUN_STATUSES)
#: The payloads that end a want, and the outcome each records.
_WANT_ENDS = {"want_satisfied": "satisfied", "want_expired": "expired", "want_cancelled": "cancelled"}


class ServiceMetrics:
    """The metrics of one ``DataBuildService``; ``scrape()`` is the text ``GET /metrics`` answers."""

    def __init__(self, service: DataBuildService) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.jobs = tuple(j.label for j in service.graph.jobs)
        self._jobs = frozenset(self.jobs)
        self.wants_ended = Counter("databuild_wants_ended", "Wants that ended, by outcome.", ["outcome"], registry=r)
        self.sla_violations = Counter("databuild_want_sla_violations", "Wants whose SLA deadline passed unsatisfied.",
                                      registry=r)
        self.builds = Counter("databuild_builds", "Builds that ended, by outcome.", ["outcome"], registry=r)
        self.job_runs = Counter("databuild_job_runs", "Job runs that ended, by outcome.", ["outcome"], registry=r)
        self.appends = Counter("databuild_event_log_appends", "Appends to the event log by this service.", registry=r)
        self.appended = Counter("databuild_events_appended", "Events this service appended, by type.", ["type"],
                                registry=r)
        self.append_seconds = Histogram("databuild_event_log_append_seconds",
                                        "How long an append to the event log took, as its writer waited.",
                                        buckets=FAST_BUCKETS, registry=r)
        self.build_seconds = Histogram("databuild_build_duration_seconds",
                                       "Builds from their request to their end, by outcome.", ["outcome"],
                                       buckets=SLOW_BUCKETS, registry=r)
        self.job_run_seconds = Histogram("databuild_job_run_duration_seconds",
                                         "Job runs from running to their end, by job.", ["job"],
                                         buckets=SLOW_BUCKETS, registry=r)
        self.queue_seconds = Histogram("databuild_job_run_queue_wait_seconds",
                                       "Job runs from scheduled to running (waiting for a slot), by job.", ["job"],
                                       buckets=SLOW_BUCKETS, registry=r)
        self.reaction_seconds = Histogram("databuild_evaluator_reaction_seconds",
                                          "From an event that can move a want being committed to the evaluator's "
                                          "decisions being recorded.", buckets=FAST_BUCKETS, registry=r)
        self.requests = Counter("databuild_http_requests", "HTTP requests answered, by route template, method and "
                                "status code.", ["route", "method", "code"], registry=r)
        self.request_seconds = Histogram("databuild_http_request_duration_seconds",
                                         "HTTP requests from arrival to the last byte of the answer, by route template.",
                                         ["route"], buckets=FAST_BUCKETS, registry=r)
        self._precreate()
        # Started builds and job runs (id -> commit time, µs), until they end; guarded by _lock.
        self._lock = threading.Lock()
        self._build_started: dict[str, int] = {}
        self._run_scheduled: dict[str, int] = {}
        self._run_started: dict[str, int] = {}
        self._appended = {t: self.appended.labels(t) for t in EVENT_TYPES}
        self._ended = {o: self.wants_ended.labels(o) for o in ENDED_WANTS.values()}
        self._handlers: dict[str, Callable[[pb.Event, Any], None]] = {
            "want_status_changed": self._want_moved, "want_sla_violated": self._sla_violated,
            "build_requested": self._build_requested, "build_status_changed": self._build_moved,
            "job_run_status_changed": self._run_moved,
            **{name: self._want_ended for name in _WANT_ENDS},
        }
        service.log.add_append_observer(self._appended_events)
        self._initialise()
        service.evaluator.add_reaction_listener(self.reaction_seconds.observe)
        r.register(_StateCollector(service))

    def precreate_routes(self, label_sets: Iterable[tuple[str, str, int]]) -> None:
        """Make the request counters of more routes (route template, method, status), e.g.
        the dashboard's as ``http.create_app`` mounts them (``dashboard_label_sets``)."""
        for route, method, code in label_sets:
            self.requests.labels(route, method, str(code))

    def scrape(self) -> bytes:
        """The Prometheus text exposition of every metric (blocking: the gauges query the read models)."""
        return generate_latest(self.registry)

    # -- set-up --------------------------------------------------------------

    def _precreate(self) -> None:
        for outcome in ENDED_WANTS.values():
            self.wants_ended.labels(outcome)
        for outcome in BUILD_OUTCOMES.values():
            self.builds.labels(outcome)
            self.build_seconds.labels(outcome)
        for outcome in JOB_RUN_OUTCOMES.values():
            self.job_runs.labels(outcome)
        for job in (*self.jobs, OTHER_JOB):
            self.job_run_seconds.labels(job)
            self.queue_seconds.labels(job)
        for route, method, code in route_label_sets():  # durations per route appear with its first request
            self.requests.labels(route, method, str(code))

    def _initialise(self) -> None:
        """Outcome counters from the read models: what the log says ended so far."""
        store = self.service.store
        for status, count in store.count_by_status(WANT, list(ENDED_WANTS)).items():
            self.wants_ended.labels(ENDED_WANTS[status]).inc(count)
        for status, count in store.count_by_status(BUILD, list(BUILD_OUTCOMES)).items():
            self.builds.labels(BUILD_OUTCOMES[status]).inc(count)
        for status, count in store.count_by_status(JOB_RUN, list(JOB_RUN_OUTCOMES)).items():
            self.job_runs.labels(JOB_RUN_OUTCOMES[status]).inc(count)
        self.sla_violations.inc(store.count_wants(sla_violated=True))

    # -- events as they are appended ----------------------------------------

    def _appended_events(self, events: list[pb.Event], seconds: float) -> None:
        """Called in the appending thread after each committed append: count and time it,
        and follow what ended. Cheap per event: a type lookup, most types nothing more."""
        self.appends.inc()
        self.append_seconds.observe(seconds)
        names = [e.WhichOneof("payload") for e in events]
        for name, count in Tally(names).items():
            self._appended[name].inc(count)
        handlers = self._handlers
        for name, event in zip(names, events):
            handler = handlers.get(name)
            if handler is not None:
                handler(event, getattr(event, name))

    def _want_ended(self, event: pb.Event, payload: Any) -> None:
        self._ended[_WANT_ENDS[event.WhichOneof("payload")]].inc()

    def _want_moved(self, event: pb.Event, payload: pb.WantStatusChanged) -> None:
        if payload.status == pb.WANT_STATUS_FAILED:
            self._ended["failed"].inc()

    def _sla_violated(self, event: pb.Event, payload: pb.WantSlaViolated) -> None:
        self.sla_violations.inc()

    def _build_requested(self, event: pb.Event, payload: pb.BuildRequested) -> None:
        with self._lock:
            self._build_started[payload.build_id] = event.timestamp.ToMicroseconds()

    def _build_moved(self, event: pb.Event, payload: pb.BuildStatusChanged) -> None:
        outcome = BUILD_OUTCOMES.get(payload.status)
        if outcome is None:
            return
        self.builds.labels(outcome).inc()
        with self._lock:
            started = self._build_started.pop(payload.build_id, None)
        if started is not None:  # requested before this process started: its duration is not known here
            self.build_seconds.labels(outcome).observe(_seconds(started, event))

    def _run_moved(self, event: pb.Event, payload: pb.JobRunStatusChanged) -> None:
        run, status = payload.job_run_id, payload.status
        job = payload.job_label if payload.job_label in self._jobs else OTHER_JOB
        if status == pb.JOB_RUN_STATUS_SCHEDULED:
            with self._lock:
                self._run_scheduled[run] = event.timestamp.ToMicroseconds()
            return
        if status == pb.JOB_RUN_STATUS_RUNNING:
            with self._lock:
                scheduled = self._run_scheduled.pop(run, None)
                self._run_started[run] = event.timestamp.ToMicroseconds()
            if scheduled is not None:
                self.queue_seconds.labels(job).observe(_seconds(scheduled, event))
            return
        outcome = JOB_RUN_OUTCOMES.get(status)
        if outcome is None:
            return
        self.job_runs.labels(outcome).inc()
        with self._lock:
            self._run_scheduled.pop(run, None)
            started = self._run_started.pop(run, None)
        if started is not None:  # skipped, or cancelled before it ran: no run time
            self.job_run_seconds.labels(job).observe(_seconds(started, event))


def _seconds(since_us: int, event: pb.Event) -> float:
    return max(0, event.timestamp.ToMicroseconds() - since_us) / 1e6


def route_label_sets() -> list[tuple[str, str, int]]:
    """(route template, method, success status) of every route the service declares: the
    operations of ``service/interface.py``, the OpenAPI document and ``/metrics``."""
    return [*((op.path, op.method, op.status) for op in OPERATIONS), ("/api/v1/openapi.json", "GET", 200),
            ("/openapi.json", "GET", 200), (METRICS_PATH, "GET", 200)]


def dashboard_label_sets(routes: Iterable[Any]) -> list[tuple[str, str, int]]:
    """(route template, method, success status) of the dashboard's routes as mounted
    (``service/dashboard/routes.py``: its pages, actions, the new-want and sign-in/out forms,
    the static assets' mount): a page answers GET with 200, a form's POST answers 303 (See
    Other, to the page showing the result), the mount GET with 200. Taken from the route
    objects, so this module needs nothing of the dashboard (nor Jinja2) to know them."""
    out = []
    for route in routes:
        methods = getattr(route, "methods", None) or {"GET"}  # a Mount has none: files are read
        for method in sorted(set(methods) - {"HEAD"}):  # Starlette adds HEAD beside GET
            out.append((route.path, method, 200 if method == "GET" else 303))
    return out


#: Once the at-risk count costs more than this (seconds), a scrape answers the last count and
#: a background thread recounts, at most every ``AT_RISK_REFRESH_S``; cheaper, it is counted
#: on the scrape (a fifth of the 50 ms a scrape may take).
AT_RISK_INLINE_S = 0.01
AT_RISK_REFRESH_S = 30.0


class Refreshed:
    """A value that may be too costly to compute on every scrape: ``compute()`` runs on
    every read while it took under ``inline_below_s`` last time; once slower, reads answer
    the last value at once and a background thread computes it again when it is older than
    ``max_age_s``. (Counting at-risk wants predicts the wants inside the prediction horizon,
    docs/wants.md#sla-prediction: milliseconds usually, a tenth of a second when 100,000
    wants with hour-long builds are due within the hour, docs/metrics.md.)"""

    def __init__(self, compute: Callable[[], int], max_age_s: float = AT_RISK_REFRESH_S,
                 clock: Callable[[], float] = time.perf_counter, inline_below_s: float = AT_RISK_INLINE_S) -> None:
        self._compute, self.max_age_s, self._clock = compute, max_age_s, clock
        self.inline_below_s = inline_below_s
        self._lock = threading.Lock()
        self._value: int | None = None
        self._at = 0.0
        self._cost = 0.0  # seconds the last computation took
        self._refreshing = False

    def get(self) -> int:
        with self._lock:
            value, stale = self._value, self._clock() - self._at >= self.max_age_s
            inline = value is None or (self._cost < self.inline_below_s and not self._refreshing)
            start = not inline and stale and not self._refreshing
            self._refreshing |= start
        if inline:
            return self._refresh()
        if start:
            threading.Thread(target=self._refresh, name="metrics-refresh", daemon=True).start()
        return value  # type: ignore[return-value]

    def _refresh(self) -> int:
        try:
            began = self._clock()
            value = self._compute()
            with self._lock:
                self._value, self._at = value, self._clock()
                self._cost = self._at - began
            return value
        finally:
            with self._lock:
                self._refreshing = False


class _StateCollector(Collector):
    """The gauges read at scrape time from the read models and the sync loops."""

    def __init__(self, service: DataBuildService) -> None:
        self.service = service
        self.at_risk = Refreshed(service.at_risk_count)

    def describe(self) -> list[Metric]:
        # Names and types without querying anything (the registry asks on register).
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        return self._families(fill=True)

    def _families(self, fill: bool = False) -> Iterable[Metric]:
        service, store = self.service, self.service.store
        wants = GaugeMetricFamily("databuild_wants", "Active wants, by status.", labels=["status"])
        violated = GaugeMetricFamily("databuild_wants_sla_violated",
                                     "Active wants whose SLA deadline passed unsatisfied.")
        at_risk = GaugeMetricFamily("databuild_wants_sla_at_risk",
                                    "Active wants at risk of missing their SLA (as GET /api/v1/wants?sla=at_risk).")
        oldest = GaugeMetricFamily("databuild_oldest_waiting_want_age_seconds",
                                   "Age of the oldest waiting want (0 when none waits).")
        running = GaugeMetricFamily("databuild_builds_running", "Builds this service runs now.")
        head = GaugeMetricFamily("databuild_event_log_head_index", "The event log's latest index.")
        leader = GaugeMetricFamily("databuild_leader", "1 while this replica leads (runs the evaluator, builds, "
                                   "syncs and triggers of its log), else 0.")
        up = GaugeMetricFamily("databuild_upstream_up", "1 while the sync with the upstream succeeds, else 0.",
                               labels=["upstream"])
        lag_events = GaugeMetricFamily("databuild_upstream_lag_events", "Upstream events not read yet, as last seen.",
                                       labels=["upstream"])
        lag_seconds = GaugeMetricFamily("databuild_upstream_lag_seconds",
                                        "Seconds since the sync last reached the upstream's head (0 when at it).",
                                        labels=["upstream"])
        failures = GaugeMetricFamily("databuild_upstream_consecutive_failures",
                                     "Failed requests to the upstream since its last success.", labels=["upstream"])
        errors = CounterMetricFamily("databuild_upstream_errors", "Failed requests to the upstream.",
                                     labels=["upstream"])
        resets = CounterMetricFamily("databuild_upstream_resets",
                                     "Times the upstream's log was found replaced or restored and read again.",
                                     labels=["upstream"])
        if fill:
            now_us = service.clock_us()
            counts = store.count_by_status(WANT, ACTIVE_WANT_STATUSES)
            for status, name in ACTIVE_WANTS.items():
                wants.add_metric([name], counts.get(status, 0))
            violated.add_metric([], store.count_wants(ACTIVE_WANT_STATUSES, sla_violated=True))
            at_risk.add_metric([], self.at_risk.get())
            first = store.wants([pb.WANT_STATUS_WAITING], limit=1)
            oldest.add_metric([], max(0, now_us - first[0].spec.created_at.ToMicroseconds()) / 1e6 if first else 0)
            running.add_metric([], service.running_builds)
            head.add_metric([], service.log.latest_index())
            leader.add_metric([], 1 if service.leads else 0)
            # The leader's syncs run; a follower's do not, and it reports none rather than "down".
            for status in service.upstreams().upstreams if service.leads else ():
                up.add_metric([status.name], 1 if status.state == pb.UPSTREAM_SYNC_STATE_OK else 0)
                lag_events.add_metric([status.name], status.lag_events)
                lag_seconds.add_metric([status.name], status.lag_seconds)
                failures.add_metric([status.name], status.consecutive_failures)
            for sync in service.syncs if service.leads else ():
                error_count, reset_count = sync.counts()
                errors.add_metric([sync.upstream.name], error_count)
                resets.add_metric([sync.upstream.name], reset_count)
        return (wants, violated, at_risk, oldest, running, head, leader, up, lag_events, lag_seconds, failures, errors,
                resets)


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request by route template (what the
    router matched, ``unmatched`` for none), method and status code."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        code: list[int] = []

        async def sent(message: Message) -> None:
            if message["type"] == "http.response.start":
                code.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            # The router records the matched route in the scope (a 405 too: its path matched).
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "other"
            if code:  # no answer started (the client left first): nothing was answered to count
                self.metrics.requests.labels(route, method, str(code[0])).inc()
                self.metrics.request_seconds.labels(route).observe(time.perf_counter() - start)
