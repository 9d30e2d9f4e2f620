"""The daemon and the foreground service as real processes: start, lock, record, stale
record, idle exit, --service, start failures, a lost event log, a busy port."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from databuild.errors import ServiceUnavailableError
from databuild.service.daemon import ensure_daemon
from cli_harness import graph_cli
from storage_faults import fill, small_tmpfs

pytestmark = pytest.mark.slow
MANIFEST = {"version": 1, "label": "//t:daemon_graph", "lookup": None, "upstreams": [],
            "jobs": [{"label": "//t:daily", "executable": "/bin/true", "outputs": ["daily/*"]}]}


@pytest.fixture
def cli(tmp_path):
    with graph_cli(tmp_path, MANIFEST) as run:
        yield run


def info(state: Path) -> dict:
    return json.loads((state / "daemon.json").read_text())


def test_start_status_stop(cli):
    assert cli("daemon", "status").returncode == 1
    started = cli("--json", "daemon", "start")
    assert started.returncode == 0, started.stderr
    doc = json.loads(started.stdout)
    assert doc["running"] and doc["graph"] == "//t:daemon_graph"
    record = info(cli.state)
    assert stat.S_IMODE((cli.state / "daemon.json").stat().st_mode) == 0o600
    assert requests.get(f"{record['url']}/api/v1/health").json()["graph_label"] == "//t:daemon_graph"
    again = cli("--json", "daemon", "start")  # one daemon per state dir
    assert json.loads(again.stdout)["pid"] == record["pid"]
    denied = requests.post(f"{record['url']}/api/v1/partitions:mark-available", json={"refs": ["raw/x"]})
    assert denied.status_code == 401
    ok = requests.post(f"{record['url']}/api/v1/partitions:mark-available", json={"refs": ["raw/x"]},
                       headers={"Authorization": f"Bearer {record['token']}"})
    assert ok.status_code == 201
    assert "stopped daemon pid" in cli("daemon", "stop").stdout
    assert not (cli.state / "daemon.json").exists() and cli("daemon", "status").returncode == 1


def test_second_daemon_exits_when_the_lock_is_held(cli):
    assert cli("daemon", "start").returncode == 0
    second = cli("serve", "--daemon")
    assert second.returncode == 0 and "leaving it to serve" in second.stderr
    assert cli("daemon", "status").returncode == 0


def test_stale_record_from_a_killed_daemon_is_replaced(cli):
    assert cli("daemon", "start").returncode == 0
    old = info(cli.state)
    os.kill(old["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(old["pid"], 0)
            time.sleep(0.05)
        except ProcessLookupError:
            break
    assert cli("daemon", "status").returncode == 1  # the record is there, but stale
    assert cli("daemon", "start").returncode == 0
    new = info(cli.state)
    assert new["pid"] != old["pid"] and new["token"] != old["token"]


def test_idle_daemon_exits_and_removes_its_record(cli):
    proc = subprocess.Popen([sys.executable, "-m", "databuild.cli", "serve", "--daemon", "--idle-timeout", "1"],
                            env={**os.environ, "DATABUILD_GRAPH_MANIFEST": str(cli.state.parent / "manifest.json"),
                                 "DATABUILD_STATE_DIR": str(cli.state)}, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "listening on" in err
    assert not (cli.state / "daemon.json").exists()


def test_cli_reads_and_records_through_service_flag(cli):
    assert cli("daemon", "start").returncode == 0
    record = info(cli.state)
    marked = cli("--service", record["url"], "partitions", "mark-available", "raw/via-http",
                 DATABUILD_TOKEN=record["token"])
    assert marked.returncode == 0, marked.stderr
    listed = cli("--service", record["url"], "--json", "partitions", "list")
    assert [p["ref"] for p in json.loads(listed.stdout)["partitions"]] == ["raw/via-http"]
    missing = cli("--service", record["url"], "builds", "show", "nope")
    assert missing.returncode == 2 and "'nope'" in missing.stderr
    cli("daemon", "stop")


def test_daemon_start_closes_builds_of_dead_executors(cli):
    from databuild.proto import databuild_pb2 as pb
    from databuild.state import open_state_store

    cli.state.mkdir()
    store = open_state_store(f"sqlite://{cli.state}/bel.sqlite3")
    store.log.append([
        pb.Event(build_requested=pb.BuildRequested(build_id="killed", partitions=["daily/1"],
                                                   executor=f"{os.uname().nodename}:999999999")),
        pb.Event(partition_status_changed=pb.PartitionStatusChanged(
            ref="daily/1", status=pb.PARTITION_STATUS_BUILDING, build_id="killed")),
    ])
    store.close()
    assert cli("daemon", "start").returncode == 0
    shown = json.loads(cli("--json", "builds", "show", "killed").stdout)
    assert shown["build"]["status"] == "failed"
    cli("daemon", "stop")


def test_idle_timeout_waits_for_running_builds(cli, tmp_path):
    job = tmp_path / "job.sh"
    job.write_text('#!/bin/sh\nif [ "$1" = config ]; then echo \'{"configs": [{"outputs": ["daily/1"]}]}\'; exit 0; fi\n'
                   "sleep 3\n")
    job.chmod(0o755)
    manifest = dict(MANIFEST, jobs=[{"label": "//t:daily", "executable": str(job), "outputs": ["daily/*"]}])
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    env = {**os.environ, "DATABUILD_GRAPH_MANIFEST": str(tmp_path / "manifest.json"),
           "DATABUILD_STATE_DIR": str(cli.state)}
    proc = subprocess.Popen([sys.executable, "-m", "databuild.cli", "serve", "--daemon", "--idle-timeout", "1"],
                            env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (cli.state / "daemon.json").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    record = info(cli.state)
    started = requests.post(f"{record['url']}/api/v1/wants", json={"partitions": ["daily/1"]},
                            headers={"Authorization": f"Bearer {record['token']}"})
    assert started.status_code == 201
    proc.communicate(timeout=60)  # no more requests: it exits once idle, but only after the want's build
    want = json.loads(cli("--local", "--json", "want", "status", started.json()["want_id"]).stdout)
    assert want["status"] == "satisfied"
    done = cli("--local", "--json", "builds", "show", want["build_id"])
    assert json.loads(done.stdout)["build"]["status"] == "completed"


def _serve(cli, *args: str) -> subprocess.Popen:
    """``serve ARGS`` started in the background, as a user runs it in a terminal."""
    return subprocess.Popen([sys.executable, "-m", "databuild.cli", "serve", *args],
                            env={**os.environ, "DATABUILD_GRAPH_MANIFEST": str(cli.state.parent / "manifest.json"),
                                 "DATABUILD_STATE_DIR": str(cli.state)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _recorded(cli, proc: subprocess.Popen) -> dict:
    """The service record once ``proc`` wrote it."""
    deadline = time.monotonic() + 30
    while not (cli.state / "daemon.json").exists() or info(cli.state)["pid"] != proc.pid:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    return info(cli.state)


def test_state_directory_and_event_log_are_owner_only(cli):
    assert cli("daemon", "start").returncode == 0
    assert stat.S_IMODE(cli.state.stat().st_mode) == 0o700
    assert stat.S_IMODE((cli.state / "bel.sqlite3").stat().st_mode) == 0o600
    cli("daemon", "stop")


def test_a_daemon_that_cannot_open_its_log_is_reported_with_its_own_words(cli, monkeypatch):
    cli.state.mkdir()
    log = cli.state / "bel.sqlite3"
    log.write_text("not a database\n" * 50)
    monkeypatch.setenv("DATABUILD_GRAPH_MANIFEST", str(cli.state.parent / "manifest.json"))
    command = [sys.executable, "-m", "databuild.cli", "--state-dir", str(cli.state), "--bel", f"sqlite://{log}",
               "serve", "--daemon"]
    with pytest.raises(ServiceUnavailableError, match="exited with status") as raised:
        ensure_daemon(cli.state, MANIFEST["label"], command)
    assert f"event log {log}: it is not an SQLite database" in str(raised.value)
    started = cli("daemon", "start")  # the same through the CLI
    assert started.returncode == 3 and f"event log {log}" in started.stderr, started.stderr
    assert log.read_text() == "not a database\n" * 50


def test_log_deleted_under_the_service_refuses_writes_and_the_service_exits(cli):
    proc = _serve(cli, "--daemon", "--idle-timeout", "0")
    record = _recorded(cli, proc)
    auth = {"Authorization": f"Bearer {record['token']}"}
    before = requests.post(f"{record['url']}/api/v1/wants", json={"partitions": ["daily/1"]}, headers=auth)
    assert before.status_code == 201
    log = cli.state / "bel.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{log}{suffix}").unlink()
    refused = requests.post(f"{record['url']}/api/v1/wants", json={"partitions": ["daily/2"]}, headers=auth)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "event_log_lost" and str(log) in refused.json()["error"]["message"]
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3 and f"event log {log} was deleted" in err, err
    assert not (cli.state / "daemon.json").exists() and not log.exists()


def test_log_replaced_under_an_idle_foreground_service_stops_it(cli, tmp_path):
    proc = _serve(cli, "--port", "0")
    _recorded(cli, proc)
    log = cli.state / "bel.sqlite3"
    other = tmp_path / "other.sqlite3"
    other.write_bytes(log.read_bytes())
    os.replace(other, log)  # no request: the service notices by itself
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3 and f"event log {log} was replaced" in err, err


def test_foreground_serve_is_the_state_directorys_one_service(cli):
    proc = _serve(cli, "--port", "0", "--token", "t0k")
    try:
        record = _recorded(cli, proc)
        assert record["token"] == "t0k" and stat.S_IMODE((cli.state / "daemon.json").stat().st_mode) == 0o600
        found = cli("--json", "daemon", "start")  # finds it instead of starting a daemon on the same log
        assert json.loads(found.stdout)["pid"] == proc.pid, found.stderr
        marked = cli("partitions", "mark-available", "raw/through-serve")
        assert marked.returncode == 0, marked.stderr
        second = cli("serve", "--port", "0")
        assert second.returncode == 2 and "serving" not in second.stderr
        assert f"{record['url']} (pid {proc.pid})" in second.stderr, second.stderr
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert not (cli.state / "daemon.json").exists()
    listed = cli("--local", "--json", "partitions", "list")
    assert [p["ref"] for p in json.loads(listed.stdout)["partitions"]] == ["raw/through-serve"]


def test_a_full_disk_answers_503_and_the_service_recovers_when_space_returns(cli):
    with small_tmpfs(cli.state, "4m"):
        proc = _serve(cli, "--daemon", "--idle-timeout", "0")
        try:
            record = _recorded(cli, proc)
            auth = {"Authorization": f"Bearer {record['token']}"}
            filler = fill(cli.state)
            batch = {"wants": [{"partitions": [f"daily/{i}-{'x' * 200}"]} for i in range(2000)]}
            full = requests.post(f"{record['url']}/api/v1/wants", json=batch, headers=auth)
            assert full.status_code == 503, full.text
            error = full.json()["error"]
            assert error["code"] == "storage_error"
            assert error["message"].startswith(f"event log {cli.state / 'bel.sqlite3'}: the disk is full")
            filler.unlink()
            again = requests.post(f"{record['url']}/api/v1/wants", json={"partitions": ["daily/1"]}, headers=auth)
            assert again.status_code == 201, again.text
            assert proc.poll() is None
        finally:
            proc.terminate()
            proc.communicate(timeout=30)


def test_serve_on_a_busy_port_fails_before_announcing(cli):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        refused = cli("serve", "--port", str(port), "--token", "t0k")
    assert refused.returncode == 3 and "serving" not in refused.stderr, refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (f"error: port {port} on 127.0.0.1 is already in use; "
                                                       "choose another port (0: any free one)")
    assert not (cli.state / "daemon.json").exists()


def test_serve_off_loopback_with_a_read_only_token(cli):
    """`serve --read-token` (here from DATABUILD_READ_TOKEN) off loopback: every request needs a
    token, the read-only one reads but cannot record; the record keeps the write token."""
    proc = subprocess.Popen([sys.executable, "-m", "databuild.cli", "serve", "--host", "0.0.0.0", "--port", "0",
                             "--token", "wr1te"],
                            env={**os.environ, "DATABUILD_GRAPH_MANIFEST": str(cli.state.parent / "manifest.json"),
                                 "DATABUILD_STATE_DIR": str(cli.state), "DATABUILD_READ_TOKEN": "re4d"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        record = _recorded(cli, proc)
        assert record["token"] == "wr1te"
        health = f"{record['url']}/api/v1/health"
        assert requests.get(health).status_code == 401
        assert requests.get(health, headers={"Authorization": "Bearer re4d"}).json()["log_id"]
        mark = f"{record['url']}/api/v1/partitions:mark-available"
        read_only = requests.post(mark, json={"refs": ["raw/1"]}, headers={"Authorization": "Bearer re4d"})
        assert read_only.status_code == 401 and "read-only" in read_only.json()["error"]["message"]
        assert requests.post(mark, json={"refs": ["raw/1"]},
                             headers={"Authorization": "Bearer wr1te"}).status_code == 201
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_serve_refuses_a_read_token_equal_to_the_token(cli):
    refused = cli("serve", "--port", "0", "--token", "same", "--read-token", "same")
    assert refused.returncode == 2 and "must differ" in refused.stderr, refused.stderr
