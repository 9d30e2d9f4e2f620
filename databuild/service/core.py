"""DataBuildService: every read and write of a graph's state, as protobuf messages.

Route handlers and CLI commands are thin adapters over this class, so the CLI (in
process) and the HTTP API produce identical events and answers.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from typing import Callable, Iterator, Sequence

from google.protobuf.message import Message

import databuild
from databuild.errors import (
    ConflictError, CursorDivergedError, InvalidArgumentError, LogResetError, NotFoundError, TooLargeError,
)
from databuild.events import EVENT_TYPES, Clock, EventFilter, system_clock
from databuild.events.log import MAX_PAGE_SIZE
from databuild.graph import GraphSpec
from databuild.jobs.protocol import JobProtocolError
from databuild.planner import GraphResolver, Resolver, plan
from databuild.proto import databuild_pb2 as pb
from databuild.refs import compile_pattern, is_valid_ref, validate_ref, validate_refs
from databuild.proto.jsonmap import enum_name
from databuild.executor import recover_abandoned_builds
from databuild.service.builds import ExecutorPool
from databuild.service.client import ServiceClient
from databuild.service.interface import LogSlice
from databuild.service.leadership import LEADER_LEASE, Leadership, leader_gone
from databuild.service.sync import UpstreamSync
from databuild.service.triggers import TriggerRunner
from databuild.service.want_runner import WantRunner
from databuild.state import ACTIVE_WANT_STATUSES, BUILD, JOB_RUN, TERMINAL_JOB_RUN_STATUSES, WANT, StateStore
from databuild.state.history import DurationStats, JobHistory
from databuild.state.reducers import reduce
from databuild.state.wants import sla_deadline_us, signed_term, time_term, ttl_deadline_us, want_terms
from databuild.triggers.decide import FireCall, Trigger, failed_event, fired_events, manual_firing, resolve, status
from databuild.triggers.protocol import call_fire
from databuild.wants import MAX_WANTS_PER_REQUEST, Policy, new_want_spec
from databuild.wants.explain import explain
from databuild.wants.sla import Prediction, critical_path_us, predict

MAX_WAIT_SECONDS = 60.0
MAX_LIMIT = 10_000
#: Most active wants read per step while looking for at-risk ones (deadline order); the
#: first step reads twice the page size, each further one twice as many as the last.
AT_RISK_SCAN = 5000
#: Events of a partition's history or a want's timeline shown in their detail.
HISTORY_LIMIT = 1000
#: Job runs reading a partition listed in its detail (the newest).
CONSUMERS_LIMIT = 50
#: Log bytes read per chunk when streaming a job run's log.
LOG_CHUNK = 64 * 1024
_UUID_CHARS = set("0123456789abcdef-")


def _limit(request: Message, default: int = 100) -> int:
    value = request.limit if request.HasField("limit") else default
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit must be from 1 to {MAX_LIMIT}, got {value}")
    return value


class DataBuildService:
    """A graph's service over its state store; thread-safe."""

    def __init__(self, graph: GraphSpec, store: StateStore, log_dir: str, resolver: Resolver | None = None,
                 policy: Policy = Policy(), parallelism: int | None = None,
                 clock_us: Clock = system_clock, builds: ExecutorPool | None = None,
                 fire_call: FireCall = call_fire, executor: str | None = None) -> None:
        """``builds`` runs the evaluator's builds (default: executor threads in this process,
        their job runs on the backend ``executor`` names: local processes or ``dask://HOST:PORT``);
        ``fire_call`` calls trigger binaries (``databuild.triggers.protocol``)."""
        self.graph, self.store, self.log = graph, store, store.log
        self.log_dir = os.path.realpath(log_dir)
        self.resolver = resolver or GraphResolver(graph)
        self.policy, self.clock_us = policy, clock_us
        self._appended = threading.Condition()
        self.log.add_listener(self._on_append)
        self.builds = builds or ExecutorPool(graph, store, self.log_dir, self.resolver, parallelism, executor)
        self.evaluator = WantRunner(store, graph.label, self.resolver, self.builds, policy, clock_us)
        self.syncs = [UpstreamSync(store, u, ServiceClient(u.url, u.token or None)) for u in graph.upstreams]
        self._triggers = {t.name: Trigger(t) for t in graph.triggers}
        self._defaults = (graph.default_ttl_seconds, graph.default_sla_seconds)
        self._fire_call = fire_call
        self.trigger_runner = TriggerRunner(store, list(self._triggers.values()), self._defaults, clock_us, fire_call)
        self._evaluating = False
        self.history = JobHistory()  # fed on read from the log (catch_up): see docs/wants.md#sla-prediction
        self.leadership: Leadership | None = None  # with start_evaluator(lease=True)
        #: Called once a leading replica lost its lease (after it stopped deciding).
        self.on_lease_lost: Callable[[], None] = lambda: None
        self._producers = GraphResolver(graph)

    def start_evaluator(self, triggers: bool = True, lease: bool = False) -> None:
        """Start serving wants (evaluating them, running their builds), syncing from
        upstream graphs and, if ``triggers``, firing triggers, in the background.

        Only the graph's daemon (``serve``) fires triggers: a ``--local`` CLI process
        serves its own want and passes ``triggers=False``, so a short-lived command
        never fires schedules on behalf of the graph. With ``lease`` (``serve``) all of
        that runs only while this process holds the log's leader lease
        (``leadership.py``): of several replicas on one log, one leads."""
        if self._evaluating:
            return
        self._evaluating = True
        # Read the job history now, off any request's path: the first read folds every
        # job-run event of the log (seconds at a million events); later ones only the new.
        threading.Thread(target=self.history.catch_up, args=(self.log,), name="history-catch-up",
                         daemon=True).start()
        if not lease:
            self._lead(triggers)
            return

        def elected() -> None:
            recover_abandoned_builds(self.store, lambda identity: not leader_gone(identity),
                                     self.builds.stop_remote_orphans)
            self._lead(triggers)
        self.leadership = Leadership(self.log.lease(LEADER_LEASE), elected, self._lost_lease)
        self.leadership.start()

    @property
    def leads(self) -> bool:
        """Whether this service runs the evaluator and the syncs now: always without a lease,
        while it holds the leader lease with one."""
        return self.leadership is None or self.leadership.leader

    def _lead(self, triggers: bool) -> None:
        self.evaluator.start()
        for sync in self.syncs:
            sync.start()
        if triggers:
            self.trigger_runner.start()

    def _lost_lease(self) -> None:
        """Stop deciding: another replica may lead now. Running builds are cancelled (their
        jobs killed); the new leader closes them as a crash if they are not done by then.
        Then ``on_lease_lost`` (``serve``: stop the process, to be started again as a
        follower; the evaluator's threads run once)."""
        self._stop_singletons()
        for build_id in self.builds.running_ids():
            self.builds.cancel(build_id, "this replica lost the leader lease")
        self.on_lease_lost()

    def close(self) -> None:
        """Stop the triggers, the evaluator, its planners and the upstream syncs (running builds
        finish in their threads), and give up the leader lease."""
        self._stop_singletons()
        if self.leadership is not None:
            self.leadership.stop()

    def _stop_singletons(self) -> None:
        self.trigger_runner.stop()
        for sync in self.syncs:
            sync.stop()
        self.evaluator.stop()

    def _on_append(self, latest: int) -> None:
        with self._appended:
            self._appended.notify_all()

    # -- graph -------------------------------------------------------------

    def health(self, request: pb.EmptyRequest | None = None) -> pb.HealthResponse:
        head = self.log.head()
        return pb.HealthResponse(status="ok", version=databuild.__version__, graph_label=self.graph.label,
                                 latest_event_index=head.index, log_id=self.log.log_id,
                                 latest_event_id=head.event_id)

    def graph_info(self, request: pb.EmptyRequest | None = None) -> pb.GraphResponse:
        g = self.graph
        return pb.GraphResponse(
            label=g.label, lookup=g.lookup.label if g.lookup else "",
            jobs=[pb.JobInfo(label=j.label, output_patterns=j.outputs) for j in g.jobs],
            upstreams=[pb.UpstreamInfo(name=u.name, url=u.url, patterns=u.patterns) for u in g.upstreams])

    def upstreams(self, request: pb.EmptyRequest | None = None) -> pb.ListUpstreamsResponse:
        """Each upstream's sync: state, cursor, lag, last error (``stopped`` where this service does not sync)."""
        if self._evaluating:
            return pb.ListUpstreamsResponse(upstreams=[sync.status() for sync in self.syncs])
        out = pb.ListUpstreamsResponse()
        for u in self.graph.upstreams:
            stored = self.store.upstream(u.name)
            out.upstreams.add(name=u.name, url=u.url, patterns=u.patterns, state=pb.UPSTREAM_SYNC_STATE_STOPPED,
                              cursor=stored.next_index if stored else 0)
        return out

    def analyze(self, request: pb.AnalyzeRequest) -> pb.AnalyzeResponse:
        if not request.partitions:
            raise InvalidArgumentError("analyze needs at least one partition")
        refs = validate_refs(request.partitions)
        planned = plan(self.graph.label, refs, self.resolver, self.store.partition_statuses)
        return pb.AnalyzeResponse(job_graph=planned.job_graph())

    # -- partitions --------------------------------------------------------

    def list_partitions(self, request: pb.ListPartitionsRequest) -> pb.ListPartitionsResponse:
        pattern = request.pattern or None
        if pattern is not None:
            compile_pattern(pattern)
        limit = _limit(request)
        found = self.store.partitions(pattern, list(request.statuses), request.after or None, limit)
        return pb.ListPartitionsResponse(partitions=found, next_page_token=found[-1].ref if len(found) == limit else "")

    def partition(self, request: pb.GetPartitionRequest) -> pb.PartitionDetailResponse:
        """A partition's state, its history (the first ``HISTORY_LIMIT`` events touching it) and
        lineage: the job run that produced it and the newest ``CONSUMERS_LIMIT`` runs that read it."""
        ref = validate_ref(request.ref)
        state = self.store.partition(ref) or pb.PartitionState(ref=ref, status=pb.PARTITION_STATUS_MISSING)
        history = self.log.list_events(0, EventFilter(refs=(ref,)), HISTORY_LIMIT)
        detail = pb.PartitionDetailResponse(partition=state, history=history.events, more_history=history.has_more)
        producer = self.store.job_run(state.job_run_id) if state.job_run_id else None
        if producer is not None:
            detail.produced_by.CopyFrom(producer)
        consumers = self.store.job_runs_reading(ref, CONSUMERS_LIMIT + 1)  # one more: whether there are more
        detail.consumers.extend(consumers[:CONSUMERS_LIMIT])
        detail.more_consumers = len(consumers) > CONSUMERS_LIMIT
        return detail

    def mark_available(self, request: pb.MarkAvailableRequest) -> pb.ListPartitionsResponse:
        """Record that external partitions landed, in one event; refused for refs this graph builds."""
        refs = self._refs(request.refs)
        patterns = GraphResolver(self.graph)
        produced = [r for r in refs if self.graph.lookup is None and patterns.by_pattern(r)]
        if produced:
            raise InvalidArgumentError(f"{', '.join(produced)} is produced by graph {self.graph.label}, not external")
        self.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
            refs=refs, comment=request.comment))])
        return pb.ListPartitionsResponse(partitions=self.store.partitions_by_ref(refs).values())

    def taint(self, request: pb.TaintRequest) -> pb.ListPartitionsResponse:
        """Mark available partitions bad, in one event; refused for partitions that are not available."""
        refs = self._refs(request.refs)
        if not request.reason:
            raise InvalidArgumentError("tainting needs a reason")
        statuses = self.store.partition_statuses(refs)
        not_available = [r for r in refs if statuses[r] != pb.PARTITION_STATUS_AVAILABLE]
        if not_available:
            raise ConflictError(f"only available partitions can be tainted: {', '.join(not_available)}")
        self.log.append([pb.Event(partitions_tainted=pb.PartitionsTainted(
            refs=refs, reason=request.reason, requested_by=request.requested_by or "api"))])
        return pb.ListPartitionsResponse(partitions=self.store.partitions_by_ref(refs).values())

    @staticmethod
    def _refs(refs: Sequence[str]) -> list[str]:
        if not refs:
            raise InvalidArgumentError("no partition refs given")
        return list(dict.fromkeys(validate_refs(refs)))

    # -- builds and job runs ------------------------------------------------

    def list_builds(self, request: pb.ListBuildsRequest) -> pb.ListBuildsResponse:
        """Builds newest first; page with ``after`` = the previous ``next_page_token``."""
        limit = _limit(request, 50)
        after = self.store.resolve_id(BUILD, request.after) if request.after else None
        found = self.store.builds_newest_first(after, limit)
        return pb.ListBuildsResponse(builds=found, next_page_token=found[-1].build_id if len(found) == limit else "")

    def cancel_build(self, request: pb.CancelBuildRequest) -> pb.BuildState:
        """Stop a build this service is running (its wants retry or end as their policy says)."""
        build_id = self.store.resolve_id(BUILD, request.build_id)
        self.builds.cancel(build_id, request.reason or "cancelled by request")
        return self.store.build(build_id)

    @property
    def running_builds(self) -> int:
        return self.builds.running()

    def build(self, request: pb.GetBuildRequest) -> pb.BuildDetailResponse:
        b = self.store.build(self.store.resolve_id(BUILD, request.build_id))
        runs = [self.store.job_run(r.job_run_id) for r in b.job_graph.job_runs]
        return pb.BuildDetailResponse(build=b, job_runs=[r for r in runs if r is not None])

    def job_run(self, request: pb.GetJobRunRequest) -> pb.JobRunDetailResponse:
        return pb.JobRunDetailResponse(job_run=self.store.job_run(self.store.resolve_id(JOB_RUN, request.job_run_id)))

    def job_run_log(self, request: pb.JobRunLogRequest) -> LogSlice:
        """A byte range of the run's captured output, read lazily; never outside the log directory."""
        if request.offset < 0 or request.limit < 0 or request.tail < 0:
            raise InvalidArgumentError(f"offset, limit and tail must not be negative, got "
                                       f"{request.offset}, {request.limit}, {request.tail}")
        run = self.job_run(pb.GetJobRunRequest(job_run_id=request.job_run_id)).job_run
        path = os.path.realpath(run.log_path) if run.log_path else ""
        if not path or os.path.commonpath([path, self.log_dir]) != self.log_dir:
            raise NotFoundError(f"job run {run.job_run_id} has no log")
        complete = run.status in TERMINAL_JOB_RUN_STATUSES
        if not os.path.lexists(path):  # created when the run first prints: it printed nothing yet
            return LogSlice(run.job_run_id, 0, 0, 0, complete, iter(()))
        if not os.path.isfile(path):
            raise NotFoundError(f"job run {run.job_run_id} has no log")
        f = open(path, "rb")
        size = os.fstat(f.fileno()).st_size
        start = max(0, size - request.tail) if request.tail else min(request.offset, size)
        end = min(size, start + request.limit) if request.limit else size
        return LogSlice(run.job_run_id, start, end, size, complete, _read_range(f, start, end))

    # -- wants -----------------------------------------------------------------

    def create_wants(self, request: pb.CreateWantsRequest) -> pb.CreateWantsResponse:
        """Record wants (all or none); the evaluator takes them from there. Source ``api`` unless given."""
        if not request.wants:
            raise InvalidArgumentError("no wants given")
        if len(request.wants) > MAX_WANTS_PER_REQUEST:
            raise TooLargeError(f"at most {MAX_WANTS_PER_REQUEST} wants per request, got {len(request.wants)}")
        forged = [w.source.firing_id for w in request.wants if w.source.firing_id]
        if forged:
            raise InvalidArgumentError(f"source.firing_id is recorded by triggers only, got {forged[0]!r}")
        now = self.clock_us()
        specs = []
        for i, want in enumerate(request.wants):
            try:
                specs.append(new_want_spec(want, now, self.graph.default_ttl_seconds, self.graph.default_sla_seconds,
                                           pb.WANT_SOURCE_TYPE_API))
            except InvalidArgumentError as e:
                raise InvalidArgumentError(f"want #{i + 1}: {e}" if len(request.wants) > 1 else str(e)) from None
        events = [pb.Event() for _ in specs]
        for event, spec in zip(events, specs):
            event.want_created.want.CopyFrom(spec)  # one copy (the nested constructors copy twice)
        self.log.append(events)
        # The recorded events folded by the projection's own reducer: the stored state, without reading it back.
        return pb.CreateWantsResponse(wants=[reduce(WANT, e.want_created.want.want_id, None, e) for e in events])

    def list_wants(self, request: pb.ListWantsRequest) -> pb.ListWantsResponse:
        """Wants in creation order, filtered; page with ``after`` = the previous ``next_page_token``."""
        pattern = compile_pattern(request.pattern).pattern if request.pattern else None
        limit = _limit(request)
        if request.sla == pb.SLA_FILTER_AT_RISK:
            found, token = self._at_risk_page(list(request.statuses), pattern, request.source, request.after, limit)
            return pb.ListWantsResponse(wants=found, next_page_token=token)
        found = self.store.find_wants(list(request.statuses), pattern, request.source,
                                      request.sla == pb.SLA_FILTER_VIOLATED, request.after or None, limit)
        return pb.ListWantsResponse(wants=found, next_page_token=found[-1].spec.want_id if len(found) == limit else "")

    # -- SLA prediction (docs/wants.md#sla-prediction) ----------------------------

    def predict_wants(self, wants: Sequence[pb.WantState], now_us: int | None = None) -> dict[str, Prediction]:
        """The prediction of each active want of ``wants``, by want id (history caught up once;
        each build the wants ride on is read once). Given ``now_us``, the history is taken
        as it is (the caller caught it up) and the predictions are for that time."""
        if now_us is None:
            self.history.catch_up(self.log)
            now_us = self.clock_us()
        builds: dict[str, tuple[pb.BuildState | None, dict[str, pb.JobRunState]]] = {}
        out = {}
        for want in wants:
            build, runs = None, {}
            if want.status == pb.WANT_STATUS_BUILDING and want.build_id:
                if want.build_id not in builds:
                    builds[want.build_id] = self._build_and_runs(want.build_id)
                build, runs = builds[want.build_id]
            found = predict(want, build, runs, self.history, self._producers.by_pattern, now_us)
            if found is not None:
                out[want.spec.want_id] = found
        return out

    def _build_and_runs(self, build_id: str) -> tuple[pb.BuildState | None, dict[str, pb.JobRunState]]:
        """A build and its planned job runs by id, as the predictor reads them."""
        b = self.store.build(build_id)
        ids = [r.job_run_id for r in b.job_graph.job_runs] if b else []
        return b, {i: r for i in ids if (r := self.store.job_run(i)) is not None}

    def _at_risk_page(self, statuses: Sequence[int], pattern: str | None, source: str, after: str,
                      limit: int) -> tuple[list[pb.WantState], str]:
        """At-risk wants by SLA deadline (then id), most urgent first; the page token is
        ``<deadline term>/<want id>``. Walks the ``sla`` index (active wants whose SLA is not
        violated) in deadline order up to the horizon (``_horizon``), predicting each, then the
        few wants beyond it that their anchor may put at risk: a page costs the wants up to its
        last one (at most those inside the horizon) plus those anchored ones."""
        cursor = None
        if after:
            value, _, key = after.partition("/")
            if not (value.isdigit() and key):
                raise InvalidArgumentError(f"page token {after!r} is not one of an at-risk list (deadline/want id)")
            cursor = (value, key)
        matcher = compile_pattern(pattern) if pattern else None
        source = source.lower()

        def listed(w: pb.WantState) -> bool:  # the list's other filters, by the index terms its other pages use
            return ((not statuses or w.status in statuses)
                    and (matcher is None or any(matcher.matches(v) for n, v in want_terms(w) if n == "partition"))
                    and (not source or ("source", source) in want_terms(w)))

        self.history.catch_up(self.log)
        now = self.clock_us()
        before, slack_below = self._horizon(now)
        found: list[pb.WantState] = []
        step = min(AT_RISK_SCAN, 2 * limit)
        while cursor is None or cursor[0] < before:
            entries, rows = self.store.wants_by_sla_deadline(cursor, step, before)
            risky = self.predict_wants([w for w in rows.values() if listed(w)], now)
            for value, key in entries:
                if key in risky and risky[key].at_risk:
                    found.append(rows[key])
                    if len(found) == limit:
                        return found, f"{value}/{key}"
            if len(entries) < step:
                break
            cursor, step = entries[-1], min(AT_RISK_SCAN, 2 * step)
        # Beyond the horizon only wants whose deadline is close to their anchor can be at risk.
        anchored = self.store.wants_by_id([k for _, k in self._term_entries("sla_slack", slack_below)])
        beyond = sorted((time_term(sla_deadline_us(w.spec)), k) for k, w in anchored.items() if listed(w))
        beyond = [e for e in beyond if e[0] >= before and (cursor is None or e > cursor)]
        risky = self.predict_wants([anchored[k] for _, k in beyond], now)
        for value, key in beyond:
            if risky[key].at_risk:
                found.append(anchored[key])
                if len(found) == limit:
                    return found, f"{value}/{key}"
        return found, ""

    def wants_at_risk(self, request: pb.PageRequest) -> pb.ListWantsResponse:
        """Active wants whose predicted completion passes their SLA deadline, most urgent
        first: the page the dashboard's SLA view and alerts read (``list_wants(sla=at_risk)``)."""
        return self.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, after=request.after,
                                                   limit=_limit(request)))

    def at_risk_count(self) -> int:
        """How many active wants are at risk of missing their SLA, by the definition
        ``list_wants(sla=at_risk)`` uses (and its horizon): the one place metrics ask. It
        predicts the candidates ``_horizon`` leaves, not every active want with an SLA."""
        self.history.catch_up(self.log)
        now = self.clock_us()
        before, slack_below = self._horizon(now)
        ids = {key for _, key in self._term_entries("sla", before)}
        ids |= {key for _, key in self._term_entries("sla_slack", slack_below)}
        count, ids = 0, sorted(ids)
        for start in range(0, len(ids), MAX_LIMIT):
            wants = self.store.wants_by_id(ids[start:start + MAX_LIMIT])
            count += sum(p.at_risk for p in self.predict_wants(list(wants.values()), now).values())
        return count

    def _horizon(self, now_us: int) -> tuple[str, str]:
        """Index bounds outside which no want is at risk (docs/wants.md#sla-prediction), from
        the history as caught up: ``(sla term, sla_slack term)``.

        A prediction ends at ``now`` plus the critical path of the build the want rides on,
        or, without one, at the latest of ``now``, its backoff end and its dated inputs'
        arrivals (date + lag) plus a build. So it ends no later than ``now + horizon``, horizon the
        longest p50 build or remaining critical path, or else its anchor (``sla_anchor_us``)
        ends it no later than ``anchor + longest lag + longest build``. A want at risk (predicted
        after its deadline) therefore has an ``sla`` term below the first bound or an
        ``sla_slack`` term (deadline - anchor) below the second."""
        build_us = _ceil_us(self.history.max_build_seconds())
        horizon = max([build_us, *self._critical_paths_us(now_us)])
        return time_term(now_us + horizon), signed_term(_ceil_us(self.history.max_lag_seconds()) + build_us)

    def _critical_paths_us(self, now_us: int) -> list[int]:
        """The predicted remaining critical path of each build a building want rides on: one
        seek of the ``build`` index per build (skipping its wants), then the build's runs."""
        out, after = [], None
        while True:
            entries = self.log.term_entries(WANT, "build", limit=1, after=after)
            if not entries:
                return out
            build, runs = self._build_and_runs(entries[0][0])
            if build is not None:
                out.append(critical_path_us(build.job_graph, runs, self.history, now_us))
            after = (entries[0][0], _AFTER_EVERY_KEY)

    def _term_entries(self, name: str, high: str) -> list[tuple[str, str]]:
        """Every want index entry of term ``name`` valued below ``high``, in pages."""
        out: list[tuple[str, str]] = []
        while True:
            page = self.log.term_entries(WANT, name, None, high, MAX_PAGE_SIZE, after=out[-1] if out else None)
            out += page
            if len(page) < MAX_PAGE_SIZE:
                return out

    def job_duration_stats(self) -> list[DurationStats]:
        """Per job label: p50/p95 seconds of its last successful runs (``history.WINDOW``),
        succeeded and failed counts, success rate: for the dashboard's jobs page and metrics."""
        self.history.catch_up(self.log)
        return self.history.stats()

    def job_stats(self, request: pb.EmptyRequest | None = None) -> pb.JobStatsResponse:
        """``job_duration_stats`` as the API answers it: every job of the graph (zero runs
        where none ran yet) in the graph's order, then labels seen only in the log, sorted.
        Its cost follows the number of job labels and the events since the last read."""
        seen = {s.job_label: s for s in self.job_duration_stats()}
        declared = [j.label for j in self.graph.jobs]
        labels = [*declared, *sorted(set(seen) - set(declared))]
        out = pb.JobStatsResponse()
        for label in labels:
            row = out.jobs.add(job_label=label, declared=label in declared)
            found = seen.get(label)
            if found is None:
                continue
            row.succeeded, row.failed, row.runs = found.succeeded, found.failed, found.succeeded + found.failed
            row.success_rate = found.success_rate
            row.p50_seconds, row.p95_seconds, row.duration_samples = found.p50_seconds, found.p95_seconds, found.samples
            if found.last_run is not None:
                row.last_job_run_id, row.last_status = found.last_run.job_run_id, found.last_run.status
                row.last_finished_at.FromMicroseconds(found.last_run.ended_us)
        return out

    def list_job_runs(self, request: pb.ListJobRunsRequest) -> pb.ListJobRunsResponse:
        """One job's runs, newest scheduled first; page with ``after`` = the previous
        ``next_page_token``. NotFoundError for a label neither the graph nor the log knows."""
        label = request.job_label.strip()
        if not label:
            raise InvalidArgumentError("job_label is required: the label of the job whose runs to list")
        limit = _limit(request, 50)
        after = self.store.resolve_id(JOB_RUN, request.after) if request.after else None
        found = self.store.job_runs_of(label, after, limit)
        if not found and after is None and label not in self.graph.jobs_by_label:
            raise NotFoundError(f"no job {label!r} in graph {self.graph.label}, and no run of it in the log")
        token = found[-1].job_run_id if len(found) == limit else ""
        return pb.ListJobRunsResponse(job_runs=found, next_page_token=token)

    def sla_violations(self, request: pb.PageRequest) -> pb.ListWantsResponse:
        """Wants whose SLA deadline passed before they were satisfied."""
        return self.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_VIOLATED, after=request.after,
                                                   limit=_limit(request)))

    def want(self, request: pb.GetWantRequest) -> pb.WantDetailResponse:
        """A want (or the newest want of a partition ref), its timeline and why it is not done yet."""
        want = self._find_want(request.want_id)
        wid = want.spec.want_id
        timeline = self.log.list_events(0, EventFilter(want_ids=(wid,)), HISTORY_LIMIT).events
        refs = [*want.spec.partitions, *want.waiting_for]
        build = self.store.build(want.build_id) if want.build_id else None
        text, blockers = explain(want, self.store.partition_statuses(refs), build, self._upstream_of,
                                 self.clock_us(), self.builds.running_ids(), self.policy, self._upstream_note)
        detail = pb.WantDetailResponse(want=want, timeline=timeline, explanation=text, blocked_by=blockers)
        detail.ttl_deadline.FromMicroseconds(ttl_deadline_us(want.spec))
        sla = sla_deadline_us(want.spec)
        if sla is not None:
            detail.sla_deadline.FromMicroseconds(sla)
        prediction = self.predict_wants([want]).get(wid)
        if prediction is not None:
            detail.predicted_completion.FromMicroseconds(prediction.completion_us)
            detail.sla_at_risk = prediction.at_risk
            detail.prediction_note = prediction.basis()
        return detail

    def _find_want(self, want_id_or_ref: str) -> pb.WantState:
        """By id or unique id prefix, else the newest want of the partition ref."""
        key = want_id_or_ref.strip()
        if key and set(key) <= _UUID_CHARS:
            with contextlib.suppress(NotFoundError):  # not an id: perhaps a ref
                return self.store.want(self.store.resolve_id(WANT, key))
        want = self.store.newest_want_on(key) if is_valid_ref(key) else None
        if want is None:
            raise NotFoundError(f"no want with id or partition {want_id_or_ref!r}")
        return want

    def _upstream_of(self, ref: str) -> str:
        for upstream in self.graph.upstreams:
            if any(compile_pattern(p).matches(ref) for p in upstream.patterns):
                return upstream.name
        return ""

    def _upstream_note(self, name: str) -> str:
        sync = next((s for s in self.syncs if s.upstream.name == name), None)
        return sync.describe() if sync is not None and self._evaluating else "not synced by this service"

    def cancel_want(self, request: pb.CancelWantRequest) -> pb.WantState:
        """Cancel an active want; its build is stopped unless another active want rides on it."""
        want_id = self.store.resolve_id(WANT, request.want_id)
        want = self.store.want(want_id)
        if want.status not in ACTIVE_WANT_STATUSES:
            status = enum_name(pb.WantStatus.DESCRIPTOR, want.status)
            raise ConflictError(f"want {want_id} is already {status}; only active wants can be cancelled")
        self.log.append([pb.Event(want_cancelled=pb.WantCancelled(
            want_id=want_id, reason=request.reason or "cancelled by request",
            requested_by=request.requested_by or "api"))])
        if want.status == pb.WANT_STATUS_BUILDING:
            self.builds.cancel_unwanted(want.build_id, f"its want {want_id} was cancelled")
        return self.store.want(want_id)

    # -- triggers ------------------------------------------------------------

    def triggers(self, request: pb.EmptyRequest | None = None) -> pb.ListTriggersResponse:
        """Each trigger: its declaration, state (paused, last firing, last error) and next tick."""
        states = self.store.triggers_by_name(list(self._triggers))
        now = self.clock_us()
        return pb.ListTriggersResponse(triggers=[
            status(trigger, states.get(name), now) for name, trigger in self._triggers.items()])

    @property
    def triggers_active(self) -> bool:
        """Whether a trigger is not paused: it may fire, so a daemon serving it stays up."""
        states = self.store.triggers_by_name(list(self._triggers))
        return any(not (states.get(name) and states[name].paused) for name in self._triggers)

    def _trigger(self, name: str) -> Trigger:
        trigger = self._triggers.get(name)
        if trigger is None:
            known = f"its triggers: {', '.join(self._triggers)}" if self._triggers else "it declares none"
            raise NotFoundError(f"graph {self.graph.label} has no trigger {name!r}; {known}")
        return trigger

    def fire_trigger(self, request: pb.FireTriggerRequest) -> pb.FireTriggerResponse:
        """Fire a trigger now (source cli): a schedule's for ``at`` (default now), a reactive
        trigger's for ``partition``. A failing binary or invalid wants are recorded
        (``trigger_failed``) and raised."""
        trigger = self._trigger(request.name)
        now = self.clock_us()
        at = request.at.ToMicroseconds() if request.HasField("at") else now
        firing = manual_firing(trigger, at, request.partition, request.requested_by or "api", str(uuid.uuid4()))
        try:
            wants = resolve(trigger, firing, now, self._defaults, self._fire_call)
        except (InvalidArgumentError, JobProtocolError) as e:
            self.log.append([failed_event(firing, str(e))])
            raise
        events = fired_events(firing, wants)
        self.log.append(events)
        self.trigger_runner.wake(trigger.name)
        return pb.FireTriggerResponse(firing=events[0].trigger_fired, wants=[
            reduce(WANT, e.want_created.want.want_id, None, e) for e in events[1:]])

    def pause_trigger(self, request: pb.PauseTriggerRequest) -> pb.TriggerStatus:
        """Stop a trigger firing until resumed (recorded once: pausing a paused trigger records nothing)."""
        return self._set_paused(request, True)

    def resume_trigger(self, request: pb.PauseTriggerRequest) -> pb.TriggerStatus:
        """Let a paused trigger fire again, from now on: what came due while paused never fires."""
        return self._set_paused(request, False)

    def _set_paused(self, request: pb.PauseTriggerRequest, paused: bool) -> pb.TriggerStatus:
        trigger = self._trigger(request.name)
        state = self.store.trigger(trigger.name)
        if bool(state and state.paused) != paused:
            self.log.append([pb.Event(trigger_pause_changed=pb.TriggerPauseChanged(
                trigger=trigger.name, paused=paused, requested_by=request.requested_by or "api",
                reason=request.reason))])
            self.trigger_runner.wake(trigger.name)
            state = self.store.trigger(trigger.name)
        return status(trigger, state, self.clock_us())

    # -- event feed ----------------------------------------------------------

    def events(self, request: pb.ListEventsRequest) -> pb.ListEventsResponse:
        """The feed (docs/http-api.md); with ``wait_seconds`` it long-polls until something matches.

        This waits on a thread; the HTTP service waits without one (``events_page`` per wake-up)."""
        deadline = time.monotonic() + check_wait(request.wait_seconds)
        while True:
            page = self.events_page(request)
            left = deadline - time.monotonic()
            if page.events or left <= 0:
                return page
            request = _copy(request, since=page.next, cursor_event_id=page.next_event_id)
            with self._appended:
                if self.log.latest_index() <= request.since:
                    self._appended.wait(min(left, FOREIGN_WRITER_CHECK_S))

    def events_page(self, request: pb.ListEventsRequest) -> pb.ListEventsResponse:
        """One page of the feed from ``since``, without waiting.

        A follower's stored cursor is checked against this log: ``log_id`` not this
        log's, or ``since`` beyond its head, is LogResetError (the log was replaced);
        ``cursor_event_id`` not the id of the event at ``since`` is CursorDivergedError
        (a restored copy was written past the cursor)."""
        types = [t.lower() for t in request.types]
        unknown = [t for t in types if t not in EVENT_TYPES]
        if unknown:
            raise InvalidArgumentError(f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
        if request.since < 0:
            raise InvalidArgumentError(f"since must not be negative, got {request.since}")
        log_id = self.log.log_id
        if request.log_id and request.log_id != log_id:
            raise LogResetError(f"this service's event log is {log_id}, not {request.log_id}: "
                                "the log was replaced; read it again from the start")
        filter = EventFilter(types=tuple(types), ref_patterns=tuple(request.patterns))
        page = self.log.list_events(request.since, filter, _limit(request))
        if request.since > page.head:
            raise LogResetError(f"since {request.since} is beyond the end of event log {log_id} (index {page.head}): "
                                "the log was replaced; read it again from the start")
        if request.cursor_event_id:
            found = self.log.event_id_at(request.since)
            if found != request.cursor_event_id:
                raise CursorDivergedError(
                    f"the event at index {request.since} of event log {log_id} is {found or 'none'}, not "
                    f"{request.cursor_event_id}: the log was restored from a copy written past this cursor; "
                    "read it again from the start")
        return pb.ListEventsResponse(events=page.events, next=page.next, has_more=page.has_more, log_id=log_id,
                                     head=page.head, next_event_id=page.next_event_id)


#: Writers in other processes do not notify this one; a long-poll looks this often.
FOREIGN_WRITER_CHECK_S = 1.0


#: Sorts after every want id (UUIDs): an index cursor past all of a term value's entries.
_AFTER_EVERY_KEY = "\U0010ffff"


def _ceil_us(seconds: float) -> int:
    """Seconds as whole microseconds, rounded up: a bound stays a bound."""
    return -int(-seconds * 1_000_000 // 1)


def check_wait(seconds: float) -> float:
    """A long-poll's wait, checked."""
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise InvalidArgumentError(f"wait must be from 0 to {MAX_WAIT_SECONDS:.0f} seconds, got {seconds}")
    return seconds


def _copy(request: pb.ListEventsRequest, **changes) -> pb.ListEventsRequest:
    out = pb.ListEventsRequest()
    out.CopyFrom(request)
    for name, value in changes.items():
        setattr(out, name, value)
    return out


def _read_range(f, start: int, end: int) -> Iterator[bytes]:
    """Chunks of ``f`` from ``start`` to ``end``; closes ``f`` when done or abandoned."""
    with f:
        f.seek(start)
        left = end - start
        while left > 0:
            chunk = f.read(min(LOG_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
