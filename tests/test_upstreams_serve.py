"""Upstream overrides reach the running service: `serve --upstream NAME=URL` and
DATABUILD_UPSTREAM_<NAME>_URL/_TOKEN show in GET /api/v1/graph (the token never does)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from cli_harness import graph_cli

pytestmark = pytest.mark.slow
MANIFEST = {"version": 1, "label": "//t:reports", "lookup": None,
            "jobs": [{"label": "//t:daily", "executable": "/bin/true", "outputs": ["reports/daily/*"]}],
            "upstreams": [{"name": "ingest", "label": "//t:ingest", "url": "http://127.0.0.1:1",
                           "patterns": ["ingest/raw/*"]},
                          {"name": "raw-events", "label": "//t:raw_events", "url": "http://127.0.0.1:2",
                           "patterns": ["events/**"]}]}


@pytest.fixture
def cli(tmp_path):
    with graph_cli(tmp_path, MANIFEST) as run:
        yield run


def recorded_url(state: Path, proc: subprocess.Popen) -> str:
    deadline = time.monotonic() + 30
    record = state / "daemon.json"
    while not record.exists() or json.loads(record.read_text())["pid"] != proc.pid:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    return json.loads(record.read_text())["url"]


def upstreams(url: str) -> dict[str, dict]:
    answer = requests.get(f"{url}/api/v1/graph", timeout=10)
    assert answer.status_code == 200, answer.text
    assert "s3cret" not in answer.text
    return {u["name"]: u for u in answer.json()["upstreams"]}


def test_serve_upstream_flag_beats_the_environment_and_the_build_file(cli):
    env = {**cli.env, "DATABUILD_UPSTREAM_INGEST_URL": "http://env.example:9",
           "DATABUILD_UPSTREAM_RAW_EVENTS_URL": "https://events.example",
           "DATABUILD_UPSTREAM_INGEST_TOKEN": "s3cret"}
    proc = subprocess.Popen([sys.executable, "-m", "databuild.cli", "serve", "--port", "0", "--token", "t0k",
                             "--upstream", "ingest=http://ingest.example:8100"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        shown = upstreams(recorded_url(cli.state, proc))
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert shown == {
        "ingest": {"name": "ingest", "url": "http://ingest.example:8100", "patterns": ["ingest/raw/*"]},
        "raw-events": {"name": "raw-events", "url": "https://events.example", "patterns": ["events/**"]},
    }
    assert "s3cret" not in err


def test_the_daemon_reads_the_environment(cli):
    started = cli("daemon", "start", DATABUILD_UPSTREAM_INGEST_URL="http://daemon.example:7",
                  DATABUILD_UPSTREAM_INGEST_TOKEN="s3cret")
    assert started.returncode == 0, started.stderr
    url = json.loads((cli.state / "daemon.json").read_text())["url"]
    shown = upstreams(url)
    assert (shown["ingest"]["url"], shown["raw-events"]["url"]) == ("http://daemon.example:7", "http://127.0.0.1:2")
    cli("daemon", "stop")


@pytest.mark.parametrize("args, env, message", [
    (["--upstream", "ingset=http://x:1"], {},
     "error: --upstream 'ingset': graph //t:reports has no such upstream (its upstreams: ingest, raw-events)"),
    (["--upstream", "ingest=ingest:8100"], {},
     "error: upstream 'ingest': url 'ingest:8100' from --upstream ingest must be an http:// or https:// URL"),
    (["--upstream", "ingest"], {}, "error: --upstream 'ingest' must be NAME=URL"),
    ([], {"DATABUILD_UPSTREAM_RAW_EVENTS_URL": "events:1"},
     "error: upstream 'raw-events': url 'events:1' from DATABUILD_UPSTREAM_RAW_EVENTS_URL must be an http://"),
])
def test_a_bad_override_exits_2_naming_it_before_serving(cli, args, env, message):
    refused = cli("serve", "--port", "0", "--token", "t0k", *args, **env)
    assert refused.returncode == 2, refused.stderr
    assert "serving" not in refused.stderr and message in refused.stderr, refused.stderr
    assert not (cli.state / "daemon.json").exists()
