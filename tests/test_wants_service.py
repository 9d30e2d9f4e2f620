"""Wants through the service: real HTTP, a real SQLite log, real job processes, the
evaluator thread (or, with an injected clock, its passes driven by the test)."""

from __future__ import annotations

import gc
import threading
import time

import pytest
import requests

from databuild.events import open_event_log
from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.service.client import ServiceClient
from databuild.state import ACTIVE_WANT_STATUSES, TERMINAL_BUILD_STATUSES, StateProjection, StateStore
from databuild.wants import Policy
from slahistory import record_build
from test_service_http import AUTH, TOKEN, serving

pytestmark = pytest.mark.slow

# Outputs one run per ref; slow/* waits for $DIR/release; fail/* exits 1; counts runs in $DIR/runs.
JOB = """#!/bin/sh
if [ "$1" = config ]; then
  shift; printf '{"configs": ['; sep=
  for r in "$@"; do
    case "$r" in
      derived/*) printf '%s{"outputs": ["%s"], "inputs": [{"ref": "raw/%s", "dep_type": "materialize"}], "args": ["%s"]}' \\
                 "$sep" "$r" "${r#derived/}" "$r";;
      *) printf '%s{"outputs": ["%s"], "args": ["%s"]}' "$sep" "$r" "$r";;
    esac
    sep=,
  done
  printf ']}\\n'; exit 0
fi
echo "$2" >> "$DIR/runs"
case "$2" in
  slow/*) while [ ! -e "$DIR/release" ]; do sleep 0.05; done;;
  fail/*) echo "boom" >&2; exit 1;;
esac
exit 0
"""


@pytest.fixture
def graph(tmp_path, monkeypatch):
    job = tmp_path / "job.sh"
    job.write_text(JOB)
    job.chmod(0o755)
    monkeypatch.setenv("DIR", str(tmp_path))
    return GraphSpec("//g:w", (JobSpec("//g:job", str(job), ("daily/*", "slow/*", "fail/*", "derived/*")),))


#: The event log of a test run on PostgreSQL (``bel``), by the test's tmp_path.
_POSTGRES_URIS: dict[str, str] = {}


def bel_uri(tmp_path) -> str:
    """The test's event log: SQLite in tmp_path, or the database ``bel`` made for it."""
    return _POSTGRES_URIS.get(str(tmp_path), f"sqlite://{tmp_path}/bel.sqlite3")


@pytest.fixture(params=["sqlite", "postgres"])
def bel(request, tmp_path):
    """Runs a test on SQLite and on PostgreSQL (request it before ``live``)."""
    if request.param == "postgres":
        _POSTGRES_URIS[str(tmp_path)] = request.getfixturevalue("pg_database")()
    yield request.param
    _POSTGRES_URIS.pop(str(tmp_path), None)


def open_store(tmp_path) -> StateStore:
    return StateStore(open_event_log(bel_uri(tmp_path), [StateProjection()]))


@pytest.fixture
def live(tmp_path, graph):
    """A service with its evaluator running, served over HTTP."""
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"),
                               policy=Policy(max_attempts=2, backoff_initial_s=0.2))
    service.start_evaluator()
    with serving(service) as url:
        yield ServiceClient(url, TOKEN), url, service, store
    service.close()
    store.close()


def wait_for(client: ServiceClient, want_id: str, *statuses: int, timeout: float = 20) -> pb.WantState:
    deadline = time.monotonic() + timeout
    feed = pb.ListEventsRequest(wait_seconds=1, limit=1000)
    while True:
        want = client.want(pb.GetWantRequest(want_id=want_id)).want
        if want.status in statuses:
            return want
        assert time.monotonic() < deadline, f"want stayed {pb.WantStatus.Name(want.status)}: {want.message}"
        feed.since = client.events(feed).next


def wait_until(store: StateStore, holds, timeout: float = 20, what: str = "condition") -> None:
    """Wait until ``holds()`` is true, re-checking after each append (no polling interval)."""
    appended = threading.Condition()

    def on_append(latest: int) -> None:
        with appended:
            appended.notify_all()

    store.log.add_listener(on_append)
    deadline = time.monotonic() + timeout
    with appended:
        while not holds():
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {what}"
            appended.wait(min(left, 1.0))  # 1 s: appends by other processes are not heard


