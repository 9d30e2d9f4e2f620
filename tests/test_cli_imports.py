"""A CLI call that goes to the daemon never loads the service's storage stack."""

from __future__ import annotations

import subprocess
import sys

#: Loaded only by commands that open the event log themselves (--local, serve, daemon).
STORAGE = ("peewee", "sqlite3", "databuild.events.sqlite", "databuild.state", "databuild.service.core",
           "databuild.executor")


def test_the_client_path_imports_no_storage():
    code = ("import sys; import databuild.cli.main, databuild.service.client; "
            f"print([m for m in {STORAGE!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
