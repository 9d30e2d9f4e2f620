"""ServiceClient: the service's operations over HTTP, derived from ``service/interface.py``.

Each operation becomes a method of the same name taking the same request message
and returning the same answer as ``DataBuildService``, so the CLI (and other
graphs) use either side alike. The service's errors come back as the same error
classes (by their code), so exit codes do not depend on the side.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import quote, unquote, urlencode, urlsplit

from databuild.errors import ConflictError, DataBuildError, ServiceUnavailableError
from databuild.service.interface import BY_NAME, GRAPH_HEADER, OPERATIONS, PROTOBUF, LogSlice, Operation

if TYPE_CHECKING:
    from google.protobuf.message import Message

#: Bytes per chunk of a streamed job run log.
LOG_CHUNK = 64 * 1024


class ServiceError(DataBuildError):
    """An error answer whose code names no DataBuild error class; keeps the service's code and status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.http_status = code, status
        self.exit_code = 2 if 400 <= status < 500 else 3


def _error_classes() -> dict[str, type[DataBuildError]]:
    """Every DataBuild error class by its code (looked up when needed: modules define more)."""
    found: dict[str, type[DataBuildError]] = {}
    todo = [DataBuildError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


class _Answer:
    """An HTTP answer read whole: status, headers and body."""

    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status_code, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


def _json_of(r: _Answer) -> Any:
    try:
        return r.json()
    except ValueError:
        raise ServiceError("http_error", f"HTTP {r.status_code}: not JSON: {r.text[:200]!r}", r.status_code) from None


class ServiceClient:
    """Calls a DataBuild service; one method per operation (see the module docstring).

    HTTP/1.1 with the standard library's ``http.client`` (``requests`` costs a CLI call
    some 60 ms of imports before it sends anything): one keep-alive connection per
    thread, reopened when the service closed it while idle.

    ``graph_label``: the graph the service must serve (a daemon found by its record, which
    may be another graph's). The first answer's ``GRAPH_HEADER`` is checked before it is
    used, so a read costs no separate health call; the first write asks health first, so
    nothing is recorded in another graph. A mismatch is a ConflictError naming both. The
    token goes with no request before that check (a record may name a port some other
    process took over): a read refused for the want of it is sent again with it.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0,
                 graph_label: str | None = None) -> None:
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServiceUnavailableError(f"cannot reach the DataBuild service at {url!r}: not an http(s) URL")
        self._https, self._host, self._port = parts.scheme == "https", parts.hostname, parts.port
        self._base = parts.path.rstrip("/")
        self.timeout = timeout
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        self.headers = {} if graph_label is not None else dict(self._auth)  # what each request carries
        self._local = threading.local()
        self._unverified_graph = graph_label  # None once an answer named it

    def call(self, op: Operation, request: Message | None = None) -> Any:
        """Run ``op`` on the service with ``request`` (its request message; default empty).

        The answer is asked for as the serialized response message (``PROTOBUF``): parsing it
        costs microseconds per event of a feed page, where JSON cost a follower most of its time."""
        from databuild.proto.jsonmap import message_dict, parse_dict

        request = request if request is not None else op.request()
        doc = message_dict(request)
        defaults = message_dict(op.request())  # fields with presence are absent here: always sent when set
        sent = {k: v for k, v in doc.items() if k in op.path_fields or k not in defaults or v != defaults[k]}
        if op.response_name is None:
            return self.call_json(op, sent)
        r = self._answer(op, sent, binary=True)
        if r.headers.get("Content-Type", "") == PROTOBUF:
            from google.protobuf.message import DecodeError

            try:
                return op.response.FromString(r.body)
            except DecodeError:
                raise ServiceError("http_error", f"HTTP {r.status_code}: a {PROTOBUF} answer that is not a "
                                   f"{op.response_name}", r.status_code) from None
        return parse_dict(_json_of(r), op.response(), ignore_unknown=True)  # a service that answers JSON only

    def call_json(self, op: Operation, doc: dict | None = None) -> Any:
        """Run ``op`` with a request document of the JSON contract (docs/json.md); return the
        answer document as the service sent it (a ``LogSlice`` for a log).

        What reads go through without protobuf: fields left out take their defaults."""
        if op.response_name is None:
            doc = dict(doc or {})
            job_run_id = doc.get("job_run_id", "")  # a log slice names its run
            method, path, _, read_timeout = self._prepared(op, doc)
            return self._log_slice(job_run_id, method, path, read_timeout)
        return _json_of(self._answer(op, doc or {}, binary=False))

    def _answer(self, op: Operation, doc: dict, binary: bool) -> _Answer:
        """The service's 2xx answer to ``op`` with request document ``doc``; its error raised."""
        if self._unverified_graph is not None and op.method != "GET":
            self._verify_graph()  # before recording anything: the answer would be too late
        method, path, body, read_timeout = self._prepared(op, dict(doc))
        accept = f"{PROTOBUF}, application/json" if binary else "application/json"
        withheld = self._withholding_token()
        r = self._request(method, path, body, read_timeout, accept)
        if r.status_code == 401 and withheld and self.headers:  # the graph checked: now with the token
            r = self._request(method, path, body, read_timeout, accept)
        if r.status_code >= 400:
            raise self._error(r)
        return r

    def _withholding_token(self) -> bool:
        return bool(self._auth) and not self.headers

    def _prepared(self, op: Operation, doc: dict) -> tuple[str, str, bytes | None, float | None]:
        """Method, path (with the query), body and read timeout of a call of ``op`` with ``doc``."""
        path = op.path
        for name in op.path_fields:
            value = doc.pop(name, "")
            path = path.replace(f"{{{name}:path}}", quote(value, safe="")).replace(f"{{{name}}}", quote(value, safe=""))
        body = None
        if op.query:
            if doc:
                path += "?" + urlencode({op.parameter_name(k): _query_value(v) for k, v in doc.items()}, doseq=True)
        else:
            body = json.dumps(doc).encode()
        # Job config, lookup and trigger binary calls have the service's own limits (a minute by
        # default, longer if the graph says so): wait for the answer as long as they allow.
        read_timeout = None if op.runs_jobs else self.timeout + (doc.get("wait_seconds", 0) if op.long_poll else 0)
        return op.method, path, body, read_timeout

    def reachable(self) -> bool:
        """Whether the service accepts a connection (kept for the next request): False for a
        record whose service is gone, without the round trip of a request."""
        try:
            self._connection()
        except OSError:
            self._drop()
            return False
        return True

    # -- HTTP ----------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        if self._host.isascii():
            # getaddrinfo encodes a str host with the idna codec, a CLI call's last import (over 1 ms);
            # an ASCII name or address needs none, given as bytes
            conn._create_connection = _ascii_host_connection
        conn.connect()
        return conn

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's connection; a new one if the service closed the last (it is readable while idle)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and (conn.sock is None or select.select([conn.sock], [], [], 0)[0]):
            conn.close()
            conn = None
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _send(self, conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None,
              read_timeout: float | None, accept: str) -> http.client.HTTPResponse:
        headers = dict(self.headers, Accept=accept, **({"Content-Type": "application/json"} if body is not None else {}))
        conn.sock.settimeout(read_timeout)
        conn.request(method, self._base + path, body=body, headers=headers)
        return conn.getresponse()

    def _request(self, method: str, path: str, body: bytes | None, read_timeout: float | None,
                 accept: str = "application/json") -> _Answer:
        try:
            conn = self._connection()
            response = self._send(conn, method, path, body, read_timeout, accept)
            answer = _Answer(response.status, response.headers, response.read())
        except (OSError, http.client.HTTPException) as e:
            self._drop()
            raise self._unreachable(e) from None
        except BaseException:  # e.g. a signal handler's exception mid-request: the connection is unusable
            self._drop()
            raise
        if response.will_close:
            self._drop()
        self._check_graph(answer.headers)
        return answer

    def _check_graph(self, headers: http.client.HTTPMessage) -> None:
        """Raise ConflictError if an answer names another graph than ``graph_label``; a
        service that names none (an older one) is asked its health."""
        expected = self._unverified_graph
        if expected is None:
            return
        served = headers.get(GRAPH_HEADER)
        if served is None:
            self._verify_graph()
            return
        self._match_graph(expected, unquote(served))

    def _verify_graph(self) -> None:
        """Check ``graph_label`` with a health call (what the answer's body says)."""
        expected, self._unverified_graph = self._unverified_graph, None  # the health answer itself is not checked
        try:
            health = self.call_json(BY_NAME["health"])
            served = health.get("graph_label") if isinstance(health, dict) else None
            if not isinstance(served, str):
                raise ServiceUnavailableError(f"the service at {self.url} does not answer as a DataBuild service")
            self._match_graph(expected, served)
        except BaseException:
            self._unverified_graph = expected
            raise

    def _match_graph(self, expected: str, served: str) -> None:
        if served != expected:
            raise ConflictError(f"the service at {self.url} serves graph {served}, not {expected}: a state "
                                f"directory serves one graph (give this one another --state-dir)")
        self._unverified_graph = None
        self.headers = dict(self._auth)

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _unreachable(self, e: Exception) -> ServiceUnavailableError:
        return ServiceUnavailableError(f"cannot reach the DataBuild service at {self.url}: {type(e).__name__}: {e}")

    def _log_slice(self, job_run_id: str, method: str, path: str, read_timeout: float | None) -> LogSlice:
        """A log read on a connection of its own, streamed: the caller may stop reading early."""
        conn = None
        withheld = self._withholding_token()
        try:
            conn = self._connect()
            response = self._send(conn, method, path, None, read_timeout, "text/plain")
        except BaseException as e:
            if conn is not None:
                conn.close()
            if isinstance(e, (OSError, http.client.HTTPException)):
                raise self._unreachable(e) from None
            raise
        try:
            self._check_graph(response.headers)
        except BaseException:
            conn.close()
            raise
        if response.status >= 400:
            answer = _Answer(response.status, response.headers, response.read())
            conn.close()
            if answer.status_code == 401 and withheld and self.headers:  # the graph checked: now with the token
                return self._log_slice(job_run_id, method, path, read_timeout)
            raise self._error(answer)
        h = response.headers
        return LogSlice(job_run_id, int(h["X-Log-Offset"]), int(h["X-Log-Next-Offset"]), int(h["X-Log-Size"]),
                        h["X-Log-Complete"] == "true", _chunks(conn, response))

    @staticmethod
    def _error(r: _Answer) -> DataBuildError:
        try:
            error = r.json()["error"]
            code, message = error["code"], error["message"]
        except (ValueError, KeyError, TypeError):
            return ServiceError("http_error", f"HTTP {r.status_code}: {r.text[:200]}", r.status_code)
        cls = _error_classes().get(code)
        if cls is None or cls.http_status != r.status_code:
            return ServiceError(code, message, r.status_code)
        error = cls.__new__(cls)  # some classes' constructors take more than the message
        Exception.__init__(error, message)
        return error


def _ascii_host_connection(address: tuple[str, int | None], *args: Any) -> socket.socket:
    """``socket.create_connection`` for an ASCII host, passed on as bytes."""
    host, port = address
    return socket.create_connection((host.encode("ascii"), port), *args)


def _query_value(value: Any) -> Any:
    """A query parameter as the service reads it (booleans as true/false; lists repeat the name)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_query_value(v) for v in value]
    return value


def _chunks(conn: http.client.HTTPConnection, response: http.client.HTTPResponse) -> Iterator[bytes]:
    """The body of ``response`` in chunks; closes its connection when done or abandoned."""
    try:
        while True:
            chunk = response.read(LOG_CHUNK)
            if not chunk:
                return
            yield chunk
    finally:
        conn.close()


def _method(op: Operation) -> Callable:
    def call(self: ServiceClient, request: Message | None = None) -> Any:
        return self.call(op, request)
    call.__name__ = call.__qualname__ = op.name
    call.__doc__ = op.summary
    return call


for _op in OPERATIONS:
    setattr(ServiceClient, _op.name, _method(_op))
