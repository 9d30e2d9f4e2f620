"""Starting job processes and waiting for them without polling.

``ProcessLauncher`` is the real one: each run's stdout and stderr go to its own log
file, its config JSON is its stdin (through a pipe), and completions are noticed through pidfds in
one selector (so hundreds of runs cost no threads and no polling interval).
Tests of the executor's decisions use a fake with the same three methods.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
from typing import Protocol

from databuild.graph import GraphSpec
from databuild.jobs.protocol import exec_invocation
from databuild.planner import PlannedRun


#: Below the kernel's pipe buffer (64 KiB), so writing a config never blocks.
PIPE_SAFE_BYTES = 60_000


class Launcher(Protocol):
    def start(self, run: PlannedRun, log_path: str) -> int | None:
        """Start ``run``; return its process (group) id if it has one; raise OSError if it cannot be started."""

    def wait(self, timeout: float | None) -> list[tuple[str, int]]:
        """Block until a run ends, ``wake`` is called or ``timeout`` passes; return (job_run_id, exit code)."""

    def terminate(self, job_run_id: str, force: bool = False) -> None:
        """Ask a running job to stop (SIGTERM to its process group; SIGKILL with ``force``)."""

    def wake(self) -> None:
        """Make a blocked ``wait`` return early; safe from signal handlers and threads."""


class ProcessLauncher:
    """Runs jobs as child processes of this one."""

    def __init__(self, graph: GraphSpec, base_env: dict[str, str] | None = None) -> None:
        self.graph = graph
        self.base_env = dict(os.environ if base_env is None else base_env)
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._procs: dict[str, tuple[subprocess.Popen, int]] = {}

    def start(self, run: PlannedRun, log_path: str) -> int:
        argv, env, stdin = exec_invocation(self.graph.job(run.job_label), run.job_run_id, run.config, self.base_env)
        with open(log_path, "wb") as log:
            if len(stdin) <= PIPE_SAFE_BYTES:
                proc = self._popen(argv, env, log, subprocess.PIPE)
                self._write_stdin(proc, stdin)
            else:  # too big for the pipe buffer: a job that never reads stdin would block us
                config_path = log_path + ".config.json"
                with open(config_path, "wb") as f:
                    f.write(stdin)
                with open(config_path, "rb") as config:
                    proc = self._popen(argv, env, log, config)
        pidfd = os.pidfd_open(proc.pid)
        self._selector.register(pidfd, selectors.EVENT_READ, run.job_run_id)
        self._procs[run.job_run_id] = (proc, pidfd)
        return proc.pid  # also its process group: jobs start their own session

    @staticmethod
    def _popen(argv: list[str], env: dict[str, str], log, stdin) -> subprocess.Popen:
        return subprocess.Popen(argv, stdin=stdin, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, close_fds=True)

    @staticmethod
    def _write_stdin(proc: subprocess.Popen, data: bytes) -> None:
        # A job may exit without reading its config (the protocol allows it).
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(data)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()

    def wait(self, timeout: float | None) -> list[tuple[str, int]]:
        finished = []
        for key, _ in self._selector.select(timeout):
            if key.data is None:
                self._drain_wake()
                continue
            proc, pidfd = self._procs.pop(key.data)
            self._selector.unregister(pidfd)
            os.close(pidfd)
            finished.append((key.data, proc.wait()))
        return finished

    def terminate(self, job_run_id: str, force: bool = False) -> None:
        entry = self._procs.get(job_run_id)
        if entry is None:
            return
        try:
            os.killpg(entry[0].pid, signal.SIGKILL if force else signal.SIGTERM)
        except ProcessLookupError:
            return  # it exited meanwhile; wait() reports it

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
        return list(self._procs)

    def close(self) -> None:
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
