"""Leases: which one of the processes sharing an event log runs a singleton (the want
evaluator, an upstream's sync), so that replicas of a service on one log never run two.

A lease is held until it is released or its holder dies: the backend's lock goes with
the holder's process (a file lock on SQLite, a connection's advisory lock on a server),
so a SIGKILLed leader frees it at once and the next ``try_acquire`` of another process
takes it. ``held()`` says whether it is still held: a lock on a server is lost with the
connection, and then its holder must stop acting as the leader.
"""

from __future__ import annotations

import abc
import fcntl
import os
import re
import threading

from databuild.errors import InvalidArgumentError, StorageError

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")


def check_lease_name(name: str) -> str:
    """``name`` if it is a lease name (lower-case letters, digits, ``_``, ``-``), else InvalidArgumentError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgumentError(f"a lease name is lower-case letters, digits, '_' and '-', got {name!r}")
    return name


class Lease(abc.ABC):
    """One named lease of one log, as one holder sees it."""

    def __init__(self, name: str) -> None:
        self.name = check_lease_name(name)

    @abc.abstractmethod
    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it, without waiting; True if this holder has it now."""

    @abc.abstractmethod
    def held(self) -> bool:
        """Whether this holder still has the lease."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lease up (nothing if not held)."""


class LocalLease(Lease):
    """A lease among the holders in this process (the in-memory log): one lock per name."""

    def __init__(self, name: str, locks: dict[str, threading.Lock], guard: threading.Lock) -> None:
        super().__init__(name)
        with guard:
            self._lock = locks.setdefault(name, threading.Lock())
        self._held = False

    def try_acquire(self) -> bool:
        if not self._held:
            self._held = self._lock.acquire(blocking=False)
        return self._held

    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()


class FileLease(Lease):
    """A lease held as an exclusive ``flock`` of ``path`` (beside a SQLite log): the kernel
    drops it when the holder's process ends, however it ends."""

    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise StorageError(f"cannot open the lease file {self.path}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor of the open file drops its flock