def create(url: str, **body) -> dict:
    r = requests.post(f"{url}/api/v1/wants", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return r.json()


def test_want_is_built_and_satisfied(bel, live, tmp_path):
    client, url, _, store = live
    created = create(url, partitions=["daily/1", "daily/2"], comment="for the report")
    assert created["status"] in ("queued", "building")
    assert created["source"]["type"] == "api" and created["ttl_seconds"] == 86400
    want = wait_for(client, created["want_id"], pb.WANT_STATUS_SATISFIED)
    assert want.build_id and want.attempts == 1
    build = client.build(pb.GetBuildRequest(build_id=want.build_id)).build
    assert list(build.want_ids) == [want.spec.want_id] and build.status == pb.BUILD_STATUS_COMPLETED
    detail = client.want(pb.GetWantRequest(want_id=want.spec.want_id))
    kinds = [e.WhichOneof("payload") for e in detail.timeline]
    assert kinds[0] == "want_created" and kinds[-1] == "want_satisfied" and "want_status_changed" in kinds
    assert f"satisfied by build {want.build_id}" in detail.explanation
    # Wanting what is already there is satisfied at once, without a build.
    again = create(url, partitions=["daily/1"])
    assert wait_for(client, again["want_id"], pb.WANT_STATUS_SATISFIED).build_id == ""
    assert sorted((tmp_path / "runs").read_text().split()) == ["daily/1", "daily/2"]


def test_external_dependency_holds_the_want_until_it_lands(live, tmp_path):
    client, url, _, _ = live
    wid = create(url, partitions=["daily/5"], external_dependencies=["upstream/5"])["want_id"]
    want = wait_for(client, wid, pb.WANT_STATUS_WAITING)
    assert list(want.waiting_for) == ["upstream/5"]
    detail = client.want(pb.GetWantRequest(want_id=wid))
    assert "upstream/5" in detail.explanation and detail.blocked_by[0].kind == "external"
    assert not (tmp_path / "runs").exists()
    client.mark_available(pb.MarkAvailableRequest(refs=["upstream/5"]))
    assert wait_for(client, wid, pb.WANT_STATUS_SATISFIED).build_id


def test_plan_leaf_missing_waits_then_builds(live):
    client, url, _, _ = live
    wid = create(url, partitions=["derived/7"])["want_id"]
    want = wait_for(client, wid, pb.WANT_STATUS_WAITING)
    assert list(want.waiting_for) == ["raw/7"] and "external inputs of its plan" in want.message
    client.mark_available(pb.MarkAvailableRequest(refs=["raw/7"]))
    wait_for(client, wid, pb.WANT_STATUS_SATISFIED)


def test_overlapping_wants_share_one_build(live, tmp_path):
    client, url, _, _ = live
    batch = requests.post(f"{url}/api/v1/wants", headers=AUTH, json={"wants": [
        {"partitions": ["slow/1", "daily/8"]}, {"partitions": ["slow/1"]}]})
    assert batch.status_code == 201, batch.text
    a, b = (w["want_id"] for w in batch.json()["wants"])
    first = wait_for(client, a, pb.WANT_STATUS_BUILDING)
    second = wait_for(client, b, pb.WANT_STATUS_BUILDING)
    assert first.build_id == second.build_id
    (tmp_path / "release").touch()
    wait_for(client, a, pb.WANT_STATUS_SATISFIED)
    wait_for(client, b, pb.WANT_STATUS_SATISFIED)
    assert sorted((tmp_path / "runs").read_text().split()) == ["daily/8", "slow/1"]


def test_failed_builds_retry_then_fail(live, tmp_path):
    client, url, _, _ = live
    wid = create(url, partitions=["fail/1"])["want_id"]
    want = wait_for(client, wid, pb.WANT_STATUS_FAILED)
    assert want.attempts == 2 and "//g:job failed" in want.last_error
    assert (tmp_path / "runs").read_text().split() == ["fail/1", "fail/1"]
    assert "gave up after 2" in client.want(pb.GetWantRequest(want_id=wid)).explanation


def test_cancelling_a_building_want_stops_its_build(live):
    client, url, service, _ = live
    wid = create(url, partitions=["slow/9"])["want_id"]
    want = wait_for(client, wid, pb.WANT_STATUS_BUILDING)
    r = requests.delete(f"{url}/api/v1/wants/{wid}", json={"reason": "not needed"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    deadline = time.monotonic() + 20
    while client.build(pb.GetBuildRequest(build_id=want.build_id)).build.status != pb.BUILD_STATUS_CANCELLED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    again = requests.delete(f"{url}/api/v1/wants/{wid}", headers=AUTH)
    assert again.status_code == 409 and "already cancelled" in again.json()["error"]["message"]
    assert client.want(pb.GetWantRequest(want_id=wid)).want.status == pb.WANT_STATUS_CANCELLED
    assert "not needed" in client.want(pb.GetWantRequest(want_id=wid)).explanation


def test_a_want_cancelled_by_another_writer_stops_the_build_this_service_runs(bel, live, tmp_path):
    client, url, service, _ = live
    wid = create(url, partitions=["slow/10"])["want_id"]
    want = wait_for(client, wid, pb.WANT_STATUS_BUILDING)
    other = open_store(tmp_path)  # e.g. a --local command in another process
    other.log.append([pb.Event(want_cancelled=pb.WantCancelled(want_id=wid, reason="elsewhere",
                                                                requested_by="cli:x"))])
    other.close()
    deadline = time.monotonic() + 20
    while client.build(pb.GetBuildRequest(build_id=want.build_id)).build.status != pb.BUILD_STATUS_CANCELLED:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_taint_then_a_want_rebuilds(live, tmp_path):
    client, url, _, _ = live
    first = create(url, partitions=["daily/3"])["want_id"]
    wait_for(client, first, pb.WANT_STATUS_SATISFIED)
    client.taint(pb.TaintRequest(refs=["daily/3"], reason="bad numbers"))
    second = create(url, partitions=["daily/3"])["want_id"]
    wait_for(client, second, pb.WANT_STATUS_SATISFIED)
    assert (tmp_path / "runs").read_text().split() == ["daily/3", "daily/3"]


def test_listing_filters_and_paging(bel, live):
    client, url, _, _ = live
    old = "2020-01-01T00:00:00Z"
    ids = [w["want_id"] for w in requests.post(f"{url}/api/v1/wants", headers=AUTH, json={"wants": [
        {"partitions": ["daily/a"], "external_dependencies": ["up/a"]},
        {"partitions": ["daily/b"], "external_dependencies": ["up/b"], "sla_seconds": 60, "data_timestamp": old},
        {"partitions": ["other/c"], "external_dependencies": ["up/c"],
         "source": {"type": "cli", "name": "alice"}},
    ]}).json()["wants"]]
    assert ids == sorted(ids)  # ids are time-ordered: lists page in creation order
    listed = lambda **q: [w["want_id"] for w in requests.get(f"{url}/api/v1/wants", params=q).json()["wants"]]
    assert listed(pattern="daily/*") == ids[:2]
    assert listed(source="cli:alice") == [ids[2]] and listed(source="api") == ids[:2]
    assert listed(status="waiting", limit=2) == ids[:2]
    page = requests.get(f"{url}/api/v1/wants", params={"limit": 2}).json()
    assert page["next_page_token"] == ids[1]
    assert listed(after=page["next_page_token"]) == [ids[2]]
    deadline = time.monotonic() + 10
    while listed(sla="violated") != [ids[1]]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    violations = requests.get(f"{url}/api/v1/wants/sla-violations").json()["wants"]
    assert [w["want_id"] for w in violations] == [ids[1]] and violations[0]["sla_violated"]
    assert client.want(pb.GetWantRequest(want_id="daily/b")).want.spec.want_id == ids[1]  # status by partition ref


@pytest.mark.parametrize("body, fragment", [
    ({}, "at least one partition"),
    ({"partitions": ["bad ref"]}, "bad ref"),
    ({"partitions": ["a/1"], "ttl_seconds": -5}, "-5"),
    ({"partitions": ["a/1"], "ttl_seconds": 0}, "got 0"),
    ({"partitions": ["a/1"], "ttl_seconds": "0"}, "got 0"),
    ({"partitions": ["a/1"], "sla_seconds": -1}, "-1"),
    ({"partitions": ["a/1"], "external_dependencies": [""]}, "must not be empty"),
    ({"wants": []}, "no wants"),
    ({"wants": [{"partitions": ["a/1"]}, {"partitions": []}]}, "want #2"),
    ({"partitions": "a/1"}, "repeated field partitions"),
    ({"partitions": ["a/1"], "colour": "red"}, "'colour'"),
    ({"partitions": ["a/1"], "source": {"type": 99}}, "99"),
    ({"partitions": ["a/1"], "source": {"type": "robot"}}, "'robot'"),
])
def test_bad_wants_are_refused_and_record_nothing(live, body, fragment):
    _, url, _, store = live
    before = store.log.latest_index()
    r = requests.post(f"{url}/api/v1/wants", json=body, headers=AUTH)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]["message"]
    assert store.log.latest_index() == before


def test_bad_want_queries(bel, live):
    _, url, _, _ = live
    assert requests.post(f"{url}/api/v1/wants", data=b"{nope", headers=AUTH).status_code == 400
    assert requests.post(f"{url}/api/v1/wants", json={"partitions": ["a/1"]}).status_code == 401
    for params, fragment in [({"status": "sleeping"}, "sleeping"), ({"sla": "late"}, "late"),
                             ({"pattern": "a b"}, "a b"), ({"limit": 0}, "limit"),
                             ({"limit": 10_001}, "limit"), ({"limit": 2**40}, "out of range")]:
        r = requests.get(f"{url}/api/v1/wants", params=params)
        assert r.status_code == 400 and fragment in r.json()["error"]["message"], (params, r.text)
    missing = requests.get(f"{url}/api/v1/wants/0190ae3c-0000-7000-8000-000000000000")
    assert missing.status_code == 404 and "0190ae3c" in missing.json()["error"]["message"]
    assert requests.delete(f"{url}/api/v1/wants/nope", headers=AUTH).status_code == 404
    # Read routes are never shadowed: the old per-ref action path is not a partition read.
    shadow = requests.post(f"{url}/api/v1/partitions/0/available", headers=AUTH)
    assert shadow.status_code == 405 and shadow.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("ttl, default", [(None, 7200), (None, 0), (1, 7200)])
def test_an_unset_ttl_takes_the_default_and_a_set_one_is_kept(tmp_path, graph, ttl, default):
    from dataclasses import replace

    from databuild.wants import DEFAULT_TTL_SECONDS

    store = open_store(tmp_path)
    service = DataBuildService(replace(graph, default_ttl_seconds=default), store, str(tmp_path / "logs"))
    request = pb.CreateWantRequest(partitions=["daily/1"], ttl_seconds=ttl)
    spec = service.create_wants(pb.CreateWantsRequest(wants=[request])).wants[0].spec
    assert spec.ttl_seconds == (ttl or default or DEFAULT_TTL_SECONDS)
    store.close()


@pytest.mark.parametrize("ttl", [0, -1])
def test_an_explicit_zero_or_negative_ttl_is_refused_in_process(tmp_path, graph, ttl):
    from databuild.errors import InvalidArgumentError

    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"))
    with pytest.raises(InvalidArgumentError, match=f"ttl_seconds must be positive.*got {ttl}"):
        service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(partitions=["daily/1"], ttl_seconds=ttl)]))
    assert store.log.latest_index() == 0
    store.close()


