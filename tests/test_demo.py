"""examples/event_log_demo.py runs and shows the log answering queries."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_event_log_demo(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "event_log_demo.py"), str(tmp_path)],
        check=True, capture_output=True, text=True,
    ).stdout
    assert "appended 15 events" in out
    assert "daily_votes/2025-01-01/red   PARTITION_STATUS_TAINTED" in out
    assert "WANT_STATUS_SATISFIED" in out and "active: 0" in out
