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
import gc
import hmac
import json
import logging
import socket
import threading
from collections import Counter
from typing import Any, AsyncIterator, Callable, Collection, Iterator, Sequence
from urllib.parse import quote

import anyio
import anyio.to_thread
import uvicorn
from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional: h11 serves the same
    HttpToolsProtocol = None

from databuild.errors import DataBuildError, ForbiddenError, UnauthorizedError, error_document
from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import message_dict
from databuild.service.core import FOREIGN_WRITER_CHECK_S, DataBuildService, check_wait
from databuild.service.http_input import request_message
from databuild.service.interface import GRAPH_HEADER, OPERATIONS, PROTOBUF, Operation
from databuild.service.metrics import (
    CONTENT_TYPE_LATEST, METRICS_PATH, RequestMetrics, ServiceMetrics, dashboard_label_sets,
)
from databuild.service.openapi import openapi_document

log = logging.getLogger(__name__)

#: Requests that run job binaries at once; more wait (holding no thread) for a place.
PLANNING_SLOTS = 4
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def json_response(doc: Any, status: int = 200) -> Response:
    """``doc`` as a JSON answer, encoded as Starlette's JSONResponse does."""
    body = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type="application/json")


def wants_protobuf(request: Request) -> bool:
    """Whether the request asked for a binary answer (``Accept: application/x-protobuf``), as
    DataBuild's own client does: no JSON encoding here nor parsing there, for the feed's pages
    of thousands of events. Errors stay JSON."""
    return PROTOBUF in request.headers.get("accept", "")


def protobuf_response(message: Message, status: int = 200) -> Response:
    return Response(message.SerializeToString(), status_code=status, media_type=PROTOBUF)


def error_response(error: DataBuildError) -> Response:
    return json_response(error_document(error), error.http_status)


# -- long-polls without threads -------------------------------------------------