class Clock:
    def __init__(self) -> None:
        self.us = 1_800_000_000_000_000

    def __call__(self) -> int:
        return self.us


def test_ttl_expiry_and_sla_violation_are_recorded_once(tmp_path, graph):
    clock = Clock()
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"), clock_us=clock)
    created = service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(
        partitions=["daily/1"], external_dependencies=["up/1"], ttl_seconds=120, sla_seconds=60)])).wants[0]
    wid = created.spec.want_id
    assert created == store.want(wid)  # the answer is what was stored
    service.evaluator.tick()
    assert store.want(wid).status == pb.WANT_STATUS_WAITING
    clock.us += 59_000_000
    service.evaluator.tick()
    assert not store.want(wid).sla_violated
    clock.us += 1_000_000
    service.evaluator.tick()
    service.evaluator.tick()
    assert store.want(wid).sla_violated and store.want(wid).status == pb.WANT_STATUS_WAITING
    clock.us += 60_000_000
    service.evaluator.tick()
    service.evaluator.tick()
    assert store.want(wid).status == pb.WANT_STATUS_EXPIRED
    kinds = [e.WhichOneof("payload") for e in service.want(pb.GetWantRequest(want_id=wid)).timeline]
    assert kinds.count("want_sla_violated") == 1 and kinds.count("want_expired") == 1
    assert "expired" in service.want(pb.GetWantRequest(want_id=wid)).explanation
    store.close()


