"""The process launcher with real jobs: timeouts kill process groups, logs are capped,
drained to the end and private, and jobs never see the service's token."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from databuild.events import MemoryEventLog
from databuild.errors import InvalidArgumentError
from databuild.executor import BuildExecutor, ProcessLauncher, max_log_bytes
from databuild.executor.launcher import MAX_LOG_BYTES_ENV, RunLog
from databuild.graph import GraphSpec, JobSpec
from databuild.planner import PlannedRun
from databuild.procs import process_alive
from databuild.proto import databuild_pb2 as pb
from databuild.state import StateProjection, StateStore
from fakes import FakeResolver, cfg, ids


def job_script(path: Path, body: str) -> str:
    """A Python job whose exec runs ``body`` (``data`` is the directory it may write to)."""
    path.write_text(f"#!{sys.executable}\nimport os, signal, subprocess, sys, time\n"
                    f"data = {str(path.parent)!r}\n{body}\n")
    path.chmod(0o755)
    return str(path)


def build(tmp_path: Path, body: str, timeout: float = 0, max_log: int | None = None, base_env=None,
          drain_grace: float = 2.0):
    """Build ``x/1`` with one job running ``body``; return (result, store, job run, log text)."""
    kw = {"max_log_bytes": max_log} if max_log else {}
    graph = GraphSpec("//t:g", (JobSpec("//t:job", job_script(tmp_path / "job", body), ("x/*",), timeout),), **kw)
    store = StateStore(MemoryEventLog([StateProjection()]))
    launcher = ProcessLauncher(graph, base_env, drain_grace=drain_grace)
    resolver = FakeResolver(jobs={"//t:job": lambda ref: cfg([ref])}, produces={"//t:job": lambda ref: True})
    executor = BuildExecutor(graph, store, launcher, str(tmp_path / "logs"), resolver=resolver, new_id=ids(),
                             kill_grace=1.0)
    try:
        result = executor.run(["x/1"])
    finally:
        launcher.close()
    (planned,) = result.plan.runs
    run = store.job_run(planned.job_run_id)
    return result, store, run, Path(run.log_path)


def pids(tmp_path: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted(tmp_path.glob("*.pid"))]


def gone(pid: int) -> bool:
    """True once ``pid`` is dead; a SIGKILL is delivered asynchronously, so wait a little."""
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not process_alive(pid)


def test_a_job_past_its_timeout_is_killed_with_its_child_and_fails(tmp_path):
    result, _, run, _ = build(tmp_path, timeout=1, body="""
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # so only the SIGKILL after the grace period stops it
child = subprocess.Popen(["sleep", "300"])
open(f"{data}/job.pid", "w").write(str(os.getpid()))
open(f"{data}/child.pid", "w").write(str(child.pid))
time.sleep(300)
""")
    assert result.status == pb.BUILD_STATUS_FAILED
    assert run.status == pb.JOB_RUN_STATUS_FAILED and run.message.startswith("timed out after 1s; log: ")
    assert "timed out after 1s" in result.message
    assert len(pids(tmp_path)) == 2 and all(gone(pid) for pid in pids(tmp_path))


def test_a_flooding_job_keeps_the_first_bytes_and_counts_the_rest(tmp_path):
    result, _, run, log = build(tmp_path, max_log=1 << 20, body="""
block = b"y" * (1 << 20)
for _ in range(100):
    sys.stdout.buffer.write(block)
""")
    assert result.ok, result.message
    dropped = 99 << 20
    assert run.log_bytes_dropped == dropped
    content = log.read_bytes()
    assert content == b"y" * (1 << 20) + f"\n[databuild: log capped at 1 MiB; {dropped} bytes dropped]\n".encode()


def test_the_log_and_its_directories_are_private(tmp_path):
    result, _, run, log = build(tmp_path, body="print('hello'); print('oops', file=sys.stderr)")
    assert result.ok and run.log_bytes_dropped == 0
    assert sorted(log.read_text().splitlines()) == ["hello", "oops"]
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700


def test_output_written_after_the_job_exits_is_kept_until_the_pipe_closes(tmp_path):
    result, _, _, log = build(tmp_path, drain_grace=30, body="""
subprocess.Popen(["sh", "-c", "sleep 0.5; echo late"])  # holds the log pipe, writes its tail after we exit
print("early", flush=True)
""")
    assert result.ok, result.message
    assert log.read_text().splitlines() == ["early", "late"]


def test_a_grandchild_holding_the_pipe_does_not_hold_the_run(tmp_path):
    result, _, _, log = build(tmp_path, drain_grace=0.5, body="""
child = subprocess.Popen(["sleep", "300"])
open(f"{data}/child.pid", "w").write(str(child.pid))
print("done", flush=True)
""")
    assert result.ok, result.message
    assert log.read_text() == "done\n"
    (child,) = pids(tmp_path)
    assert gone(child)  # the run's process group was killed when its drain ended


def test_jobs_do_not_get_the_service_token(tmp_path):
    env = {"PATH": os.environ["PATH"], "DATABUILD_TOKEN": "s3cret", "DATABUILD_UPSTREAM_RAW_TOKEN": "up-s3cret",
           "DATABUILD_UPSTREAM_RAW_URL": "http://127.0.0.1:1"}
    result, _, _, log = build(tmp_path, base_env=env, body="""
for key in sorted(os.environ):
    print(f"{key}={os.environ[key]}")
""")
    assert result.ok, result.message
    printed = dict(line.split("=", 1) for line in log.read_text().splitlines())
    assert printed["DATABUILD_UPSTREAM_RAW_URL"] == "http://127.0.0.1:1" and printed["PATH"] == env["PATH"]
    assert "DATABUILD_TOKEN" not in printed and "DATABUILD_UPSTREAM_RAW_TOKEN" not in printed
    assert "s3cret" not in log.read_text()


def test_the_log_cap_is_the_graphs_unless_the_environment_sets_one():
    graph = GraphSpec("//t:g", (JobSpec("//t:job", "/bin/true", ("x/*",)),), max_log_bytes=1000)
    assert max_log_bytes(graph, {}) == 1000
    assert max_log_bytes(graph, {MAX_LOG_BYTES_ENV: "4096"}) == 4096
    for bad in ("0", "-1", "1MiB", "١٢"):
        with pytest.raises(InvalidArgumentError, match=f"{MAX_LOG_BYTES_ENV} must be a positive number of bytes"):
            max_log_bytes(graph, {MAX_LOG_BYTES_ENV: bad})


def test_closing_the_launcher_kills_runs_still_going(tmp_path):
    graph = GraphSpec("//t:g", (JobSpec("//t:job", job_script(tmp_path / "job", "time.sleep(300)"), ("x/*",)),))
    launcher = ProcessLauncher(graph)
    pid = launcher.start(PlannedRun("r1", "//t:job", cfg(["x/1"])), str(tmp_path / "r1.log"))
    launcher.close()
    assert gone(pid)


def test_a_run_that_prints_nothing_leaves_no_log_file(tmp_path):
    (tmp_path / "silent").mkdir()
    (tmp_path / "printing").mkdir()
    result, _, run, log = build(tmp_path / "silent", "pass")
    assert result.status == pb.BUILD_STATUS_COMPLETED and run.log_path and not log.exists()
    _, _, _, printed = build(tmp_path / "printing", "print('hi')")
    assert printed.read_text() == "hi\n"


def test_a_log_that_cannot_be_written_counts_everything_as_dropped():
    log = RunLog("/dev/full", cap=1 << 20)  # every write fails: no space left on device
    log.write(b"a" * 1000)
    log.write(b"b" * 24)
    assert log.close() == 1024
