"""GET /metrics over real HTTP on a real SQLite log, parsed as Prometheus parses it."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from databuild.events import open_event_log
from databuild.graph import GraphSpec, JobSpec
from databuild.graph.manifest import UpstreamSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.service.interface import OPERATIONS
from databuild.state import StateProjection, StateStore
from test_service_http import AUTH, READ_TOKEN, TOKEN, serving

HOUR_US = 3600 * 1_000_000
START_US = 1_800_000_000 * 1_000_000
UPSTREAM = UpstreamSpec("ingest", "//ingest:graph", "http://127.0.0.1:9", ("raw/*",))
GRAPH = GraphSpec("//g:m", (JobSpec("//g:daily", "/bin/true", ("daily/*",)),
                            JobSpec("//g:report", "/bin/true", ("report/*",))), upstreams=(UPSTREAM,))


class Clock:
    """An injected clock (µs) for the service and its log."""

    def __init__(self) -> None:
        self.now = START_US

    def __call__(self) -> int:
        return self.now


def scrape(url: str, **kwargs) -> dict[tuple[str, frozenset], float]:
    """Every sample of ``GET /metrics``: (name, labels) -> value."""
    r = requests.get(f"{url}/metrics", **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def open_store(tmp_path, clock=None) -> StateStore:
    return StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()],
                                     **({"clock": clock} if clock else {})))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    (tmp_path / "logs").mkdir()
    store = open_store(tmp_path, clock)
    yield store
    store.close()


def test_every_series_reads_zero_before_anything_happened(store, tmp_path, clock):
    with serving(DataBuildService(GRAPH, store, str(tmp_path / "logs"), clock_us=clock)) as url:
        samples = scrape(url)
    for status in ("waiting", "queued", "building"):
        assert value(samples, "databuild_wants", status=status) == 0
    for outcome in ("satisfied", "expired", "cancelled", "failed"):
        assert value(samples, "databuild_wants_ended_total", outcome=outcome) == 0
    for outcome in ("completed", "failed", "cancelled"):
        assert value(samples, "databuild_builds_total", outcome=outcome) == 0
        assert value(samples, "databuild_build_duration_seconds_count", outcome=outcome) == 0
    for outcome in ("succeeded", "failed", "cancelled", "skipped"):
        assert value(samples, "databuild_job_runs_total", outcome=outcome) == 0
    for job in ("//g:daily", "//g:report"):
        assert value(samples, "databuild_job_run_duration_seconds_count", job=job) == 0
        assert value(samples, "databuild_job_run_queue_wait_seconds_count", job=job) == 0
    for name in ("databuild_wants_sla_violated", "databuild_wants_sla_at_risk", "databuild_want_sla_violations_total",
                 "databuild_oldest_waiting_want_age_seconds", "databuild_builds_running",
                 "databuild_event_log_head_index", "databuild_event_log_appends_total",
                 "databuild_event_log_append_seconds_count", "databuild_evaluator_reaction_seconds_count"):
        assert value(samples, name) == 0, name
    assert value(samples, "databuild_events_appended_total", type="want_created") == 0
    # The upstream is declared (not synced by this service): down, and no errors yet.
    assert value(samples, "databuild_upstream_up", upstream="ingest") == 0
    assert value(samples, "databuild_upstream_errors_total", upstream="ingest") == 0
    assert value(samples, "databuild_upstream_resets_total", upstream="ingest") == 0
    # Every route template of the interface, at its success status, before any request.
    for op in OPERATIONS:
        assert value(samples, "databuild_http_requests_total", route=op.path, method=op.method, code=str(op.status)) == 0


def test_gauges_and_counters_follow_the_log_and_are_right_after_a_restart(store, tmp_path, clock):
    service = DataBuildService(GRAPH, store, str(tmp_path / "logs"), clock_us=clock)
    with serving(service) as url:
        created = requests.post(f"{url}/api/v1/wants", headers=AUTH, json={"wants": [
            {"partitions": ["daily/a"], "external_dependencies": ["raw/a"], "sla_seconds": 1800, "ttl_seconds": 86400},
            {"partitions": ["daily/b"], "external_dependencies": ["raw/b"], "sla_seconds": 10800, "ttl_seconds": 86400},
            {"partitions": ["daily/c"], "external_dependencies": ["raw/c"], "ttl_seconds": 86400}]})
        assert created.status_code == 201, created.text
        ids = [w["want_id"] for w in created.json()["wants"]]
        service.evaluator.settle()  # by hand: the three wait for their external data
        clock.now += HOUR_US  # daily/a's SLA (30 minutes) passed, daily/b's (3 hours) is 2 hours away
        service.evaluator.settle()
        assert requests.delete(f"{url}/api/v1/wants/{ids[2]}", headers=AUTH).status_code == 200
        samples = scrape(url)
        assert value(samples, "databuild_wants", status="waiting") == 2
        assert value(samples, "databuild_wants_sla_violated") == 1
        assert value(samples, "databuild_want_sla_violations_total") == 1
        assert value(samples, "databuild_wants_sla_at_risk") == 0
        assert value(samples, "databuild_wants_ended_total", outcome="cancelled") == 1
        assert value(samples, "databuild_oldest_waiting_want_age_seconds") == 3600
        assert value(samples, "databuild_events_appended_total", type="want_created") == 3
        assert value(samples, "databuild_events_appended_total", type="want_cancelled") == 1
        assert value(samples, "databuild_event_log_append_seconds_count") == value(
            samples, "databuild_event_log_appends_total") >= 3
        assert value(samples, "databuild_event_log_head_index") == store.log.latest_index()
        # At risk by prediction (no history here: none), as the at-risk list says.
        assert value(samples, "databuild_wants_sla_at_risk") == service.at_risk_count() == 0
        clock.now += HOUR_US + HOUR_US // 2
        assert value(scrape(url), "databuild_http_requests_total", route="/api/v1/wants/{want_id}", method="DELETE",
                     code="200") == 1
    service.close()

    # A restart: a new service over the same log says the same (the counters from the read models).
    with serving(DataBuildService(GRAPH, store, str(tmp_path / "logs"), clock_us=clock)) as url:
        samples = scrape(url)
    assert value(samples, "databuild_wants", status="waiting") == 2
    assert value(samples, "databuild_wants_sla_violated") == 1 and value(samples, "databuild_wants_sla_at_risk") == 0
    assert value(samples, "databuild_want_sla_violations_total") == 1
    assert value(samples, "databuild_wants_ended_total", outcome="cancelled") == 1
    assert value(samples, "databuild_oldest_waiting_want_age_seconds") == 2.5 * 3600
    assert value(samples, "databuild_events_appended_total", type="want_created") == 0  # this process appended none


def test_labels_name_routes_statuses_and_jobs_never_refs_or_ids(store, tmp_path, clock):
    with serving(DataBuildService(GRAPH, store, str(tmp_path / "logs"), clock_us=clock)) as url:
        created = requests.post(f"{url}/api/v1/wants", headers=AUTH, json={
            "partitions": ["daily/2031-01-01"], "external_dependencies": ["raw/zebra-42"]}).json()
        want_id = created["want_id"]
        assert requests.get(f"{url}/api/v1/wants/{want_id}").status_code == 200
        assert requests.get(f"{url}/api/v1/partitions/raw/zebra-42").status_code == 200
        assert requests.get(f"{url}/api/v1/no/such/zebra-route").status_code == 404
        assert requests.patch(f"{url}/api/v1/health").status_code == 405
        r = requests.get(f"{url}/metrics")
        samples = scrape(url)
    for label_value in (v for _, labels in samples for _, v in labels):
        assert want_id[:8] not in label_value and "zebra" not in label_value and "2031" not in label_value
    assert want_id not in r.text and "zebra" not in r.text
    assert value(samples, "databuild_http_requests_total", route="/api/v1/wants/{want_id:path}", method="GET",
                 code="200") == 1
    assert value(samples, "databuild_http_requests_total", route="/api/v1/partitions/{ref:path}", method="GET",
                 code="200") == 1
    assert value(samples, "databuild_http_requests_total", route="unmatched", method="GET", code="404") == 1
    assert value(samples, "databuild_http_requests_total", route="/api/v1/health", method="PATCH", code="405") == 1
    assert value(samples, "databuild_http_requests_total", route="/metrics", method="GET", code="200") == 1
    assert value(samples, "databuild_http_request_duration_seconds_count", route="/api/v1/wants") == 1


def test_dashboard_routes_are_counted_by_their_templates_from_zero(store, tmp_path, clock):
    from databuild.service.dashboard.actions import ACTIONS
    from databuild.service.dashboard.pages import PAGES

    service = DataBuildService(GRAPH, store, str(tmp_path / "logs"), clock_us=clock)
    with serving(service) as url:
        samples = scrape(url)
        for page in PAGES:  # each page and form, at its success status, before any request
            assert value(samples, "databuild_http_requests_total", route=page.path, method="GET", code="200") == 0
        for action in ACTIONS:
            assert value(samples, "databuild_http_requests_total", route=action.path, method="POST", code="303") == 0
        for route in ("/wants/new", "/sign-in", "/sign-out"):
            assert value(samples, "databuild_http_requests_total", route=route, method="POST", code="303") == 0
        assert value(samples, "databuild_http_requests_total", route="/static", method="GET", code="200") == 0
        want_id = service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(
            partitions=["daily/2031-01-01"], external_dependencies=["raw/zebra-7"])])).wants[0].spec.want_id
        assert requests.get(f"{url}/wants/{want_id}").status_code == 200
        assert requests.get(f"{url}/wants/{want_id}").status_code == 200
        assert requests.get(f"{url}/").status_code == 200
        assert requests.get(f"{url}/static/dashboard.css").status_code == 200
        assert requests.get(f"{url}/builds/no-such-build").status_code == 404
        samples = scrape(url)
    count = lambda route, code, method="GET": value(samples, "databuild_http_requests_total", route=route,
                                                    method=method, code=code)
    assert count("/wants/{want_id:path}", "200") == 2 and count("/", "200") == 1
    assert count("/static", "200") == 1 and count("/builds/{build_id}", "404") == 1
    assert not any(dict(labels).get("route") == "unmatched" for _, labels in samples)  # each matched a route
    assert value(samples, "databuild_http_request_duration_seconds_count", route="/wants/{want_id:path}") == 2
    assert not any(want_id[:8] in v or "zebra" in v for _, labels in samples for _, v in labels)


def test_off_loopback_a_scrape_needs_a_token(store, tmp_path):
    with serving(DataBuildService(GRAPH, store, str(tmp_path / "logs")), loopback_only=False,
                 read_token=READ_TOKEN) as url:
        refused = requests.get(f"{url}/metrics")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        assert value(scrape(url, headers={"Authorization": f"Bearer {READ_TOKEN}"}), "databuild_wants",
                     status="waiting") == 0
        assert requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_host_refused_on_loopback_is_counted_unmatched(store, tmp_path):
    with serving(DataBuildService(GRAPH, store, str(tmp_path / "logs"))) as url:
        assert requests.get(f"{url}/metrics", headers={"Host": "evil.example"}).status_code == 403
        samples = scrape(url)
    assert value(samples, "databuild_http_requests_total", route="unmatched", method="GET", code="403") == 1


def test_two_services_in_one_process_keep_their_own_series(tmp_path, clock):
    stores = []
    for name in ("one", "two"):
        (tmp_path / name / "logs").mkdir(parents=True)
        stores.append(open_store(tmp_path / name, clock))
    with serving(DataBuildService(GRAPH, stores[0], str(tmp_path / "one" / "logs"))) as one, \
            serving(DataBuildService(GRAPH, stores[1], str(tmp_path / "two" / "logs"))) as two:
        assert requests.post(f"{one}/api/v1/partitions:mark-available", json={"refs": ["raw/1"]},
                             headers=AUTH).status_code == 201
        assert value(scrape(one), "databuild_events_appended_total", type="external_partitions_available") == 1
        assert value(scrape(two), "databuild_events_appended_total", type="external_partitions_available") == 0
    for s in stores:
        s.close()


@pytest.mark.slow
def test_after_a_build_the_counters_and_histograms_moved(tmp_path, monkeypatch):
    from test_wants_service import JOB, wait_for
    from databuild.service.client import ServiceClient

    job = tmp_path / "job.sh"
    job.write_text(JOB)
    job.chmod(0o755)
    monkeypatch.setenv("DIR", str(tmp_path))
    graph = GraphSpec("//g:w", (JobSpec("//g:job", str(job), ("daily/*", "fail/*")),))
    (tmp_path / "logs").mkdir()
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"))
    service.start_evaluator()
    with serving(service) as url:
        client = ServiceClient(url, TOKEN)
        created = requests.post(f"{url}/api/v1/wants", headers=AUTH, json={"partitions": ["daily/1", "daily/2"]})
        wait_for(client, created.json()["want_id"], pb.WANT_STATUS_SATISFIED)
        samples = scrape(url)
    service.close()
    store.close()
    assert value(samples, "databuild_wants_ended_total", outcome="satisfied") == 1
    assert value(samples, "databuild_builds_total", outcome="completed") == 1
    assert value(samples, "databuild_build_duration_seconds_count", outcome="completed") == 1
    assert value(samples, "databuild_build_duration_seconds_sum", outcome="completed") > 0
    assert value(samples, "databuild_job_runs_total", outcome="succeeded") == 2
    assert value(samples, "databuild_job_run_duration_seconds_count", job="//g:job") == 2
    assert value(samples, "databuild_job_run_queue_wait_seconds_count", job="//g:job") == 2
    assert value(samples, "databuild_evaluator_reaction_seconds_count") >= 1
    assert value(samples, "databuild_events_appended_total", type="job_run_status_changed") >= 6
    assert value(samples, "databuild_wants", status="building") == 0
    assert value(samples, "databuild_http_requests_total", route="/api/v1/wants", method="POST", code="201") == 1


def scrape_until(url: str, holds, what: str, timeout: float = 20) -> dict:
    """Scrape until ``holds(samples)``: the sync loop's state moves on its own thread."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)
        if holds(samples):
            return samples
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_upstream_up_lag_and_errors_follow_the_sync(tmp_path):
    (tmp_path / "up" / "logs").mkdir(parents=True)
    (tmp_path / "down" / "logs").mkdir(parents=True)
    up_store, down_store = open_store(tmp_path / "up"), open_store(tmp_path / "down")
    upstream = DataBuildService(GraphSpec("//ingest:graph", ()), up_store, str(tmp_path / "up" / "logs"))
    with serving(upstream) as up_url:
        graph = GraphSpec("//g:down", GRAPH.jobs, upstreams=(
            UpstreamSpec("ingest", "//ingest:graph", up_url, ("raw/*",)),
            UpstreamSpec("gone", "//gone:graph", "http://127.0.0.1:9", ("old/*",))))
        downstream = DataBuildService(graph, down_store, str(tmp_path / "down" / "logs"))
        downstream.start_evaluator(triggers=False)
        try:
            with serving(downstream) as url:
                samples = scrape_until(url, lambda s: value(s, "databuild_upstream_up", upstream="ingest") == 1
                                       and value(s, "databuild_upstream_errors_total", upstream="gone") >= 1,
                                       "the syncs to succeed and fail")
                assert value(samples, "databuild_upstream_up", upstream="gone") == 0
                assert value(samples, "databuild_upstream_consecutive_failures", upstream="gone") >= 1
                assert value(samples, "databuild_upstream_errors_total", upstream="ingest") == 0
                assert value(samples, "databuild_upstream_lag_events", upstream="ingest") == 0
                assert value(samples, "databuild_upstream_resets_total", upstream="ingest") == 0
        finally:
            downstream.close()
    up_store.close()
    down_store.close()