def test_restart_resumes_active_wants(bel, tmp_path, graph):
    store = open_store(tmp_path)
    first = DataBuildService(graph, store, str(tmp_path / "logs"))
    first.start_evaluator()
    wid = first.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(
        partitions=["daily/4"], external_dependencies=["up/4"])])).wants[0].spec.want_id
    deadline = time.monotonic() + 10
    while store.want(wid).status != pb.WANT_STATUS_WAITING:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    first.close()
    store.close()
    # While no service runs, another writer records the data.
    other = open_event_log(bel_uri(tmp_path))
    other.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(refs=["up/4"]))])
    other.close()

    store = open_store(tmp_path)
    second = DataBuildService(graph, store, str(tmp_path / "logs"))
    second.start_evaluator()
    deadline = time.monotonic() + 20
    while store.want(wid).status != pb.WANT_STATUS_SATISFIED:
        assert time.monotonic() < deadline, store.want(wid)
        time.sleep(0.02)
    second.close()
    store.close()


def test_graph_defaults_and_upstream_owner_in_the_explanation(tmp_path, graph):
    from dataclasses import replace

    from databuild.graph import UpstreamSpec

    graph = replace(graph, default_ttl_seconds=7200, default_sla_seconds=1800,
                    upstreams=(UpstreamSpec("sales", "//sales:graph", "http://sales:8100", ("up/*",)),))
    clock = Clock()
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"), clock_us=clock)
    created = service.create_wants(pb.CreateWantsRequest(wants=[
        pb.CreateWantRequest(partitions=["daily/1"], external_dependencies=["up/1", "elsewhere/1"]),
        pb.CreateWantRequest(partitions=["daily/2"], external_dependencies=["up/2"], ttl_seconds=60),
    ])).wants
    assert (created[0].spec.ttl_seconds, created[0].spec.sla_seconds) == (7200, 1800)
    assert (created[1].spec.ttl_seconds, created[1].spec.sla_seconds) == (60, 1800)  # 0: the graph's default
    service.evaluator.tick()
    detail = service.want(pb.GetWantRequest(want_id=created[0].spec.want_id))
    assert "up/1 (owned by upstream 'sales': not synced by this service)" in detail.explanation
    assert "elsewhere/1 (no upstream declares it" in detail.explanation
    assert [(b.kind, b.ref, b.upstream) for b in detail.blocked_by] == [
        ("external", "up/1", "sales"), ("external", "elsewhere/1", "")]
    assert "SLA deadline" in detail.explanation and "(in 30m)" in detail.explanation
    assert detail.sla_deadline.ToMicroseconds() == clock.us + 1800 * 1_000_000
    store.close()


