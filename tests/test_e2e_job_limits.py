"""End to end through `bazel build`: the limits declared on databuild_job and
databuild_graph (tests/e2e/BUILD.bazel) hold a job that hangs, floods its log, has a
hung config, or looks for the service's token."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from databuild.procs import process_alive
from test_e2e_build import Graph, graph_binary  # noqa: F401  (the module's fixture, shared)

pytestmark = pytest.mark.slow


@pytest.fixture
def g(graph_binary, tmp_path) -> Graph:  # noqa: F811
    graph = Graph(graph_binary, tmp_path)
    yield graph
    graph.run("daemon", "stop")


def only_run(g: Graph) -> dict:
    build_id = g.json("builds", "list")["builds"][0]["build_id"]
    (run,) = g.json("builds", "show", build_id)["job_runs"]
    return run


def gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not process_alive(pid)


def test_a_job_past_its_timeout_is_killed_with_its_child(g):
    done = g.run("build", "hang/600")  # databuild_job(timeout = "2s")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "timed out after 2s" in done.stdout
    run = only_run(g)
    assert run["status"] == "failed" and run["message"].startswith("timed out after 2s")
    pids = [int(p.read_text()) for p in (g.data / "pids").iterdir()]
    assert len(pids) == 2 and all(gone(pid) for pid in pids)  # the job and its child
    assert g.status("hang/600") == "failed"


def test_a_flooding_job_log_is_capped_private_and_counted(g):
    done = g.run("build", "flood/300000")  # databuild_graph(max_log_bytes = 65536)
    assert done.returncode == 0, done.stdout + done.stderr
    run = only_run(g)
    printed = len("running flood/300000\n") + 300000
    assert int(run["log_bytes_dropped"]) == printed - 65536
    log = Path(run["log_path"])
    assert log.read_bytes().endswith(f"\n[databuild: log capped at 64 KiB; {printed - 65536} bytes dropped]\n".encode())
    assert log.stat().st_size == 65536 + len(f"\n[databuild: log capped at 64 KiB; {printed - 65536} bytes dropped]\n")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == stat.S_IMODE(log.parent.parent.stat().st_mode) == 0o700


def test_the_log_cap_is_set_at_run_time_by_the_environment(g):
    g.env["DATABUILD_MAX_LOG_BYTES"] = "1000"  # the daemon the command starts inherits it
    done = g.run("build", "flood/5000")
    assert done.returncode == 0, done.stdout + done.stderr
    run = only_run(g)
    assert int(run["log_bytes_dropped"]) == len("running flood/5000\n") + 5000 - 1000
    assert b"[databuild: log capped at 1000 bytes;" in Path(run["log_path"]).read_bytes()


def test_a_hung_config_fails_at_its_timeout_naming_the_job(g):
    done = g.run("analyze", "stuck/1")  # databuild_job(config_timeout = "1s"); its child holds stdout
    assert done.returncode != 0
    assert "//tests/e2e:stuck: did not finish within 1s" in done.stderr, done.stderr


def test_jobs_do_not_see_the_service_token(g):
    g.env["DATABUILD_TOKEN"] = "s3cret-token"  # the daemon's token, in the daemon's environment
    done = g.run("build", "env/1")
    assert done.returncode == 0, done.stdout + done.stderr
    log = g.run("logs", only_run(g)["job_run_id"])
    assert log.returncode == 0 and "DATABUILD_JOB_RUN_ID=" in log.stdout
    assert "DATABUILD_TOKEN" not in log.stdout and "s3cret-token" not in log.stdout
