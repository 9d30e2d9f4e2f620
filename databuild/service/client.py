"""ServiceClient: DataBuildService's interface over HTTP, for the CLI and other graphs."""

from __future__ import annotations

from typing import Sequence
from urllib.parse import quote

import requests
from google.protobuf import json_format
from google.protobuf.message import Message

from databuild.errors import DataBuildError, NotFoundError, ServiceUnavailableError
from databuild.proto import databuild_pb2 as pb


class ServiceError(DataBuildError):
    """The service refused a request; ``code`` and message are the service's."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class ServiceClient:
    """Calls a DataBuild service; methods mirror DataBuildService and return the same messages."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, into: Message, body: Message | None = None, timeout: float | None = None,
              **params) -> Message:
        data = json_format.MessageToJson(body, preserving_proto_field_name=True) if body is not None else None
        try:
            r = self.http.request(method, self.url + path, params={k: v for k, v in params.items() if v is not None},
                                  data=data, headers={"Content-Type": "application/json"} if data else None,
                                  timeout=timeout or self.timeout)
        except requests.RequestException as e:
            raise ServiceUnavailableError(f"cannot reach the DataBuild service at {self.url}: {e}") from None
        if r.status_code >= 400:
            raise self._error(r)
        if into is None:
            return r.content
        return json_format.Parse(r.content, into, ignore_unknown_fields=True)

    @staticmethod
    def _error(r: requests.Response) -> DataBuildError:
        try:
            error = r.json()["error"]
            code, message = error["code"], error["message"]
        except (ValueError, KeyError, TypeError):
            code, message = "http_error", f"HTTP {r.status_code}: {r.text[:200]}"
        if r.status_code == 404:
            return NotFoundError(message)
        return ServiceError(code, message, r.status_code)

    def health(self) -> pb.HealthResponse:
        return self._call("GET", "/api/v1/health", pb.HealthResponse(), timeout=2)

    def graph_info(self) -> pb.GraphResponse:
        return self._call("GET", "/api/v1/graph", pb.GraphResponse())

    def analyze(self, request: pb.AnalyzeRequest) -> pb.AnalyzeResponse:
        return self._call("POST", "/api/v1/analyze", pb.AnalyzeResponse(), request)

    def list_partitions(self, pattern: str | None = None, statuses: Sequence[str] = (), after: str | None = None,
                        limit: int = 100) -> pb.ListPartitionsResponse:
        return self._call("GET", "/api/v1/partitions", pb.ListPartitionsResponse(), pattern=pattern,
                          status=list(statuses), after=after, limit=limit)

    def partition(self, ref: str) -> pb.PartitionDetailResponse:
        return self._call("GET", f"/api/v1/partitions/{quote(ref, safe='')}", pb.PartitionDetailResponse())

    def mark_available(self, refs: Sequence[str], comment: str = "") -> pb.ListPartitionsResponse:
        out = pb.ListPartitionsResponse()
        for ref in refs:
            out.partitions.extend(self._call("POST", f"/api/v1/partitions/{quote(ref, safe='')}/available",
                                             pb.ListPartitionsResponse(), pb.MarkAvailableRequest(comment=comment)
                                             ).partitions)
        return out

    def taint(self, refs: Sequence[str], reason: str) -> pb.ListPartitionsResponse:
        out = pb.ListPartitionsResponse()
        for ref in refs:
            out.partitions.extend(self._call("POST", f"/api/v1/partitions/{quote(ref, safe='')}/taint",
                                             pb.ListPartitionsResponse(), pb.TaintRequest(reason=reason)).partitions)
        return out

    def list_builds(self, limit: int = 50) -> pb.ListBuildsResponse:
        return self._call("GET", "/api/v1/builds", pb.ListBuildsResponse(), limit=limit)

    def cancel_build(self, build_id: str, reason: str = "cancelled by request") -> pb.BuildState:
        return self._call("DELETE", f"/api/v1/builds/{quote(build_id, safe='')}", pb.BuildState())

    def build(self, build_id: str) -> pb.BuildDetailResponse:
        return self._call("GET", f"/api/v1/builds/{quote(build_id, safe='')}", pb.BuildDetailResponse())

    def create_wants(self, request: pb.CreateWantsRequest,
                     default_source: int = pb.WANT_SOURCE_TYPE_API) -> pb.CreateWantsResponse:
        for want in request.wants:
            if not want.source.type:
                want.source.type = default_source
        return self._call("POST", "/api/v1/wants", pb.CreateWantsResponse(), request)

    def list_wants(self, statuses: Sequence[str] = (), pattern: str | None = None, sla: str | None = None,
                   source: str | None = None, after: str | None = None, limit: int = 100) -> pb.ListWantsResponse:
        return self._call("GET", "/api/v1/wants", pb.ListWantsResponse(), status=list(statuses), pattern=pattern,
                          sla=sla, source=source, after=after, limit=limit)

    def sla_violations(self, after: str | None = None, limit: int = 100) -> pb.ListWantsResponse:
        return self._call("GET", "/api/v1/wants/sla-violations", pb.ListWantsResponse(), after=after, limit=limit)

    def want(self, want_id_or_ref: str) -> pb.WantDetailResponse:
        return self._call("GET", f"/api/v1/wants/{quote(want_id_or_ref, safe='')}", pb.WantDetailResponse())

    def cancel_want(self, want_id: str, reason: str = "", requested_by: str = "") -> pb.WantState:
        return self._call("DELETE", f"/api/v1/wants/{quote(want_id, safe='')}", pb.WantState(),
                          pb.CancelWantRequest(reason=reason))

    def job_run(self, job_run_id: str) -> pb.JobRunDetailResponse:
        return self._call("GET", f"/api/v1/job-runs/{quote(job_run_id, safe='')}", pb.JobRunDetailResponse())

    def job_run_log(self, job_run_id: str) -> bytes:
        return self._call("GET", f"/api/v1/job-runs/{quote(job_run_id, safe='')}/logs", None)

    def events(self, request: pb.ListEventsRequest) -> pb.ListEventsResponse:
        return self._call("GET", "/api/v1/events", pb.ListEventsResponse(), timeout=self.timeout + request.wait_seconds,
                          since=request.since, pattern=list(request.patterns) or None,
                          types=",".join(request.types) or None, limit=request.limit or None,
                          wait=request.wait_seconds or None)