class AppendSignal:
    """Wakes coroutines on the event loop when the log is appended to (from any thread).

    A waiter takes the current ``asyncio.Event`` before it reads the log and waits on
    that one, so an append between its read and its wait is not missed. Appended events
    are counted by type (``saw``, in the appending thread, before the wake-up), and an
    append wakes the loop only if a waiter asked for one of its types (or for any type):
    a follower waiting for its want's move while the build's runs go on costs nothing
    per run, and reads the log again only once one of its types was appended.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._lock = threading.Lock()
        self._waiting: Counter[frozenset[str]] = Counter()  # the types waiters asked for (empty: any)
        self._total = 0
        self._by_type: dict[str, int] = {}

    def saw(self, events: list[pb.Event]) -> bool:
        """Count ``events`` by type; whether a waiter asked for one of them (the log's
        ``when`` hook of ``notify``)."""
        names = [event.WhichOneof("payload") for event in events]
        with self._lock:
            self._total += len(names)
            for name in names:
                self._by_type[name] = self._by_type.get(name, 0) + 1
            return any(not types or not types.isdisjoint(names) for types in self._waiting)

    def appended(self, types: Collection[str]) -> int:
        """How many events of ``types`` (of any type if empty) were appended so far."""
        with self._lock:
            return sum(self._by_type.get(t, 0) for t in types) if types else self._total

    def bind(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def notify(self, latest: int = 0) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    @contextlib.contextmanager
    def waiting(self, types: Collection[str] = ()) -> Iterator[None]:
        """Count a waiter for ``types`` (any if empty) while it reads the log and waits:
        counted before its first read, so an append after that read wakes it."""
        key = frozenset(types)
        with self._lock:
            self._waiting[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key]

    def current(self) -> asyncio.Event:
        """The event the next append sets: take it before reading the log."""
        return self._event

    @staticmethod
    async def wait(event: asyncio.Event, timeout: float) -> None:
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            return


# -- the application ------------------------------------------------------------

class Guard:
    """ASGI middleware: idle tracking, the ``Host`` check of a loopback bind, and the graph's
    label on every answer (``GRAPH_HEADER``)."""

    def __init__(self, app: ASGIApp, on_request: Callable[[], None], loopback_only: bool,
                 graph_label: str) -> None:
        self.app, self.on_request, self.loopback_only = app, on_request, loopback_only
        self.graph_header = (GRAPH_HEADER.lower().encode(), quote(graph_label, safe="/:@").encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.on_request()
            send = self._labelled(send)
            if self.loopback_only:
                host = _host_name(dict(scope["headers"]).get(b"host", b"").decode("latin-1"))
                if host not in LOOPBACK_HOSTS:
                    response = error_response(ForbiddenError(
                        f"Host {host!r} is not a loopback name; this service only answers requests addressed "
                        f"to 127.0.0.1, localhost or ::1"))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _labelled(self, send: Send) -> Send:
        async def labelled(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), self.graph_header]}
            await send(message)
        return labelled


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _bearer(request: Request) -> bytes | None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip().encode() if scheme.lower() == "bearer" else None


def _matches(given: bytes | None, token: str | None) -> bool:
    return given is not None and token is not None and hmac.compare_digest(given, token.encode())


def check_token(request: Request, writes: bool, token: str | None, read_token: str | None,
                loopback_only: bool) -> None:
    """Raise UnauthorizedError unless the request carries the token it needs
    (docs/http-api.md#authentication): writes the write token; reads, off loopback,
    the write or the read-only token. A service with no token at all asks for none."""
    check_given(_bearer(request), writes, token, read_token, loopback_only)


def check_given(given: bytes | None, writes: bool, token: str | None, read_token: str | None,
                loopback_only: bool) -> None:
    """``check_token`` for a token however it came (a bearer header; the dashboard's
    signed-in session, ``service/dashboard/auth.py``)."""
    if writes:
        if token is not None and not _matches(given, token):
            held = " (a read-only token cannot record)" if _matches(given, read_token) else ""
            raise UnauthorizedError(f"this request needs the service's write token{held} (Authorization: Bearer ...)")
    elif not loopback_only and (token or read_token) and not (_matches(given, token) or _matches(given, read_token)):
        raise UnauthorizedError("this service is not on loopback: every request needs a token, read-only or write "
                                "(Authorization: Bearer ...)")


def create_app(service: DataBuildService, token: str | None = None,
               on_request: Callable[[], None] = lambda: None, loopback_only: bool = True,
               on_shutdown: Sequence[Callable[[], None]] = (), read_token: str | None = None) -> ASGIApp:
    """The ASGI app serving ``service``; ``on_request`` runs for every request (idle tracking),
    ``on_shutdown`` when the server stops.

    ``token`` records (and reads), ``read_token`` only reads. ``loopback_only``: the
    service is bound to a loopback address, so reads need no token and requests naming
    another host (a DNS-rebinding page in a browser) are refused; off loopback every
    request needs one of the tokens."""
    signal = AppendSignal()
    service.log.add_listener(signal.notify, when=signal.saw)
    metrics = ServiceMetrics(service)
    planning = anyio.CapacityLimiter(PLANNING_SLOTS)

    def encoded(op: Operation, result: Message, single: bool, binary: bool) -> Response:
        if single:
            result = getattr(result, op.batch_field)[0]
        return protobuf_response(result, op.status) if binary else json_response(message_dict(result), op.status)

    def answer(op: Operation, message: Message, single: bool, binary: bool) -> Response:
        """Run ``op`` and encode its answer: on a worker thread, so big lists never hold the event loop."""
        result = getattr(service, op.name)(message)
        if op.response is None:
            return _stream(result)
        return encoded(op, result, single, binary)

    def page_answer(op: Operation, message: Message, last_try: bool, binary: bool) -> Response | None:
        """A page of the feed, encoded (on a worker thread); None while it is empty and waiting goes on."""
        page = service.events_page(message)
        if page.events or last_try:
            return encoded(op, page, False, binary)
        message.since, message.cursor_event_id = page.next, page.next_event_id
        return None

    async def long_poll(op: Operation, message: Message, binary: bool) -> Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + check_wait(message.wait_seconds)
        types = tuple(message.types)
        with signal.waiting(types):
            while True:
                woken, seen = signal.current(), signal.appended(types)
                answer = await anyio.to_thread.run_sync(page_answer, op, message, deadline - loop.time() <= 0, binary)
                if answer is not None:
                    return answer
                # Read again at the deadline, after FOREIGN_WRITER_CHECK_S (other processes'
                # appends wake no one), or once an event of the asked types was appended here.
                check_at = min(deadline, loop.time() + FOREIGN_WRITER_CHECK_S)
                while loop.time() < check_at:
                    await signal.wait(woken, check_at - loop.time())
                    woken = signal.current()
                    if signal.appended(types) != seen:
                        break

    def endpoint(op: Operation) -> Callable:
        async def handle(request: Request) -> Response:
            check_token(request, op.writes, token, read_token, loopback_only)
            message, single = await request_message(op, request)
            binary = wants_protobuf(request)
            if op.long_poll:
                return await long_poll(op, message, binary)
            return await anyio.to_thread.run_sync(answer, op, message, single, binary,
                                                  limiter=planning if op.runs_jobs else None)
        handle.__name__ = op.name
        return handle

    async def openapi(request: Request) -> Response:
        check_token(request, False, token, read_token, loopback_only)
        return json_response(openapi_document(service.graph.label))

    async def metrics_text(request: Request) -> Response:
        """The Prometheus scrape (docs/metrics.md); a read: off loopback it needs a token."""
        check_token(request, False, token, read_token, loopback_only)
        body = await anyio.to_thread.run_sync(metrics.scrape)  # the gauges query the read models
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def databuild_error(request: Request, e: DataBuildError) -> Response:
        return error_response(e)

    async def http_error(request: Request, e: HTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        message = (f"no route {request.method} {request.url.path}" if e.status_code == 404
                   else f"{request.method} is not allowed on {request.url.path}" if e.status_code == 405
                   else str(e.detail))
        response = json_response({"error": {"code": code, "message": message}}, e.status_code)
        response.headers.update(getattr(e, "headers", None) or {})
        return response

    async def internal_error(request: Request, e: Exception) -> Response:
        log.exception("internal error answering %s %s", request.method, request.url.path)
        return json_response({"error": {"code": "internal", "message": f"internal error: {type(e).__name__}"}}, 500)

    routes = [Route(op.path, endpoint(op), methods=[op.method]) for op in OPERATIONS]
    routes.append(Route("/api/v1/openapi.json", openapi, methods=["GET"]))
    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    routes.append(Route(METRICS_PATH, metrics_text, methods=["GET"]))
    # The dashboard at / (imported here: it builds on this module's token check).
    from databuild.service.dashboard import Auth, dashboard_routes
    dashboard = dashboard_routes(service, Auth(token, read_token, loopback_only), signal)
    metrics.precreate_routes(dashboard_label_sets(dashboard))  # their counters read 0 before a request
    routes += dashboard

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        signal.bind()
        # What start-up made (modules, the graph, uvicorn) lives as long as the server: kept
        # out of the collector's full passes, which a stream of requests triggers over and over
        # and which otherwise walk all of it (~10% of a batch of created wants' time). Garbage
        # first, so no cycle is frozen.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for hook in on_shutdown:
                hook()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        DataBuildError: databuild_error, HTTPException: http_error, Exception: internal_error})
    # Outermost, so requests the Guard refuses are counted too.
    return RequestMetrics(Guard(app, on_request, loopback_only, service.graph.label), metrics)


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


class _ServedAtOnce:
    """Mixed into uvicorn's protocols: each answer sent at once, malformed HTTP answered
    with the error document too."""

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # asyncio sets TCP_NODELAY only on sockets made with IPPROTO_TCP, and ours (bound
        # before uvicorn starts) are not: without it the body waits behind the headers
        # for the client's delayed ACK, 40 ms on every reused connection.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[misc]

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": {"code": "invalid_http", "message": msg}}).encode()
        self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
        self.transport.close()


class JsonErrorH11Protocol(_ServedAtOnce, H11Protocol):
    """uvicorn's h11 protocol (pure Python), for where httptools is not installed."""


if HttpToolsProtocol is not None:
    class JsonErrorHttpToolsProtocol(_ServedAtOnce, HttpToolsProtocol):
        """uvicorn's protocol on httptools (llhttp, in C): it parses a request and writes
        an answer in a fraction of h11's time, most of a small request's cost."""

    PROTOCOL: type[asyncio.Protocol] = JsonErrorHttpToolsProtocol
else:
    PROTOCOL = JsonErrorH11Protocol


def server_config(app: ASGIApp, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for serving ``app``: quiet, and errors in the error shape at every level.

    No proxy-header middleware: nothing here reads the client's address or scheme, and it
    is one more layer every request passes through."""
    return uvicorn.Config(app, http=PROTOCOL, log_level="warning", **{"proxy_headers": False, **options})
