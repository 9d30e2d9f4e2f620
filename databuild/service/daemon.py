"""The state directory's service: one per graph and state directory, found by every command.

The service is the daemon the CLI starts on first use, or a foreground ``serve``.
Files in the state directory (created 0700):
- ``daemon.lock``: held (``flock``) by the running service for its whole life, so a
  second one for the same state directory stops at once;
- ``daemon.json`` (mode 0600): pid, port, URL, token and graph of the running service,
  written once it listens and removed when it exits;
- ``daemon.log``: the daemon's output (stdout and stderr); when a daemon fails to
  start, the error raised carries the last lines it wrote there.

A ``daemon.json`` whose process is gone or does not answer as this graph is stale
(a crashed service) and is replaced by the next start.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable


from databuild.errors import DataBuildError, ServiceUnavailableError
from databuild.procs import process_alive

LOCK_FILE, INFO_FILE, LOG_FILE = "daemon.lock", "daemon.json", "daemon.log"
TAIL_LINES = 10


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
    from databuild.service.client import ServiceClient
    from databuild.service.interface import BY_NAME

    try:  # the JSON answer: a CLI call that finds its daemon running never loads protobuf
        health = ServiceClient(info.url, timeout=2).call_json(BY_NAME["health"])
    except DataBuildError:  # unreachable, or not answering as a DataBuild service
        return False
    return isinstance(health, dict) and health.get("graph_label") == graph_label


def running_daemon(state_dir: Path, graph_label: str) -> DaemonInfo | None:
    info = read_info(state_dir)
    return info if info is not None and answering(info, graph_label) else None


def make_state_dir(state_dir: Path) -> Path:
    """Create ``state_dir`` (and its parents) if missing; a new one is readable by its
    owner only (0700). An existing directory is left as it is: it may be shared."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return state_dir


def ensure_daemon(state_dir: Path, graph_label: str, command: list[str], timeout: float = 30.0) -> DaemonInfo:
    """Return the running service for ``state_dir``, starting ``command`` detached as its
    daemon if there is none.

    Raises ServiceUnavailableError carrying the daemon's last output lines (e.g. the
    error naming a corrupt event log) if it exits without serving or does not answer
    within ``timeout`` seconds.
    """
    found = running_daemon(state_dir, graph_label)
    if found is not None:
        return found
    log_path = make_state_dir(state_dir) / LOG_FILE
    with open(log_path, "ab") as log:
        start = log.tell()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = running_daemon(state_dir, graph_label)
        if found is not None:
            return found
        if proc.poll() not in (None, 0):  # 0: it left serving to another service, which may answer yet
            break
        time.sleep(0.05)
    status = proc.poll()
    why = (f"did not answer within {timeout:.0f}s (pid {proc.pid} still runs)" if status is None
           else f"exited with status {status} without serving")
    raise ServiceUnavailableError(f"the daemon for {graph_label} {why}; {log_path} ends with:"
                                  f"{_tail(log_path, start)}")


def _tail(path: Path, start: int) -> str:
    """The last lines written to ``path`` after offset ``start``, to follow a colon:
    a single line stays on the same line."""
    with open(path, "rb") as f:
        f.seek(start)
        lines = f.read().decode(errors="replace").strip().splitlines()[-TAIL_LINES:]
    if len(lines) <= 1:
        return f" {lines[0] if lines else '(nothing)'}"
    return "\n" + "\n".join(lines)


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


class DaemonLock:
    """The per-state-directory lock; ``acquire`` is False if another service holds it."""

    def __init__(self, state_dir: Path) -> None:
        self._file = open(make_state_dir(state_dir) / LOCK_FILE, "a")

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


def holder_description(state_dir: Path) -> str:
    """Who holds ``state_dir``'s lock, for an error: the recorded service if it lives."""
    info = read_info(state_dir)
    if info is not None and process_alive(info.pid):
        return f"the service for {info.graph_label} at {info.url} (pid {info.pid})"
    return f"another process holding {state_dir / LOCK_FILE} (a service starting or stopping)"


def remove_info(state_dir: Path, pid: int) -> None:
    info = read_info(state_dir)
    if info is not None and info.pid == pid:
        (state_dir / INFO_FILE).unlink(missing_ok=True)


def new_token() -> str:
    import secrets  # some 10 ms (hashlib, random): not for every CLI call that reads daemon.json

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
