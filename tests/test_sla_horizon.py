"""The at-risk count predicts only the wants inside the prediction horizon; it must equal
predicting every active want (the full scan) and the at-risk list's length, on recorded
histories with an injected clock: wants just inside, right at and far beyond the horizon,
wants anchored far in the future by dated inputs or a retry backoff, and building wants
whose plan's critical path is longer than any past build."""

from __future__ import annotations

import datetime as dt

import pytest

from databuild.events import open_event_log
from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.state import StateProjection, StateStore
from databuild.state.wants import sla_deadline_us
from slahistory import S, build_events, record_build

H = 3600 * S
T0 = int(dt.datetime(2027, 1, 10, tzinfo=dt.timezone.utc).timestamp()) * S  # a midnight
FAR = int(dt.datetime(2031, 6, 1, tzinfo=dt.timezone.utc).timestamp()) * S
GRAPH = GraphSpec("//g:h", (JobSpec("//g:job", "/bin/true", ("daily/*",)),))


class Clock:
    def __init__(self, us: int) -> None:
        self.us = us

    def __call__(self) -> int:
        return self.us


@pytest.fixture(params=["memory", "sqlite"])
def setup(request, tmp_path):
    """A service whose history says: ``up/{date}`` lands 3 h after its date, a build of
    ``daily/*`` takes 1 h, and so does each run of ``//g:job``."""
    clock = Clock(T0 + 3 * H)
    url = "memory://" if request.param == "memory" else f"sqlite://{tmp_path}/bel.sqlite3"
    store = StateStore(open_event_log(url, [StateProjection()], clock))
    store.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(refs=["up/2027-01-10"]))])
    record_build(store.log.append, clock, "past", "//g:job", ["daily/past"], 3600)
    service = DataBuildService(GRAPH, store, str(tmp_path / "logs"), clock_us=clock)
    yield service, clock
    store.close()


def _want(name: str, sla_s: int, deps: tuple[str, ...] = (), data_us: int | None = None) -> pb.CreateWantRequest:
    request = pb.CreateWantRequest(partitions=[f"daily/{name}"], external_dependencies=deps, sla_seconds=sla_s)
    if data_us is not None:
        request.data_timestamp.FromMicroseconds(data_us)
    return request


def _full_scan(service: DataBuildService) -> set[str]:
    """At-risk wants by predicting every active want."""
    wants = service.store.active_wants(limit=10_000)
    return {k for k, p in service.predict_wants(wants).items() if p.at_risk}


def _listed(service: DataBuildService) -> set[str]:
    """The at-risk list, 3 a page: most urgent first, across the horizon too."""
    found, token = [], ""
    while True:
        page = service.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, limit=3, after=token))
        found += page.wants
        token = page.next_page_token
        if not token:
            break
    order = [(sla_deadline_us(w.spec), w.spec.want_id) for w in found]
    assert order == sorted(order)
    return {w.spec.want_id for w in found}


