"""The dashboard's partition pages over real HTTP: the search (filters in the URL, keyset
pages, bad filters as 400s), a partition's page (status, history, lineage: the job run
that produced it, its inputs, its consumers) and the taint / mark-available actions
(write token and CSRF checked, events recorded, errors shown by the form).

Uses the ``dash`` fixture of tests/test_dashboard.py (a SQLite log served by uvicorn,
time injected). The browser end to end is tests/test_dashboard_browser_partitions.py.
"""

from __future__ import annotations

import re

import pytest
import requests

from cli_harness import GraphCli
from databuild.events import open_event_log
from databuild.proto import databuild_pb2 as pb
from databuild.service.core import CONSUMERS_LIMIT
from databuild.service.dashboard.partitions import HISTORY_ROWS
from databuild.service.dashboard.page import LIST_LIMIT
from databuild.state import StateProjection, StateStore
from sql_plans import assert_index_searches, query_plans
from test_dashboard import GRAPH, HTML, csrf_of, dash, signed_in  # noqa: F401  (dash: the fixture)

S = 1_000_000


def scheduled(build_id: str, run_id: str, label: str, outputs: list[str], inputs: list[str]) -> pb.Event:
    """A job run scheduled with its config, as the executor records it."""
    return pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
        job_run_id=run_id, build_id=build_id, job_label=label, status=pb.JOB_RUN_STATUS_SCHEDULED, outputs=outputs,
        config=pb.JobConfig(outputs=outputs, inputs=[pb.DataDep(ref=r, dep_type=pb.materialize) for r in inputs])))


def succeeded(build_id: str, run_id: str, label: str, outputs: list[str]) -> list[pb.Event]:
    """The run's end and its outputs becoming available."""
    return [pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
        job_run_id=run_id, build_id=build_id, job_label=label, status=pb.JOB_RUN_STATUS_SUCCEEDED, outputs=outputs)),
        *[pb.Event(partition_status_changed=pb.PartitionStatusChanged(
            ref=ref, status=pb.PARTITION_STATUS_AVAILABLE, build_id=build_id, job_run_id=run_id)) for ref in outputs]]


def run(log, clock, build_id: str, run_id: str, label: str, outputs: list[str], inputs: list[str]) -> None:
    """A job run from scheduling to success, a second apart per step."""
    log.append([pb.Event(build_requested=pb.BuildRequested(build_id=build_id, partitions=outputs))])
    clock.us += S
    log.append([scheduled(build_id, run_id, label, outputs, inputs)])
    clock.us += S
    log.append(succeeded(build_id, run_id, label, outputs))
    clock.us += S


@pytest.fixture
def lineage(dash):
    """raw/1 lands; clean/1 is made from it; daily/1 from clean/1 and raw/1; weekly/1 from clean/1."""
    url, service, clock = dash
    log = service.store.log
    service.mark_available(pb.MarkAvailableRequest(refs=["raw/1"], comment="landed by the export"))
    run(log, clock, "b-clean-0001", "r-clean-0001", "//g:clean", ["clean/1"], ["raw/1"])
    run(log, clock, "b-daily-0001", "r-daily-0001", "//g:daily", ["daily/1"], ["clean/1", "raw/1"])
    run(log, clock, "b-weekly-001", "r-weekly-001", "//g:weekly", ["weekly/1"], ["clean/1"])
    return dash


def refs_listed(page: str) -> list[str]:
    return re.findall(r'<tr data-partition="([^"]+)">', page)


# -- the search -------------------------------------------------------------------------


