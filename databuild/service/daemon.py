"""The local daemon: one service per graph and state directory.

Files in the state directory:
- ``daemon.lock``: held (``flock``) by the running daemon for its whole life, so a
  second daemon for the same state directory exits at once;
- ``daemon.json`` (mode 0600): pid, port, URL, token and graph of the running daemon,
  written once it listens and removed when it exits;
- ``daemon.log``: its output.

A ``daemon.json`` whose process is gone or does not answer as this graph is stale
(a crashed daemon) and is replaced by the next start.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import requests

from databuild.errors import DataBuildError
from databuild.procs import process_alive

LOCK_FILE, INFO_FILE, LOG_FILE = "daemon.lock", "daemon.json", "daemon.log"


class DaemonStartError(DataBuildError):
    code = "daemon_start_failed"


@dataclass(frozen=True)
class DaemonInfo:
    pid: int
    port: int
    url: str
    token: str
    graph_label: str
    started_at: float


def read_info(state_dir: Path) -> DaemonInfo | None:
    """The recorded daemon, or None if there is no readable record."""
    try:
        doc = json.loads((state_dir / INFO_FILE).read_text())
        return DaemonInfo(**doc)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        return None  # a half-written or foreign file: treated as stale and replaced


def answering(info: DaemonInfo, graph_label: str) -> bool:
    """True if the recorded daemon's process lives and answers as ``graph_label``."""
    if not process_alive(info.pid):
        return False
    try:
        health = requests.get(f"{info.url}/api/v1/health", timeout=2).json()
    except (requests.RequestException, ValueError):
        return False
    return health.get("graph_label") == graph_label


def running_daemon(state_dir: Path, graph_label: str) -> DaemonInfo | None:
    info = read_info(state_dir)
    return info if info is not None and answering(info, graph_label) else None


def ensure_daemon(state_dir: Path, graph_label: str, command: list[str], timeout: float = 30.0) -> DaemonInfo:
    """Return the running daemon for ``state_dir``, starting ``command`` detached if there is none."""
    found = running_daemon(state_dir, graph_label)
    if found is not None:
        return found
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = running_daemon(state_dir, graph_label)
        if found is not None:
            return found
        if proc.poll() not in (None, 0):
            break
        time.sleep(0.05)
    tail = (state_dir / LOG_FILE).read_text(errors="replace")[-2000:]
    raise DaemonStartError(f"the daemon for {graph_label} did not start within {timeout:.0f}s; "
                           f"{state_dir / LOG_FILE} ends with:\n{tail}")


def stop_daemon(state_dir: Path, graph_label: str, timeout: float = 30.0) -> DaemonInfo | None:
    """Stop the running daemon (SIGTERM, then wait); return what was stopped."""
    info = running_daemon(state_dir, graph_label)
    if info is None:
        return None
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return info


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class DaemonLock:
    """The per-state-directory lock; ``acquire`` is False if another daemon holds it."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._file = open(state_dir / LOCK_FILE, "a")

    def acquire(self) -> bool:
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def write_info(state_dir: Path, info: DaemonInfo) -> None:
    """Atomically write ``daemon.json`` readable by the owner only (it holds the token)."""
    tmp = state_dir / f".{INFO_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(info), f)
    os.replace(tmp, state_dir / INFO_FILE)


def remove_info(state_dir: Path, pid: int) -> None:
    info = read_info(state_dir)
    if info is not None and info.pid == pid:
        (state_dir / INFO_FILE).unlink(missing_ok=True)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class IdleWatch:
    """Asks the server to exit after ``idle_seconds`` without a request (0 disables it)."""

    def __init__(self, idle_seconds: float, stop: Callable[[], None], busy: Callable[[], bool] = lambda: False
                 ) -> None:
        self.idle_seconds, self.stop, self.busy = idle_seconds, stop, busy
        self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()

    def run(self) -> None:
        while self.idle_seconds > 0:
            time.sleep(min(1.0, self.idle_seconds / 4))
            if self.busy():
                self.touch()
            elif time.monotonic() - self.last >= self.idle_seconds:
                self.stop()
                return

    def start(self) -> None:
        threading.Thread(target=self.run, name="idle-watch", daemon=True).start()
