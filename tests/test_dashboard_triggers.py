"""The dashboard's ``/triggers`` page and its actions (pause, resume, fire now) over real HTTP:
each trigger's kind, templates, state, next and last firing, failure and skipped ticks;
the forms need the write token and the session's CSRF token, and their errors re-render
the page naming the value. The trigger runner is not started: only the page fires."""

from __future__ import annotations

import re

import pytest
import requests

from databuild.graph import GraphSpec, JobSpec, TriggerSpec
from databuild.service import DataBuildService
from databuild.proto import databuild_pb2 as pb
from test_dashboard import HTML, READ_TOKEN, Clock, csrf_of, served_dashboard, signed_in

FAILING = "#!/bin/sh\necho 'the orders API answered 503' >&2\nexit 3\n"


@pytest.fixture
def dash(tmp_path):
    """(url, service, clock) of a dashboard over a graph with a schedule, a reactive trigger
    and a trigger whose binary fails; the clock is 2027-01-15 08:00 UTC."""
    clock = Clock()
    failing = tmp_path / "failing.sh"
    failing.write_text(FAILING)
    failing.chmod(0o755)
    graph = GraphSpec("//g:trig", (JobSpec("//g:daily", "/bin/true", ("daily/*", "orders/*")),), triggers=(
        TriggerSpec("nightly", "//g:nightly", cron="0 2 * * *", partitions=("daily/{date-1d}",),
                    comment="the day before, every night"),
        TriggerSpec("on_raw", "//g:on_raw", on=("raw/{n}",), partitions=("daily/{n}",)),
        TriggerSpec("orders", "//g:orders", cron="30 * * * *", timezone="Europe/Amsterdam", executable=str(failing)),
    ))
    with served_dashboard(graph, tmp_path, clock) as served:
        yield served


def card(page: str, name: str) -> str:
    """The page's section of trigger ``name``."""
    return page.split(f'data-trigger="{name}"', 1)[1].split("</section>", 1)[0]


def status_of(service: DataBuildService, name: str) -> pb.TriggerStatus:
    return next(t for t in service.triggers(pb.EmptyRequest()).triggers if t.state.name == name)


