"""CLI commands through the daemon: short id prefixes, log tails and following a running job's log."""

from __future__ import annotations

import json
import time

import pytest
import requests

from cli_harness import graph_cli
from databuild.cli.inspect import _exit
from databuild.proto import databuild_pb2 as pb

JOB = r"""#!/bin/sh
if [ "$1" = config ]; then
  shift; printf '{"configs": ['; sep=
  for r in "$@"; do printf '%s{"outputs": ["%s"], "args": ["%s"]}' "$sep" "$r" "$r"; sep=,; done
  printf ']}\n'; exit 0
fi
for i in 1 2 3 4 5; do echo "line $i of $2"; sleep 0.3; done
"""


@pytest.fixture
def cli(tmp_path):
    job = tmp_path / "job.sh"
    job.write_text(JOB)
    job.chmod(0o755)
    with graph_cli(tmp_path, {"version": 1, "label": "//t:commands", "lookup": None, "upstreams": [],
                              "jobs": [{"label": "//t:job", "executable": str(job), "outputs": ["talk/*"]}]}) as run:
        yield run


@pytest.mark.slow
def test_prefixes_log_tail_and_follow(cli, tmp_path):
    want_id = cli("want", "create", "talk/1").stdout.strip()
    deadline = time.monotonic() + 30
    while not (want := json.loads(cli("--json", "want", "status", want_id[:8]).stdout))["build_id"]:
        assert time.monotonic() < deadline, want
        time.sleep(0.1)
    build = json.loads(cli("--json", "builds", "show", want["build_id"][:6]).stdout)
    assert build["build"]["build_id"] == want["build_id"]
    while not build["job_runs"]:
        build = json.loads(cli("--json", "builds", "show", want["build_id"]).stdout)
    run_id = build["job_runs"][0]["job_run_id"]
    followed = cli("logs", "--follow", run_id[:8])  # started while the job talks; returns when it ends
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout == "".join(f"line {i} of talk/1\n" for i in range(1, 6))
    assert cli("logs", "--tail", "9", run_id).stdout == "f talk/1\n"
    ambiguous = cli("want", "status", "0")  # too short to be a prefix, and no such partition either
    assert ambiguous.returncode == 2 and "'0'" in ambiguous.stderr
    # The feed: one JSON document per line, filtered by type and pattern.
    lines = cli("--json", "events", "--type", "WANT_CREATED", "--pattern", "talk/*").stdout.splitlines()
    assert [json.loads(line)["want_created"]["want"]["want_id"] for line in lines] == [want_id]
    plain = cli("events", "--since", "0").stdout
    assert f"want_created {want_id} talk/1" in plain and "job_run_status_changed" in plain
    assert "declares no upstreams" in cli("upstreams", "status").stdout
    # analyze records nothing: it needs no token on loopback
    url = json.loads((tmp_path / "state" / "daemon.json").read_text())["url"]
    assert requests.post(f"{url}/api/v1/analyze", json={"partitions": ["talk/2"]}).status_code == 200


def test_builds_show_prints_an_exit_code_only_for_runs_whose_process_ended():
    never = pb.JobRunState(status=pb.JOB_RUN_STATUS_CANCELLED)
    assert _exit(never) == "-"
    started = pb.JobRunState(status=pb.JOB_RUN_STATUS_FAILED, exit_code=3)
    started.started_at.FromSeconds(1)
    assert _exit(started) == "3"
    running = pb.JobRunState(status=pb.JOB_RUN_STATUS_RUNNING)
    running.started_at.FromSeconds(1)
    assert _exit(running) == "-"
