"""``JOB config --persistent``: one process per plan answering ``config`` requests line by line.

A deep graph is planned level by level, one ``config`` call per level (a chain of 200 jobs
is 200 calls in sequence), and starting a process is most of each call. A job declared
with ``persistent_config`` is started once per plan instead: each request is one line on
its stdin (the refs, separated by spaces: refs hold no whitespace), each answer one line
on its stdout (the JSON document ``config REF...`` prints). Like Bazel's persistent
workers, it stays in its own process group, without the service's tokens, and its
answers are checked exactly like a call's; a request past the job's config timeout, an
exit, an answer past MAX_OUTPUT_BYTES or one breaking the protocol kills it and fails
the plan with a named error.
"""

from __future__ import annotations

import os
import selectors
import time
from typing import Sequence

from databuild.graph import JobSpec
from databuild.jobs.protocol import (
    MAX_OUTPUT_BYTES, STDERR_KEEP_BYTES, CallOutput, JobConfigError, JobOutputError, chunk_refs, parse_configs,
    show_refs, start_call,
)
from databuild.proto import databuild_pb2 as pb

#: How long a worker may take to exit once its stdin is closed before its group is killed.
EXIT_GRACE_SECONDS = 2.0


class ConfigWorker:
    """A running ``JOB config --persistent``; ``configs`` asks it, ``close`` ends it."""

    def __init__(self, job: JobSpec) -> None:
        self.job = job
        self._selector = selectors.DefaultSelector()
        self._stdout = bytearray()
        self._stderr = CallOutput(STDERR_KEEP_BYTES, keep_tail=True)
        stdin_r, self._stdin = os.pipe()
        try:
            self._child = start_call(job.label, [job.executable, "config", "--persistent"], self._selector,
                                     self._stdout.extend, self._stderr.add, JobConfigError, stdin=stdin_r)
        except JobConfigError:
            self._abandon()
            raise
        finally:
            os.close(stdin_r)
        os.set_blocking(self._stdin, False)

    def configs(self, refs: Sequence[str]) -> list[pb.JobConfig]:
        """The configs covering ``refs``, one request per chunk of refs; a failure kills the worker."""
        configs: list[pb.JobConfig] = []
        try:
            for chunk in chunk_refs(refs):
                line = self._ask((" ".join(chunk) + "\n").encode(), chunk)
                configs += parse_configs(self.job.label, chunk, line, self._stderr.text())
        except BaseException:
            self.kill()
            raise
        return configs

    def _ask(self, request: bytes, refs: Sequence[str]) -> str:
        """Write ``request`` and return the answer line (without its newline)."""
        timeout = self.job.config_timeout_seconds
        deadline = time.monotonic() + timeout
        pending = memoryview(request)
        self._selector.register(self._stdin, selectors.EVENT_WRITE, None)
        try:
            while True:
                end = self._stdout.find(b"\n")
                if end >= 0 and not pending:
                    line = self._stdout[:end].decode(errors="replace")
                    del self._stdout[:end + 1]
                    return line
                if len(self._stdout) > MAX_OUTPUT_BYTES:
                    raise JobOutputError(self.job.label, f"printed more than {MAX_OUTPUT_BYTES >> 20} MiB "
                                         "on stdout without ending the answer's line", self._stderr.text())
                if self._child.exited_at is not None:
                    raise JobConfigError(self.job.label, f"config --persistent exited (code {self._child.reap()}) "
                                         f"before answering for {show_refs(refs)}", self._stderr.text())
                now = time.monotonic()
                if now >= deadline:
                    raise JobConfigError(self.job.label, f"config --persistent did not answer for {show_refs(refs)} "
                                         f"within {timeout:g}s", self._stderr.text())
                for key, _ in self._selector.select(deadline - now):
                    if key.fd == self._stdin:
                        pending = pending[self._write(pending):]
                        if not pending:
                            self._selector.unregister(self._stdin)
                    else:
                        self._child.ready(key.fd)
        finally:
            if self._stdin in self._selector.get_map():
                self._selector.unregister(self._stdin)

    def _write(self, data: memoryview) -> int:
        try:
            return os.write(self._stdin, data)
        except BlockingIOError:
            return 0
        except BrokenPipeError:
            return len(data)  # it closed stdin: its exit (or silence) is reported by _ask

    def close(self) -> None:
        """Close its stdin and let it exit; past EXIT_GRACE_SECONDS its group is killed."""
        if self._stdin < 0:
            return
        os.close(self._stdin)
        self._stdin = -1
        deadline = time.monotonic() + EXIT_GRACE_SECONDS
        while not self._child.ended and time.monotonic() < deadline:
            for key, _ in self._selector.select(max(0.0, deadline - time.monotonic())):
                self._child.ready(key.fd)
            self._stdout.clear()  # after the last answer nothing it prints is read
        if self._child.ended:
            self._child.reap()
        else:
            self._child.kill()
        self._selector.close()

    def kill(self) -> None:
        """End it at once (a request failed); nothing once it was closed."""
        if self._stdin < 0:
            return
        os.close(self._stdin)
        self._stdin = -1
        self._child.kill()
        self._selector.close()

    def _abandon(self) -> None:
        os.close(self._stdin)
        self._stdin = -1
        self._selector.close()