def test_capacity_queues_the_less_urgent_want_until_a_build_ends(tmp_path, graph):
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"), policy=Policy(max_concurrent_builds=1))
    service.start_evaluator()
    with serving(service) as url:
        client = ServiceClient(url, TOKEN)
        urgent = create(url, partitions=["slow/a"], sla_seconds=600)["want_id"]
        running = wait_for(client, urgent, pb.WANT_STATUS_BUILDING)
        later = create(url, partitions=["slow/b"], sla_seconds=3600)["want_id"]
        deadline = time.monotonic() + 10
        while "waiting for build capacity" not in (detail := client.want(pb.GetWantRequest(want_id=later))).explanation:
            assert time.monotonic() < deadline, detail.explanation
            time.sleep(0.05)
        assert detail.want.status == pb.WANT_STATUS_QUEUED and running.build_id in detail.explanation
        (tmp_path / "release").touch()
        wait_for(client, urgent, pb.WANT_STATUS_SATISFIED)
        assert wait_for(client, later, pb.WANT_STATUS_SATISFIED).build_id != running.build_id
    service.close()
    store.close()


def test_sla_at_risk_and_violated_filters(bel, tmp_path, graph):
    clock = Clock()
    store = StateStore(open_event_log(bel_uri(tmp_path), [StateProjection()], clock))
    record_build(store.log.append, clock, "past", "//g:job", ["daily/past"], 3600)  # builds take an hour
    clock.us -= 3600 * 1_000_000
    service = DataBuildService(graph, store, str(tmp_path / "logs"), clock_us=clock)
    wanted = lambda sla: pb.CreateWantRequest(partitions=[f"daily/{sla}"], external_dependencies=[f"up/{sla}"],
                                              sla_seconds=sla)
    soon, later, none = (w.spec.want_id for w in service.create_wants(pb.CreateWantsRequest(
        wants=[wanted(1800), wanted(7200), wanted(0)])).wants)
    service.evaluator.tick()
    ids = lambda response: [w.spec.want_id for w in response.wants]
    assert ids(service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK))) == [soon]  # an hour's build misses 30m
    assert ids(service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_VIOLATED))) == []
    clock.us += 1801 * 1_000_000
    service.evaluator.tick()
    assert ids(service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_VIOLATED))) == [soon] == ids(service.sla_violations(pb.PageRequest()))
    assert ids(service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK))) == []  # the other deadline is 5399 s away
    assert service.at_risk_count() == 0
    clock.us += 2000 * 1_000_000
    assert ids(service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK))) == [later] == ids(
        service.wants_at_risk(pb.PageRequest()))
    assert service.at_risk_count() == 1
    assert none not in ids(service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, statuses=[pb.WANT_STATUS_WAITING])))
    store.close()


