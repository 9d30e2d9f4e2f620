"""Job statistics: the ``job_stats`` operation (``GET /api/v1/jobs``, the client, ``jobs stats``)
and the dashboard's ``/jobs`` page, over real HTTP against a served service whose log holds
recorded job runs (appended at the times an injected clock says)."""

from __future__ import annotations

import json
import re

import pytest
import requests

from cli_harness import GraphCli
from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.service.client import ServiceClient
from databuild.state import StateStore
from slahistory import S, run_event
from test_cli_imports import heavy, loaded_by
from test_dashboard import HTML, Clock, served_dashboard
from test_service_http import TOKEN

GRAPH = GraphSpec("//g:jobs", (JobSpec("//g:extract", "/bin/true", ("clean/*",)),
                               JobSpec("//g:daily", "/bin/true", ("daily/*",)),
                               JobSpec("//g:never", "/bin/true", ("never/*",))))
#: //g:extract's successful runs take 10, 20, ..., 100 seconds: p50 50 s, p95 100 s (nearest rank).
EXTRACT_SECONDS = [10 * i for i in range(1, 11)]


@pytest.fixture
def jobs(tmp_path):
    """(url, service, clock) of a service whose log holds runs of //g:extract, //g:daily and
    of //g:old, a job no longer in the graph; //g:never never ran."""
    clock = Clock()

    def seed(store: StateStore) -> None:
        append = store.log.append
        for n, seconds in enumerate(EXTRACT_SECONDS):
            append([run_event("b-1", f"ex-{n}", "//g:extract", pb.JOB_RUN_STATUS_RUNNING)])
            clock.us += seconds * S
            append([run_event("b-1", f"ex-{n}", "//g:extract", pb.JOB_RUN_STATUS_SUCCEEDED)])
        for n in range(2):  # two failures, then a cancelled run: counted neither way, but it ended last
            append([run_event("b-2", f"exf-{n}", "//g:extract", pb.JOB_RUN_STATUS_RUNNING)])
            clock.us += S
            append([run_event("b-2", f"exf-{n}", "//g:extract", pb.JOB_RUN_STATUS_FAILED)])
        append([run_event("b-2", "ex-cancelled", "//g:extract", pb.JOB_RUN_STATUS_CANCELLED)])
        append([run_event("b-3", "d-1", "//g:daily", pb.JOB_RUN_STATUS_SCHEDULED)])
        clock.us += S // 4  # a quarter of a second: shown as such, not as 0s
        append([run_event("b-3", "d-1", "//g:daily", pb.JOB_RUN_STATUS_SUCCEEDED)])
        append([run_event("b-0", "o-1", "//g:old", pb.JOB_RUN_STATUS_FAILED)])
        clock.us += 60 * S

    with served_dashboard(GRAPH, tmp_path, clock, seed) as served:
        yield served


def by_label(doc: dict) -> dict[str, dict]:
    return {row["job_label"]: row for row in doc["jobs"]}


def test_the_api_lists_every_job_with_its_runs_rates_and_durations(jobs):
    url, service, _ = jobs
    r = requests.get(f"{url}/api/v1/jobs")
    assert r.status_code == 200, r.text
    doc = r.json()
    # The graph's jobs in its order (also the one that never ran), then labels only in the log.
    assert [row["job_label"] for row in doc["jobs"]] == ["//g:extract", "//g:daily", "//g:never", "//g:old"]
    rows = by_label(doc)
    extract = rows["//g:extract"]
    assert (extract["declared"], extract["runs"], extract["succeeded"], extract["failed"]) == (True, 12, 10, 2)
    assert extract["success_rate"] == pytest.approx(10 / 12)
    assert (extract["p50_seconds"], extract["p95_seconds"], extract["duration_samples"]) == (50, 100, 10)
    assert (extract["last_job_run_id"], extract["last_status"]) == ("ex-cancelled", "cancelled")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", extract["last_finished_at"])
    daily = rows["//g:daily"]
    assert (daily["runs"], daily["success_rate"], daily["p50_seconds"], daily["last_status"]) == (
        1, 1.0, 0.25, "succeeded")
    never = rows["//g:never"]
    assert (never["declared"], never["runs"], never["success_rate"], never["duration_samples"],
            never["last_job_run_id"], never["last_status"]) == (True, 0, 0.0, 0, "", "unspecified")
    assert "last_finished_at" not in never
    old = rows["//g:old"]
    assert (old["declared"], old["runs"], old["failed"], old["success_rate"]) == (False, 1, 1, 0.0)
    # The client answers what the service answers in process.
    assert ServiceClient(url, TOKEN).job_stats(pb.EmptyRequest()) == service.job_stats(pb.EmptyRequest())


