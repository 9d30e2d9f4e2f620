"""The HTTP API (SPEC section 10) on FastAPI: thin adapters over DataBuildService.

Bodies are protobuf JSON (snake_case field names). Bad input answers 4xx with
``{"error": {"code": ..., "message": ...}}``; mutating requests need the bearer
token when the service has one.
"""

from __future__ import annotations

import hmac
import json
from typing import Callable

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from google.protobuf.message import Message

import databuild
from databuild.errors import DataBuildError, EventLogBusyError, NotFoundError
from databuild.proto import databuild_pb2 as pb
from databuild.service.core import DataBuildService
from databuild.service.jsonmap import message_dict

MAX_BODY_BYTES = 1024 * 1024


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _json(message: Message, status: int = 200) -> JSONResponse:
    return JSONResponse(message_dict(message), status_code=status)


class BadBody(DataBuildError):
    code = "invalid_body"


async def _parse(request: Request, message: Message) -> Message:
    body = await request.body()
    if not body.strip():
        return message
    try:
        return json_format.Parse(body, message)
    except json_format.ParseError as e:
        raise BadBody(f"request body is not a valid {message.DESCRIPTOR.name}: {e}") from None


def _is_batch(body: bytes) -> bool:
    """Whether a create-wants body is a batch: a JSON object with a "wants" key."""
    try:
        parsed = json.loads(body or b"{}")
    except ValueError as e:
        raise BadBody(f"request body is not valid JSON: {e}") from None
    return isinstance(parsed, dict) and "wants" in parsed


def create_app(service: DataBuildService, token: str | None = None,
               on_request: Callable[[], None] = lambda: None) -> FastAPI:
    """The ASGI app serving ``service``; ``on_request`` runs for every request (idle tracking)."""
    app = FastAPI(title="DataBuild", version=databuild.__version__,
                  description=f"DataBuild service of graph {service.graph.label}")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        on_request()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return _error(413, "body_too_large", f"request body of {length} bytes is over {MAX_BODY_BYTES}")
        if request.method not in ("GET", "HEAD", "OPTIONS") and token is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _error(401, "unauthorized", "this request needs the service token (Authorization: Bearer ...)")
        return await call_next(request)

    @app.exception_handler(DataBuildError)
    async def databuild_error(request: Request, e: DataBuildError):
        status = 404 if isinstance(e, NotFoundError) else 503 if isinstance(e, EventLogBusyError) else 400
        return _error(status, e.code, str(e))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']} (got {err.get('input')!r})"
                             for err in e.errors())
        return _error(400, "invalid_argument", problems)

    @app.get("/api/v1/health")
    def health():
        return _json(service.health())

    @app.get("/api/v1/graph")
    def graph():
        return _json(service.graph_info())

    @app.post("/api/v1/analyze")
    async def analyze(request: Request):
        req = await _parse(request, pb.AnalyzeRequest())
        return _json(service.analyze(req))

    @app.get("/api/v1/builds")
    def builds(limit: int = Query(50, ge=1, le=10_000)):
        return _json(service.list_builds(limit))

    @app.delete("/api/v1/builds/{build_id}")
    def cancel_build(build_id: str):
        return _json(service.cancel_build(build_id))

    @app.get("/api/v1/builds/{build_id}")
    def build(build_id: str):
        return _json(service.build(build_id))

    @app.post("/api/v1/wants")
    async def create_wants(request: Request):
        """One want (a CreateWantRequest) or a batch (``{"wants": [...]}``)."""
        body = await request.body()
        batch = _is_batch(body)
        req = await _parse(request, pb.CreateWantsRequest() if batch else pb.CreateWantRequest())
        created = service.create_wants(req if batch else pb.CreateWantsRequest(wants=[req]))
        return _json(created if batch else created.wants[0], 201)

    @app.get("/api/v1/wants")
    def wants(status: list[str] = Query(default=[]), pattern: str | None = None, sla: str | None = None,
              source: str | None = None, after: str | None = None, limit: int = Query(100, ge=1, le=10_000)):
        split = [s for value in status for s in value.split(",") if s]
        return _json(service.list_wants(split, pattern, sla, source, after, limit))

    @app.get("/api/v1/wants/sla-violations")
    def sla_violations(after: str | None = None, limit: int = Query(100, ge=1, le=10_000)):
        return _json(service.sla_violations(after, limit))

    @app.get("/api/v1/wants/{want_id:path}")
    def want(want_id: str):
        return _json(service.want(want_id))

    @app.delete("/api/v1/wants/{want_id}")
    async def cancel_want(want_id: str, request: Request):
        req = await _parse(request, pb.CancelWantRequest())
        return _json(service.cancel_want(want_id, req.reason, "api"))

    @app.get("/api/v1/partitions")
    def partitions(pattern: str | None = None, status: list[str] = Query(default=[]), after: str | None = None,
                   limit: int = Query(100, ge=1, le=10_000)):
        return _json(service.list_partitions(pattern, status, after, limit))

    @app.post("/api/v1/partitions/{ref:path}/available")
    async def mark_available(ref: str, request: Request):
        req = await _parse(request, pb.MarkAvailableRequest())
        return _json(service.mark_available([ref], req.comment), 201)

    @app.post("/api/v1/partitions/{ref:path}/taint")
    async def taint(ref: str, request: Request):
        req = await _parse(request, pb.TaintRequest())
        return _json(service.taint([ref], req.reason), 201)

    @app.get("/api/v1/partitions/{ref:path}")
    def partition(ref: str):
        return _json(service.partition(ref))

    @app.get("/api/v1/job-runs/{job_run_id}")
    def job_run(job_run_id: str):
        return _json(service.job_run(job_run_id))

    @app.get("/api/v1/job-runs/{job_run_id}/logs")
    def job_run_logs(job_run_id: str):
        return Response(service.job_run_log(job_run_id), media_type="text/plain; charset=utf-8")

    @app.get("/api/v1/events")
    def events(since: int = Query(0, ge=0), pattern: list[str] = Query(default=[]),
               types: list[str] = Query(default=[]), limit: int = Query(100, ge=1, le=10_000),
               wait: float = Query(0, ge=0, le=60)):
        split = [t for value in types for t in value.split(",") if t]
        request = pb.ListEventsRequest(since=since, patterns=pattern, types=split, limit=limit, wait_seconds=wait)
        return _json(service.events(request))

    return app
