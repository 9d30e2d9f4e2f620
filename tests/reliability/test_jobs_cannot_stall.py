"""A hung config, a hung job or a flooding job never stalls the service or other wants."""

from __future__ import annotations

import time

import requests

from conftest import start_daemon


def test_a_hung_config_neither_freezes_http_nor_delays_other_wants(tmp_path):
    d = start_daemon(tmp_path, limits={"config_timeout_seconds": 3})
    try:
        hung = d.want("hangconfig/1", ttl_seconds=3600)
        started = time.monotonic()
        # While its config hangs: reads answer, and an unrelated want is built.
        assert requests.get(f"{d.url}/api/v1/health", timeout=2).json()["status"] == "ok"
        other = d.want("daily/1")
        assert d.wait_want(other, "satisfied", timeout=30)["status"] == "satisfied"
        analyzed = requests.post(f"{d.url}/api/v1/analyze", json={"partitions": ["hangconfig/2"]}, timeout=30)
        assert analyzed.status_code == 422 and "3s" in analyzed.json()["error"]["message"]
        want = requests.get(f"{d.url}/api/v1/wants/{hung}", timeout=5).json()
        assert want["status"] != "satisfied" and time.monotonic() - started < 3600
    finally:
        d.stop()
    assert d.job_processes() == []  # the hung configs and their children were killed


def test_a_want_past_its_ttl_stops_its_hung_job_and_the_jobs_children(daemon):
    wid = daemon.want("hang/1", ttl_seconds=3)
    daemon.wait_want(wid, "building")
    deadline = time.monotonic() + 20
    while not daemon.job_processes():  # the build starts its job a moment after the want rides on it
        assert time.monotonic() < deadline, "the hung job never started"
        time.sleep(0.05)
    assert daemon.wait_want(wid, "expired", timeout=30)["status"] == "expired"
    deadline = time.monotonic() + 20
    while daemon.job_processes():
        assert time.monotonic() < deadline, daemon.job_processes()
        time.sleep(0.1)


def test_a_flooding_job_is_capped_and_others_proceed(tmp_path):
    d = start_daemon(tmp_path, limits={"max_log_bytes": 1024 * 1024, "job_timeout_seconds": 5})
    try:
        flood = d.want("flood/1", ttl_seconds=3600)
        other = d.want("daily/2")
        assert d.wait_want(other, "satisfied", timeout=30)["status"] == "satisfied"
        assert requests.get(f"{d.url}/api/v1/health", timeout=2).status_code == 200
        failed = d.wait_want(flood, "queued", "failed", timeout=60)
        build = requests.get(f"{d.url}/api/v1/builds/{failed['build_id']}", timeout=5).json()
        run = build["job_runs"][0]
        assert run["status"] == "failed" and "timed out after 5s" in run["message"]
        log = requests.get(f"{d.url}/api/v1/job-runs/{run['job_run_id']}/logs", params={"tail": 200}, timeout=5)
        assert "capped" in log.text
        size = int(requests.get(f"{d.url}/api/v1/job-runs/{run['job_run_id']}/logs", params={"limit": 1},
                                timeout=5).headers["X-Log-Size"])
        assert size < 1024 * 1024 + 1000  # the cap and one marker line
    finally:
        d.stop()
