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


def test_at_risk_pages_follow_deadlines_across_scan_steps(tmp_path, graph):  # noqa: F811
    clock = Clock()
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()], clock))
    record_build(store.log.append, clock, "past", "//g:job", ["daily/past"], 3600)  # builds take an hour
    service = DataBuildService(graph, store, str(tmp_path / "logs"), clock_us=clock)
    # 30 wants: SLAs of 3590 s down to 3300 s (at risk), then 30 of 3610 s upward (on track), interleaved.
    specs = []
    for i in range(30):
        specs += [pb.CreateWantRequest(partitions=[f"daily/r{i}"], external_dependencies=[f"up/r{i}"],
                                       sla_seconds=3590 - 10 * i),
                  pb.CreateWantRequest(partitions=[f"daily/c{i}"], external_dependencies=[f"up/c{i}"],
                                       sla_seconds=3610 + 10 * i, source=pb.WantSource(type=pb.WANT_SOURCE_TYPE_CLI))]
    made = {w.spec.partitions[0]: w.spec.want_id for w in service.create_wants(pb.CreateWantsRequest(wants=specs)).wants}
    pages, token = [], ""
    while True:  # 7 at a time: each page's first scan step reads 14 wants, most of them on track
        page = service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, limit=7, after=token))
        pages.append([w.spec.partitions[0] for w in page.wants])
        token = page.next_page_token
        if not token:
            break
    assert [ref for p in pages for ref in p] == [f"daily/r{i}" for i in reversed(range(30))]  # most urgent first
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2] and service.at_risk_count() == 30
    assert service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, source="cli")).wants == []
    only = service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, pattern="daily/r2*")).wants
    assert sorted(w.spec.want_id for w in only) == sorted(made[f"daily/r{i}"] for i in (2, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29))
    store.close()
