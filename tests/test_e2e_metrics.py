"""End to end: ``GET /metrics`` of the Bazel-built ``basic_graph.build serve`` after a want
was built, scraped over HTTP and parsed as Prometheus parses it."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from served_graph import BasicGraph, bearer, build_binaries, served_graphs

pytestmark = pytest.mark.slow
DAY = "2025-03-01"


@pytest.fixture(scope="module")
def binaries():
    return build_binaries("examples/basic_graph", ["basic_graph"])


class Graph(BasicGraph):
    """basic_graph, scraped."""

    def scrape(self) -> dict[tuple[str, frozenset], float]:
        r = requests.get(f"{self.url}/metrics", timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain; version=")
        return {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(r.text) for s in family.samples}


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _wait_for(graph: Graph, want_id: str, status: str) -> None:
    deadline = time.monotonic() + 120
    while graph.get(f"wants/{want_id}")["status"] != status:
        assert time.monotonic() < deadline, graph.get(f"wants/{want_id}")
        time.sleep(0.1)


def test_metrics_of_a_served_graph_after_a_build(binaries, tmp_path):
    with served_graphs(Graph, binaries, tmp_path) as make:
        graph = make("basic_graph").start()
        # Its triggers would add wants of their own (on the landing; at 02:00 UTC): the test counts its own.
        triggers = [t["name"] for t in graph.get("triggers")["triggers"]]
        for name in triggers:
            graph.post(f"triggers/{name}/pause", {"reason": "a test counts its own wants"}, expect=200)
        before = graph.scrape()
        jobs = [j["label"] for j in graph.get("graph")["jobs"]]
        assert len(jobs) == 3
        for job in jobs:
            assert _value(before, "databuild_job_run_duration_seconds_count", job=job) == 0
        assert _value(before, "databuild_wants_ended_total", outcome="satisfied") == 0

        want = graph.post("wants", {"partitions": [f"report/{DAY}"], "sla_seconds": 86400 * 365 * 100})
        _wait_for(graph, want["want_id"], "waiting")  # for raw/votes/DAY
        waiting = graph.scrape()
        assert _value(waiting, "databuild_wants", status="waiting") == 1
        assert _value(waiting, "databuild_wants_sla_at_risk") == 0  # no history: nothing predicted late
        graph.land_votes(DAY)
        _wait_for(graph, want["want_id"], "satisfied")
        assert requests.get(f"{graph.url}/wants/{want['want_id']}", headers=bearer(graph.token),
                            timeout=30).status_code == 200  # the dashboard's want page
        samples = graph.scrape()

    for status in ("waiting", "queued", "building"):
        assert _value(samples, "databuild_wants", status=status) == 0
    assert _value(samples, "databuild_wants_ended_total", outcome="satisfied") == 1
    assert _value(samples, "databuild_wants_sla_violated") == 0 and _value(samples, "databuild_wants_sla_at_risk") == 0
    assert _value(samples, "databuild_builds_total", outcome="completed") == 1
    assert _value(samples, "databuild_builds_total", outcome="failed") == 0
    assert _value(samples, "databuild_build_duration_seconds_count", outcome="completed") == 1
    assert _value(samples, "databuild_job_runs_total", outcome="succeeded") == 3  # count_votes, daily_total, report
    assert _value(samples, "databuild_job_runs_total", outcome="failed") == 0
    for job in jobs:  # one run each, its duration observed under its job label
        assert _value(samples, "databuild_job_run_duration_seconds_count", job=job) == 1
        assert _value(samples, "databuild_job_run_duration_seconds_sum", job=job) > 0
        assert _value(samples, "databuild_job_run_duration_seconds_bucket", job=job, le="+Inf") == 1
    requests_by = lambda route, method, code: _value(samples, "databuild_http_requests_total", route=route,
                                                     method=method, code=code)
    assert requests_by("/api/v1/wants", "POST", "201") == 1
    assert requests_by("/api/v1/partitions:mark-available", "POST", "201") == 1
    assert requests_by("/api/v1/wants/{want_id:path}", "GET", "200") >= 1
    assert requests_by("/api/v1/triggers/{name}/pause", "POST", "200") == len(triggers) > 0
    assert requests_by("/wants/{want_id:path}", "GET", "200") == 1
    assert requests_by("/metrics", "GET", "200") == 2  # the scrapes before this one
    assert requests_by("/sla", "GET", "200") == 0  # a page never asked for is there, at zero
    assert not any(want["want_id"][:8] in v or DAY in v for _, labels in samples for _, v in labels)
