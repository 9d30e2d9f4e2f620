"""The HTTP API: routes derived from ``service/interface.py`` over a DataBuildService.

What every request goes through, in order: the ``Host`` check on a loopback bind
(DNS rebinding), the body limit counted as bytes arrive, the write token for
operations that record events, and parsing into the operation's request message
by the JSON contract (``proto/jsonmap.py``). Work runs on worker threads, planning
in a small pool of its own so a hung ``config`` cannot take the threads reads need,
and long-polls wait on the event loop holding no thread at all. Every non-2xx
answer is ``{"error": {"code", "message"}}`` with the status the error declares.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
import math
from typing import Any, AsyncIterator, Callable, Sequence

import anyio
import anyio.to_thread
import h11
import uvicorn
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from databuild.errors import (
    DataBuildError, ForbiddenError, InvalidArgumentError, TooLargeError, UnauthorizedError, error_document,
)
from databuild.proto.jsonmap import message_dict, parse_dict
from databuild.service.core import FOREIGN_WRITER_CHECK_S, DataBuildService, check_wait
from databuild.service.interface import OPERATIONS, Operation
from databuild.service.openapi import openapi_document

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)
#: Requests that run job binaries at once; more wait (holding no thread) for a place.
PLANNING_SLOTS = 4
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class InvalidBodyError(InvalidArgumentError):
    """A request body that is not JSON, nests too deep or does not fit the operation."""

    code = "invalid_body"


def error_response(error: DataBuildError) -> JSONResponse:
    return JSONResponse(error_document(error), status_code=error.http_status)


# -- parsing a request into its message ---------------------------------------

def json_depth_ok(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays and objects at most ``limit`` deep (one linear scan, strings skipped)."""
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def parse_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    if not json_depth_ok(body):
        raise InvalidBodyError(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as e:
        raise InvalidBodyError(f"request body is not valid JSON: {e}") from None


def _scalar(field: FieldDescriptor, name: str, text: str) -> Any:
    """A query-string value as the JSON value of its field, range-checked."""
    F = FieldDescriptor
    if field.type in (F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64, F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_UINT32):
        low, high = INT64 if field.type in (F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64) else INT32
        try:
            value = int(text)
        except ValueError:
            raise InvalidArgumentError(f"query parameter {name} must be an integer, got {text!r}") from None
        if not low <= value <= high:
            raise InvalidArgumentError(f"query parameter {name} is out of range: {text}")
        return value
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise InvalidArgumentError(f"query parameter {name} must be a number, got {text!r}")
        return value
    if field.type == F.TYPE_BOOL:
        if text.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgumentError(f"query parameter {name} must be true or false, got {text!r}")
        return text.lower() in ("true", "1")
    return text


def query_document(op: Operation, items: list[tuple[str, str]]) -> dict:
    """The query string as a JSON document of ``op``'s request (repeated fields: repeat or comma-separate)."""
    fields = op.request.DESCRIPTOR.fields_by_name
    doc: dict[str, Any] = {}
    for parameter, text in items:
        name = op.field_name(parameter)
        field = fields.get(name)
        if field is None or name in op.path_fields or (name != parameter) != (name in op.aliases):
            raise InvalidArgumentError(f"unknown query parameter {parameter!r}")
        if field.is_repeated:
            doc.setdefault(name, []).extend(_scalar(field, parameter, t) for t in text.split(",") if t)
        elif name in doc:
            raise InvalidArgumentError(f"query parameter {parameter} is given more than once")
        else:
            doc[name] = _scalar(field, parameter, text)
    return doc


async def read_body(request: Request) -> bytes:
    """The body, refused as soon as more than MAX_BODY_BYTES arrived (chunked bodies included)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise TooLargeError(f"request body of {declared} bytes is over the limit of {MAX_BODY_BYTES}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLargeError(f"request body is over the limit of {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def request_message(op: Operation, request: Request) -> tuple[Message, bool]:
    """``op``'s request message from path, query and body; and whether a batch body was one element."""
    if op.query:
        doc = query_document(op, request.query_params.multi_items())
    else:
        if request.query_params:
            raise InvalidArgumentError(f"{op.method} {op.path} takes no query parameters; send a JSON body")
        doc = parse_body(await read_body(request))
    single = bool(op.batch_field) and isinstance(doc, dict) and op.batch_field not in doc
    if single:
        doc = {op.batch_field: [doc]}
    if not isinstance(doc, dict):
        raise InvalidBodyError(f"request body must be a JSON object, got {type(doc).__name__}")
    for name in op.path_fields:
        if name in doc:
            raise InvalidBodyError(f"{name} belongs in the path, not the body")
        doc[name] = request.path_params[name]
    return parse_dict(doc, op.request()), single


# -- long-polls without threads -------------------------------------------------

class AppendSignal:
    """Wakes coroutines on the event loop when the log is appended to (from any thread)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def notify(self, latest: int = 0) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout: float) -> None:
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            return


# -- the application ------------------------------------------------------------

class Guard:
    """ASGI middleware: idle tracking, and the ``Host`` check of a loopback bind."""

    def __init__(self, app: ASGIApp, on_request: Callable[[], None], loopback_only: bool) -> None:
        self.app, self.on_request, self.loopback_only = app, on_request, loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.on_request()
            if self.loopback_only:
                host = _host_name(dict(scope["headers"]).get(b"host", b"").decode("latin-1"))
                if host not in LOOPBACK_HOSTS:
                    response = error_response(ForbiddenError(
                        f"Host {host!r} is not a loopback name; this service only answers requests addressed "
                        f"to 127.0.0.1, localhost or ::1"))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _authorized(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def create_app(service: DataBuildService, token: str | None = None,
               on_request: Callable[[], None] = lambda: None, loopback_only: bool = True,
               on_shutdown: Sequence[Callable[[], None]] = ()) -> ASGIApp:
    """The ASGI app serving ``service``; ``on_request`` runs for every request (idle tracking),
    ``on_shutdown`` when the server stops.

    ``loopback_only``: the service is bound to a loopback address, so requests naming
    another host (a DNS-rebinding page in a browser) are refused."""
    signal = AppendSignal()
    service.log.add_listener(signal.notify)
    planning = anyio.CapacityLimiter(PLANNING_SLOTS)

    async def run(op: Operation, message: Message) -> Any:
        call = functools.partial(getattr(service, op.name), message)
        return await anyio.to_thread.run_sync(call, limiter=planning if op.runs_jobs else None)

    async def long_poll(op: Operation, message: Message) -> Message:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + check_wait(message.wait_seconds)
        while True:
            page = await anyio.to_thread.run_sync(service.events_page, message)
            left = deadline - loop.time()
            if page.events or left <= 0:
                return page
            message.since = page.next
            await signal.wait(min(left, FOREIGN_WRITER_CHECK_S))

    def endpoint(op: Operation) -> Callable:
        async def handle(request: Request) -> Response:
            if op.writes and not _authorized(request, token):
                raise UnauthorizedError("this request needs the service token (Authorization: Bearer ...)")
            message, single = await request_message(op, request)
            if op.long_poll:
                return JSONResponse(message_dict(await long_poll(op, message)), status_code=op.status)
            result = await run(op, message)
            if op.response is None:
                return _stream(result)
            doc = message_dict(result)
            if single:
                doc = doc[op.batch_field][0]
            return JSONResponse(doc, status_code=op.status)
        handle.__name__ = op.name
        return handle

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(service.graph.label))

    async def databuild_error(request: Request, e: DataBuildError) -> Response:
        return error_response(e)

    async def http_error(request: Request, e: HTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        message = (f"no route {request.method} {request.url.path}" if e.status_code == 404
                   else f"{request.method} is not allowed on {request.url.path}" if e.status_code == 405
                   else str(e.detail))
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=e.status_code,
                            headers=getattr(e, "headers", None))

    async def internal_error(request: Request, e: Exception) -> Response:
        log.exception("internal error answering %s %s", request.method, request.url.path)
        return JSONResponse({"error": {"code": "internal", "message": f"internal error: {type(e).__name__}"}},
                            status_code=500)

    routes = [Route(op.path, endpoint(op), methods=[op.method]) for op in OPERATIONS]
    routes.append(Route("/api/v1/openapi.json", openapi, methods=["GET"]))
    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        signal.bind()
        try:
            yield
        finally:
            for hook in on_shutdown:
                hook()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        DataBuildError: databuild_error, HTTPException: http_error, Exception: internal_error})
    return Guard(app, on_request, loopback_only)


def _stream(piece) -> Response:
    headers = {"X-Log-Offset": str(piece.offset), "X-Log-Next-Offset": str(piece.next_offset),
               "X-Log-Size": str(piece.size), "X-Log-Complete": "true" if piece.complete else "false"}
    return StreamingResponse(_iterate(piece.chunks), media_type="text/plain; charset=utf-8", headers=headers)


async def _iterate(chunks):
    # File reads are quick but blocking: take them off the event loop one chunk at a time.
    while True:
        chunk = await anyio.to_thread.run_sync(next, chunks, None)
        if chunk is None:
            return
        yield chunk


class JsonErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering malformed HTTP with the error document too."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": {"code": "invalid_http", "message": msg}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
        self.transport.write(self.conn.send(h11.Data(data=body)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()


def server_config(app: ASGIApp, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for serving ``app``: quiet, and errors in the error shape at every level."""
    return uvicorn.Config(app, http=JsonErrorH11Protocol, log_level="warning", **options)
