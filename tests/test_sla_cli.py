"""`want list --sla-at-risk` and `want status` show the prediction, through the CLI process."""

from __future__ import annotations

import json
import time

import pytest

from cli_harness import graph_cli
from databuild.events import open_event_log
from databuild.state import StateProjection
from slahistory import record_build


class PastClock:
    """Two hours ago, moving only when told: the recorded history happens before the CLI runs."""

    def __init__(self) -> None:
        self.us = int((time.time() - 7200) * 1_000_000)

    def __call__(self) -> int:
        return self.us


@pytest.mark.slow
def test_want_list_and_status_show_at_risk_wants(tmp_path):
    with graph_cli(tmp_path, {"version": 1, "label": "//t:sla", "lookup": None, "upstreams": [],
                              "jobs": [{"label": "//t:job", "executable": "/bin/true", "outputs": ["daily/*"]}]}) as cli:
        (tmp_path / "state").mkdir()
        bel = f"sqlite://{tmp_path}/state/bel.sqlite3"
        log = open_event_log(bel, [StateProjection()], PastClock())
        record_build(log.append, log.clock, "past", "//t:job", ["daily/past"], 3600)  # a build takes an hour
        log.close()
        risky = cli("--local", "want", "create", "daily/1", "--sla", "30m", "--external-dep", "raw/1")
        calm = cli("--local", "want", "create", "daily/2", "--sla", "3h", "--external-dep", "raw/2")
        assert risky.returncode == 0 and calm.returncode == 0, risky.stderr + calm.stderr
        listed = cli("--local", "--json", "want", "list", "--sla-at-risk")
        assert listed.returncode == 0, listed.stderr
        assert [w["want_id"] for w in json.loads(listed.stdout)["wants"]] == [risky.stdout.strip()]
        table = cli("--local", "want", "list", "--sla-at-risk").stdout
        assert "AT RISK" in table and "daily/1" in table and "daily/2" not in table
        status = cli("--local", "want", "status", "daily/1").stdout
        assert "predicted completion (ETA):" in status and "AT RISK" in status
        assert "on track for its SLA" in cli("--local", "want", "status", "daily/2").stdout
