"""The job run page (``/job-runs/{job_run_id}``): the run's facts and the tail of its log,
and the log's follow requests (``/job-runs/{job_run_id}/log?offset=N``).

The page shows the last ``LOG_TAIL`` bytes of the log as it is when rendered. While the
run has not ended, ``static/joblog.js`` asks for what comes after with the offset the
page (or its previous answer) ended at; that request waits, on the event loop and
holding no thread, until the log grew past the offset, the run ended or ``LOG_WAIT_S``
passed, and answers the new bytes (at most ``LOG_CHUNK`` of them) with where the next
request continues. Nothing already shown is sent again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from databuild.errors import InvalidArgumentError, NotFoundError
from databuild.proto import databuild_pb2 as pb
from databuild.service.core import DataBuildService
from databuild.service.dashboard.page import View, doc
from databuild.statuses import TERMINAL_JOB_RUN_STATUSES

#: Bytes of the log's end the page shows.
LOG_TAIL = 64 * 1024
#: At most this many bytes per follow answer: a run that wrote much is sent in pieces.
LOG_CHUNK = 256 * 1024
#: Longest a follow request waits for the log to grow before answering that nothing came.
LOG_WAIT_S = 25.0
#: Between looks at the log's size while waiting: writing a log appends no event, so its
#: growth is seen by looking; the run's end (an event) wakes the wait at once.
LOG_POLL_S = 0.5
#: The event that ends a run (and the follow).
RUN_EVENTS = ("job_run_status_changed",)


@dataclass(frozen=True)
class LogPiece:
    """Bytes of a run's log from ``offset`` up to ``next_offset``; ``complete``: the run
    ended and nothing follows ``next_offset``."""

    offset: int
    next_offset: int
    size: int
    complete: bool
    data: bytes


def utf8_cut(data: bytes) -> int:
    """How many bytes at the end of ``data`` start a UTF-8 character that is not complete
    yet (0 to 3): left for the next read, so a character split by a write shows whole."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: the start of the last character
            need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
            return back if need > back else 0
    return 0


def read_log(service: DataBuildService, job_run_id: str, offset: int | None, limit: int) -> LogPiece:
    """``limit`` bytes of the run's log from ``offset`` (None: the last ``limit`` bytes), cut at
    a whole character unless the run ended. A run that has not started has an empty log.

    NotFoundError for an unknown run (or one whose log is gone); InvalidArgumentError for
    an offset past the log's end (logs only grow: that offset came from elsewhere)."""
    run = service.job_run(pb.GetJobRunRequest(job_run_id=job_run_id)).job_run
    ended = run.status in TERMINAL_JOB_RUN_STATUSES
    if not run.log_path:  # not started yet (or skipped before it ran): nothing written
        if offset:
            raise InvalidArgumentError(f"offset {offset} is past the end of job run {run.job_run_id}'s log (0 bytes)")
        return LogPiece(0, 0, 0, ended, b"")
    request = pb.JobRunLogRequest(job_run_id=run.job_run_id, tail=limit) if offset is None else \
        pb.JobRunLogRequest(job_run_id=run.job_run_id, offset=offset, limit=limit)
    found = service.job_run_log(request)
    data = b"".join(found.chunks)  # at most ``limit`` bytes
    if offset is not None and offset > found.size:
        raise InvalidArgumentError(f"offset {offset} is past the end of job run {run.job_run_id}'s log "
                                   f"({found.size} bytes)")
    end = found.next_offset
    if not (found.complete and end == found.size):
        cut = utf8_cut(data)
        data, end = data[: len(data) - cut], end - cut
    return LogPiece(found.offset, end, found.size, found.complete and end == found.size, data)


def job_run_detail(v: View) -> dict:
    """The run, its build's link, and the tail of its log with where following continues.

    A live update of the page (the run's status moved) reads no log text: the page's log
    is kept as ``joblog.js`` follows it, so the update only learns the log's size."""
    svc = v.service
    run = svc.job_run(pb.GetJobRunRequest(job_run_id=v.path_params["job_run_id"])).job_run
    live_update = bool(v.extra.get("live_update"))
    try:
        piece = read_log(svc, run.job_run_id, None, 1 if live_update else LOG_TAIL)
        log_error = ""
    except NotFoundError as e:  # the run's log file is gone (or outside the log directory): say so
        piece, log_error = LogPiece(0, 0, 0, True, b""), str(e)
    return {"run": doc(run), "inputs": [d.ref for d in run.config.inputs], "outputs": list(run.outputs),
            "ended": run.status in TERMINAL_JOB_RUN_STATUSES,
            "log": {"text": "" if live_update else piece.data.decode("utf-8", errors="replace"), "offset": piece.offset,
                    "next_offset": piece.next_offset, "size": piece.size, "complete": piece.complete,
                    "tail": LOG_TAIL, "error": log_error},
            "follow_url": f"/job-runs/{run.job_run_id}/log?offset={piece.next_offset}" if not piece.complete else ""}


def parse_offset(text: str | None) -> int:
    """The ``offset`` query parameter: a byte offset (a whole number, 0 or more)."""
    if text is None:
        raise InvalidArgumentError("offset is missing: the byte offset to continue the log from")
    if not text.isdigit():
        raise InvalidArgumentError(f"offset must be a byte offset (a whole number, 0 or more), got {text!r}")
    return int(text)


async def follow_log(service: DataBuildService, signal, job_run_id: str, offset: int,
                     wait_s: float = LOG_WAIT_S) -> LogPiece:
    """What the log holds after ``offset``, once there is something (or the run ended, or
    ``wait_s`` passed). Waits on the event loop: each look at the log is a short read on a
    worker thread; the run's end wakes the wait through ``signal`` (the API's AppendSignal)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    with signal.waiting(RUN_EVENTS):
        while True:
            woken = signal.current()  # before reading: the run's end after the read sets it
            piece = await anyio.to_thread.run_sync(read_log, service, job_run_id, offset, LOG_CHUNK)
            left = deadline - loop.time()
            if piece.data or piece.complete or left <= 0:
                return piece
            await signal.wait(woken, min(left, LOG_POLL_S))


def log_response(piece: LogPiece) -> Response:
    """A follow answer: the bytes as they are in the log, where they start and where the next
    request continues (the headers of the API's log operation), and whether the run ended."""
    return Response(piece.data, media_type="application/octet-stream", headers={
        "X-Log-Offset": str(piece.offset), "X-Log-Next-Offset": str(piece.next_offset),
        "X-Log-Size": str(piece.size), "X-Log-Complete": "true" if piece.complete else "false",
        "Cache-Control": "no-store"})


def log_follow_handler(service: DataBuildService, signal) -> Callable[[Request], Awaitable[Response]]:
    """The handler of ``GET /job-runs/{job_run_id}/log?offset=N`` (routes.py guards it)."""
    async def follow(request: Request) -> Response:
        offset = parse_offset(request.query_params.get("offset"))
        piece = await follow_log(service, signal, request.path_params["job_run_id"], offset)
        return log_response(piece)
    return follow
