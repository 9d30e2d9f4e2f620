"""The Dask launcher against a real local cluster (tests/dask_support.py): job runs are
tasks on three workers, their logs come back, cancel and timeouts kill the remote job,
a lost worker fails its run with "worker lost", and a restarted scheduler serves the
next build."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from databuild.errors import InvalidArgumentError, UnavailableError
from databuild.events import MemoryEventLog
from databuild.executor import BuildExecutor
from databuild.executor.dask_launcher import (DaskLauncher, check_scheduler, dask_address, map_invocation,
                                              parse_path_map, stop_remote_runs)
from databuild.graph import GraphSpec, JobSpec
from databuild.procs import process_alive
from databuild.proto import databuild_pb2 as pb
from databuild.state import StateProjection, StateStore
from dask_support import Cluster, cluster, free_port  # noqa: F401
from fakes import FakeResolver, cfg
from test_launcher import gone, job_script

pytestmark = pytest.mark.slow


class Build:
    """A graph of one job ``x/*`` running ``body``, built through a DaskLauncher."""

    def __init__(self, tmp_path: Path, address: str, body: str, timeout: float = 0) -> None:
        job = JobSpec("//t:job", job_script(tmp_path / "job", body), ("x/*",), timeout)
        self.graph = GraphSpec("//t:g", (job,))
        self.store = StateStore(MemoryEventLog([StateProjection()]))
        self.launcher = DaskLauncher(self.graph, address, drain_grace=2.0)
        resolver = FakeResolver(jobs={"//t:job": lambda ref: cfg([ref])}, produces={"//t:job": lambda ref: True})
        # Ids unique across builds (as real ones are): the cluster outlives each test, and the
        # mark of a run whose service was killed stays on its scheduler.
        self.executor = BuildExecutor(self.graph, self.store, self.launcher, str(tmp_path / "logs"), 3,
                                      resolver=resolver, kill_grace=1.0)

    def run(self, refs: list[str]):
        try:
            return self.executor.run(refs)
        finally:
            self.launcher.close()

    def runs(self, result) -> list[pb.JobRun]:
        return [self.store.job_run(r.job_run_id) for r in result.plan.runs]


def wait_for(path: Path) -> str:
    deadline = time.monotonic() + 60
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


PID_THEN = "open(os.path.join(data, os.environ['DATABUILD_JOB_RUN_ID'] + '.pid'), 'w').write(str(os.getpid()))\n"



def run_in_background(b: Build, tmp_path: Path) -> tuple[threading.Thread, list, int]:
    """``b.run(["x/1"])`` on a thread (its result appended to the list), once its job
    started: the thread, the list and the job's pid (the file it wrote)."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(b.run(["x/1"])))
    t.start()
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("*.pid")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return t, out, int(wait_for(next(tmp_path.glob("*.pid"))))

def test_a_multi_job_build_spreads_over_the_workers_and_its_logs_arrive(tmp_path, cluster):
    b = Build(tmp_path, cluster.address, "import json\nref = json.load(sys.stdin)['outputs'][0]\n"
              "print('hello', ref, flush=True)\ntime.sleep(1)\nprint('bye', ref)")
    refs = [f"x/{i}" for i in range(6)]
    workers: set[str] = set()
    real_end = b.launcher._end

    def spy(rid, code, error=""):
        workers.add(b.launcher.worker(rid))
        real_end(rid, code, error)

    b.launcher._end = spy
    result = b.run(refs)
    assert result.status == pb.BUILD_STATUS_COMPLETED, result
    for run in b.runs(result):
        assert run.status == pb.JOB_RUN_STATUS_SUCCEEDED
        (ref,) = run.outputs
        assert Path(run.log_path).read_text() == f"hello {ref}\nbye {ref}\n"
    assert len(workers - {None}) > 1, workers


def test_cancel_kills_the_remote_job(tmp_path, cluster):
    b = Build(tmp_path, cluster.address, PID_THEN + "print('started', flush=True)\ntime.sleep(600)")
    t, out, pid = run_in_background(b, tmp_path)
    b.executor.cancel("the test cancels it")
    t.join(60)
    (result,) = out
    (run,) = b.runs(result)
    assert run.status == pb.JOB_RUN_STATUS_CANCELLED
    assert gone(pid)


def test_a_job_past_its_timeout_on_a_remote_worker_is_killed(tmp_path, cluster):
    b = Build(tmp_path, cluster.address, PID_THEN + "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)",
              timeout=1)
    result = b.run(["x/1"])
    (run,) = b.runs(result)
    assert run.status == pb.JOB_RUN_STATUS_FAILED
    assert run.message.startswith("timed out after"), run.message
    assert gone(int(next(tmp_path.glob("*.pid")).read_text()))


def test_a_lost_worker_fails_its_run_with_worker_lost_and_the_job_is_not_rerun(tmp_path, cluster):
    body = PID_THEN + ("open(os.path.join(data, 'starts'), 'a').write('x')\n"
                       "print('started', flush=True)\ntime.sleep(600)")
    b = Build(tmp_path, cluster.address, body)
    t, out, job_pid = run_in_background(b, tmp_path)
    (rid,) = b.launcher.running
    deadline = time.monotonic() + 60
    while b.launcher.worker(rid) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker_pid = cluster.worker_addresses()[b.launcher.worker(rid)]
    os.kill(worker_pid, signal.SIGKILL)
    t.join(60)
    (result,) = out
    (run,) = b.runs(result)
    assert run.status == pb.JOB_RUN_STATUS_FAILED
    assert run.message.startswith("worker lost"), run.message
    assert gone(job_pid)  # the job died with its worker
    assert (tmp_path / "starts").read_text() == "x"  # Dask did not start it again
    cluster.wait_ready(3)  # the nanny restarts the worker for the next tests


def test_a_restarted_scheduler_serves_the_next_build(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask-restart"))
    c.start_scheduler()
    c.start_worker()
    try:
        c.wait_ready(1)
        first = tmp_path_factory.mktemp("first")
        assert Build(first, c.address, "print('one')").run(["x/1"]).status == pb.BUILD_STATUS_COMPLETED
        c.stop_all()
        c.workers = []
        c.start_scheduler()
        c.start_worker()
        c.wait_ready(1)
        second = tmp_path_factory.mktemp("second")
        b = Build(second, c.address, "print('two')")
        result = b.run(["x/1"])
        assert result.status == pb.BUILD_STATUS_COMPLETED
        (run,) = b.runs(result)
        assert Path(run.log_path).read_text() == "two\n"
    finally:
        c.stop_all()


def test_an_unreachable_scheduler_is_named():
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(UnavailableError, match=address):
        check_scheduler(address)


def test_a_run_on_an_unreachable_scheduler_fails_naming_it(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    result = Build(tmp_path, address, "print('never')").run(["x/1"])
    assert result.status == pb.BUILD_STATUS_FAILED
    assert address in result.message


@pytest.mark.parametrize("uri", ["dask://", "dask://host", "http://h:1", "dask://h:port", "dask://h:1/x"])
def test_a_bad_executor_uri_is_named(uri):
    with pytest.raises(InvalidArgumentError, match="is not dask://HOST:PORT"):
        dask_address(uri)


def test_a_good_executor_uri():
    assert dask_address("dask://10.0.0.1:8786") == "tcp://10.0.0.1:8786"


ABANDON = """
import sys, time
sys.path[:0] = {paths!r}
from pathlib import Path
from test_dask_launcher import Build
b = Build(Path({tmp!r}), {address!r}, {body!r})
b.run(["x/1"])
"""


def test_a_dead_service_leaves_no_job_running_on_the_workers(tmp_path, cluster):
    import subprocess
    import sys

    tests = str(Path(__file__).parent)
    script = ABANDON.format(paths=[tests], tmp=str(tmp_path), address=cluster.address,
                            body=PID_THEN + "time.sleep(600)")
    service = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("*.pid")):
            assert time.monotonic() < deadline and service.poll() is None
            time.sleep(0.05)
        pid = int(wait_for(next(tmp_path.glob("*.pid"))))
        os.killpg(service.pid, signal.SIGKILL)  # the service dies: nobody will ever wait for the run
        service.wait()
        assert gone(pid)
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)


def test_a_lost_scheduler_fails_the_run_naming_it_and_kills_the_job(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask-lost"))
    c.start_scheduler()
    c.start_worker()
    tmp_path = tmp_path_factory.mktemp("lost-scheduler")
    try:
        c.wait_ready(1)
        b = Build(tmp_path, c.address, PID_THEN + "time.sleep(600)")
        t, out, pid = run_in_background(b, tmp_path)
        os.killpg(c.scheduler.pid, signal.SIGKILL)
        t.join(120)
        (result,) = out
        (run,) = b.runs(result)
        assert run.status == pb.JOB_RUN_STATUS_FAILED
        assert c.address in run.message, run.message
        assert gone(pid)
    finally:
        c.stop_all()


def test_recovery_kills_a_remote_job_the_scheduler_still_thinks_wanted(tmp_path, cluster):
    # The launcher's client stays connected: as for a dead service whose death the
    # scheduler has not noticed yet (its host lost power), the task would go on.
    b = Build(tmp_path, cluster.address, PID_THEN + "print('started', flush=True)\ntime.sleep(600)")
    t, out, pid = run_in_background(b, tmp_path)
    (rid,) = b.launcher.running
    assert stop_remote_runs(cluster.address, [rid, "no-such-run"]) == []  # each task ended within the wait
    assert gone(pid)
    t.join(60)
    (result,) = out
    (run,) = b.runs(result)
    assert run.status == pb.JOB_RUN_STATUS_FAILED and run.exit_code == -signal.SIGKILL


def test_recovery_names_an_unreachable_scheduler():
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(UnavailableError, match=address):
        stop_remote_runs(address, ["r1"])
    assert stop_remote_runs(address, []) == []  # nothing to stop: no connection tried


def test_the_path_map_runs_the_job_from_where_the_workers_have_the_artefact(tmp_path, cluster, monkeypatch):
    # The graph names its job under local/ (the service host's artefact); the workers have
    # it under remote/ only: DATABUILD_DASK_PATH_MAP moves the job's argv and environment.
    local, remote = tmp_path / "local", tmp_path / "remote"
    local.mkdir()
    monkeypatch.setenv("DATABUILD_DASK_PATH_MAP", f"{local}={remote}")
    monkeypatch.setenv("JOB_TOOLS", f"/usr/bin:{local}/tools")
    b = Build(local, cluster.address, "print(sys.argv[0], os.environ['JOB_TOOLS'])")
    local.rename(remote)
    result = b.run(["x/1"])
    assert result.status == pb.BUILD_STATUS_COMPLETED, result
    (run,) = b.runs(result)
    assert Path(run.log_path).read_text() == f"{remote}/job /usr/bin:{remote}/tools\n"


@pytest.mark.parametrize("value", ["relative=/x", "/x", "/a=b", "=/b"])
def test_a_bad_path_map_is_named(value):
    with pytest.raises(InvalidArgumentError, match=f"DATABUILD_DASK_PATH_MAP entry '{value}'"):
        parse_path_map(value)


def test_the_longest_local_directory_of_the_path_map_wins():
    pairs = parse_path_map("/srv=/opt, /srv/g/=/mnt/g")
    assert map_invocation(["/srv/g/job", "/srv/x", "/srvx", "rel"], {"P": "/srv/g:/srv"}, pairs) == (
        ["/mnt/g/job", "/opt/x", "/srvx", "rel"], {"P": "/mnt/g:/opt"})


def test_a_remote_jobs_log_arrives_while_it_runs_and_keeps_the_cap(tmp_path, cluster):
    body = ("print('first line', flush=True)\n"
            "while not os.path.exists(os.path.join(data, 'go')):\n    time.sleep(0.05)\n"
            "sys.stdout.write('x' * 100000)\n")
    b = Build(tmp_path, cluster.address, body)
    b.launcher.max_log_bytes = 1000
    out: list = []
    t = threading.Thread(target=lambda: out.append(b.run(["x/1"])))
    t.start()
    try:
        deadline = time.monotonic() + 60
        while not list((tmp_path / "logs").glob("*/*.log")):
            assert time.monotonic() < deadline and t.is_alive()
            time.sleep(0.05)
        (log,) = (tmp_path / "logs").glob("*/*.log")
        assert wait_for(log) == "first line\n"  # the job still runs: it waits for 'go'
    finally:
        (tmp_path / "go").write_text("")
        t.join(60)
    (result,) = out
    (run,) = b.runs(result)
    assert run.status == pb.JOB_RUN_STATUS_SUCCEEDED
    assert run.log_bytes_dropped == len("first line\n") + 100000 - 1000
    text = Path(run.log_path).read_text()
    assert text.startswith("first line\nxxx")
    assert text.endswith(f"\n[databuild: log capped at 1000 bytes; {run.log_bytes_dropped} bytes dropped]\n")
    assert len(text.split("\n[databuild")[0]) == 1000


def test_a_cancel_before_the_remote_job_said_where_it_runs_still_kills_it(tmp_path, cluster):
    b = Build(tmp_path, cluster.address, PID_THEN + "time.sleep(600)")
    out: list = []
    t = threading.Thread(target=lambda: out.append(b.run(["x/1"])))
    t.start()
    deadline = time.monotonic() + 60
    while not b.launcher.running:  # submitted; its worker is not known yet
        assert time.monotonic() < deadline and t.is_alive()
        time.sleep(0.001)
    b.executor.cancel("the test cancels it at once")
    t.join(60)
    (result,) = out
    (run,) = b.runs(result)
    assert run.status == pb.JOB_RUN_STATUS_CANCELLED, run.message
    for pid_file in tmp_path.glob("*.pid"):  # the job may have got as far as starting
        text = pid_file.read_text()
        assert not text or gone(int(text))
