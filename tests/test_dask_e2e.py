"""End to end on a Dask cluster: the Bazel-built chaos graph (tests/e2e) served by its
real ``chaos_graph.build serve``, with ``DATABUILD_EXECUTOR=dask://...`` naming the real
local cluster of tests/dask_support.py (a scheduler and three one-thread workers). Each
job run is a task on a worker; everything is observed over HTTP, on the job processes
(their pids, written by tests/e2e/chaos_job.py) and on the worker processes.

One served graph and one cluster for the whole module; the tests run in order and the
last ones change the cluster (a worker killed and replaced, the scheduler restarted).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from dask_support import cluster  # noqa: F401  (the module's cluster)
from served_graph import DataGraph, bearer, build_binaries, served_graphs
from test_launcher import gone

pytestmark = pytest.mark.slow
WAIT_S = 60


class DaskChaos(DataGraph):
    """The chaos graph served with its job runs on the Dask cluster at ``uri``."""

    uri = ""

    def serve_options(self) -> tuple[list[str], dict[str, str]]:
        # Three job runs at once per build (the default is the service host's cores), a
        # second attempt one second after a failed one.
        return [], {"DATABUILD_EXECUTOR": self.uri, "DATABUILD_PARALLELISM": "3", "DATABUILD_MAX_ATTEMPTS": "2",
                    "DATABUILD_RETRY_BACKOFF": "1s"}

    def release(self, name: str) -> None:
        """Let the ``drip/<name>`` jobs finish."""
        (self.data / "release").mkdir(parents=True, exist_ok=True)
        (self.data / "release" / name).write_text("")

    def want(self, *refs: str) -> str:
        return self.post("wants", {"partitions": list(refs)})["want_id"]

    def until(self, what: str, probe):
        """``probe()``'s first true answer, asked until WAIT_S has passed."""
        deadline = time.monotonic() + WAIT_S
        while not (answer := probe()):
            assert time.monotonic() < deadline, f"never: {what}"
            time.sleep(0.1)
        return answer

    def want_status(self, want_id: str, status: str) -> dict:
        return self.until(f"want {want_id} {status}",
                          lambda: (w := self.get(f"wants/{want_id}"))["status"] == status and w)

    def runs_of(self, want_id: str) -> list[dict]:
        """The job runs of the want's current build (none before it has one)."""
        build_id = self.get(f"wants/{want_id}").get("build_id")
        return self.get(f"builds/{build_id}")["job_runs"] if build_id else []

    def running(self, want_id: str, n: int = 1) -> list[dict]:
        """The want's ``n`` running job runs, once each job wrote its pid."""
        def probe():
            runs = [r for r in self.runs_of(want_id) if r["status"] == "running"]
            return len(runs) == n and all(self.job_pid(r["job_run_id"]) for r in runs) and runs
        return self.until(f"{n} running job runs of want {want_id}", probe)

    def job_pid(self, job_run_id: str) -> int:
        path = self.data / "pids" / job_run_id
        text = path.read_text().strip() if path.exists() else ""
        return int(text) if text else 0

    def job_run(self, job_run_id: str) -> dict:
        return self.get(f"job-runs/{job_run_id}")["job_run"]

    def log(self, job_run_id: str) -> str:
        r = requests.get(f"{self.url}/api/v1/job-runs/{job_run_id}/logs", headers=bearer(self.token), timeout=30)
        assert r.status_code == 200, r.text
        return r.text

    def delete(self, path: str) -> dict:
        r = requests.delete(f"{self.url}/api/v1/{path}", json={"reason": "the test"}, headers=bearer(self.token),
                            timeout=30)
        assert r.status_code == 200, r.text
        return r.json()


def worker_of(pid: int, workers: dict[str, int]) -> str:
    """The address of the Dask worker whose process ``pid`` descends from."""
    by_pid = {p: a for a, p in workers.items()}
    while pid not in by_pid:
        assert pid > 1, f"no Dask worker among the ancestors of the job ({workers})"
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    return by_pid[pid]


@pytest.fixture(scope="module")
def chaos(cluster, tmp_path_factory):  # noqa: F811
    binaries = build_binaries("tests/e2e", ["chaos_graph"])
    DaskChaos.uri = cluster.uri
    with served_graphs(DaskChaos, binaries, tmp_path_factory.mktemp("served")) as make:
        yield make("chaos_graph").start()


def test_a_multi_job_want_spreads_over_the_workers_and_logs_arrive_over_http_while_it_runs(chaos, cluster):
    want = chaos.want("drip/s1", "drip/s2", "drip/s3")
    runs = chaos.running(want, 3)  # three at once on three one-thread workers: one each
    workers = cluster.worker_addresses()
    assert len({worker_of(chaos.job_pid(r["job_run_id"]), workers) for r in runs}) == 3
    for run in runs:  # the log of a job still running on its worker, read over HTTP
        chaos.until("60 lines and a tick", lambda: "line 59\ntick 1\n" in chaos.log(run["job_run_id"]))
    for name in ("s1", "s2", "s3"):
        chaos.release(name)
    assert chaos.want_status(want, "satisfied")["attempts"] == 1
    for run in runs:
        done = chaos.job_run(run["job_run_id"])
        assert done["status"] == "succeeded" and done["worker"] in workers
        log = chaos.log(run["job_run_id"])
        assert log.startswith(f"running {done['outputs'][0]}\nline 0\n") and log.endswith("released\n")
    assert len({chaos.job_run(r["job_run_id"])["worker"] for r in runs}) == 3
    assert all(chaos.partition(f"drip/{n}") == "available" for n in ("s1", "s2", "s3"))