def test_an_executor_crash_fails_the_build_and_the_want_moves_on(live, monkeypatch):
    from databuild.executor import BuildExecutor

    def crash(self, *args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(BuildExecutor, "run", crash)
    client, url, _, _ = live
    wid = create(url, partitions=["daily/6"])["want_id"]
    want = wait_for(client, wid, pb.WANT_STATUS_FAILED)
    assert want.attempts == 2 and "disk on fire" in want.last_error
    assert client.build(pb.GetBuildRequest(build_id=want.build_id)).build.status == pb.BUILD_STATUS_FAILED


def building_in_a_dead_daemon(service: DataBuildService, ref: str) -> str:
    """A want for ``ref`` riding build "dead", whose daemon was killed; recovery has closed it."""
    from databuild.executor import executor_alive, executor_identity, recover_abandoned_builds

    created = service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(partitions=[ref])]))
    wid = created.wants[0].spec.want_id
    dead = f"{executor_identity().rpartition(':')[0]}:999999999"
    service.log.append([
        pb.Event(build_requested=pb.BuildRequested(build_id="dead", partitions=[ref], want_ids=[wid], executor=dead)),
        pb.Event(want_status_changed=pb.WantStatusChanged(want_id=wid, status=pb.WANT_STATUS_BUILDING,
                                                          build_id="dead", attempt=1))])
    assert recover_abandoned_builds(service.store, executor_alive) == ["dead"]
    return wid


def test_a_want_rides_a_build_still_planning_its_partition(tmp_path, graph):
    """A build requested but not yet claimed (planning) counts as producing what it asked
    for: a want for the same partition decided meanwhile rides it, no second build."""
    from databuild.executor import executor_identity

    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"))
    service.log.append([pb.Event(build_requested=pb.BuildRequested(
        build_id="planning", partitions=["daily/1", "daily/2"], executor=executor_identity()))])
    wid = service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(partitions=["daily/2"])])).wants[0].spec.want_id
    assert service.evaluator.settle()
    want = store.want(wid)
    assert (want.status, want.build_id) == (pb.WANT_STATUS_BUILDING, "planning"), want
    assert [b.build_id for b in store.builds()] == ["planning"]
    store.close()


def test_a_builds_own_progress_wakes_no_pass_but_data_a_want_waits_for_does(tmp_path, graph):
    """The evaluator's wake-up filter: a partition becoming available to the want riding the
    build that made it moves nothing (that want is decided when the build ends); the same for
    a want that waits on the partition, or a build's end, wakes a pass."""
    from eventgen import partition_event

    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"))
    riding = service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(partitions=["daily/1"])]))
    wid = riding.wants[0].spec.want_id
    service.log.append([
        pb.Event(build_requested=pb.BuildRequested(build_id="b1", partitions=["daily/1"], want_ids=[wid])),
        pb.Event(want_status_changed=pb.WantStatusChanged(want_id=wid, status=pb.WANT_STATUS_BUILDING,
                                                          build_id="b1", attempt=1))])
    moves = service.evaluator._moves_a_want
    assert not moves([partition_event("daily/1", pb.PARTITION_STATUS_BUILDING), partition_event("daily/1")])
    service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(partitions=["daily/1"])]))
    assert moves([partition_event("daily/1")])
    ended = pb.Event(build_status_changed=pb.BuildStatusChanged(build_id="b1", status=pb.BUILD_STATUS_COMPLETED))
    assert moves([ended])
    store.close()


