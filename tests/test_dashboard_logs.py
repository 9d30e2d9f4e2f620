"""The job run page over real HTTP: the run's facts, its log's tail, and following the log
(``/job-runs/{id}/log?offset=N``: waits for new bytes or the run's end, sends only those).

The ``dash`` fixture of tests/test_dashboard.py; a run is recorded through the event log
(as the executor records it) with its log file in the service's log directory, written
by the test as a job would write it.
"""

from __future__ import annotations

import os
import re
import threading

import requests

from databuild.proto import databuild_pb2 as pb
from slahistory import build_events
from test_dashboard import HTML, dash  # noqa: F401

BUILD, RUN = "b-1c0ffee1", "r-5ca1ab1e"


def record_run(service, text: bytes, status: int = pb.JOB_RUN_STATUS_RUNNING, exit_code: int = 0) -> str:
    """A build with one run of //g:daily that wrote ``text``; the log's path."""
    path = os.path.join(service.log_dir, f"{RUN}.log")
    with open(path, "wb") as f:
        f.write(text)
    service.store.log.append(build_events(BUILD, [(RUN, "//g:daily", ["daily/1"], ["up/daily/1"])], ["daily/1"]))
    service.store.log.append([pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
        job_run_id=RUN, build_id=BUILD, job_label="//g:daily", status=pb.JOB_RUN_STATUS_SCHEDULED,
        outputs=["daily/1"], config=pb.JobConfig(outputs=["daily/1"], inputs=[pb.DataDep(ref="up/daily/1")])))])
    set_status(service, status, exit_code)
    return path


def set_status(service, status: int, exit_code: int = 0) -> None:
    service.store.log.append([pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
        job_run_id=RUN, build_id=BUILD, job_label="//g:daily", status=status, exit_code=exit_code,
        log_path=os.path.join(service.log_dir, f"{RUN}.log")))])


def follow_url(page: str) -> str:
    found = re.search(r'data-follow-url="([^"]*)"', page)
    assert found, page
    return found.group(1).replace("&amp;", "&")


def test_the_page_shows_the_run_and_its_log_s_tail(dash):
    url, service, _ = dash
    record_run(service, b"x" * 100_000 + b"\nthe end of <the> log\n", pb.JOB_RUN_STATUS_FAILED, exit_code=3)
    page = requests.get(f"{url}/job-runs/{RUN}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "//g:daily" in text and 'status-failed">failed' in text and f'href="/builds/{BUILD}"' in text
    assert "up/daily/1" in text and "daily/1" in text and '<dd id="run-exit-code">3</dd>' in text
    shown = re.search(r'<pre id="log-text"[^>]*>(.*?)</pre>', text, re.S).group(1)
    assert shown.endswith("the end of &lt;the&gt; log\n") and len(shown) < 70_000  # the tail, escaped
    assert "from byte 34486 of <span id=\"log-size\">100022</span> bytes (the last 64 KiB)" in text
    assert follow_url(text) == ""  # the run ended: nothing to follow
    by_prefix = requests.get(f"{url}/job-runs/{RUN[:6]}", headers=HTML)  # an id prefix names the run
    assert by_prefix.status_code == 200 and f'<span class="id">{RUN}</span>' in by_prefix.text


def test_the_build_page_links_its_runs_here(dash):
    url, service, _ = dash
    record_run(service, b"hello\n")
    page = requests.get(f"{url}/builds/{BUILD}", headers=HTML).text
    assert f'href="/job-runs/{RUN}"' in page and f'href="/job-runs/{RUN}#log"' in page


def test_following_answers_only_the_new_bytes_once_written_and_ends_with_the_run(dash):
    url, service, _ = dash
    path = record_run(service, b"first line\n")
    page = requests.get(f"{url}/job-runs/{RUN}", headers=HTML).text
    assert "first line\n</pre>" in page
    follow = follow_url(page)
    assert follow == f"/job-runs/{RUN}/log?offset=11"

    answered: list[requests.Response] = []
    request = threading.Thread(target=lambda: answered.append(requests.get(url + follow, timeout=60)))
    request.start()
    request.join(1.0)
    assert not answered  # nothing new yet: it waits (it cannot have seen the write below)
    with open(path, "ab") as f:
        f.write(b"second line\n")
    request.join(30)
    assert answered and answered[0].status_code == 200
    got = answered[0]
    assert got.content == b"second line\n"  # only what came after the offset
    assert (got.headers["X-Log-Offset"], got.headers["X-Log-Next-Offset"]) == ("11", "23")
    assert got.headers["X-Log-Complete"] == "false"

    # The run ends while a request waits: it answers at once that nothing follows.
    answered.clear()
    request = threading.Thread(target=lambda: answered.append(
        requests.get(f"{url}/job-runs/{RUN}/log", params={"offset": "23"}, timeout=60)))
    request.start()
    request.join(1.0)
    assert not answered
    set_status(service, pb.JOB_RUN_STATUS_SUCCEEDED)
    request.join(30)
    assert answered and answered[0].content == b"" and answered[0].headers["X-Log-Complete"] == "true"
    assert follow_url(requests.get(f"{url}/job-runs/{RUN}", headers=HTML).text) == ""


def test_a_character_split_by_a_write_is_sent_whole(dash):
    url, service, _ = dash
    path = record_run(service, "café".encode()[:-1])  # the job wrote half of the é so far
    page = requests.get(f"{url}/job-runs/{RUN}", headers=HTML).text
    assert "caf</pre>" in page and follow_url(page).endswith("offset=3")
    with open(path, "ab") as f:
        f.write("é!".encode()[1:])
    got = requests.get(url + follow_url(page), timeout=60)
    assert got.content.decode() == "é!" and got.headers["X-Log-Next-Offset"] == "6"


def test_a_run_not_started_yet_follows_from_nothing(dash):
    url, service, _ = dash
    service.store.log.append(build_events(BUILD, [(RUN, "//g:daily", ["daily/1"], [])], ["daily/1"]))
    service.store.log.append([pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
        job_run_id=RUN, build_id=BUILD, job_label="//g:daily", status=pb.JOB_RUN_STATUS_SCHEDULED))])
    page = requests.get(f"{url}/job-runs/{RUN}", headers=HTML).text
    assert 'status-scheduled">scheduled' in page and follow_url(page) == f"/job-runs/{RUN}/log?offset=0"


