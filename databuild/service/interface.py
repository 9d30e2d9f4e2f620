"""The service's operations, declared once.

Each ``Operation`` names a ``DataBuildService`` method, the request message it takes
and the message it answers with, and where it lives over HTTP. The HTTP routes
(``service/http.py``), the HTTP client (``service/client.py``) and the OpenAPI
document (``service/openapi.py``) are derived from this table, so the in-process
service and the one over HTTP cannot drift apart; the CLI calls the same methods
on whichever side it has.

A request's fields come from the path (``{field}`` in ``path``), the query string
(GET, under ``aliases`` where the query name differs from the field name) or the
JSON body (every other method).

The table names its messages rather than importing them: a CLI read over HTTP uses the
table and the JSON contract only, never loading protobuf (some 40 ms of a call).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Mapping

if TYPE_CHECKING:
    from google.protobuf.message import Message

API = "/api/v1"
#: The media type a request asks for (``Accept``) to get its answer as the operation's response
#: message serialized by protobuf instead of JSON, as DataBuild's own client does: parsing a feed
#: page of a thousand events then costs the client a millisecond, not most of its time.
PROTOBUF = "application/x-protobuf"
#: The header of every answer naming the graph that serves it (its label, percent-encoded): a
#: client that found a daemon by its record checks it on the first answer, no health call first.
GRAPH_HEADER = "X-DataBuild-Graph"


@dataclass(frozen=True)
class Operation:
    """One operation of the service; see the module docstring."""

    name: str
    method: str
    path: str
    #: The request message's name in ``databuild_pb2``.
    request_name: str
    #: The answer message's name; None: the answer is a byte stream (``LogSlice`` in
    #: process, text over HTTP).
    response_name: str | None
    summary: str
    status: int = 200
    #: Records events: needs the service's write token.
    writes: bool = False
    #: Calls job ``config``, lookup or trigger binaries: runs in the planning pool.
    runs_jobs: bool = False
    #: Waits for new events (``wait_seconds``) without holding a worker thread.
    long_poll: bool = False
    #: Request field -> its name in the query string.
    aliases: Mapping[str, str] = field(default_factory=dict)
    #: A repeated request field whose single element may be sent alone as the body
    #: (``POST /api/v1/wants`` with one want); the answer is then that element's result.
    batch_field: str = ""

    @property
    def request(self) -> type[Message]:
        """The request message class (protobuf is imported on first use)."""
        return _message(self.request_name)

    @property
    def response(self) -> type[Message] | None:
        """The answer message class, or None for a byte stream."""
        return _message(self.response_name) if self.response_name is not None else None

    @property
    def path_fields(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)(?::path)?}", self.path))

    @property
    def query(self) -> bool:
        """Whether the non-path fields travel in the query string (else in the body)."""
        return self.method == "GET"

    def field_name(self, parameter: str) -> str:
        """The request field a query parameter sets."""
        for name, alias in self.aliases.items():
            if alias == parameter:
                return name
        return parameter

    def parameter_name(self, field_name: str) -> str:
        return self.aliases.get(field_name, field_name)


def _message(name: str) -> type[Message]:
    from databuild.proto import databuild_pb2

    return getattr(databuild_pb2, name)


@dataclass
class LogSlice:
    """A byte range of a job run's log: ``chunks`` yields it without holding it in memory."""

    job_run_id: str
    offset: int           # first byte of the slice
    next_offset: int      # where the next read continues
    size: int             # the log's size when read
    complete: bool        # the run has ended: the log will not grow
    chunks: Iterator[bytes]


