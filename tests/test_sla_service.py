"""SLA prediction through the HTTP API: the at-risk filter and the want detail, with an
injected clock and recorded history."""

from __future__ import annotations

import pytest
import requests

from databuild.events import open_event_log
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.state import StateProjection, StateStore
from slahistory import S, record_build
from test_service_http import AUTH, serving
from test_wants_service import Clock, graph  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def test_at_risk_filter_and_detail_over_http(tmp_path, graph):  # noqa: F811
    clock = Clock()
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()], clock))
    record_build(store.log.append, clock, "past", "//g:job", ["daily/past"], 1800)  # builds take 30 minutes
    service = DataBuildService(graph, store, str(tmp_path / "logs"), clock_us=clock)
    with serving(service) as url:
        made = {}
        for sla in (600, 7200, 0):
            r = requests.post(f"{url}/api/v1/wants", headers=AUTH, json={
                "partitions": [f"daily/{sla}"], "external_dependencies": [f"up/{sla}"], "sla_seconds": sla})
            assert r.status_code == 201, r.text
            made[sla] = r.json()["want_id"]
        service.evaluator.tick()
        listed = requests.get(f"{url}/api/v1/wants", params={"sla": "at_risk"}).json()
        assert [w["want_id"] for w in listed["wants"]] == [made[600]]
        detail = requests.get(f"{url}/api/v1/wants/{made[600]}").json()
        assert detail["sla_at_risk"] is True
        assert detail["predicted_completion"] == _rfc3339(clock.us + 1800 * S)
        calm = requests.get(f"{url}/api/v1/wants/{made[7200]}").json()
        assert calm.get("sla_at_risk", False) is False and calm["predicted_completion"] == detail["predicted_completion"]
        bad = requests.get(f"{url}/api/v1/wants", params={"sla": "at_risk", "after": "nonsense"})
        assert bad.status_code == 400 and "nonsense" in bad.json()["error"]["message"]
    assert [(s.job_label, s.p50_seconds, s.success_rate) for s in service.job_duration_stats()] == [("//g:job", 1800, 1.0)]
    store.close()


def _rfc3339(us: int) -> str:
    from google.protobuf.timestamp_pb2 import Timestamp
    t = Timestamp()
    t.FromMicroseconds(us)
    return t.ToJsonString()