def test_a_build_lost_with_the_daemon_does_not_use_up_an_attempt(tmp_path, graph):
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"), policy=Policy(max_attempts=1))
    wid = building_in_a_dead_daemon(service, "daily/1")
    service.start_evaluator()
    wait_until(store, lambda: store.want(wid).status not in ACTIVE_WANT_STATUSES, what="the want to end")
    want = store.want(wid)
    assert (want.status, want.attempts) == (pb.WANT_STATUS_SATISFIED, 1), want
    moves = [e.want_status_changed.message for e in service.want(pb.GetWantRequest(want_id=wid)).timeline if e.HasField("want_status_changed")]
    assert want.build_id != "dead" and any("lost with its executor" in m for m in moves), moves
    service.close()
    store.close()


def test_satisfied_names_the_build_that_produced_it_not_one_that_died(tmp_path, graph):
    """A want whose build died with the daemon, satisfied by a later build of another want,
    names that later build (never the dead one)."""
    clock = Clock()
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"), clock_us=clock)
    wid = building_in_a_dead_daemon(service, "daily/1")
    second = service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(partitions=["daily/1"])]))
    other = second.wants[0].spec.want_id
    assert service.evaluator.settle()
    built = lambda: (p := store.partition("daily/1")) is not None and p.status == pb.PARTITION_STATUS_AVAILABLE \
        and store.build(p.build_id).status == pb.BUILD_STATUS_COMPLETED
    wait_until(store, built, what="daily/1 built")
    # The second want may ride a build that delegated daily/1 to the first and ends a
    # poll later: settle until both wants have ended.
    wait_until(store, lambda: service.evaluator.settle() and all(
        store.want(w).status not in ACTIVE_WANT_STATUSES for w in (wid, other)), what="both wants to end")
    producer = store.partition("daily/1").build_id
    assert producer != "dead"
    for want_id in (wid, other):
        want = store.want(want_id)
        assert (want.status, want.build_id) == (pb.WANT_STATUS_SATISFIED, producer)
    assert f"satisfied by build {producer}" in service.want(pb.GetWantRequest(want_id=wid)).explanation
    store.close()


class BlockingResolver:
    """The graph's resolver, but config calls for ``daily/hang`` block until ``release`` is set
    (a hung job ``config``)."""

    def __init__(self, graph: GraphSpec) -> None:
        from databuild.planner import GraphResolver

        self.real = GraphResolver(graph)
        self.entered, self.release = threading.Event(), threading.Event()

    def lookup(self, refs):
        return self.real.lookup(refs)

    def session(self):
        return self.real.session()

    def configs(self, label, refs):
        if "daily/hang" in refs:
            self.entered.set()
            assert self.release.wait(60), "the test never released the hung config"
        return self.real.configs(label, refs)


def test_a_hung_config_delays_no_unrelated_want(tmp_path, graph):
    """While one want's planning hangs, an unrelated want is decided and built and another's
    TTL expiry fires; the hung want is decided once its plan returns."""
    resolver = BlockingResolver(graph)
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"), resolver=resolver)
    service.start_evaluator()
    try:
        new = lambda **kw: service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(**kw)])).wants[0]
        hung = new(partitions=["daily/hang"]).spec.want_id
        assert resolver.entered.wait(20), "planning of daily/hang never started"
        unrelated = new(partitions=["daily/2"]).spec.want_id
        expiring = new(partitions=["daily/3"], external_dependencies=["up/3"], ttl_seconds=1).spec.want_id
        wait_until(store, lambda: store.want(unrelated).status == pb.WANT_STATUS_SATISFIED, what="unrelated built")
        wait_until(store, lambda: store.want(expiring).status == pb.WANT_STATUS_EXPIRED, what="TTL expiry")
        assert store.want(hung).status == pb.WANT_STATUS_QUEUED and service.evaluator.planning.pending(hung)
        resolver.release.set()
        wait_until(store, lambda: store.want(hung).status == pb.WANT_STATUS_SATISFIED, what="the hung want built")
        assert sorted((tmp_path / "runs").read_text().split()) == ["daily/2", "daily/hang"]
    finally:
        resolver.release.set()
        service.close()
        store.close()