def test_bad_offsets_and_unknown_runs_are_errors_naming_them(dash):
    url, service, _ = dash
    record_run(service, b"twelve bytes")
    for offset, fragment in [("soon", "'soon'"), ("-1", "'-1'"), ("1e3", "'1e3'"),
                             ("99", "offset 99 is past the end of job run r-5ca1ab1e's log (12 bytes)")]:
        r = requests.get(f"{url}/job-runs/{RUN}/log", params={"offset": offset}, timeout=30)
        assert r.status_code == 400 and fragment in r.json()["error"]["message"], (offset, r.text)
    missing = requests.get(f"{url}/job-runs/{RUN}/log", timeout=30)
    assert missing.status_code == 400 and "offset is missing" in missing.json()["error"]["message"]
    for path in ("/job-runs/r-nope", "/job-runs/r-nope/log?offset=0"):
        r = requests.get(url + path, headers=HTML)
        assert r.status_code == 404 and "r-nope" in r.text and r.headers["content-type"].startswith("text/html"), path
        r = requests.get(url + path)
        assert r.status_code == 404 and "r-nope" in r.json()["error"]["message"], path


def test_a_run_without_a_log_file_wrote_nothing(dash):
    url, service, _ = dash
    os.remove(record_run(service, b"never written", pb.JOB_RUN_STATUS_SUCCEEDED))
    page = requests.get(f"{url}/job-runs/{RUN}", headers=HTML)
    assert page.status_code == 200 and 'status-succeeded">succeeded' in page.text
    assert "the run wrote nothing" in page.text  # a log never created: the run printed nothing


def test_a_live_update_of_the_page_sends_no_log_text(dash):
    url, service, _ = dash
    record_run(service, b"written once\n")
    page = requests.get(f"{url}/job-runs/{RUN}", headers=HTML).text
    assert "written once" in page
    live_url = re.search(r'id="live" hidden data-url="([^"]+)"', page).group(1).replace("&amp;", "&")
    set_status(service, pb.JOB_RUN_STATUS_SUCCEEDED)  # the change the live request answers
    update = requests.get(url + live_url, headers=HTML, timeout=60)
    assert update.status_code == 200 and 'status-succeeded">succeeded' in update.text
    # The page's script keeps the log it shows: the update carries none of it again.
    assert "written once" not in update.text and re.search(r'<pre id="log-text"[^>]*data-live-keep', update.text)
    assert 'id="log-empty"' not in update.text  # the log is not empty, only not sent