def test_count_equals_full_scan_inside_at_and_beyond_the_horizon(setup):
    service, clock = setup
    now = clock.us
    specs = {
        # Undated inputs: completion = now + 1 h (the longest build), the horizon.
        "inside": _want("inside", 3599, ("up/x1",)), "at": _want("at", 3600, ("up/x2",)),
        "outside": _want("outside", 3601, ("up/x3",)), "none": _want("none", 0, ("up/x4",)),
        # Dated inputs years ahead: completion = their date + 3 h lag + 1 h build.
        "far_risky": _want("far_risky", 4 * 3600 - 1, ("up/2031-06-01",), FAR),
        "far_at": _want("far_at", 4 * 3600, ("up/2031-06-01",), FAR),
        "far_calm": _want("far_calm", 4 * 3600 + 1, ("up/2031-06-01",), FAR),
        "far_short": _want("far_short", 3600, ("up/2031-06-01", "up/x5"), FAR),
        # A dated input that landed long ago by history's lag: starts now.
        "past_input": _want("past_input", 3599, ("up/2027-01-01",)),
        "past_calm": _want("past_calm", 3600, ("up/2027-01-01",)),
    }
    for i in range(50):  # far beyond any horizon
        specs[f"calm{i}"] = _want(f"calm{i}", 86400 + i, ("up/y",))
    for i, sla in enumerate((2 * 3600, 3 * 3600 - 1, 3 * 3600, 3 * 3600 + 1)):  # to ride on a 3-run chain
        specs[f"chain{i}"] = _want(f"chain{i}", sla)
    for i, sla in enumerate((30 * 86400 + 3599, 30 * 86400 + 3600)):  # to be queued for 30 days
        specs[f"backoff{i}"] = _want(f"backoff{i}", sla, ("up/z",))
    made = service.create_wants(pb.CreateWantsRequest(wants=list(specs.values()))).wants
    ids = dict(zip(specs, (w.spec.want_id for w in made)))
    chain = [(f"c{i}", "//g:job", [f"daily/chain-step{i}"], [f"daily/chain-step{i - 1}"] if i else [])
             for i in range(3)]
    service.log.append(build_events("chain", chain, ["daily/chain-step2"]))
    moves = [pb.Event(want_status_changed=pb.WantStatusChanged(
        want_id=ids[f"chain{i}"], status=pb.WANT_STATUS_BUILDING, build_id="chain")) for i in range(4)]
    for i in range(2):
        moved = pb.WantStatusChanged(want_id=ids[f"backoff{i}"], status=pb.WANT_STATUS_QUEUED, attempt=1)
        moved.not_before.FromMicroseconds(now + 30 * 86400 * S)
        moves.append(pb.Event(want_status_changed=moved))
    service.log.append(moves)

    risky = {ids[n] for n in ("inside", "far_risky", "far_short", "past_input", "chain0", "chain1", "backoff0")}
    assert _full_scan(service) == risky == _listed(service)
    assert service.at_risk_count() == len(risky)

    clock.us = now + 1800 * S  # half an hour on: the undated ones and the unstarted chain's join
    risky |= {ids[n] for n in ("at", "outside", "past_calm", "chain2", "chain3")}
    assert _full_scan(service) == risky == _listed(service)
    assert service.at_risk_count() == len(risky)


def test_no_history_means_nothing_at_risk_and_nothing_predicted(tmp_path):
    clock = Clock(T0)
    store = StateStore(open_event_log("memory://", [StateProjection()], clock))
    service = DataBuildService(GRAPH, store, str(tmp_path / "logs"), clock_us=clock)
    service.create_wants(pb.CreateWantsRequest(wants=[_want("a", 1, ("up/2027-01-10",)), _want("b", 60)]))
    assert service.at_risk_count() == 0 == len(_full_scan(service))
    clock.us += 2 * S  # past a's deadline, not yet recorded violated: completion now > deadline
    assert service.at_risk_count() == 1 == len(_full_scan(service)) == len(_listed(service))
    store.close()


def test_a_log_from_before_sla_slack_terms_gets_them_on_open(tmp_path, monkeypatch):
    """Rows of projection version 3 have no ``sla_slack`` term: the replay on open adds it,
    so a want anchored far ahead is still counted at risk."""
    import databuild.state.projection as projection
    from databuild.state import BUILD, WANT
    from databuild.state.builds import build_terms
    from databuild.state.wants import want_terms

    def old_want_terms(want: pb.WantState):
        return tuple(t for t in want_terms(want) if t[0] != "sla_slack")

    clock = Clock(T0 + 3 * H)
    url = f"sqlite://{tmp_path}/bel.sqlite3"
    with monkeypatch.context() as old_code:
        old_code.setattr(projection, "TERMS", {WANT: old_want_terms, BUILD: build_terms})
        old_code.setattr(projection.StateProjection, "version", 3)
        store = StateStore(open_event_log(url, [StateProjection()], clock))
        store.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
            refs=["up/2027-01-10"]))])
        record_build(store.log.append, clock, "past", "//g:job", ["daily/past"], 3600)
        service = DataBuildService(GRAPH, store, str(tmp_path / "logs"), clock_us=clock)
        service.create_wants(pb.CreateWantsRequest(wants=[_want("far", 3600, ("up/2031-06-01",), FAR)]))
        assert store.log.term_entries(WANT, "sla_slack") == []
        store.close()
    store = StateStore(open_event_log(url, [StateProjection()], clock))
    service = DataBuildService(GRAPH, store, str(tmp_path / "logs"), clock_us=clock)
    assert len(store.log.term_entries(WANT, "sla_slack")) == 1
    assert service.at_risk_count() == 1 == len(_full_scan(service)) == len(_listed(service))
    store.close()