# Sleeps with a child in its process group; tells the test both pids through the fifo $DIR/started.
SLEEPER = """#!/bin/sh
if [ "$1" = config ]; then
  printf '{"configs": [{"outputs": ["%s"], "args": ["%s"]}]}\\n' "$2" "$2"; exit 0
fi
sleep 1000 &
echo "$$ $!" > "$DIR/started"
wait
"""


def test_a_build_no_active_want_needs_is_cancelled_and_its_processes_killed(tmp_path, monkeypatch):
    """A want expires at its TTL while its job (and the job's child) hang: the build is
    cancelled and both processes are gone."""
    import os
    import select

    job = tmp_path / "sleeper.sh"
    job.write_text(SLEEPER)
    job.chmod(0o755)
    monkeypatch.setenv("DIR", str(tmp_path))
    os.mkfifo(tmp_path / "started")
    started: list[int] = []
    reader = threading.Thread(target=lambda: started.extend(map(int, (tmp_path / "started").read_text().split())),
                              daemon=True)
    reader.start()
    graph = GraphSpec("//g:sleep", (JobSpec("//g:sleeper", str(job), ("hang/*",)),))
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"))
    service.start_evaluator()
    try:
        wid = service.create_wants(pb.CreateWantsRequest(wants=[
            pb.CreateWantRequest(partitions=["hang/1"], ttl_seconds=3)])).wants[0].spec.want_id
        reader.join(20)
        assert len(started) == 2, "the job never started"
        pidfds = [os.pidfd_open(pid) for pid in started]  # readable once the process has exited
        build_id = store.want(wid).build_id
        wait_until(store, lambda: store.want(wid).status == pb.WANT_STATUS_EXPIRED, what="TTL expiry")
        wait_until(store, lambda: store.build(build_id).status == pb.BUILD_STATUS_CANCELLED, what="build cancelled")
        assert "no active want needs it" in store.build(build_id).message
        running, deadline = set(pidfds), time.monotonic() + 20
        while running and (left := deadline - time.monotonic()) > 0:
            running -= set(select.select(list(running), [], [], left)[0])
        assert not running, f"still running: {started}"
        for fd in pidfds:
            os.close(fd)
    finally:
        service.close()
        store.close()


def test_a_build_another_active_want_rides_on_is_not_cancelled_when_one_expires(tmp_path, graph):
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"))
    service.start_evaluator()
    try:
        short, long = (w.spec.want_id for w in service.create_wants(pb.CreateWantsRequest(wants=[
            pb.CreateWantRequest(partitions=["slow/s"], ttl_seconds=1), pb.CreateWantRequest(partitions=["slow/s"])
        ])).wants)
        wait_until(store, lambda: store.want(short).status == pb.WANT_STATUS_EXPIRED, what="TTL expiry")
        build_id = store.want(long).build_id
        assert build_id and store.want(short).build_id == build_id  # the expired want rode it too
        (tmp_path / "release").touch()
        wait_until(store, lambda: store.want(long).status == pb.WANT_STATUS_SATISFIED, what="the other want built")
        # The want is satisfied when its partition is available; the build's own end is recorded next.
        wait_until(store, lambda: store.build(build_id).status in TERMINAL_BUILD_STATUSES, what="the build's end")
        assert store.build(build_id).status == pb.BUILD_STATUS_COMPLETED and not store.build(build_id).cancel_requested
    finally:
        service.close()
        store.close()


def test_a_finished_build_leaves_nothing_of_its_own_reachable(live):
    """Once its thread ended, neither the build's executor nor its plan is referenced
    from the service (the service's memory returns after a build, docs/service.md)."""
    from databuild.executor import BuildExecutor
    from databuild.planner import Plan

    client, url, service, _ = live
    refs = [f"daily/{i}" for i in range(20)]
    want = wait_for(client, create(url, partitions=refs)["want_id"], pb.WANT_STATUS_SATISFIED)
    deadline = time.monotonic() + 20
    while any(t.name == f"build-{want.build_id[:8]}" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the build's thread did not end"
        time.sleep(0.05)
    gc.collect()
    assert service.builds.running() == 0
    assert not [o for o in gc.get_objects() if isinstance(o, BuildExecutor) and o.graph is service.graph]
    assert not [o for o in gc.get_objects() if isinstance(o, Plan) and "daily/0" in o.requested]