def test_search_keeps_pattern_and_status_in_the_url_and_pages_by_keyset(dash):
    url, service, _ = dash
    refs = [f"p/{i:03d}" for i in range(120)]
    service.mark_available(pb.MarkAvailableRequest(refs=refs, comment="landed"))
    service.mark_available(pb.MarkAvailableRequest(refs=["q/1"]))
    service.taint(pb.TaintRequest(refs=["p/007"], reason="bad rows"))
    first = requests.get(f"{url}/partitions", params={"pattern": "p/*", "status": "available"}, headers=HTML)
    assert first.status_code == 200
    available = [r for r in refs if r != "p/007"]
    assert refs_listed(first.text) == available[:LIST_LIMIT]
    assert 'value="p/*"' in first.text and '<option value="available" selected>' in first.text
    next_url = re.search(r'href="([^"]+)" id="next-page"', first.text).group(1).replace("&amp;", "&")
    assert "pattern=p%2F%2A" in next_url and "status=available" in next_url
    assert f"after={available[LIST_LIMIT - 1].replace('/', '%2F')}" in next_url
    second = requests.get(url + next_url, headers=HTML).text
    assert refs_listed(second) == available[LIST_LIMIT:2 * LIST_LIMIT] and "« first page" in second
    third = requests.get(f"{url}/partitions", params={"pattern": "p/*", "status": "available",
                                                      "after": available[2 * LIST_LIMIT - 1]}, headers=HTML).text
    assert refs_listed(third) == available[2 * LIST_LIMIT:] and 'id="next-page"' not in third
    tainted = requests.get(f"{url}/partitions", params={"status": "tainted"}, headers=HTML).text
    assert refs_listed(tainted) == ["p/007"] and "bad rows" in tainted
    assert 'href="/partitions/p/007"' in tainted
    everything = requests.get(f"{url}/partitions", headers=HTML).text
    assert refs_listed(everything)[:1] == ["p/000"] and 'id="next-page"' in everything
    assert refs_listed(requests.get(f"{url}/partitions", params={"pattern": "q/*"}, headers=HTML).text) == ["q/1"]
    none = requests.get(f"{url}/partitions", params={"pattern": "nothing/*"}, headers=HTML).text
    assert "no partition matches" in none


@pytest.mark.parametrize("path, query, fragment", [
    ("/partitions", {"status": "sleeping"}, "unknown partition status 'sleeping'"),
    ("/partitions", {"pattern": "a b"}, "partition pattern 'a b'"),
    ("/partitions/a%20b", {}, "partition ref 'a b'"),
])
def test_a_bad_pattern_status_or_ref_is_a_400_naming_it(dash, path, query, fragment):
    url, _, _ = dash
    page = requests.get(url + path, params=query, headers=HTML)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert fragment.replace("'", "&#39;") in page.text
    doc = requests.get(url + path, params=query)  # a script: the API's error document
    assert doc.status_code == 400 and fragment in doc.json()["error"]["message"]


# -- a partition's page -----------------------------------------------------------------


def test_a_built_partition_shows_its_producing_run_inputs_and_history(lineage):
    url, service, _ = lineage
    page = requests.get(f"{url}/partitions/daily/1", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert 'status-available">available' in text
    produced = text.split('id="produced-by"', 1)[1].split("</p>", 1)[0]
    assert "//g:daily" in produced and 'href="/builds/b-daily-0001"' in produced and "succeeded" in produced
    inputs = text.split('id="inputs"', 1)[1].split("</ul>", 1)[0]
    assert re.findall(r'href="(/partitions/[^"]+)"', inputs) == ["/partitions/clean/1", "/partitions/raw/1"]
    assert "no job run has read it" in text
    history = re.findall(r'<tr data-event="(\d+)">', text)
    indexes = [e.index for e in service.partition(pb.GetPartitionRequest(ref="daily/1")).history]
    assert history == [str(i) for i in reversed(indexes)] and "partition_status_changed" in text
    # The API says the same.
    doc = requests.get(f"{url}/api/v1/partitions/daily/1").json()
    assert doc["produced_by"]["job_run_id"] == "r-daily-0001"
    assert [d["ref"] for d in doc["produced_by"]["config"]["inputs"]] == ["clean/1", "raw/1"]
    assert doc["consumers"] == [] and doc["more_consumers"] is False and doc["more_history"] is False


def test_a_partition_lists_the_runs_that_read_it_and_what_they_made(lineage):
    url, _, _ = lineage
    text = requests.get(f"{url}/partitions/clean/1", headers=HTML).text
    consumers = text.split('id="consumers"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'data-consumer="([^"]+)"', consumers) == ["r-weekly-001", "r-daily-0001"]  # newest first
    assert 'href="/partitions/weekly/1"' in consumers and 'href="/partitions/daily/1"' in consumers
    assert 'href="/builds/b-weekly-001"' in consumers and "//g:weekly" in consumers
    raw = requests.get(f"{url}/partitions/raw/1", headers=HTML).text
    assert "it is external to this graph" in raw and "landed by the export" in raw
    assert re.findall(r'data-consumer="([^"]+)"', raw) == ["r-daily-0001", "r-clean-0001"]
    never = requests.get(f"{url}/partitions/never/seen", headers=HTML)
    assert never.status_code == 200 and 'status-missing">missing' in never.text
    assert "no job run has produced it" in never.text and "no event has touched it" in never.text