def test_a_refreshed_value_is_computed_once_then_refreshed_off_the_read_path():
    from databuild.service.metrics import Refreshed

    now, calls, gate = [0.0], [], threading.Event()

    def compute() -> int:
        calls.append(now[0])
        if len(calls) > 1:
            gate.wait(5)  # a slow recount: reads must not wait for it
        return len(calls)

    value = Refreshed(compute, max_age_s=30, clock=lambda: now[0], inline_below_s=0)  # never cheap enough
    assert value.get() == 1 and value.get() == 1 and calls == [0.0]  # fresh: no recount
    now[0] = 31
    assert value.get() == 1 and value.get() == 1  # stale: the last value at once, one recount started
    gate.set()
    deadline = time.monotonic() + 5
    while value.get() != 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert calls == [0.0, 31]


def test_a_refreshed_value_is_computed_on_each_read_while_cheap():
    from databuild.service.metrics import Refreshed

    now, cost, calls = [0.0], [0.001], []

    def compute() -> int:
        calls.append(now[0])
        now[0] += cost[0]  # the computation takes this long, by the clock Refreshed reads
        return len(calls)

    value = Refreshed(compute, max_age_s=30, clock=lambda: now[0], inline_below_s=0.01)
    assert [value.get() for _ in range(3)] == [1, 2, 3]  # cheap: exact on every read
    cost[0] = 0.5
    assert value.get() == 4  # computed on the read, and found slow
    assert [value.get() for _ in range(3)] == [4, 4, 4] and len(calls) == 4  # the last value, no recount yet
