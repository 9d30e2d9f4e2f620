"""Wants through the service with ``--executor dask://...``: real HTTP, a real SQLite log,
a real local Dask cluster (tests/dask_support.py) and real job processes on its workers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from databuild.errors import InvalidArgumentError, UnavailableError
from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.service.client import ServiceClient
from databuild.service.serve import ServiceOptions, start_service
from databuild.wants import Policy
from dask_support import cluster, free_port  # noqa: F401
from test_launcher import gone
from test_service_http import TOKEN, serving
from test_wants_service import create, open_store, wait_for

pytestmark = pytest.mark.slow

# One run per ref. Each exec records its worker (its parent process) in $DIR/workers and its
# pid in $DIR/pids/<ref>. daily/*: prints, sleeps 1 s, prints. lost/*: the first attempt
# sleeps until killed; a later one succeeds.
JOB = """#!/bin/sh
if [ "$1" = config ]; then
  shift; printf '{"configs": ['; sep=
  for r in "$@"; do printf '%s{"outputs": ["%s"], "args": ["%s"]}' "$sep" "$r" "$r"; sep=,; done
  printf ']}\\n'; exit 0
fi
name=$(echo "$2" | tr / _)
echo "$PPID" >> "$DIR/workers"
mkdir -p "$DIR/pids"; echo $$ > "$DIR/pids/$name"
case "$2" in
  daily/*) echo "start $2"; sleep 1; echo "done $2";;
  lost/*) if [ ! -e "$DIR/$name.tried" ]; then touch "$DIR/$name.tried"; echo "first try"
            sleep 600 & echo $! > "$DIR/pids/$name.child"; wait; fi
          echo "second try";;
esac
exit 0
"""


@pytest.fixture
def graph(tmp_path, monkeypatch):
    job = tmp_path / "job.sh"
    job.write_text(JOB)
    job.chmod(0o755)
    monkeypatch.setenv("DIR", str(tmp_path))
    return GraphSpec("//g:d", (JobSpec("//g:job", str(job), ("daily/*", "lost/*")),))


@pytest.fixture
def live(tmp_path, graph, cluster):
    store = open_store(tmp_path)
    service = DataBuildService(graph, store, str(tmp_path / "logs"), executor=cluster.uri,
                               policy=Policy(max_attempts=2, backoff_initial_s=0.2))
    service.start_evaluator()
    with serving(service) as url:
        yield ServiceClient(url, TOKEN), url, store
    service.close()
    store.close()


def test_a_multi_job_build_spreads_over_the_workers_and_its_logs_arrive(live, tmp_path, cluster):
    client, url, store = live
    refs = [f"daily/{i}" for i in range(6)]
    want = wait_for(client, create(url, partitions=refs)["want_id"], pb.WANT_STATUS_SATISFIED, timeout=60)
    assert want.attempts == 1
    assert len(set((tmp_path / "workers").read_text().split())) > 1
    runs = store.job_runs_of("//g:job", limit=10)
    assert sorted(r.outputs[0] for r in runs) == refs
    addresses = cluster.worker_addresses()
    assert {r.worker for r in runs} <= set(addresses) and len({r.worker for r in runs}) > 1
    for run in runs:
        ref = run.outputs[0]
        assert run.status == pb.JOB_RUN_STATUS_SUCCEEDED
        assert Path(run.log_path).read_text() == f"start {ref}\ndone {ref}\n"


def test_a_killed_worker_fails_its_run_with_worker_lost_and_the_want_is_retried(live, tmp_path, cluster):
    client, url, store = live
    wid = create(url, partitions=["lost/1"])["want_id"]
    deadline = time.monotonic() + 60
    child = tmp_path / "pids" / "lost_1.child"
    while not child.exists() or not child.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker_pid = int((tmp_path / "workers").read_text().split()[0])
    (address,) = [a for a, pid in cluster.worker_addresses().items() if pid == worker_pid]
    os.kill(worker_pid, signal.SIGKILL)
    want = wait_for(client, wid, pb.WANT_STATUS_SATISFIED, timeout=60)
    assert want.attempts == 2
    first, second = sorted(store.job_runs_of("//g:job", limit=10), key=lambda r: r.scheduled_at.ToNanoseconds())
    assert first.status == pb.JOB_RUN_STATUS_FAILED and first.message == f"worker lost: {address}", first.message
    assert first.worker == address and second.worker and second.worker != address
    assert second.status == pb.JOB_RUN_STATUS_SUCCEEDED
    assert Path(second.log_path).read_text() == "second try\n"
    workers = (tmp_path / "workers").read_text().split()
    assert len(workers) == 2 and workers[0] != workers[1]  # retried on another worker process
    assert gone(int((tmp_path / "pids" / "lost_1.child").read_text()))  # nothing of the lost attempt is left
    cluster.wait_ready(3)


def test_a_bad_executor_uri_is_named(tmp_path, graph):
    store = open_store(tmp_path)
    try:
        with pytest.raises(InvalidArgumentError, match="'dask://nowhere'"):
            DataBuildService(graph, store, str(tmp_path / "logs"), executor="dask://nowhere")
    finally:
        store.close()


def test_a_bad_path_map_fails_the_start_naming_it(tmp_path, graph, monkeypatch):
    monkeypatch.setenv("DATABUILD_DASK_PATH_MAP", "/srv/g=opt/g")
    store = open_store(tmp_path)
    try:
        with pytest.raises(InvalidArgumentError, match="DATABUILD_DASK_PATH_MAP entry '/srv/g=opt/g'"):
            DataBuildService(graph, store, str(tmp_path / "logs"), executor="dask://127.0.0.1:8786")
    finally:
        store.close()


def test_an_unreachable_scheduler_fails_the_start_naming_it(tmp_path, graph):
    store = open_store(tmp_path)
    port = free_port()
    try:
        with pytest.raises(UnavailableError, match=f"tcp://127.0.0.1:{port}"):
            start_service(graph, store, tmp_path / "logs", ServiceOptions(executor=f"dask://127.0.0.1:{port}"))
    finally:
        store.close()


@pytest.mark.parametrize("how", ["option", "env"])
def test_the_cli_refuses_a_bad_executor_naming_it(how):
    import subprocess
    import sys

    args, env = [], dict(os.environ)
    if how == "option":
        args = ["--executor", "dask://nowhere"]
    else:
        env["DATABUILD_EXECUTOR"] = "dask://nowhere"
    done = subprocess.run([sys.executable, "-m", "databuild.cli", *args, "status"], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 2
    assert "'dask://nowhere' is not dask://HOST:PORT" in done.stderr


def test_the_graphs_executor_is_the_default_and_local_overrides_it(tmp_path, graph, cluster):
    on_dask = GraphSpec(graph.label, graph.jobs, executor=cluster.uri)
    store = open_store(tmp_path)
    try:
        for executor, ref in ((None, "daily/1"), ("local", "daily/2")):
            service = DataBuildService(on_dask, store, str(tmp_path / "logs"), executor=executor)
            service.start_evaluator()
            with serving(service) as url:
                client = ServiceClient(url, TOKEN)
                wait_for(client, create(url, partitions=[ref])["want_id"], pb.WANT_STATUS_SATISFIED, timeout=60)
            service.close()
        first, second = (int(p) for p in (tmp_path / "workers").read_text().split())
        assert first in cluster.worker_addresses().values()  # the graph's Dask cluster
        assert second == os.getpid()  # local: a child of this process
    finally:
        store.close()


def test_serve_with_an_unreachable_scheduler_exits_naming_it(tmp_path):
    import json
    import subprocess
    import sys

    manifest = tmp_path / "graph.manifest.json"
    manifest.write_text(json.dumps({"version": 1, "label": "//g:g", "lookup": None,
                                    "jobs": [{"label": "//g:a", "executable": "/bin/true", "outputs": ["a/*"]}]}))
    port = free_port()
    done = subprocess.run([sys.executable, "-m", "databuild.cli", "--state-dir", str(tmp_path / "state"),
                           "--executor", f"dask://127.0.0.1:{port}", "serve", "--port", "0"],
                          capture_output=True, text=True, env={**os.environ, "DATABUILD_GRAPH_MANIFEST": str(manifest)},
                          timeout=60)
    assert done.returncode == 3, done.stderr
    assert f"Dask scheduler tcp://127.0.0.1:{port} is unreachable" in done.stderr


class Serve:
    """``databuild serve --executor dask://...`` as its own process on one state directory
    (SQLite log), so that it can be SIGKILLed and started again on the same log."""

    def __init__(self, tmp_path: Path, uri: str) -> None:
        import json

        job = tmp_path / "job.sh"  # the graph fixture's script
        manifest = tmp_path / "graph.manifest.json"
        manifest.write_text(json.dumps({"version": 1, "label": "//g:d", "lookup": None, "jobs": [
            {"label": "//g:job", "executable": str(job), "outputs": ["daily/*", "lost/*"]}]}))
        self.state, self.uri = tmp_path / "state", uri
        self.env = {**os.environ, "DATABUILD_GRAPH_MANIFEST": str(manifest), "DATABUILD_TOKEN": TOKEN,
                    "DATABUILD_MAX_ATTEMPTS": "1", "DATABUILD_RETRY_BACKOFF": "1s"}
        self.proc = None
        self.url = ""

    def start(self) -> "Serve":
        import json
        import subprocess
        import sys

        self.proc = subprocess.Popen([sys.executable, "-m", "databuild.cli", "--state-dir", str(self.state),
                                      "--executor", self.uri, "serve", "--port", "0"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        record = self.state / "daemon.json"
        deadline = time.monotonic() + 60
        while not (record.exists() and json.loads(record.read_text())["pid"] == self.proc.pid):
            assert self.proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        self.url = json.loads(record.read_text())["url"]
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(30)


def test_a_killed_service_leaves_no_remote_job_and_its_restart_builds_the_want_again(tmp_path, graph, cluster):
    serve = Serve(tmp_path, cluster.uri).start()
    try:
        client = ServiceClient(serve.url, TOKEN)
        wid = create(serve.url, partitions=["lost/restart"])["want_id"]
        deadline = time.monotonic() + 60
        child = tmp_path / "pids" / "lost_restart.child"
        while not child.exists() or not child.read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        job, sleeper = int((tmp_path / "pids" / "lost_restart").read_text()), int(child.read_text())
        worker_pid = int((tmp_path / "workers").read_text().split()[0])
        assert worker_pid in cluster.worker_addresses().values()  # the job runs on a Dask worker
        serve.kill()  # SIGKILL: no clean-up of its own
        assert gone(job) and gone(sleeper)  # the remote job and what it started, killed on the worker
        serve.start()  # the same log: recovery closes the dead process's build
        client = ServiceClient(serve.url, TOKEN)
        want = wait_for(client, wid, pb.WANT_STATUS_SATISFIED, timeout=60)
        assert want.attempts == 1  # a crash of the service is no failed attempt (DATABUILD_MAX_ATTEMPTS=1)
        runs = sorted(client.list_job_runs(pb.ListJobRunsRequest(job_label="//g:job")).job_runs,
                      key=lambda r: r.scheduled_at.ToNanoseconds())
        first, second = runs
        assert first.status == pb.JOB_RUN_STATUS_FAILED and "exited without finishing" in first.message
        killed = client.build(pb.GetBuildRequest(build_id=first.build_id)).build
        assert killed.status == pb.BUILD_STATUS_FAILED and killed.executor_lost
        assert second.status == pb.JOB_RUN_STATUS_SUCCEEDED and second.worker in cluster.worker_addresses()
        assert Path(second.log_path).read_text() == "second try\n"
        from distributed import Client, Variable

        with Client(cluster.address, set_as_default=False) as dask:  # recovery left nothing of the run there
            with pytest.raises(TimeoutError):
                Variable(f"databuild-started-{first.job_run_id}", client=dask).get(timeout=0)
    finally:
        serve.kill()
