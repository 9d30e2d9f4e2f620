"""Job-run durations, build durations and external-input arrival lags, from the event log.

An in-memory index the SLA predictor (``databuild.wants.sla``) reads. It is fed the log's
events in index order (``feed``), incrementally: ``catch_up`` reads only the events of
the three or four types it needs appended since it last looked, so a request costs one
indexed query plus the events it has not seen, never a scan of the whole log (the first
call after start reads those types once).

What it keeps, per key, is the last ``WINDOW`` samples (seconds), so statistics follow
recent behaviour and memory is bounded by the number of job labels and ref shapes:

- per job label: durations of successful runs, start (RUNNING, else SCHEDULED) to
  SUCCEEDED; counts of succeeded and failed runs; the run that ended last;
- per job label producing a build's requested partitions ("top job"): build durations,
  requested to COMPLETED, the fallback for wants that have no plan yet;
- per ref shape (the ref with its ISO date replaced by ``{date}``): how long after that
  date the external partition became available (``arrival lag``).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Sequence

from databuild.events import EventFilter, EventLog
from databuild.proto import databuild_pb2 as pb

#: Samples kept per job label, top job or ref shape.
WINDOW = 50
#: Event types the index reads.
HISTORY_TYPES = ("job_run_status_changed", "job_graph_recorded", "build_requested", "build_status_changed",
                 "external_partitions_available")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_US = 1_000_000
_ENDED = (pb.JOB_RUN_STATUS_SUCCEEDED, pb.JOB_RUN_STATUS_FAILED, pb.JOB_RUN_STATUS_CANCELLED,
          pb.JOB_RUN_STATUS_SKIPPED)
_PAGE = 5000


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples`` by the nearest-rank method (no interpolation:
    a robust, order-based statistic that is one of the observed values)."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))  # ceil(q * n), in integers
    return ordered[min(rank, len(ordered)) - 1]


def ref_shape(ref: str) -> tuple[str, int] | None:
    """``(shape, midnight UTC of its date in microseconds)`` for a ref holding an ISO date
    (``raw/votes/2025-01-01`` -> ``raw/votes/{date}``), else None."""
    m = _DATE.search(ref)
    if m is None:
        return None
    try:
        day = dt.datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    return ref[:m.start()] + "{date}" + ref[m.end():], int(day.timestamp()) * _US


@dataclass(frozen=True)
class DurationStats:
    """One job label's history: robust statistics of its last ``WINDOW`` successful runs."""

    job_label: str
    p50_seconds: float
    p95_seconds: float
    succeeded: int
    failed: int
    #: Durations the quantiles are over (at most ``WINDOW``).
    samples: int = 0
    #: The run that ended last (any end: succeeded, failed, cancelled, skipped): id, status, time (us).
    last_run: LastRun | None = None

    @property
    def success_rate(self) -> float:
        """Succeeded / (succeeded + failed), over every run seen."""
        done = self.succeeded + self.failed
        return self.succeeded / done if done else 0.0


@dataclass(frozen=True)
class LastRun:
    """The job run of a label that ended last."""

    job_run_id: str
    status: int  # pb.JobRunStatus
    ended_us: int


