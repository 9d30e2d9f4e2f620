"""A CLI call that goes to the daemon never loads the service's storage stack, nor protobuf."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli_harness import graph_cli

#: Loaded only by commands that open the event log themselves (--local, serve, daemon).
STORAGE = ("peewee", "sqlite3", "databuild.events.sqlite", "databuild.state", "databuild.service.core",
           "databuild.executor")
#: Not loaded by a read command to a running daemon: the server side's layers, protobuf (the
#: client reads the service's JSON) and the manifest's validation (the daemon did it).
HEAVY = (*STORAGE, "databuild.planner", "databuild.wants", "databuild.triggers", "uvicorn", "starlette",
         "croniter", "google.protobuf", "databuild.proto.jsonmap", "databuild.graph.manifest",
         # what only the recording commands need (who asks) and the idna codec (an ASCII host needs none)
         "getpass", "encodings.idna")

#: Runs the CLI like ``python -m databuild.cli`` and then prints, on stderr's last line,
#: the modules the call loaded (also when it leaves through ``os._exit``, as a client call does).
RUN_AND_LIST_MODULES = """
import json, os, sys
def listing():
    print(json.dumps(sorted(sys.modules)), file=sys.stderr, flush=True)
exit_now = os._exit
os._exit = lambda code: (listing(), exit_now(code))
from databuild.cli.main import main
try:
    main(sys.argv[1:])
    code = 0
except SystemExit as e:
    code = e.code
listing()
sys.exit(code)
"""


def test_the_client_path_imports_no_storage():
    code = ("import sys; import databuild.cli.main, databuild.service.client; "
            f"print([m for m in {STORAGE!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.fixture
def cli(tmp_path):
    with graph_cli(tmp_path, {"version": 1, "label": "//t:imports", "lookup": None, "upstreams": [],
                              "jobs": [{"label": "//t:job", "executable": "/bin/true", "outputs": ["out/*"]}]}) as run:
        yield run


def loaded_by(cli, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    done = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, *args], env=cli.env, capture_output=True,
                          text=True, timeout=60)
    *errors, modules = done.stderr.splitlines()
    return done, json.loads(modules)


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_read_commands_to_a_running_daemon_import_no_heavyweight_module(cli):
    assert cli("daemon", "start").returncode == 0
    assert cli("partitions", "mark-available", "raw/1").returncode == 0
    want_id = cli("want", "create", "raw/1").stdout.strip()  # satisfied at once: raw/1 is available

    shown, modules = loaded_by(cli, "partitions", "show", "raw/1")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("raw/1: available") and "external_partitions_available" in shown.stdout
    assert "databuild.service.client" in modules  # it did talk to the daemon
    assert heavy(modules) == []

    status, modules = loaded_by(cli, "want", "status", want_id)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"want {want_id}: satisfied") and "want_created" in status.stdout
    assert heavy(modules) == []

    as_json, modules = loaded_by(cli, "--json", "want", "list")  # (--status checks its value against the schema)
    assert [w["want_id"] for w in json.loads(as_json.stdout)["wants"]] == [want_id]
    assert heavy(modules) == []


def test_creating_a_want_through_a_running_daemon_loads_no_protobuf(cli):
    """The want goes out as JSON: `build` loads protobuf (for following) only once it is recorded."""
    assert cli("daemon", "start").returncode == 0
    created, modules = loaded_by(cli, "--json", "want", "create", "raw/1", "--ttl", "1h", "--comment", "why")
    assert created.returncode == 0, created.stderr
    want = json.loads(created.stdout)
    assert (want["partitions"], want["ttl_seconds"], want["comment"], want["source"]["type"]) == (
        ["raw/1"], 3600, "why", "cli")
    assert cli("want", "status", want["want_id"]).returncode == 0
    assert [m for m in heavy(modules) if m != "getpass"] == []


def test_the_same_reads_with_local_load_the_event_log(cli):
    cli("--local", "partitions", "mark-available", "raw/1")
    shown, modules = loaded_by(cli, "--local", "partitions", "show", "raw/1")
    assert shown.stdout.startswith("raw/1: available"), shown.stderr
    assert "databuild.events.sqlite" in modules and "google.protobuf" in modules


def test_following_a_build_to_a_running_daemon_loads_neither_storage_nor_executor(tmp_path):
    """``build REF`` creates the want and follows its build's progress from the feed: the
    client side of that (protobuf included) but none of the server's layers."""
    job = tmp_path / "job.sh"
    job.write_text('#!/bin/sh\n[ "$1" = config ] && printf \'{"configs": [{"outputs": ["%s"]}]}\\n\' "$2"\nexit 0\n')
    job.chmod(0o755)
    manifest = {"version": 1, "label": "//t:follow", "lookup": None, "upstreams": [],
                "jobs": [{"label": "//t:job", "executable": str(job), "outputs": ["out/*"]}]}
    with graph_cli(tmp_path, manifest) as cli:
        assert cli("daemon", "start").returncode == 0
        built, modules = loaded_by(cli, "build", "out/1")
        assert built.returncode == 0, built.stderr
        assert "satisfied by build" in built.stdout and "1/1 done" in built.stderr  # it followed the progress
        assert "databuild.cli.follow" in modules and "databuild.progress" in modules
        assert [m for m in modules if any(m == s or m.startswith(s + ".") for s in STORAGE)] == []
