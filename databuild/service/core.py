"""DataBuildService: every read and write of a graph's state, as protobuf messages.

Route handlers and CLI commands are thin adapters over this class, so the CLI (in
process) and the HTTP API produce identical events and answers.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Sequence

import databuild
from databuild.errors import InvalidArgumentError, NotFoundError
from databuild.events import EVENT_TYPES, Clock, EventFilter, TermMatch, system_clock
from databuild.graph import GraphSpec
from databuild.planner import GraphResolver, Resolver, plan
from databuild.proto import databuild_pb2 as pb
from databuild.refs import compile_pattern, is_valid_ref, validate_ref, validate_refs
from databuild.service.builds import ExecutorPool
from databuild.service.want_runner import WantRunner
from databuild.state import ACTIVE_WANT_STATUSES, WANT, StateStore
from databuild.state.reducers import reduce
from databuild.state.wants import sla_deadline_us, time_term, ttl_deadline_us
from databuild.wants import MAX_WANTS_PER_REQUEST, Policy, new_want_spec
from databuild.wants.explain import explain

MAX_WAIT_SECONDS = 60.0
MAX_LIMIT = 10_000
#: A want is "at risk" when its SLA deadline is less than this far away.
AT_RISK_SECONDS = 3600
_UUID_CHARS = set("0123456789abcdef-")


def _limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit must be from 1 to {MAX_LIMIT}, got {value}")
    return value


def _enum_value(enum, prefix: str, what: str, name: str) -> int:
    full = name.upper() if name.upper().startswith(prefix) else prefix + name.upper()
    if full not in enum.keys()[1:]:
        known = ", ".join(k.removeprefix(prefix).lower() for k in enum.keys()[1:])
        raise InvalidArgumentError(f"unknown {what} status {name!r}; known: {known}")
    return enum.Value(full)


def partition_status_value(name: str) -> int:
    """``available`` or ``PARTITION_STATUS_AVAILABLE`` -> the enum value."""
    return _enum_value(pb.PartitionStatus, "PARTITION_STATUS_", "partition", name)


def want_status_value(name: str) -> int:
    """``waiting`` or ``WANT_STATUS_WAITING`` -> the enum value."""
    return _enum_value(pb.WantStatus, "WANT_STATUS_", "want", name)


class DataBuildService:
    """A graph's service over its state store; thread-safe."""

    def __init__(self, graph: GraphSpec, store: StateStore, log_dir: str, resolver: Resolver | None = None,
                 policy: Policy = Policy(), parallelism: int | None = None,
                 clock_us: Clock = system_clock) -> None:
        self.graph, self.store, self.log = graph, store, store.log
        self.log_dir = os.path.realpath(log_dir)
        self.resolver = resolver or GraphResolver(graph)
        self.policy, self.clock_us = policy, clock_us
        self._appended = threading.Condition()
        self.log.add_listener(self._on_append)
        self.builds = ExecutorPool(graph, store, self.log_dir, self.resolver, parallelism)
        self.evaluator = WantRunner(store, graph.label, self.resolver, self.builds, policy, clock_us)
        self._evaluating = False

    def start_evaluator(self) -> None:
        """Start serving wants (evaluating them, running their builds) in the background."""
        if not self._evaluating:
            self._evaluating = True
            self.evaluator.start()

    def close(self) -> None:
        """Stop the evaluator (running builds finish in their threads)."""
        if self._evaluating:
            self.evaluator.stop()

    def _on_append(self, latest: int) -> None:
        with self._appended:
            self._appended.notify_all()

    # -- graph -------------------------------------------------------------

    def health(self) -> pb.HealthResponse:
        return pb.HealthResponse(status="ok", version=databuild.__version__, graph_label=self.graph.label,
                                 latest_event_index=self.log.latest_index())

    def graph_info(self) -> pb.GraphResponse:
        g = self.graph
        return pb.GraphResponse(
            label=g.label, lookup=g.lookup.label if g.lookup else "",
            jobs=[pb.JobInfo(label=j.label, output_patterns=j.outputs) for j in g.jobs],
            upstreams=[pb.UpstreamInfo(name=u.name, url=u.url, patterns=u.patterns) for u in g.upstreams])

    def analyze(self, request: pb.AnalyzeRequest) -> pb.AnalyzeResponse:
        if not request.partitions:
            raise InvalidArgumentError("analyze needs at least one partition")
        refs = validate_refs(request.partitions)
        planned = plan(self.graph.label, refs, self.resolver, self.store.partition_statuses)
        return pb.AnalyzeResponse(job_graph=planned.job_graph())

    # -- partitions --------------------------------------------------------

    def list_partitions(self, pattern: str | None = None, statuses: Sequence[str] = (), after: str | None = None,
                        limit: int = 100) -> pb.ListPartitionsResponse:
        if pattern is not None:
            compile_pattern(pattern)
        found = self.store.partitions(pattern, [partition_status_value(s) for s in statuses], after, _limit(limit))
        return pb.ListPartitionsResponse(partitions=found, next_page_token=found[-1].ref if len(found) == limit else "")

    def partition(self, ref: str) -> pb.PartitionDetailResponse:
        validate_ref(ref)
        state = self.store.partition(ref) or pb.PartitionState(ref=ref, status=pb.PARTITION_STATUS_MISSING)
        history = self.log.list_events(0, EventFilter(refs=(ref,)), 1000).events
        return pb.PartitionDetailResponse(partition=state, history=history)

    def mark_available(self, refs: Sequence[str], comment: str = "") -> pb.ListPartitionsResponse:
        """Record that external partitions landed; refused for refs this graph builds."""
        refs = validate_refs(refs)
        patterns = GraphResolver(self.graph)
        produced = [r for r in refs if self.graph.lookup is None and patterns.by_pattern(r)]
        if produced:
            raise InvalidArgumentError(f"{', '.join(produced)} is produced by graph {self.graph.label}, not external")
        self.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
            refs=refs, comment=comment))])
        return pb.ListPartitionsResponse(partitions=self.store.partitions_by_ref(refs).values())

    def taint(self, refs: Sequence[str], reason: str) -> pb.ListPartitionsResponse:
        """Mark available partitions bad; refused for partitions that are not available."""
        refs = validate_refs(refs)
        if not reason:
            raise InvalidArgumentError("tainting needs a reason")
        statuses = self.store.partition_statuses(refs)
        not_available = [r for r in refs if statuses[r] != pb.PARTITION_STATUS_AVAILABLE]
        if not_available:
            raise InvalidArgumentError(f"only available partitions can be tainted: {', '.join(not_available)}")
        self.log.append([pb.Event(partitions_tainted=pb.PartitionsTainted(refs=refs, reason=reason))])
        return pb.ListPartitionsResponse(partitions=self.store.partitions_by_ref(refs).values())

    # -- builds and job runs ------------------------------------------------

    def list_builds(self, limit: int = 50) -> pb.ListBuildsResponse:
        found = sorted(self.store.builds(limit=MAX_LIMIT), key=lambda b: b.requested_at.ToMicroseconds(),
                       reverse=True)
        return pb.ListBuildsResponse(builds=found[: _limit(limit)])

    def cancel_build(self, build_id: str, reason: str = "cancelled by request") -> pb.BuildState:
        """Stop a build this service is running (its wants retry or end as their policy says)."""
        self.build(build_id)  # NotFoundError for unknown ids
        self.builds.cancel(build_id, reason)
        return self.store.build(build_id)

    @property
    def running_builds(self) -> int:
        return self.builds.running()

    def build(self, build_id: str) -> pb.BuildDetailResponse:
        b = self.store.build(build_id)
        if b is None:
            raise NotFoundError(f"no build with id {build_id!r}")
        runs = [self.store.job_run(r.job_run_id) for r in b.job_graph.job_runs]
        return pb.BuildDetailResponse(build=b, job_runs=[r for r in runs if r is not None])

    def job_run(self, job_run_id: str) -> pb.JobRunDetailResponse:
        run = self.store.job_run(job_run_id)
        if run is None:
            raise NotFoundError(f"no job run with id {job_run_id!r}")
        return pb.JobRunDetailResponse(job_run=run)

    def job_run_log(self, job_run_id: str) -> bytes:
        """The run's captured output; never reads outside the log directory."""
        run = self.job_run(job_run_id).job_run
        path = os.path.realpath(run.log_path) if run.log_path else ""
        if not path or os.path.commonpath([path, self.log_dir]) != self.log_dir or not os.path.isfile(path):
            raise NotFoundError(f"job run {job_run_id} has no log")
        with open(path, "rb") as f:
            return f.read()

    # -- wants -----------------------------------------------------------------

    def create_wants(self, request: pb.CreateWantsRequest,
                     default_source: int = pb.WANT_SOURCE_TYPE_API) -> pb.CreateWantsResponse:
        """Record wants (all or none); the evaluator takes them from there."""
        if not request.wants:
            raise InvalidArgumentError("no wants given")
        if len(request.wants) > MAX_WANTS_PER_REQUEST:
            raise InvalidArgumentError(f"at most {MAX_WANTS_PER_REQUEST} wants per request, got {len(request.wants)}")
        now = self.clock_us()
        specs = []
        for i, want in enumerate(request.wants):
            try:
                specs.append(new_want_spec(want, now, self.graph.default_ttl_seconds, self.graph.default_sla_seconds,
                                           default_source))
            except InvalidArgumentError as e:
                raise InvalidArgumentError(f"want #{i + 1}: {e}" if len(request.wants) > 1 else str(e)) from None
        events = [pb.Event(want_created=pb.WantCreated(want=spec)) for spec in specs]
        self.log.append(events)
        # The recorded events folded by the projection's own reducer: the stored state, without reading it back.
        return pb.CreateWantsResponse(wants=[reduce(WANT, e.want_created.want.want_id, None, e) for e in events])

    def list_wants(self, statuses: Sequence[str] = (), pattern: str | None = None, sla: str | None = None,
                   source: str | None = None, after: str | None = None, limit: int = 100) -> pb.ListWantsResponse:
        """Wants in creation order, filtered; page with ``after`` = the previous ``next_page_token``."""
        values = [want_status_value(s) for s in statuses]
        terms = []
        if pattern is not None:
            terms.append(TermMatch("partition", pattern=pattern))
        if sla == "violated":
            terms.append(TermMatch("sla_violated", values=("1",)))
        elif sla == "at_risk":
            now = self.clock_us()
            terms.append(TermMatch("sla", low=time_term(now), high=time_term(now + AT_RISK_SECONDS * 1_000_000)))
            values = [v for v in values or ACTIVE_WANT_STATUSES if v in ACTIVE_WANT_STATUSES]
            if not values:
                return pb.ListWantsResponse()
        elif sla is not None:
            raise InvalidArgumentError(f"sla filter must be 'violated' or 'at_risk', got {sla!r}")
        if source:
            terms.append(TermMatch("source", values=(source.lower(),)))
        found = self.store.wants(values, after, _limit(limit), terms)
        return pb.ListWantsResponse(wants=found, next_page_token=found[-1].spec.want_id if len(found) == limit else "")

    def sla_violations(self, after: str | None = None, limit: int = 100) -> pb.ListWantsResponse:
        """Wants whose SLA deadline passed before they were satisfied."""
        return self.list_wants(sla="violated", after=after, limit=limit)

    def want(self, want_id_or_ref: str) -> pb.WantDetailResponse:
        """A want (or the newest want of a partition ref), its timeline and why it is not done yet."""
        want = self._find_want(want_id_or_ref)
        wid = want.spec.want_id
        timeline = self.log.list_events(0, EventFilter(want_ids=(wid,)), 1000).events
        refs = [*want.spec.partitions, *want.waiting_for]
        build = self.store.build(want.build_id) if want.build_id else None
        text, blockers = explain(want, self.store.partition_statuses(refs), build, self._upstream_of,
                                 self.clock_us(), self.builds.running_ids(), self.policy)
        detail = pb.WantDetailResponse(want=want, timeline=timeline, explanation=text, blocked_by=blockers)
        detail.ttl_deadline.FromMicroseconds(ttl_deadline_us(want.spec))
        sla = sla_deadline_us(want.spec)
        if sla is not None:
            detail.sla_deadline.FromMicroseconds(sla)
        return detail

    def _find_want(self, want_id_or_ref: str) -> pb.WantState:
        key = want_id_or_ref.strip()
        want = self.store.want(key) if key and set(key) <= _UUID_CHARS else None
        if want is None and is_valid_ref(key):
            want = self.store.newest_want_on(key)
        if want is None:
            raise NotFoundError(f"no want with id or partition {want_id_or_ref!r}")
        return want

    def _upstream_of(self, ref: str) -> str:
        for upstream in self.graph.upstreams:
            if any(compile_pattern(p).matches(ref) for p in upstream.patterns):
                return upstream.name
        return ""

    def cancel_want(self, want_id: str, reason: str = "", requested_by: str = "") -> pb.WantState:
        """Cancel an active want; its build is stopped unless another active want rides on it."""
        want = self.store.want(want_id)
        if want is None:
            raise NotFoundError(f"no want with id {want_id!r}")
        if want.status not in ACTIVE_WANT_STATUSES:
            status = pb.WantStatus.Name(want.status).removeprefix("WANT_STATUS_").lower()
            raise InvalidArgumentError(f"want {want_id} is already {status}; only active wants can be cancelled")
        self.log.append([pb.Event(want_cancelled=pb.WantCancelled(
            want_id=want_id, reason=reason or "cancelled by request", requested_by=requested_by))])
        if want.status == pb.WANT_STATUS_BUILDING and self.builds.is_running(want.build_id) \
                and not self.store.wants_riding(want.build_id):
            self.builds.cancel(want.build_id, f"its want {want_id} was cancelled")
        return self.store.want(want_id)

    # -- event feed ----------------------------------------------------------

    def events(self, request: pb.ListEventsRequest) -> pb.ListEventsResponse:
        """The feed (SPEC section 9); with ``wait_seconds`` it long-polls until something matches."""
        unknown = [t for t in request.types if t not in EVENT_TYPES]
        if unknown:
            raise InvalidArgumentError(f"unknown event type(s): {', '.join(unknown)}")
        if not 0 <= request.wait_seconds <= MAX_WAIT_SECONDS:
            raise InvalidArgumentError(f"wait must be from 0 to {MAX_WAIT_SECONDS:.0f} seconds, got {request.wait_seconds}")
        filter = EventFilter(types=tuple(request.types), ref_patterns=tuple(request.patterns))
        limit = _limit(request.limit or 100)
        deadline = time.monotonic() + request.wait_seconds
        since = request.since
        while True:
            page = self.log.list_events(since, filter, limit)
            left = deadline - time.monotonic()
            if page.events or left <= 0:
                return pb.ListEventsResponse(events=page.events, next=page.next, has_more=page.has_more)
            since = page.next
            with self._appended:
                if self.log.latest_index() <= since:
                    self._appended.wait(left)
