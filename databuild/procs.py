"""Processes on this host: liveness, and children that lead their own process group.

``GroupChild`` is how DataBuild runs every binary it does not trust to behave (job
runs, ``config`` and lookup calls): in a new session (so its whole process group can
be signalled), with its output read through pipes registered in the caller's selector
(so one thread can watch hundreds of them, and a child printing without end is read
as fast as it writes, never blocking it or anyone else).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from typing import IO, Callable, Mapping, Sequence, Union

#: What a pipe's bytes are handed to, chunk by chunk.
Sink = Callable[[bytes], None]
Stdin = Union[int, IO[bytes], None]

#: How long a child's pipes may stay open after it exited before its group is killed.
DRAIN_GRACE_SECONDS = 2.0
_CHUNK = 1 << 16
#: What :meth:`GroupChild.cut` reads at most per pipe: the largest buffer an unprivileged
#: writer can give a pipe (1 MiB), so a writer outside the group cannot keep it reading.
_CUT_CHUNKS = 16


def process_alive(pid: int) -> bool:
    """True if ``pid`` runs; a zombie (exited, not yet reaped, e.g. by a container's
    init) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False  # gone between the two checks, or no such entry
    return state != b"Z"


class GroupChild:
    """A child process in its own session whose stdout (and stderr) pipes the caller's
    selector watches, together with a pidfd that says when the child exited.

    The selector keys of its file descriptors carry the child itself as ``data``; pass
    every ready key to :meth:`ready`. The child has *ended* when it exited and each pipe
    reached EOF, so nothing it printed is lost. Something else in its group (a
    grandchild) may hold a pipe open after it exited: once :attr:`drain_deadline`
    passes, :meth:`cut` kills the group and keeps what was already printed, so a
    left-behind process cannot hold the caller. The exited child stays unreaped (a
    zombie) until :meth:`reap`, so its pid, which is also its process group id, cannot
    be reused by another process while its group may still be signalled.

    ``stdout`` receives the child's stdout; ``stderr`` its stderr, or None to send
    stderr into the stdout pipe (one stream, in the order written). ``preexec_fn`` runs
    in the child before the exec (it makes the spawn a full fork: avoid it when you can).
    """

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], selector: selectors.BaseSelector,
                 stdout: Sink, stderr: Sink | None = None, stdin: Stdin = subprocess.DEVNULL,
                 drain_grace: float = DRAIN_GRACE_SECONDS, preexec_fn: Callable[[], None] | None = None) -> None:
        self.name, self.drain_grace, self._selector = name, drain_grace, selector
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe() if stderr is not None else (None, None)
        try:
            self.proc = subprocess.Popen(argv, stdin=stdin, stdout=out_w,
                                         stderr=err_w if err_w is not None else subprocess.STDOUT,
                                         env=dict(env), start_new_session=True, close_fds=True,
                                         preexec_fn=preexec_fn)
        except BaseException:
            for fd in (out_r, err_r):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in (out_w, err_w):
                if fd is not None:
                    os.close(fd)  # the child holds its copies; EOF comes when every writer is gone
        self.pid = self.proc.pid  # == its process group id
        self.exited_at: float | None = None
        self.code: int | None = None
        self._pipes: dict[int, Sink] = {out_r: stdout}
        if err_r is not None:
            self._pipes[err_r] = stderr
        self._pidfd: int | None = os.pidfd_open(self.pid)
        selector.register(self._pidfd, selectors.EVENT_READ, self)
        for fd in self._pipes:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ, self)

    @property
    def ended(self) -> bool:
        """It exited and every pipe reached EOF (or was cut)."""
        return self.exited_at is not None and not self._pipes

    @property
    def drain_deadline(self) -> float | None:
        """When to :meth:`cut` it: it exited but a pipe is still open; None otherwise."""
        if self.exited_at is None or not self._pipes:
            return None
        return self.exited_at + self.drain_grace

    def ready(self, fd: int) -> None:
        """Handle a ready selector key of this child: its exit, or bytes (or EOF) on a pipe."""
        if fd == self._pidfd:
            self._close_pidfd()
            self.exited_at = time.monotonic()
        elif fd in self._pipes:
            self._read(fd)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the child's whole process group (nothing once it was reaped)."""
        if self.code is None:
            with contextlib.suppress(ProcessLookupError):  # every member is gone already
                os.killpg(self.pid, sig)

    def cut(self) -> None:
        """Kill the group, keep what the pipes hold now, close them: the output ends here."""
        self.signal(signal.SIGKILL)
        for fd in list(self._pipes):
            for _ in range(_CUT_CHUNKS):
                if not self._read(fd):
                    break
            if fd in self._pipes:
                self._close_pipe(fd)

    def kill(self) -> int:
        """Kill the group and stop reading at once (a deadline passed); return the exit code."""
        self.cut()
        return self.reap()

    def reap(self) -> int:
        """Wait for the child itself (immediate once it exited); return its exit code."""
        if self.code is None:
            self.code = self.proc.wait()
            self._close_pidfd()
        return self.code

    def _read(self, fd: int) -> bool:
        """Read one chunk into the pipe's sink; False if none was waiting or it was EOF."""
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            return False
        if not chunk:
            self._close_pipe(fd)
            return False
        self._pipes[fd](chunk)
        return True

    def _close_pipe(self, fd: int) -> None:
        self._selector.unregister(fd)
        del self._pipes[fd]
        os.close(fd)

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            self._selector.unregister(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
