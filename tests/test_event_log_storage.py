"""Storage faults of the SQLite event log are loud: named errors, never a silent new log.

Faults are real: files deleted and replaced, a full tmpfs, immutable files
(``chattr +i``, which root cannot write either), another process holding the lock.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from databuild.errors import EventLogBusyError, EventLogLostError, StorageError
from databuild.events import open_event_log
from databuild.proto import databuild_pb2 as pb
from databuild.state import open_state_store
from eventgen import partition_event
from storage_faults import chattr, fill, small_tmpfs


def _uri(path: Path, **options: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"sqlite://{path}" + (f"?{query}" if query else "")


def _count(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def _in_new_thread(call):
    """``call()`` from a fresh thread (a fresh SQLite connection); returns what it raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as e:  # handed back to the test to assert on
            raised.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return raised[0] if raised else None


# -- the file deleted or replaced under the open log ---------------------------


def test_deleted_log_refuses_every_call_and_tells_the_fatal_listener_once(tmp_path):
    path = tmp_path / "bel.sqlite3"
    log = open_event_log(_uri(path))
    told: list[EventLogLostError] = []
    log.add_fatal_listener(told.append)
    log.append([partition_event("a/1")])
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink()
    with pytest.raises(EventLogLostError, match=f"{path} was deleted"):
        log.append([partition_event("a/2")])
    with pytest.raises(EventLogLostError):
        log.list_events()
    assert isinstance(_in_new_thread(log.latest_index), EventLogLostError)
    with pytest.raises(EventLogLostError):
        log.check_storage()
    assert len(told) == 1 and str(path) in str(told[0])
    assert not path.exists()  # no connection, old or new, made an empty log there
    assert (EventLogLostError.http_status, EventLogLostError.exit_code) == (503, 3)
    log.close()


def test_replaced_log_is_noticed_on_read_and_append(tmp_path):
    path, other = tmp_path / "bel.sqlite3", tmp_path / "other.sqlite3"
    log = open_event_log(_uri(path))
    log.append([partition_event("a/1")])
    second = open_event_log(_uri(other))
    second.append([partition_event("b/1"), partition_event("b/2")])
    second.close()
    os.replace(other, path)
    assert isinstance(_in_new_thread(log.list_events), EventLogLostError)  # a new connection would see the other file
    with pytest.raises(EventLogLostError, match="replaced by another file"):
        log.append([partition_event("a/2")])
    log.close()


class _MoveOnApply:
    """A projection that moves the log's files away while an append's transaction is open."""

    name, kinds, version = "mover", ("mover",), 1

    def __init__(self, path: Path, to: Path) -> None:
        self.path, self.to, self.armed = path, to, False

    def apply(self, tx, events) -> None:
        if self.armed:
            for suffix in ("", "-wal", "-shm"):
                os.rename(f"{self.path}{suffix}", f"{self.to}{suffix}")


def test_a_log_moved_away_during_an_append_gets_no_commit(tmp_path):
    path, moved = tmp_path / "bel.sqlite3", tmp_path / "moved.sqlite3"
    mover = _MoveOnApply(path, moved)
    log = open_event_log(_uri(path), [mover])
    log.append([partition_event("a/1")])
    mover.armed = True
    with pytest.raises(EventLogLostError, match="was deleted"):
        log.append([partition_event("a/2")])
    log.close()
    assert _count(moved) == 1


# -- what is at the path when the log is opened --------------------------------


def test_a_new_log_says_so_once(tmp_path, capfd):
    path = tmp_path / "bel.sqlite3"
    open_event_log(_uri(path)).close()
    assert capfd.readouterr().err == f"created a new event log at {path}\n"
    open_event_log(_uri(path)).close()
    assert capfd.readouterr().err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bel.sqlite3"]  # no temporary file left behind


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty file (0 bytes)"),
    (b"hello, I am a text file\n" * 100, "not an SQLite database"),
])
def test_a_file_that_is_no_log_is_refused_untouched(tmp_path, capfd, content, fragment):
    path = tmp_path / "bel.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StorageError, match=re.escape(fragment)) as info:
        open_event_log(_uri(path))
    assert str(path) in str(info.value)
    assert path.read_bytes() == content and "created" not in capfd.readouterr().err


def test_another_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / "bel.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE customers (name TEXT)")
        db.commit()
    before = path.read_bytes()
    with pytest.raises(StorageError, match=f"{path} is an SQLite database but not a DataBuild event log"
                                           r" \(its tables: customers\)"):
        open_event_log(_uri(path))
    assert path.read_bytes() == before