def test_cancelling_the_build_kills_the_remote_job(chaos):
    want = chaos.want("slow/600")
    (run,) = chaos.running(want)
    pid = chaos.job_pid(run["job_run_id"])
    chaos.delete(f"builds/{run['build_id']}")
    assert gone(pid)
    chaos.until("the run cancelled", lambda: chaos.job_run(run["job_run_id"])["status"] == "cancelled")
    chaos.delete(f"wants/{want}")


def test_a_job_past_its_timeout_on_a_remote_worker_is_killed_with_its_child(chaos, cluster):
    want = chaos.want("hang/600")  # databuild_job(timeout = "2s")
    (run,) = chaos.running(want)
    rid = run["job_run_id"]
    child = chaos.until("the child's pid", lambda: (p := chaos.data / "pids" / f"{rid}.child").exists()
                        and p.read_text().strip() and int(p.read_text()))
    assert worker_of(chaos.job_pid(rid), cluster.worker_addresses())  # it runs on a worker
    failed = chaos.until("the run timed out", lambda: (r := chaos.job_run(rid))["status"] == "failed" and r)
    assert failed["message"].startswith("timed out after 2s"), failed["message"]
    assert failed["worker"] in cluster.worker_addresses()
    assert gone(chaos.job_pid(rid)) and gone(child)
    chaos.delete(f"wants/{want}")  # no second attempt


def test_the_executor_flag_sends_a_local_mode_build_to_the_cluster(chaos, cluster, tmp_path):
    # --executor (global, before the command) on the same binary, with a state directory of its own.
    env = {**chaos.env, "DATABUILD_STATE_DIR": str(tmp_path / "state")}
    run = [str(chaos.binary), "--executor", cluster.uri, "--local"]
    done = subprocess.run([*run, "build", "ok/flag"], env=env, cwd="/", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "satisfied" in done.stdout, done.stdout + done.stderr
    shown = subprocess.run([*run, "--json", "partitions", "show", "ok/flag"], env=env, cwd="/", capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    produced_by = json.loads(shown.stdout)["produced_by"]
    assert produced_by["status"] == "succeeded" and produced_by["worker"] in cluster.worker_addresses()


def test_a_sigkilled_service_leaves_no_remote_job_and_its_restart_builds_the_want(chaos, cluster):
    want = chaos.want("drip/crash")
    (run,) = chaos.running(want)
    pid = chaos.job_pid(run["job_run_id"])
    worker_of(pid, cluster.worker_addresses())
    chaos.stop(signal.SIGKILL)
    assert gone(pid)  # its worker killed it: nobody waits for its task any more
    chaos.release("crash")
    chaos.start()  # on the same log: the new leader closes the dead process's build
    satisfied = chaos.want_status(want, "satisfied")
    assert satisfied["attempts"] == 1 and satisfied["build_id"] != run["build_id"]  # a crash is no attempt
    first = chaos.job_run(run["job_run_id"])
    assert first["status"] == "failed" and "exited without finishing" in first["message"]
    killed = chaos.get(f"builds/{run['build_id']}")["build"]
    assert killed["status"] == "failed" and killed["executor_lost"]
    (again,) = chaos.runs_of(want)
    assert again["status"] == "succeeded" and again["worker"] in cluster.worker_addresses()


def test_a_sigkilled_worker_fails_its_run_with_worker_lost_and_the_retry_is_satisfied(chaos, cluster):
    want = chaos.want("drip/lost")
    (run,) = chaos.running(want)
    pid = chaos.job_pid(run["job_run_id"])
    workers = cluster.worker_addresses()
    address = worker_of(pid, workers)
    os.kill(workers[address], signal.SIGKILL)
    lost = chaos.until("the run failed", lambda: (r := chaos.job_run(run["job_run_id"]))["status"] == "failed" and r)
    assert lost["message"] == f"worker lost: {address}" and lost["worker"] == address
    assert gone(pid)
    (retry,) = chaos.running(want)  # the second attempt, on a worker still alive
    assert worker_of(chaos.job_pid(retry["job_run_id"]), cluster.worker_addresses()) != address
    chaos.release("lost")
    assert chaos.want_status(want, "satisfied")["attempts"] == 2
    done = chaos.job_run(retry["job_run_id"])
    assert done["status"] == "succeeded" and done["worker"] != address
    cluster.start_worker()  # back to three workers for the next test
    cluster.wait_ready(3)


def test_builds_after_the_scheduler_restarted_run_on_the_new_cluster(chaos, cluster):
    before = chaos.want("ok/before-restart")
    chaos.want_status(before, "satisfied")
    old = set(cluster.worker_addresses())
    cluster.restart_scheduler()  # the same address; new worker processes
    after = chaos.want("ok/after-restart")
    assert chaos.want_status(after, "satisfied")["attempts"] == 1
    (run,) = chaos.runs_of(after)
    assert run["worker"] in cluster.worker_addresses() and run["worker"] not in old
    assert chaos.log(run["job_run_id"]) == "running ok/after-restart\n"
