"""CLI errors: one line (or with --json the error document on stdout) and the exit code
the error's class declares, whether the command runs in process or through a service."""

from __future__ import annotations

import json

import pytest

from cli_harness import graph_cli

pytestmark = pytest.mark.slow
MANIFEST = {"version": 1, "label": "//t:errors", "lookup": None, "upstreams": [],
            "jobs": [{"label": "//t:daily", "executable": "/bin/true", "outputs": ["daily/*"]}]}


@pytest.fixture
def cli(tmp_path):
    with graph_cli(tmp_path, MANIFEST) as run:
        yield run


@pytest.mark.parametrize("args, code, exit_code, fragment", [
    (["--local", "want", "status", "0190ae3c-0000-7000-8000-000000000000"], "not_found", 2, "0190ae3c"),
    (["--local", "partitions", "taint", "raw/never", "--reason", "x"], "conflict", 2, "raw/never"),
    (["--local", "want", "create", "daily/1", "--ttl", "soon"], "invalid_argument", 2, "soon"),
    (["--local", "partitions", "show", "a b"], "invalid_argument", 2, "a b"),
    (["--local", "nonsense"], "invalid_argument", 2, "nonsense"),
    (["--service", "http://127.0.0.1:9", "partitions", "list"], "service_unavailable", 3, "127.0.0.1:9"),
])
def test_errors_exit_with_their_code_and_print_json_with_json(cli, args, code, exit_code, fragment):
    plain = cli(*args)
    assert plain.returncode == exit_code, plain.stderr
    assert fragment in plain.stderr and "Traceback" not in plain.stderr
    as_json = cli("--json", *args)
    assert as_json.returncode == exit_code
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == code and fragment in error["message"]


def test_the_same_error_through_the_daemon(cli):
    local = cli("--local", "--json", "want", "cancel", "nope")
    remote = cli("--json", "want", "cancel", "nope")  # starts the state directory's daemon
    try:
        assert local.returncode == remote.returncode == 2
        assert json.loads(local.stdout) == json.loads(remote.stdout)
    finally:
        cli("daemon", "stop")


def test_a_reader_that_went_away_stops_the_command_quietly(cli):
    """``cmd | head``: writing to a closed pipe ends the command with 141 (as SIGPIPE
    would) and no traceback."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command prints anything
    try:
        done = subprocess.run([sys.executable, "-m", "databuild.cli", "--local", "jobs", "list"], env=cli.env,
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write)
    assert done.returncode == 141 and "Traceback" not in done.stderr, done.stderr
