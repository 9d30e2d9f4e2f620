"""Process liveness on this host."""

from __future__ import annotations

import os


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
