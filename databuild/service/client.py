"""ServiceClient: the service's operations over HTTP, derived from ``service/interface.py``.

Each operation becomes a method of the same name taking the same request message
and returning the same answer as ``DataBuildService``, so the CLI (and other
graphs) use either side alike. The service's errors come back as the same error
classes (by their code), so exit codes do not depend on the side.
"""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import quote

import requests
from google.protobuf.message import Message

from databuild.errors import DataBuildError, ServiceUnavailableError
from databuild.proto.jsonmap import message_dict, parse_dict
from databuild.service.interface import OPERATIONS, LogSlice, Operation


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


class ServiceClient:
    """Calls a DataBuild service; one method per operation (see the module docstring)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, op: Operation, request: Message | None = None) -> Any:
        """Run ``op`` on the service with ``request`` (its request message; default empty)."""
        request = request if request is not None else op.request()
        doc = message_dict(request)
        path = op.path
        for name in op.path_fields:
            value = doc.pop(name)
            path = path.replace(f"{{{name}:path}}", quote(value, safe="")).replace(f"{{{name}}}", quote(value, safe=""))
        defaults = message_dict(op.request())  # fields with presence are absent here: always sent when set
        sent = {k: v for k, v in doc.items() if k not in defaults or v != defaults[k]}
        params = {op.parameter_name(k): v for k, v in sent.items()} if op.query else None
        body = None if op.query else json.dumps(sent)
        # Job config, lookup and trigger binary calls have the service's own limits (a minute by
        # default, longer if the graph says so): wait for the answer as long as they allow.
        timeout = (self.timeout, None) if op.runs_jobs else self.timeout + (request.wait_seconds if op.long_poll else 0)
        try:
            r = self.http.request(op.method, self.url + path, params=params, data=body, timeout=timeout,
                                  headers={"Content-Type": "application/json"} if body else None,
                                  stream=op.response is None)
        except requests.RequestException as e:
            raise ServiceUnavailableError(f"cannot reach the DataBuild service at {self.url}: {e}") from None
        if r.status_code >= 400:
            raise self._error(r)
        if op.response is None:
            return self._log_slice(request, r)
        return parse_dict(r.json(), op.response(), ignore_unknown=True)

    @staticmethod
    def _error(r: requests.Response) -> DataBuildError:
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

    @staticmethod
    def _log_slice(request: Message, r: requests.Response) -> LogSlice:
        h = r.headers
        return LogSlice(request.job_run_id, int(h["X-Log-Offset"]), int(h["X-Log-Next-Offset"]), int(h["X-Log-Size"]),
                        h["X-Log-Complete"] == "true", r.iter_content(64 * 1024))


def _method(op: Operation) -> Callable:
    def call(self: ServiceClient, request: Message | None = None) -> Any:
        return self.call(op, request)
    call.__name__ = call.__qualname__ = op.name
    call.__doc__ = op.summary
    return call


for _op in OPERATIONS:
    setattr(ServiceClient, _op.name, _method(_op))