def test_new_runs_show_up_on_the_next_read(jobs):
    url, service, clock = jobs
    before = by_label(requests.get(f"{url}/api/v1/jobs").json())["//g:never"]
    assert before["runs"] == 0
    service.store.log.append([run_event("b-9", "n-1", "//g:never", pb.JOB_RUN_STATUS_RUNNING)])
    clock.us += 3 * S
    service.store.log.append([run_event("b-9", "n-1", "//g:never", pb.JOB_RUN_STATUS_SUCCEEDED)])
    after = by_label(requests.get(f"{url}/api/v1/jobs").json())["//g:never"]
    assert (after["runs"], after["p50_seconds"], after["last_job_run_id"]) == (1, 3, "n-1")


def test_the_jobs_page_shows_a_row_per_job(jobs):
    url, _, _ = jobs
    page = requests.get(f"{url}/jobs", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert re.findall(r'<tr data-job="([^"]+)"', text) == ["//g:extract", "//g:daily", "//g:never", "//g:old"]
    assert '<a href="/jobs" aria-current="page">Jobs</a>' in text  # in the navigation bar

    def row(label: str) -> str:
        return text.split(f'data-job="{label}"', 1)[1].split("</tr>", 1)[0]

    extract = row("//g:extract")
    assert re.search(r'class="num runs">12<', extract) and re.search(r'class="num rate">83%<', extract)
    assert re.search(r'class="num p50">50s<', extract) and re.search(r'class="num p95">1m40s<', extract)
    assert "status-cancelled" in extract and "/api/v1/job-runs/ex-cancelled/logs" in extract
    assert "clean/*" in extract
    assert re.search(r'class="num p50">0.25s<', row("//g:daily"))
    never = row("//g:never")
    assert "no runs" in never and "never" in never and 'class="num runs">0<' in never
    assert "not in the graph" in row("//g:old") and "not in the graph" not in extract
    # The overview links the page from every page's navigation.
    assert 'href="/jobs"' in requests.get(f"{url}/", headers=HTML).text


def test_the_cli_prints_the_statistics(jobs, tmp_path):
    url, _, _ = jobs
    cli = GraphCli(tmp_path, {"version": 1, "label": GRAPH.label, "lookup": None, "upstreams": [], "jobs": [
        {"label": j.label, "executable": "/bin/true", "outputs": list(j.outputs)} for j in GRAPH.jobs]})
    done, modules = loaded_by(cli, "--service", url, "jobs", "stats")
    assert done.returncode == 0, done.stderr
    assert "databuild.service.client" in modules and heavy(modules) == []  # a read over HTTP: no protobuf
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["job", "runs", "success", "p50", "p95", "last", "run"]
    extract = next(line for line in lines if line.startswith("//g:extract"))
    assert extract.split()[1:5] == ["12", "83%", "50s", "1m40s"] and "cancelled" in extract
    assert next(line for line in lines if line.startswith("//g:never")).split()[1:] == ["0", "-", "-", "-", "-"]
    assert "//g:old (not in the graph)" in done.stdout
    as_json = cli("--service", url, "--json", "jobs", "stats")
    assert as_json.returncode == 0, as_json.stderr
    assert by_label(json.loads(as_json.stdout))["//g:extract"]["runs"] == 12


def _schedule_daily_runs(service: DataBuildService, clock, n: int) -> list[str]:
    """``n`` runs of //g:daily scheduled one second apart after d-1; their ids, oldest first."""
    ids = [f"r-{i:02d}" for i in range(n)]
    for run_id in ids:
        clock.us += S
        service.store.log.append([run_event("b-4", run_id, "//g:daily", pb.JOB_RUN_STATUS_SCHEDULED)])
    return ids


def test_a_job_s_runs_are_listed_newest_first_by_keyset_pages(jobs, tmp_path):
    url, service, clock = jobs
    ids = ["d-1", *_schedule_daily_runs(service, clock, 60)]
    newest_first = ids[::-1]
    first = requests.get(f"{url}/api/v1/job-runs", params={"job_label": "//g:daily", "limit": 50}).json()
    assert [r["job_run_id"] for r in first["job_runs"]] == newest_first[:50]
    assert first["next_page_token"] == newest_first[49]
    rest = requests.get(f"{url}/api/v1/job-runs", params={"job_label": "//g:daily", "after": first["next_page_token"]})
    assert [r["job_run_id"] for r in rest.json()["job_runs"]] == newest_first[50:]
    assert rest.json()["next_page_token"] == ""
    # The client, as the CLI uses it, says the same.
    client = ServiceClient(url, TOKEN)
    assert [r.job_run_id for r in client.list_job_runs(pb.ListJobRunsRequest(job_label="//g:daily", limit=3)).job_runs] \
        == newest_first[:3]
    # Bad requests name what is wrong.
    missing = requests.get(f"{url}/api/v1/job-runs")
    assert missing.status_code == 400 and "job_label is required" in missing.json()["error"]["message"]
    unknown = requests.get(f"{url}/api/v1/job-runs", params={"job_label": "//g:nope"})
    assert unknown.status_code == 404 and "//g:nope" in unknown.json()["error"]["message"]
    foreign = requests.get(f"{url}/api/v1/job-runs", params={"job_label": "//g:daily", "after": "ex-0"})
    assert foreign.status_code == 404 and "ex-0" in foreign.json()["error"]["message"]
    # The old job's runs are listed though the graph no longer declares it.
    old = requests.get(f"{url}/api/v1/job-runs", params={"job_label": "//g:old"}).json()
    assert [r["job_run_id"] for r in old["job_runs"]] == ["o-1"]

    # The dashboard: the jobs page links each job to its runs, paged the same way.
    jobs_page = requests.get(f"{url}/jobs", headers=HTML).text
    assert 'href="/jobs/runs?job=%2F%2Fg%3Adaily"' in jobs_page
    page = requests.get(f"{url}/jobs/runs", params={"job": "//g:daily"}, headers=HTML)
    assert page.status_code == 200, page.text
    shown = re.findall(r'data-run="([^"]+)"', page.text)
    assert shown == newest_first[:50]
    next_url = re.search(r'href="([^"]+)" id="next-page"', page.text).group(1).replace("&amp;", "&")
    second = requests.get(url + next_url, headers=HTML)
    assert re.findall(r'data-run="([^"]+)"', second.text) == newest_first[50:] and 'id="next-page"' not in second.text
    bad = requests.get(f"{url}/jobs/runs", headers=HTML)
    assert bad.status_code == 400 and "job is missing" in bad.text
    assert requests.get(f"{url}/jobs/runs", params={"job": "//g:nope"}, headers=HTML).status_code == 404

    # The CLI: a table of the runs, and the same document with --json.
    cli = GraphCli(tmp_path, {"version": 1, "label": GRAPH.label, "lookup": None, "upstreams": [], "jobs": [
        {"label": j.label, "executable": "/bin/true", "outputs": list(j.outputs)} for j in GRAPH.jobs]})
    done = cli("--service", url, "jobs", "runs", "//g:daily", "--limit", "2")
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()[2:]] == newest_first[:2]  # after the header and its rule
    as_json = cli("--service", url, "--json", "jobs", "runs", "//g:daily", "--after", newest_first[1], "--limit", "1")
    assert [r["job_run_id"] for r in json.loads(as_json.stdout)["job_runs"]] == [newest_first[2]]
    assert cli("--service", url, "jobs", "runs", "//g:nope").returncode == 2