def test_history_and_consumers_are_bounded_with_a_note(dash):
    url, service, clock = dash
    for _ in range(HISTORY_ROWS + 5):
        service.mark_available(pb.MarkAvailableRequest(refs=["busy/1"], comment="again"))
    log = service.store.log
    for i in range(CONSUMERS_LIMIT + 1):
        clock.us += S
        log.append([scheduled(f"b-{i:04d}", f"r-{i:04d}", "//g:daily", [f"daily/{i}"], ["busy/1"])])
    text = requests.get(f"{url}/partitions/busy/1", headers=HTML).text
    shown = re.findall(r'<tr data-event="(\d+)">', text)
    assert len(shown) == HISTORY_ROWS and int(shown[0]) > int(shown[-1])  # the newest first
    assert f"Showing the newest {HISTORY_ROWS} of its {HISTORY_ROWS + 5} events" in text
    consumers = re.findall(r'data-consumer="([^"]+)"', text)
    assert consumers == [f"r-{i:04d}" for i in reversed(range(1, CONSUMERS_LIMIT + 1))]
    assert 'id="more-consumers"' in text
    assert requests.get(f"{url}/api/v1/partitions/busy/1").json()["more_consumers"] is True


def test_consumers_come_from_the_job_run_index_in_either_backend(tmp_path):
    """``job_runs_reading``: runs whose config reads the ref, newest scheduled first, no other ref's."""
    for uri in ("memory://", f"sqlite://{tmp_path}/bel.sqlite3"):
        clock = iter(range(1_800_000_000_000_000, 1_900_000_000_000_000, S)).__next__
        store = StateStore(open_event_log(uri, [StateProjection()], clock))
        for i in range(3):
            store.log.append([scheduled(f"b{i}", f"r{i}", "//g:x", [f"out/{i}"], ["in/1", "in/1x"])])
        assert [r.job_run_id for r in store.job_runs_reading("in/1", 2)] == ["r2", "r1"], uri
        assert [r.job_run_id for r in store.job_runs_reading("in/1x", 10)] == ["r2", "r1", "r0"], uri
        assert store.job_runs_reading("in", 10) == [] and store.job_runs_reading("out/1", 10) == [], uri
        if uri.startswith("sqlite"):  # one index range, walked backwards: no scan of the job runs, no sort
            assert_index_searches(query_plans(store, lambda: store.job_runs_reading("in/1", 2)))
        store.close()


# -- actions ----------------------------------------------------------------------------


