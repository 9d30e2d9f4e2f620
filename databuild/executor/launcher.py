"""Starting job processes and waiting for them without polling.

``ProcessLauncher`` is the real one: each run leads its own process group, its config
JSON is its stdin (through a pipe), and its stdout and stderr go into one pipe that the
launcher drains into the run's log file, keeping at most ``max_log_bytes`` of it. Exits
(pidfds) and output (pipes) of every run are watched in one selector, so hundreds of
runs cost no threads and no polling interval, and a run flooding its output is read as
fast as it writes without holding up the others. Tests of the executor's decisions use
a fake with the same four methods.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from typing import Mapping, NamedTuple, Protocol

from databuild.errors import InvalidArgumentError
from databuild.graph import GraphSpec
from databuild.jobs.protocol import exec_invocation
from databuild.planner import PlannedRun
from databuild.procs import DRAIN_GRACE_SECONDS, GroupChild

#: Below the kernel's pipe buffer (64 KiB), so writing a config never blocks.
PIPE_SAFE_BYTES = 60_000
#: Overrides the graph's ``max_log_bytes`` at run time.
MAX_LOG_BYTES_ENV = "DATABUILD_MAX_LOG_BYTES"


class RunExit(NamedTuple):
    """How a run ended: its exit code (negative: killed by that signal), how many
    bytes of its output its log dropped past the cap, and why it failed when the
    backend knows better than the exit code (e.g. "worker lost"), and where it ran
    when that is not this host (a Dask worker's address)."""

    job_run_id: str
    exit_code: int
    log_bytes_dropped: int = 0
    error: str = ""
    worker: str = ""


class Launcher(Protocol):
    def start(self, run: PlannedRun, log_path: str) -> int | None:
        """Start ``run``; return its process (group) id if it has one; raise OSError if it cannot be started."""

    def wait(self, timeout: float | None) -> list[RunExit]:
        """Block until a run ends, ``wake`` is called or ``timeout`` passes; return the runs that ended."""

    def terminate(self, job_run_id: str, force: bool = False) -> None:
        """Ask a running job to stop (SIGTERM to its process group; SIGKILL with ``force``)."""

    def wake(self) -> None:
        """Make a blocked ``wait`` return early; safe from signal handlers and threads."""


def max_log_bytes(graph: GraphSpec, environ: Mapping[str, str]) -> int:
    """The log cap of ``graph``'s runs: ``DATABUILD_MAX_LOG_BYTES`` in ``environ`` if set, else the graph's."""
    text = environ.get(MAX_LOG_BYTES_ENV, "").strip()
    if not text:
        return graph.max_log_bytes
    if not text.isascii() or not text.isdigit() or int(text) == 0:
        raise InvalidArgumentError(f"{MAX_LOG_BYTES_ENV} must be a positive number of bytes, got {text!r}")
    return int(text)


def run_invocation(graph: GraphSpec, run: PlannedRun, base_env: dict[str, str]) -> tuple[list[str], dict[str, str], bytes]:
    """argv, environment and stdin of ``run``'s job process: the same for every launcher."""
    return exec_invocation(graph.job(run.job_label), run.job_run_id, run.config, base_env)


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


class RunLog:
    """A run's log file (owner-only): the first ``cap`` bytes of its output; the rest is
    counted, and one marker line saying so ends the file. The file is created when the
    run first prints: a run that prints nothing leaves none (readers show it empty)."""

    def __init__(self, path: str, cap: int) -> None:
        self.path, self.cap, self.received, self.written = path, cap, 0, 0
        self._fd: int | None = None
        self._last = b"\n"
        self._error = ""

    @property
    def dropped(self) -> int:
        return self.received - self.written

    def write(self, chunk: bytes) -> None:
        self.received += len(chunk)
        view = memoryview(chunk)[:0 if self._error else self.cap - self.written]
        try:
            if view and self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            while view:
                n = os.write(self._fd, view)
                self.written += n
                self._last, view = view[n - 1:n].tobytes(), view[n:]
        except OSError as e:  # e.g. the disk is full: the job goes on, its log stops here
            self._error = e.strerror or type(e).__name__

    def close(self) -> int:
        """Write the marker if anything was dropped, close; return the number of bytes dropped."""
        if self.dropped and self._fd is not None:
            why = f"log write failed ({self._error})" if self._error else f"log capped at {_size(self.cap)}"
            newline = "" if self._last == b"\n" else "\n"
            with contextlib.suppress(OSError):
                os.write(self._fd, f"{newline}[databuild: {why}; {self.dropped} bytes dropped]\n".encode())
        if self._fd is not None:
            os.close(self._fd)
        return self.dropped


class ProcessLauncher:
    """Runs jobs as child processes of this one.

    A run has ended when its process exited and its output pipe reached EOF, so the
    log holds everything it printed; if something it left behind keeps the pipe open,
    the run ends ``drain_grace`` seconds after its exit, and its process group is killed.
    """

    def __init__(self, graph: GraphSpec, base_env: dict[str, str] | None = None, max_log_bytes: int | None = None,
                 drain_grace: float = DRAIN_GRACE_SECONDS) -> None:
        self.graph = graph
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.max_log_bytes = max_log_bytes or graph.max_log_bytes
        self.drain_grace = drain_grace
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._runs: dict[str, tuple[GroupChild, RunLog]] = {}
        self._draining: dict[str, float] = {}  # exited runs whose pipe is still open -> when to cut it

    def start(self, run: PlannedRun, log_path: str) -> int:
        argv, env, stdin = run_invocation(self.graph, run, self.base_env)
        log = RunLog(log_path, self.max_log_bytes)
        try:
            if len(stdin) <= PIPE_SAFE_BYTES:
                child = self._spawn(run, argv, env, log, subprocess.PIPE)
                self._write_stdin(child.proc, stdin)
            else:  # too big for the pipe buffer: a job that never reads stdin would block us
                config_path = log_path + ".config.json"
                with open(os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                    f.write(stdin)
                with open(config_path, "rb") as config:
                    child = self._spawn(run, argv, env, log, config)
        except BaseException:
            log.close()
            raise
        self._runs[run.job_run_id] = (child, log)
        return child.pid  # also its process group: jobs start their own session

    def _spawn(self, run: PlannedRun, argv: list[str], env: dict[str, str], log: RunLog, stdin) -> GroupChild:
        return GroupChild(run.job_run_id, argv, env, self._selector, log.write, stdin=stdin,
                          drain_grace=self.drain_grace)

    @staticmethod
    def _write_stdin(proc: subprocess.Popen, data: bytes) -> None:
        # A job may exit without reading its config (the protocol allows it).
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(data)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()

    def wait(self, timeout: float | None) -> list[RunExit]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ended, woken = [], False
            for key, _ in self._selector.select(self._select_timeout(deadline)):
                child = key.data
                if child is None:
                    self._drain_wake()
                    woken = True
                    continue
                child.ready(key.fd)
                if child.ended:
                    ended.append(self._end(child.name))
                elif child.drain_deadline is not None:
                    self._draining[child.name] = child.drain_deadline
            now = time.monotonic()
            for rid, cut_at in list(self._draining.items()):
                if cut_at <= now:
                    self._runs[rid][0].cut()
                    ended.append(self._end(rid))
            if ended or woken or (deadline is not None and now >= deadline):
                return ended

    def _select_timeout(self, deadline: float | None) -> float | None:
        times = [*self._draining.values(), *([] if deadline is None else [deadline])]
        return max(0.0, min(times) - time.monotonic()) if times else None

    def _end(self, rid: str) -> RunExit:
        child, log = self._runs.pop(rid)
        self._draining.pop(rid, None)
        code = child.reap()
        return RunExit(rid, code, log.close())

    def terminate(self, job_run_id: str, force: bool = False) -> None:
        entry = self._runs.get(job_run_id)
        if entry is not None:
            entry[0].signal(signal.SIGKILL if force else signal.SIGTERM)

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            return  # the pipe is full: a wake-up is already pending

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            return

    @property
    def running(self) -> list[str]:
        return list(self._runs)

    def close(self) -> None:
        """Release the selector; runs still going (the executor gave up on them) are killed."""
        for rid in list(self._runs):
            self._runs[rid][0].cut()
            self._end(rid)
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
