"""The daemon as real processes: start, lock, record, stale record, idle exit, --service."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow
MANIFEST = {"version": 1, "label": "//t:daemon_graph", "lookup": None, "upstreams": [],
            "jobs": [{"label": "//t:daily", "executable": "/bin/true", "outputs": ["daily/*"]}]}


@pytest.fixture
def cli(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(MANIFEST))
    env = dict(os.environ, DATABUILD_GRAPH_MANIFEST=str(manifest), DATABUILD_STATE_DIR=str(tmp_path / "state"))
    env.pop("DATABUILD_TOKEN", None)
    def run(*args, **kw):
        return subprocess.run([sys.executable, "-m", "databuild.cli", *args], env={**env, **kw}, capture_output=True,
                              text=True, timeout=60)

    run.state = tmp_path / "state"
    yield run
    info = run.state / "daemon.json"
    if info.exists():
        with contextlib.suppress(ProcessLookupError):  # already gone: nothing to clean up
            os.kill(json.loads(info.read_text())["pid"], signal.SIGKILL)


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
    assert second.returncode == 0 and "another daemon holds" in second.stderr
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
