"""DataBuildService: every read and write of a graph's state, as protobuf messages.

Route handlers and CLI commands are thin adapters over this class, so the CLI (in
process) and the HTTP API produce identical events and answers.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Sequence

from google.protobuf import json_format
from google.protobuf.message import Message

import databuild
from databuild.errors import InvalidArgumentError, NotFoundError
from databuild.events import EVENT_TYPES, EventFilter
from databuild.executor import BuildExecutor, ProcessLauncher
from databuild.graph import GraphSpec
from databuild.planner import GraphResolver, Resolver, plan
from databuild.proto import databuild_pb2 as pb
from databuild.refs import compile_pattern, validate_ref, validate_refs
from databuild.state import StateStore

MAX_WAIT_SECONDS = 60.0
MAX_LIMIT = 10_000


def message_dict(message: Message) -> dict:
    """A message as the API's JSON: proto field names, every field (defaults too), so keys are stable."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def _limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit must be from 1 to {MAX_LIMIT}, got {value}")
    return value


def partition_status_value(name: str) -> int:
    """``available`` or ``PARTITION_STATUS_AVAILABLE`` -> the enum value."""
    full = name.upper() if name.upper().startswith("PARTITION_STATUS_") else "PARTITION_STATUS_" + name.upper()
    if full not in pb.PartitionStatus.keys()[1:]:
        raise InvalidArgumentError(f"unknown partition status {name!r}")
    return pb.PartitionStatus.Value(full)


class DataBuildService:
    """A graph's service over its state store; thread-safe."""

    def __init__(self, graph: GraphSpec, store: StateStore, log_dir: str, resolver: Resolver | None = None) -> None:
        self.graph, self.store, self.log = graph, store, store.log
        self.log_dir = os.path.realpath(log_dir)
        self.resolver = resolver or GraphResolver(graph)
        self._appended = threading.Condition()
        self.log.add_listener(self._on_append)
        self._lock = threading.Lock()
        self._running: dict[str, BuildExecutor] = {}

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

    def start_build(self, request: pb.StartBuildRequest) -> pb.BuildState:
        """Start building ``request.partitions`` in a background thread; return the received build."""
        if not request.partitions:
            raise InvalidArgumentError("a build needs at least one partition")
        refs = validate_refs(request.partitions)
        if request.parallelism < 0:
            raise InvalidArgumentError(f"parallelism must be positive, got {request.parallelism}")
        build_id = str(uuid.uuid4())
        launcher = ProcessLauncher(self.graph)
        executor = BuildExecutor(self.graph, self.store, launcher, self.log_dir, request.parallelism or None,
                                 resolver=self.resolver)
        with self._lock:
            self._running[build_id] = executor
        def run() -> None:
            try:
                executor.run(refs, build_id=build_id)
            finally:
                launcher.close()
                with self._lock:
                    self._running.pop(build_id, None)

        threading.Thread(target=run, name=f"build-{build_id[:8]}", daemon=True).start()
        with self._appended:  # until build_requested is recorded, so the build can be read back
            self._appended.wait_for(lambda: self.store.build(build_id) is not None, timeout=10)
        return self.store.build(build_id) or pb.BuildState(build_id=build_id, status=pb.BUILD_STATUS_RECEIVED)

    def cancel_build(self, build_id: str, reason: str = "cancelled by request") -> pb.BuildState:
        """Stop a build this service is running."""
        with self._lock:
            executor = self._running.get(build_id)
        if executor is None:
            self.build(build_id)  # NotFoundError for unknown ids
            raise InvalidArgumentError(f"build {build_id} is not running here")
        executor.cancel(reason)
        return self.store.build(build_id)

    @property
    def running_builds(self) -> int:
        with self._lock:
            return len(self._running)

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