OPERATIONS: tuple[Operation, ...] = (
    Operation("health", "GET", f"{API}/health", "EmptyRequest", "HealthResponse",
              "Liveness, version, graph label and the latest event index."),
    Operation("graph_info", "GET", f"{API}/graph", "EmptyRequest", "GraphResponse",
              "The graph's jobs, lookup, upstreams and output patterns."),
    Operation("analyze", "POST", f"{API}/analyze", "AnalyzeRequest", "AnalyzeResponse",
              "The plan for building partitions, without running it (records nothing).", runs_jobs=True),
    Operation("list_partitions", "GET", f"{API}/partitions", "ListPartitionsRequest", "ListPartitionsResponse",
              "Partitions by ref, filtered by a glob and statuses; paged with after.",
              aliases={"statuses": "status"}),
    Operation("mark_available", "POST", f"{API}/partitions:mark-available", "MarkAvailableRequest",
              "ListPartitionsResponse", "Record that external partitions landed (one event for the batch).",
              status=201, writes=True),
    Operation("taint", "POST", f"{API}/partitions:taint", "TaintRequest", "ListPartitionsResponse",
              "Mark available partitions bad; active wants rebuild them.", status=201, writes=True),
    Operation("partition", "GET", f"{API}/partitions/{{ref:path}}", "GetPartitionRequest",
              "PartitionDetailResponse", "A partition's state and the events that touched it."),
    Operation("list_builds", "GET", f"{API}/builds", "ListBuildsRequest", "ListBuildsResponse",
              "Builds, newest first; paged with after."),
    Operation("build", "GET", f"{API}/builds/{{build_id}}", "GetBuildRequest", "BuildDetailResponse",
              "A build: its job graph and job runs."),
    Operation("cancel_build", "DELETE", f"{API}/builds/{{build_id}}", "CancelBuildRequest", "BuildState",
              "Stop a running build; its wants retry or end as their policy says.", writes=True),
    Operation("create_wants", "POST", f"{API}/wants", "CreateWantsRequest", "CreateWantsResponse",
              "Create wants (all or none): a batch {\"wants\": [...]}, or one want as the body.",
              status=201, writes=True, batch_field="wants"),
    Operation("list_wants", "GET", f"{API}/wants", "ListWantsRequest", "ListWantsResponse",
              "Wants in creation order, filtered; paged with after.", aliases={"statuses": "status"}),
    Operation("sla_violations", "GET", f"{API}/wants/sla-violations", "PageRequest", "ListWantsResponse",
              "Wants whose SLA deadline passed before they were satisfied."),
    Operation("want", "GET", f"{API}/wants/{{want_id:path}}", "GetWantRequest", "WantDetailResponse",
              "A want (by id, unique id prefix or partition ref): timeline and why it is not done yet."),
    Operation("cancel_want", "DELETE", f"{API}/wants/{{want_id}}", "CancelWantRequest", "WantState",
              "Cancel an active want; its build stops unless another active want rides on it.", writes=True),
    Operation("upstreams", "GET", f"{API}/upstreams", "EmptyRequest", "ListUpstreamsResponse",
              "Each upstream graph's sync: state, cursor, head, lag, last success and error."),
    Operation("triggers", "GET", f"{API}/triggers", "EmptyRequest", "ListTriggersResponse",
              "Each trigger: kind, schedule or on templates, next fire time, last firing, last error, paused."),
    Operation("fire_trigger", "POST", f"{API}/triggers/{{name}}/fire", "FireTriggerRequest", "FireTriggerResponse",
              "Fire a trigger now (source cli): for a time (at, default now), or a partition of a reactive trigger.",
              status=201, writes=True, runs_jobs=True),
    Operation("pause_trigger", "POST", f"{API}/triggers/{{name}}/pause", "PauseTriggerRequest", "TriggerStatus",
              "Pause a trigger: it fires nothing until resumed.", writes=True),
    Operation("resume_trigger", "POST", f"{API}/triggers/{{name}}/resume", "PauseTriggerRequest", "TriggerStatus",
              "Resume a paused trigger: what came due while it was paused is not fired.", writes=True),
    Operation("job_stats", "GET", f"{API}/jobs", "EmptyRequest", "JobStatsResponse",
              "Per job label: runs, succeeded, failed, success rate, p50/p95 duration, the run that ended last."),
    Operation("list_job_runs", "GET", f"{API}/job-runs", "ListJobRunsRequest", "ListJobRunsResponse",
              "One job's runs (job_label), newest scheduled first, paged."),
    Operation("job_run", "GET", f"{API}/job-runs/{{job_run_id}}", "GetJobRunRequest", "JobRunDetailResponse",
              "A job run's state."),
    Operation("job_run_log", "GET", f"{API}/job-runs/{{job_run_id}}/logs", "JobRunLogRequest", None,
              "A job run's captured output, streamed: a byte range (offset, limit) or the last tail bytes."),
    Operation("events", "GET", f"{API}/events", "ListEventsRequest", "ListEventsResponse",
              "The event feed from since, filtered by ref globs and types; long-polls up to wait seconds.",
              long_poll=True, aliases={"patterns": "pattern", "wait_seconds": "wait"}),
)

BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}