def test_a_log_missing_a_table_of_its_version_is_damaged(tmp_path):
    path = tmp_path / "bel.sqlite3"
    open_event_log(_uri(path)).close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("DROP TABLE event_keys")
        db.commit()
    with pytest.raises(StorageError, match="lacks its table.s. event_keys: the file is damaged"):
        open_event_log(_uri(path))


def test_a_log_corrupt_inside_is_a_named_error_on_read(tmp_path):
    path = tmp_path / "bel.sqlite3"
    log = open_event_log(_uri(path))
    log.append([partition_event(f"a/{i}/" + "x" * 200) for i in range(2000)])
    log.close()
    size = path.stat().st_size
    with open(path, "r+b") as f:  # garbage over every page but the first (the header and schema)
        f.seek(4096)
        f.write(os.urandom(size - 4096))
    with pytest.raises(StorageError, match=f"event log {path}: it is corrupt"):
        log = open_event_log(_uri(path))
        log.list_events(limit=10_000)


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(StorageError, match=f"directory of event log .* does not exist: {tmp_path / 'nowhere'}$"):
        open_event_log(_uri(tmp_path / "nowhere" / "bel.sqlite3"))
    assert not (tmp_path / "nowhere").exists()


# -- permissions ----------------------------------------------------------------


def test_log_and_its_wal_files_are_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "bel.sqlite3"
        store = open_state_store(_uri(path))
        store.log.append([partition_event("a/1")])
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert stat.S_IMODE(name.stat().st_mode) == 0o600, name
        store.close()
        path.chmod(0o644)  # as logs of older versions were
        open_event_log(_uri(path)).close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


# -- faults that go away: full disk, read-only file, another writer --------------


@pytest.fixture
def tmpfs(tmp_path):
    with small_tmpfs(tmp_path / "tmpfs") as mount:
        yield mount


def test_disk_full_is_named_and_the_next_append_after_space_returns_succeeds(tmpfs):
    path = tmpfs / "bel.sqlite3"
    store = open_state_store(_uri(path))
    store.log.append([partition_event("a/0")])
    filler = fill(tmpfs)
    batch = [partition_event(f"big/{i}/" + "x" * 400) for i in range(2000)]
    with pytest.raises(StorageError, match=f"event log {path}: the disk is full") as info:
        store.log.append(batch)
    assert info.value.http_status == 503 and info.value.exit_code == 3
    assert [e.index for e in batch] == [0] * len(batch)  # nothing acknowledged
    filler.unlink()
    assert store.log.append([partition_event("a/1")]) == [2]  # no transaction left open, no gap
    assert store.partition("a/1").status == pb.PARTITION_STATUS_AVAILABLE
    store.close()


def test_read_only_log_file_is_named_and_writes_resume_once_writable(tmp_path):
    path = tmp_path / "bel.sqlite3"
    log = open_event_log(_uri(path))
    log.append([partition_event("a/0")])
    files = (path, Path(f"{path}-wal"))  # not -shm: SQLite maps it, and a write fault there is SIGBUS
    chattr("+i", *files)
    try:
        with pytest.raises(StorageError, match=f"event log {path}: it is read-only"):
            log.append([partition_event("a/1")])
    finally:
        chattr("-i", *files)
    assert log.append([partition_event("a/1")]) == [2]
    log.close()


def test_read_only_file_or_directory_at_start_is_named(tmp_path):
    path = tmp_path / "bel.sqlite3"
    open_event_log(_uri(path)).close()
    chattr("+i", path, tmp_path)
    try:
        with pytest.raises(StorageError, match=f"event log {path}: it is read-only"):
            open_event_log(_uri(path))
    finally:
        chattr("-i", path, tmp_path)
    chattr("+i", tmp_path)
    try:
        with pytest.raises(StorageError, match=f"event log {path}: its directory is read-only"):
            open_event_log(_uri(path))  # SQLite cannot make its -wal and -shm files
        with pytest.raises(StorageError, match=f"cannot create event log {tmp_path / 'new.sqlite3'}"):
            open_event_log(_uri(tmp_path / "new.sqlite3"))
    finally:
        chattr("-i", tmp_path)
    open_event_log(_uri(path)).close()


def test_busy_timeout_option_governs_the_wait_and_the_log_recovers(tmp_path):
    path = tmp_path / "bel.sqlite3"
    log = open_event_log(_uri(path, busy_timeout="0.25"))
    assert log._db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 250
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(EventLogBusyError, match=str(path)) as info:
            log.append([partition_event("a/1")])
        assert info.value.http_status == 503
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert log.append([partition_event("a/1")]) == [1]
    log.close()
