"""Giving the memory a finished build freed back to the operating system.

A build of N jobs makes the service's allocators grow by O(N) (its plan, its events,
its thread's SQLite page cache); freed at the end, that memory stays with the allocator
unless returned explicitly (and what reference cycles hold is freed only by a full
collection): glibc keeps freed chunks in its per-thread arenas, and
CPython's small-object allocator keeps a 1 MiB arena while any object in it lives.
The daemon therefore runs with ``PYTHONMALLOC=malloc`` (see ``DAEMON_ENV``), so that all
of it is glibc's, and calls ``malloc_trim`` once no build runs any more.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)

#: Set for the daemon's own interpreter only: ``strip_daemon_env`` removes it again at start,
#: so the jobs it spawns see the environment the user started it with.
DAEMON_ENV = {"PYTHONMALLOC": "malloc"}
_MARKER = "_DATABUILD_DAEMON_PYTHONMALLOC"
#: Seconds between a build's end and the trim: the build's thread frees its thread-local state
#: (its SQLite connection and page cache) only once it has exited, after telling us.
GRACE_S = 1.0


def daemon_environment(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` for starting the daemon: ``DAEMON_ENV`` added where the user set nothing."""
    env = dict(environ)
    if "PYTHONMALLOC" not in env:
        env.update(DAEMON_ENV)
        env[_MARKER] = "1"
    return env


def strip_daemon_env(environ=os.environ) -> None:
    """Undo ``daemon_environment`` in the running daemon (its interpreter already read it)."""
    if environ.pop(_MARKER, None):
        for name in DAEMON_ENV:
            environ.pop(name, None)


def _load_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None on a C library without it (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


_trim = _load_trim()


def release_freed_memory() -> bool:
    """Free what only reference cycles still hold (a build's objects wait for a full
    collection otherwise), then return the free pages of every malloc arena to the OS;
    False where trimming is not available."""
    gc.collect()
    if _trim is None:
        return False
    _trim(0)
    return True


class MemoryReleaser:
    """Trims the allocator shortly after the last running build ends (one thread, idle otherwise)."""

    def __init__(self, running: Callable[[], int], grace_s: float = GRACE_S,
                 release: Callable[[], object] = release_freed_memory) -> None:
        self.running, self.grace_s, self.release = running, grace_s, release
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-release", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def build_ended(self) -> None:
        """A build stopped running (called from its thread)."""
        self._ended.set()

    def _loop(self) -> None:
        while True:
            self._ended.wait()
            time.sleep(self.grace_s)
            self._ended.clear()
            if self.running() == 0:
                self.release()