class JobHistory:
    """The index (see the module docstring); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cursor = 0
        self._durations: dict[str, deque[float]] = {}
        self._counts: dict[str, list[int]] = {}  # label -> [succeeded, failed]
        self._last: dict[str, LastRun] = {}  # label -> its run that ended last
        self._started: dict[str, int] = {}  # in-flight job run -> start time (us)
        self._builds: dict[str, deque[float]] = {}  # top job label -> build durations
        self._build_start: dict[str, int] = {}  # in-flight build -> requested time (us)
        self._build_tops: dict[str, tuple[str, ...]] = {}  # in-flight build -> its top job labels
        self._build_refs: dict[str, tuple[str, ...]] = {}  # in-flight build -> requested partitions
        self._lags: dict[str, deque[float]] = {}  # ref shape -> arrival lags
        self._quantiles: dict[tuple[int, str, float], float] = {}  # (table, key, q) -> value, until fed again

    def catch_up(self, log: EventLog) -> None:
        """Feed the events of ``HISTORY_TYPES`` appended since the last call."""
        with self._lock:
            while True:
                page = log.list_events(self._cursor, EventFilter(types=HISTORY_TYPES), _PAGE)
                self._feed(page.events)
                self._cursor = max(self._cursor, page.next)
                if not page.has_more:
                    return

    def feed(self, events: Iterable[pb.Event]) -> None:
        """Fold ``events`` (in index order) into the index."""
        with self._lock:
            self._feed(events)

    def _feed(self, events: Iterable[pb.Event]) -> None:
        events = list(events)
        if events:
            self._quantiles.clear()  # a request predicts thousands of wants from a few keys: sort each once
        for event in events:
            kind = event.WhichOneof("payload")
            at = event.timestamp.ToMicroseconds()
            if kind == "job_run_status_changed":
                self._job_run(event.job_run_status_changed, at)
            elif kind == "build_requested":
                b = event.build_requested
                self._build_start[b.build_id] = at
                self._build_refs[b.build_id] = tuple(b.partitions)
            elif kind == "job_graph_recorded":
                g = event.job_graph_recorded
                wanted = set(self._build_refs.get(g.build_id, g.job_graph.requested_partitions))
                self._build_tops[g.build_id] = tuple(sorted({
                    r.job_label for r in g.job_graph.job_runs if wanted & set(r.config.outputs)}))
            elif kind == "build_status_changed":
                self._build_status(event.build_status_changed, at)
            elif kind == "external_partitions_available":
                for ref in event.external_partitions_available.refs:
                    shaped = ref_shape(ref)
                    if shaped is not None and at >= shaped[1]:
                        self._lags.setdefault(shaped[0], deque(maxlen=WINDOW)).append((at - shaped[1]) / _US)

    def _job_run(self, p: pb.JobRunStatusChanged, at: int) -> None:
        if p.status == pb.JOB_RUN_STATUS_SCHEDULED:
            self._started.setdefault(p.job_run_id, at)
        elif p.status == pb.JOB_RUN_STATUS_RUNNING:
            self._started[p.job_run_id] = at  # the run's own time, without the queue wait
        elif p.status in _ENDED:
            self._last[p.job_label] = LastRun(p.job_run_id, p.status, at)
        if p.status == pb.JOB_RUN_STATUS_SUCCEEDED:
            start = self._started.pop(p.job_run_id, None)
            self._counts.setdefault(p.job_label, [0, 0])[0] += 1
            if start is not None:
                self._durations.setdefault(p.job_label, deque(maxlen=WINDOW)).append((at - start) / _US)
        elif p.status in (pb.JOB_RUN_STATUS_FAILED, pb.JOB_RUN_STATUS_CANCELLED, pb.JOB_RUN_STATUS_SKIPPED):
            self._started.pop(p.job_run_id, None)
            if p.status == pb.JOB_RUN_STATUS_FAILED:
                self._counts.setdefault(p.job_label, [0, 0])[1] += 1

    def _build_status(self, p: pb.BuildStatusChanged, at: int) -> None:
        if p.status not in (pb.BUILD_STATUS_COMPLETED, pb.BUILD_STATUS_FAILED, pb.BUILD_STATUS_CANCELLED):
            return
        start = self._build_start.pop(p.build_id, None)
        tops = self._build_tops.pop(p.build_id, ())
        self._build_refs.pop(p.build_id, None)
        if p.status == pb.BUILD_STATUS_COMPLETED and start is not None:
            for label in tops:
                self._builds.setdefault(label, deque(maxlen=WINDOW)).append((at - start) / _US)

    # -- reads ------------------------------------------------------------------

    def job_seconds(self, job_label: str, q: float = 0.5) -> float | None:
        """The ``q`` quantile of the label's successful run durations; None without history."""
        with self._lock:
            return self._quantile(0, self._durations, job_label, q)

    def build_seconds(self, top_job_label: str, q: float = 0.5) -> float | None:
        """The ``q`` quantile of durations of builds whose requested partitions that job produced."""
        with self._lock:
            return self._quantile(1, self._builds, top_job_label, q)

    def arrival_us(self, ref: str, q: float = 0.5) -> int | None:
        """When the external partition ``ref`` typically lands: its date plus the ``q``
        quantile of past lags of refs of its shape; None without a date or history."""
        shaped = ref_shape(ref)
        if shaped is None:
            return None
        with self._lock:
            lag = self._quantile(2, self._lags, shaped[0], q)
            return None if lag is None else shaped[1] + int(lag * _US)

    def _quantile(self, table: int, samples: dict[str, deque[float]], key: str, q: float) -> float | None:
        cached = self._quantiles.get((table, key, q))
        if cached is None and samples.get(key):
            cached = self._quantiles[(table, key, q)] = percentile(samples[key], q)
        return cached

    def stats(self) -> list[DurationStats]:
        """Per job label seen: p50/p95 of its last ``WINDOW`` successful durations and its counts."""
        with self._lock:
            out = []
            for label in sorted(set(self._counts) | set(self._durations) | set(self._last)):
                samples = self._durations.get(label) or ()
                succeeded, failed = self._counts.get(label, (0, 0))
                out.append(DurationStats(label, percentile(samples, 0.5) if samples else 0.0,
                                         percentile(samples, 0.95) if samples else 0.0, succeeded, failed,
                                         len(samples), self._last.get(label)))
            return out
