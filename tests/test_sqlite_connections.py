"""The SQLite log's per-thread connections: a thread that ends leaves no connection (nor its
page cache) behind, and ``release_memory`` frees the caches of threads that live on idle."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sqlite3
import threading

import pytest

from databuild.events import EventFilter, MemoryEventLog, SqliteEventLog
from databuild.proto import databuild_pb2 as pb


def _connections_alive() -> int:
    """sqlite3.Connection objects alive in this process (they are tracked by the collector)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is sqlite3.Connection)


def _read_all(log: SqliteEventLog) -> int:
    since, read = 0, 0
    while True:
        page = log.list_events(since, EventFilter(), 1000)
        read += len(page.events)
        since = page.next
        if not page.has_more:
            return read


def _in_thread(target, *, stay: threading.Event | None = None) -> tuple[threading.Thread, threading.Event]:
    """Run ``target`` in a new thread that then waits for ``stay`` (if given) before ending."""
    done = threading.Event()

    def run() -> None:
        target()
        done.set()
        if stay is not None:
            stay.wait(30)

    thread = threading.Thread(target=run)
    thread.start()
    assert done.wait(30)
    return thread, done


@pytest.fixture
def log(tmp_path):
    log = SqliteEventLog(str(tmp_path / "bel.sqlite3"))
    yield log
    log.close()


def test_a_thread_that_ends_leaves_no_connection_behind(log):
    log.head()  # this thread's connection
    before_threads, before_objects = log.open_connections(), _connections_alive()
    stay = threading.Event()
    threads = [_in_thread(log.head, stay=stay)[0] for _ in range(3)]
    assert log.open_connections() == before_threads + 3
    assert _connections_alive() == before_objects + 3
    stay.set()
    for thread in threads:
        thread.join(30)
    assert _connections_alive() == before_objects  # freed, hence closed (sqlite3 closes on free)
    assert log.open_connections() == before_threads


def test_release_memory_shrinks_idle_threads_only(log):
    stay, inside, leave = threading.Event(), threading.Event(), threading.Event()
    idle, _ = _in_thread(log.head, stay=stay)

    def busy() -> None:
        with log._connections.mine().lock:  # as a thread inside a log call holds it
            log.head()
            inside.set()
            leave.wait(30)

    holder = threading.Thread(target=busy)
    holder.start()
    assert inside.wait(30)
    try:
        # This thread (no call open) and the idle thread are shrunk; the busy one is skipped.
        assert log.release_memory() == log.open_connections() - 1
    finally:
        leave.set()
        stay.set()
        holder.join(30)
        idle.join(30)
    log.head()  # a shrunk connection keeps working
    assert log.release_memory() == log.open_connections()


def _sqlite_memory_used():
    """SQLite's own count of the bytes it holds, if this process's sqlite3 module uses the
    shared library ctypes finds (then both see the same counters)."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.sqlite3_libversion.restype = ctypes.c_char_p
    if lib.sqlite3_libversion().decode() != sqlite3.sqlite_version:
        return None
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib.sqlite3_memory_used


def test_release_memory_frees_the_page_cache_an_idle_thread_filled(log):
    memory_used = _sqlite_memory_used()
    if memory_used is None:
        pytest.skip("the sqlite3 module's library is not reachable through ctypes")
    for start in range(0, 6000, 500):
        log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
            refs=[f"p/{i}"], comment="x" * 400)) for i in range(start, start + 500)])
    log.release_memory()
    base = memory_used()
    stay = threading.Event()
    reader, _ = _in_thread(lambda: _read_all(log), stay=stay)
    try:
        filled = memory_used() - base
        assert filled > 2_000_000  # the reader's cache holds the pages it read (~3 MB of events)
        log.release_memory()
        assert memory_used() - base < filled / 4
    finally:
        stay.set()
        reader.join(30)


def test_a_log_without_caches_releases_nothing():
    assert MemoryEventLog().release_memory() == 0


def test_a_closed_log_releases_nothing(tmp_path):
    log = SqliteEventLog(str(tmp_path / "bel.sqlite3"))
    log.head()
    log.close()
    assert log.release_memory() == 0
