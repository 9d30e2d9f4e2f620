"""Predicted completion of a want, and whether its SLA is at risk: pure code.

``predict(want, build, job_runs, history, job_of, now)`` estimates when an active want
will be satisfied (docs/wants.md#sla-prediction):

- **building**: ``now`` plus the longest chain (critical path) of its build's unfinished
  job runs, a run depending on the runs producing its inputs; each run takes the p50 of
  its job label's last successful runs, less the time a running run has already run (at
  least zero); runs that ended take nothing;
- **waiting / queued** (no plan of its own yet): it starts at the latest of ``now``, the
  end of a retry backoff and the typical arrival of each external partition it waits for
  (its date plus the p50 lag at which refs of its shape landed), then takes the p50
  duration of past builds whose requested partitions the same job produced.

What history lacks counts as zero and is named in ``Prediction.unknown``: a prediction is
then optimistic, so ``at_risk`` never fires on guesses. ``at_risk`` holds when the want has
an SLA not yet violated and the predicted completion is after its deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol

from databuild.proto import databuild_pb2 as pb
from databuild.state.wants import sla_deadline_us
from databuild.statuses import ACTIVE_WANT_STATUSES

_US = 1_000_000
_ENDED_RUNS = (pb.JOB_RUN_STATUS_SUCCEEDED, pb.JOB_RUN_STATUS_SKIPPED)


class History(Protocol):
    """What the predictor reads of past runs (``databuild.state.history.JobHistory``)."""

    def job_seconds(self, job_label: str, q: float = 0.5) -> float | None: ...
    def build_seconds(self, top_job_label: str, q: float = 0.5) -> float | None: ...
    def arrival_us(self, ref: str, q: float = 0.5) -> int | None: ...


@dataclass(frozen=True)
class Prediction:
    """When the want is predicted to complete (UTC microseconds) and whether that misses its SLA."""

    completion_us: int
    at_risk: bool
    unknown: tuple[str, ...] = field(default=())  # job labels or refs history said nothing about

    def basis(self) -> str:
        """A sentence for people: what the prediction could not estimate."""
        return f"no history for {', '.join(self.unknown)} (counted as no time)" if self.unknown else ""


def predict(want: pb.WantState, build: pb.BuildState | None, job_runs: Mapping[str, pb.JobRunState],
            history: History, job_of: Callable[[str], str | None], now_us: int) -> Prediction | None:
    """The prediction for an active ``want`` (None once it ended); ``build`` is the build it
    rides on (if building), ``job_runs`` that build's runs by id, ``job_of(ref)`` the job
    label producing a ref of this graph (None if unknown)."""
    if want.status not in ACTIVE_WANT_STATUSES:
        return None
    unknown: list[str] = []
    if want.status == pb.WANT_STATUS_BUILDING and build is not None:
        completion = now_us + _critical_path_us(build.job_graph, job_runs, history, now_us, unknown)
    else:
        start = now_us
        if want.status == pb.WANT_STATUS_QUEUED and want.HasField("not_before"):
            start = max(start, want.not_before.ToMicroseconds())
        for ref in want.waiting_for:
            arrival = history.arrival_us(ref)
            if arrival is None:
                unknown.append(ref)
            else:
                start = max(start, arrival)
        completion = start + _build_us(want.spec.partitions, history, job_of, unknown)
    deadline = sla_deadline_us(want.spec)
    at_risk = deadline is not None and not want.sla_violated and completion > deadline
    return Prediction(completion, at_risk, tuple(dict.fromkeys(unknown)))


def critical_path_us(graph: pb.JobGraph, runs: Mapping[str, pb.JobRunState], history: History,
                     now_us: int) -> int:
    """How long after ``now_us`` a want riding on a build of ``graph`` (its runs by id) is
    predicted to complete: what ``predict`` adds to ``now_us`` for a building want."""
    return _critical_path_us(graph, runs, history, now_us, [])


def _build_us(refs, history: History, job_of: Callable[[str], str | None], unknown: list[str]) -> int:
    """The longest p50 build duration among the jobs producing ``refs`` (builds run them together)."""
    longest = 0.0
    for label in dict.fromkeys(job_of(r) for r in refs):
        seconds = history.build_seconds(label) if label else None
        if seconds is None:
            unknown.append(label or "a partition no job produces")
        else:
            longest = max(longest, seconds)
    return int(longest * _US)


def _critical_path_us(graph: pb.JobGraph, runs: Mapping[str, pb.JobRunState], history: History, now_us: int,
                      unknown: list[str]) -> int:
    """Microseconds until the last of the plan's job runs ends, over its longest dependency chain."""
    producer = {ref: p.job_run_id for p in graph.job_runs for ref in p.config.outputs}
    planned = {p.job_run_id: p for p in graph.job_runs}
    finish: dict[str, int] = {}

    def remaining(run_id: str, seen: frozenset[str]) -> int:
        if run_id in finish:
            return finish[run_id]
        p = planned[run_id]
        state = runs.get(run_id)
        if state is not None and state.status in _ENDED_RUNS:
            finish[run_id] = 0
            return 0
        seconds = history.job_seconds(p.job_label)
        if seconds is None:
            unknown.append(p.job_label)
            seconds = 0.0
        own = int(seconds * _US)
        if state is not None and state.status == pb.JOB_RUN_STATUS_RUNNING and state.HasField("started_at"):
            own = max(0, own - (now_us - state.started_at.ToMicroseconds()))
        deps = {producer[d.ref] for d in p.config.inputs if d.ref in producer} - seen - {run_id}
        before = max((remaining(d, seen | {run_id}) for d in deps), default=0)
        finish[run_id] = before + own
        return finish[run_id]

    return max((remaining(r, frozenset()) for r in planned), default=0)