def test_taint_needs_the_write_token_and_csrf_and_records_the_event(lineage):
    url, service, _ = lineage
    anonymous = requests.Session()
    page = anonymous.get(f"{url}/partitions/daily/1", headers=HTML).text
    assert "need the write token" in page and 'id="taint-form"' not in page
    token = csrf_of(anonymous.get(f"{url}/sign-in", headers=HTML).text)
    r = anonymous.post(f"{url}/partitions/daily/1/taint", data={"reason": "x", "csrf": token}, headers=HTML)
    assert r.status_code == 401 and "write token" in r.text
    s = signed_in(url)
    assert s.post(f"{url}/partitions/daily/1/taint", data={"reason": "x"}, headers=HTML).status_code == 403
    forged = s.post(f"{url}/partitions/daily/1/taint", data={"reason": "x", "csrf": token}, headers=HTML)
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert service.partition(pb.GetPartitionRequest(ref="daily/1")).partition.status == pb.PARTITION_STATUS_AVAILABLE
    page = s.get(f"{url}/partitions/daily/1", headers=HTML).text
    assert 'id="taint-form"' in page and 'id="mark-available-form"' not in page
    empty = s.post(f"{url}/partitions/daily/1/taint", data={"reason": " ", "csrf": csrf_of(page)}, headers=HTML)
    assert empty.status_code == 400 and "tainting needs a reason" in empty.text and 'id="action-error"' in empty.text
    r = s.post(f"{url}/partitions/daily/1/taint", data={"reason": "bad rows", "csrf": csrf_of(page)}, headers=HTML,
               allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/partitions/daily/1"
    detail = service.partition(pb.GetPartitionRequest(ref="daily/1"))
    assert detail.partition.status == pb.PARTITION_STATUS_TAINTED
    tainted = detail.history[-1].partitions_tainted
    assert tainted.reason == "bad rows" and tainted.requested_by.startswith("dashboard:session-")
    after = s.get(f"{url}/partitions/daily/1", headers=HTML).text
    assert 'status-tainted">tainted' in after and "bad rows" in after and "partitions_tainted" in after
    again = s.post(f"{url}/partitions/daily/1/taint", data={"reason": "worse", "csrf": csrf_of(page)}, headers=HTML)
    assert again.status_code == 409 and "only available partitions can be tainted: daily/1" in again.text
    assert 'id="action-error"' in again.text
    # The re-rendered page follows the partition's page live, not the action's path.
    live_url = re.search(r'id="live" hidden data-url="([^"]+)"', again.text).group(1)
    assert live_url.startswith("/partitions/daily/1?live=")
    missing = s.post(f"{url}/partitions/never/seen/taint", data={"reason": "x", "csrf": csrf_of(page)}, headers=HTML)
    assert missing.status_code == 409 and "never/seen" in missing.text


def test_mark_available_records_the_event_and_refuses_refs_the_graph_builds(lineage):
    url, service, _ = lineage
    service.taint(pb.TaintRequest(refs=["raw/1"], reason="re-export"))
    anonymous = requests.Session()
    token = csrf_of(anonymous.get(f"{url}/sign-in", headers=HTML).text)
    assert anonymous.post(f"{url}/partitions/raw/1/mark-available", data={"csrf": token},
                          headers=HTML).status_code == 401
    s = signed_in(url)
    assert s.post(f"{url}/partitions/raw/1/mark-available", data={"comment": "x"}, headers=HTML).status_code == 403
    page = s.get(f"{url}/partitions/raw/1", headers=HTML).text
    assert 'id="mark-available-form"' in page and 'id="taint-form"' not in page
    r = s.post(f"{url}/partitions/raw/1/mark-available", data={"comment": "exported again", "csrf": csrf_of(page)},
               headers=HTML, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/partitions/raw/1"
    detail = service.partition(pb.GetPartitionRequest(ref="raw/1"))
    assert detail.partition.status == pb.PARTITION_STATUS_AVAILABLE and detail.partition.external
    assert detail.history[-1].external_partitions_available.comment == "exported again"
    assert "exported again" in s.get(f"{url}/partitions/raw/1", headers=HTML).text
    # daily/* is the output of //g:daily: not external, refused and shown by the form.
    page = s.get(f"{url}/partitions/daily/2", headers=HTML).text
    assert 'id="mark-available-form"' in page
    refused = s.post(f"{url}/partitions/daily/2/mark-available", data={"csrf": csrf_of(page)}, headers=HTML)
    assert refused.status_code == 400 and 'id="action-error"' in refused.text
    assert "daily/2 is produced by graph //g:dash, not external" in refused.text
    assert service.partition(pb.GetPartitionRequest(ref="daily/2")).history == []


def test_refs_elsewhere_link_to_their_partition_pages(lineage):
    url, service, _ = lineage
    nav = requests.get(f"{url}/", headers=HTML).text
    assert 'href="/partitions"' in nav
    build = requests.get(f"{url}/builds/b-daily-0001", headers=HTML).text
    assert 'href="/partitions/daily/1"' in build


def test_partitions_show_prints_the_lineage_the_page_shows(lineage, tmp_path):
    url, _, _ = lineage
    cli = GraphCli(tmp_path, {"version": 1, "label": GRAPH.label, "lookup": None, "upstreams": [], "jobs": [
        {"label": j.label, "executable": "/bin/true", "outputs": list(j.outputs)} for j in GRAPH.jobs]})
    done = cli("--service", url, "partitions", "show", "clean/1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "clean/1: available"
    assert lines[1] == "produced by job run r-clean-0001 of //g:clean (succeeded), build b-clean-0001; its inputs: raw/1"
    assert lines[2] == "read by: r-weekly-001 (//g:weekly), r-daily-0001 (//g:daily)"  # newest first
    assert lines[3] == "history:" and all(line.startswith("  #") for line in lines[4:])
    external = cli("--service", url, "partitions", "show", "raw/1").stdout.splitlines()
    assert not any(line.startswith("produced by") for line in external)
    assert external[1].startswith("read by: r-daily-0001 (//g:daily), r-clean-0001 (//g:clean)")
