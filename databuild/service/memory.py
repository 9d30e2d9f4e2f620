"""Giving the memory a finished build freed back to the operating system.

A build of N jobs makes the service's allocators grow by O(N) (its plan, its events,
its threads' SQLite page caches); freed at the end, that memory stays with the allocator
unless returned explicitly (and what reference cycles hold is freed only by a full
collection): glibc keeps freed chunks in its per-thread arenas. The page caches are not
even freed: each thread's connection keeps the pages it read (up to the log's
``cache_size``) until that thread ends, and the evaluator's and the HTTP workers' threads
live on; after a 10,000-job build they held some 9 MB. So once no build runs any more the
service frees the caches of the log's idle connections (``EventLog.release_memory``),
collects and calls ``malloc_trim``. (CPython's small-object allocator
also keeps a 1 MiB arena while any object in it lives: after a 10,000-job build some 17
arenas more than at start stay, held by ~0.1 MB of objects made during the build (statement
caches, modules imported late, threads), most of what the daemon still grew; running it on
``PYTHONMALLOC=malloc`` would hand that to glibc too, but costs every allocation 15-35%
more CPU.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading
import time
from typing import Callable

from databuild.events import EventLog

log = logging.getLogger(__name__)

#: Seconds between a build's end and the trim: the build's thread frees its thread-local state
#: (its SQLite connection and page cache) only once it has exited, after telling us.
GRACE_S = 1.0


def _load_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None on a C library without it (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


_trim = _load_trim()


def release_freed_memory(event_log: EventLog | None = None) -> bool:
    """Free ``event_log``'s idle read caches and what only reference cycles still hold (a
    build's objects wait for a full collection otherwise), then return the free pages of
    every malloc arena to the OS; False where trimming is not available."""
    if event_log is not None:
        event_log.release_memory()
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