def test_the_page_shows_each_trigger_s_declaration_and_state(dash):
    url, service, _ = dash
    service.store.log.append([pb.Event(trigger_ticks_skipped=pb.TriggerTicksSkipped(
        trigger="nightly", first_tick={"seconds": 1_799_632_800}, last_tick={"seconds": 1_799_719_200},
        max_catchup=1))])
    r = requests.get(f"{url}/triggers", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert re.findall(r'data-trigger="([^"]+)"', page) == ["nightly", "on_raw", "orders"]
    assert '<a href="/triggers" aria-current="page">Triggers</a>' in page
    nightly = card(page, "nightly")
    assert "schedule <code>0 2 * * *</code> (UTC)" in nightly and "daily/{date-1d}" in nightly
    assert "the day before, every night" in nightly and "status-active" in nightly
    assert "2027-01-16 02:00:00Z" in nightly  # its next tick from the clock's now
    assert "never fired" in nightly
    assert "2027-01-11 02:00:00Z to 2027-01-12 02:00:00Z" in nightly and "the newest 1 fired instead" in nightly
    on_raw = card(page, "on_raw")
    assert "reactive, on" in on_raw and "raw/{n}" in on_raw and "when a matching partition becomes available" in on_raw
    orders = card(page, "orders")
    assert "(Europe/Amsterdam)" in orders and "from its binary <code>//g:orders</code>" in orders
    # Not signed in: no forms, a note saying what acting needs.
    assert "Pausing, resuming and firing need the write token" in page and 'action="/triggers/' not in page


def test_pause_and_resume_from_the_page(dash):
    url, service, _ = dash
    s = signed_in(url)
    page = s.get(f"{url}/triggers", headers=HTML).text
    assert 'id="pause-nightly"' in page and 'id="resume-nightly"' not in page
    r = s.post(f"{url}/triggers/nightly/pause", data={"reason": "upstream outage", "csrf": csrf_of(page)},
               headers=HTML, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/triggers#trigger-nightly"
    paused = status_of(service, "nightly")
    assert paused.state.paused and paused.state.paused_by.startswith("dashboard:session-")
    [event] = [e.trigger_pause_changed for e in service.store.log.list_events(0).events
               if e.HasField("trigger_pause_changed")]
    assert (event.paused, event.reason) == (True, "upstream outage")
    page = s.get(f"{url}/triggers", headers=HTML).text
    nightly = card(page, "nightly")
    assert "status-paused" in nightly and f"by {paused.state.paused_by}" in nightly
    assert "none while paused" in nightly and 'id="resume-nightly"' in nightly and 'id="pause-nightly"' not in nightly
    r = s.post(f"{url}/triggers/nightly/resume", data={"csrf": csrf_of(page)}, headers=HTML, allow_redirects=False)
    assert r.status_code == 303
    assert not status_of(service, "nightly").state.paused
    assert "status-active" in card(s.get(f"{url}/triggers", headers=HTML).text, "nightly")


def test_fire_now_creates_wants_linked_from_the_last_firing(dash):
    url, service, _ = dash
    s = signed_in(url)
    page = s.get(f"{url}/triggers", headers=HTML).text
    r = s.post(f"{url}/triggers/nightly/fire", data={"csrf": csrf_of(page)}, headers=HTML, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/triggers#trigger-nightly"
    firing = status_of(service, "nightly").state.last_firing
    [want_id] = firing.want_ids
    assert service.want(pb.GetWantRequest(want_id=want_id)).want.spec.partitions == ["daily/2027-01-14"]
    nightly = card(s.get(f"{url}/triggers", headers=HTML).text, "nightly")
    assert f'href="/wants/{want_id}"' in nightly and firing.firing_id in nightly and "1 firing in all" in nightly
    assert firing.requested_by in nightly
    # A reactive trigger fires for the partition typed in its form.
    r = s.post(f"{url}/triggers/on_raw/fire", data={"partition": "raw/7", "csrf": csrf_of(page)}, headers=HTML,
               allow_redirects=False)
    assert r.status_code == 303
    on_raw = card(s.get(f"{url}/triggers", headers=HTML).text, "on_raw")
    assert "for <span class=\"refs\">raw/7</span>" in on_raw
    [want_id] = status_of(service, "on_raw").state.last_firing.want_ids
    assert f'href="/wants/{want_id}"' in on_raw


@pytest.mark.parametrize("name, data, status, fragment", [
    ("on_raw", {}, 400, "name the partition to fire for"),
    ("on_raw", {"partition": "cooked/7"}, 400, "partition &#39;cooked/7&#39; matches none"),
    ("orders", {}, 422, "the orders API answered 503"),
])
def test_a_failed_firing_is_shown_by_its_trigger(dash, name, data, status, fragment):
    url, service, _ = dash
    s = signed_in(url)
    page = s.get(f"{url}/triggers", headers=HTML).text
    r = s.post(f"{url}/triggers/{name}/fire", data={**data, "csrf": csrf_of(page)}, headers=HTML)
    assert r.status_code == status and r.headers["content-type"].startswith("text/html")
    shown = card(r.text, name)
    assert 'id="action-error"' in shown and fragment in shown
    if name == "orders":  # the binary's failure is recorded: the page shows it as the last error
        state = status_of(service, "orders").state
        assert state.failures == 1 and "503" in state.last_error
        again = card(s.get(f"{url}/triggers", headers=HTML).text, "orders")
        assert "trigger-error" in again and "the orders API answered 503" in again and "1 failure in all" in again


def test_an_unknown_trigger_is_a_404_naming_it(dash):
    url, service, _ = dash
    s = signed_in(url)
    page = s.get(f"{url}/triggers", headers=HTML).text
    before = service.store.log.latest_index()
    for action in ("pause", "resume", "fire"):
        r = s.post(f"{url}/triggers/weekly/{action}", data={"csrf": csrf_of(page)}, headers=HTML)
        assert r.status_code == 404, action
        assert "no trigger &#39;weekly&#39;" in r.text and "nightly, on_raw, orders" in r.text
        assert 'id="action-error"' in r.text.split('data-trigger="', 1)[0]  # at the top: no card is its
    assert service.store.log.latest_index() == before


def test_the_actions_need_the_write_token_and_the_csrf_token(dash):
    url, service, _ = dash
    s = signed_in(url)
    r = s.post(f"{url}/triggers/nightly/pause", data={"csrf": "0" * 32}, headers=HTML)
    assert r.status_code == 403 and "CSRF token" in r.text
    reader = signed_in(url, READ_TOKEN)
    page = reader.get(f"{url}/triggers", headers=HTML).text
    assert "Pausing, resuming and firing need the write token" in page and 'id="pause-nightly"' not in page
    r = reader.post(f"{url}/triggers/nightly/pause", data={"csrf": csrf_of(page)}, headers=HTML)
    assert r.status_code == 401
    anonymous = requests.post(f"{url}/triggers/nightly/fire", data={"csrf": "x"})
    assert anonymous.status_code == 401 and set(anonymous.json()["error"]) == {"code", "message"}
    assert not status_of(service, "nightly").state.paused
    assert not service.store.log.list_events(0).events


def test_a_large_firing_shows_its_first_wants_and_says_so(dash):
    url, service, _ = dash
    ids = [f"0190ae3c-0000-7000-8000-{n:012d}" for n in range(12)]
    service.store.log.append([pb.Event(trigger_fired=pb.TriggerFired(
        trigger="nightly", firing_id="nightly@2027-01-15T02:00:00Z", source=pb.WANT_SOURCE_TYPE_SCHEDULED,
        tick_time={"seconds": 1_799_978_400}, want_ids=ids))])
    nightly = card(requests.get(f"{url}/triggers", headers=HTML).text, "nightly")
    assert re.findall(r'href="/wants/([^"]+)"', nightly) == ids[:10] and "(the first 10)" in nightly
    assert "nightly@2027-01-15T02:00:00Z" in nightly and "(scheduled)" in nightly
