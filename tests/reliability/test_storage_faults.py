"""The event log deleted under a running daemon: loud, never silent."""

from __future__ import annotations

import time
from pathlib import Path

import requests


def test_log_deleted_under_the_daemon_is_refused_and_the_daemon_exits(daemon):
    recorded = daemon.want("daily/1")
    pid = daemon.pid()
    log = daemon.root / "state" / "bel.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{log}{suffix}").unlink(missing_ok=True)
    refused = requests.post(f"{daemon.url}/api/v1/wants", json={"partitions": ["daily/2"]}, headers=daemon.auth,
                            timeout=30)
    assert refused.status_code == 503
    error = refused.json()["error"]
    assert error["code"] == "event_log_lost" and str(log) in error["message"]
    deadline = time.monotonic() + 30
    while _alive(pid):
        assert time.monotonic() < deadline, "the daemon kept serving a lost log"
        time.sleep(0.1)
    assert recorded and not log.exists()  # nothing was written to a new, empty log either


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
