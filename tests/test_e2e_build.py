"""End to end: `bazel build` a graph, then drive the generated .build binary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from databuild.procs import process_alive

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graph_binary() -> Path:
    subprocess.run(["bazel", "build", "--noshow_progress", "//tests/e2e:chaos_graph"], cwd=ROOT, check=True,
                   capture_output=True)
    binary = ROOT / "bazel-bin" / "tests" / "e2e" / "chaos_graph.build"
    assert os.access(binary, os.X_OK)
    return binary


class Graph:
    """Runs the binary from a clean environment, as a user's shell would."""

    def __init__(self, binary: Path, tmp: Path) -> None:
        self.binary, self.data = binary, tmp / "data"
        # The daemon a command starts inherits this environment: one attempt per want,
        # so failures end at once (tests that retry say so).
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "DATABUILD_STATE_DIR": str(tmp / "state"),
                    "DATABUILD_DATA_DIR": str(self.data), "DATABUILD_MAX_ATTEMPTS": "1"}

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), *args], env=self.env, cwd="/", capture_output=True, text=True,
                              timeout=timeout)

    def json(self, *args: str) -> dict:
        done = self.run("--json", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(self.binary), *args], env=self.env, cwd="/", stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def served(self, proc: subprocess.Popen) -> dict:
        """The record a foreground ``serve`` writes once it listens (its URL, pid and token)."""
        record = Path(self.env["DATABUILD_STATE_DIR"]) / "daemon.json"
        deadline = time.monotonic() + 30
        while not record.exists() or json.loads(record.read_text())["pid"] != proc.pid:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        return json.loads(record.read_text())

    def runs(self) -> list[str]:
        log = self.data / "runs.log"
        return log.read_text().splitlines() if log.exists() else []

    def status(self, ref: str) -> str:
        return self.json("partitions", "show", ref)["partition"]["status"]

    def job_pid(self, timeout: float = 30) -> int:
        """The pid the one running chaos job wrote: "building" is recorded once the job was
        spawned, which may be before its interpreter got as far as writing it."""
        deadline = time.monotonic() + timeout
        while True:
            written = [p.read_text() for p in (self.data / "pids").glob("*")] if (self.data / "pids").exists() else []
            if len(written) == 1 and written[0].strip():
                return int(written[0])
            assert time.monotonic() < deadline, f"no job wrote its pid: {written}"
            time.sleep(0.05)

    def wait_for(self, ref: str, status: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.status(ref) != status:
            assert time.monotonic() < deadline, f"{ref} never became {status}"
            time.sleep(0.1)


@pytest.fixture(params=["sqlite", "postgres"])
def g(graph_binary, tmp_path, request) -> Graph:
    """The graph on each event log backend: the default SQLite file in its state dir, and
    a database of the session's throwaway PostgreSQL cluster (``DATABUILD_BEL``)."""
    graph = Graph(graph_binary, tmp_path)
    if request.param == "postgres":
        graph.env["DATABUILD_BEL"] = request.getfixturevalue("pg_database")()
    yield graph
    graph.env.pop("DATABUILD_SERVICE", None)
    graph.run("daemon", "stop")  # commands start the daemon on first use
    if request.param == "postgres":  # everything went to the database: no SQLite log was made
        assert not (tmp_path / "state" / "bel.sqlite3").exists()


def test_build_succeeds_with_fan_in_and_external_leaf(g):
    assert g.run("daemon", "status").returncode == 1
    expired = g.run("build", "fan/x", "--ttl", "3s")
    assert expired.returncode == 1 and "expired" in expired.stdout, expired.stdout + expired.stderr
    assert "waiting for external inputs of its plan: ext/x" in expired.stderr
    assert g.runs() == []  # nothing ran while the external input was missing
    assert g.run("daemon", "status").returncode == 0  # the first command started the daemon
    assert g.run("partitions", "mark-available", "ext/x").returncode == 0
    done = g.run("build", "fan/x", "ok/x-1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "satisfied by build" in done.stdout and "4/4 done" in done.stderr
    listed = g.json("partitions", "list", "--status", "available")["partitions"]
    assert sorted(p["ref"] for p in listed) == ["ext/x", "fan/x", "ok/x-1", "ok/x-2", "slow/0"]
    assert len(g.runs()) == 4  # ok/x-1 asked for twice, built once
    again = g.run("build", "fan/x")
    assert again.returncode == 0 and "satisfied" in again.stdout and len(g.runs()) == 4  # not rebuilt
    (build,) = g.json("builds", "list")["builds"]
    shown = g.json("builds", "show", build["build_id"])
    assert shown["build"]["status"] == "completed" and len(shown["job_runs"]) == 4
    wants = g.json("want", "list")["wants"]
    assert [w["status"] for w in wants] == ["expired", "satisfied", "satisfied"]
    assert {w["source"]["type"] for w in wants} == {"cli"}


def test_job_failure_exits_1_and_keeps_the_log(g):
    done = g.run("build", "fail/1")
    assert done.returncode == 1
    assert "failed" in done.stdout and "//tests/e2e:fail" in done.stdout and "exited with code 3" in done.stdout
    build_id = g.json("builds", "list")["builds"][0]["build_id"]
    (run,) = g.json("builds", "show", build_id)["job_runs"]
    assert run["status"] == "failed" and run["exit_code"] == 3
    log = g.run("logs", run["job_run_id"])
    assert log.returncode == 0 and "cannot build fail/1: the data is broken" in log.stdout
    assert g.status("fail/1") == "failed"


def test_bad_job_output_names_the_job(g):
    done = g.run("build", "garbage/1")
    assert done.returncode == 1
    assert "//tests/e2e:garbage" in done.stdout and "invalid JSON" in done.stdout
    assert "this is not JSON" in done.stdout


def test_cycle_shows_the_chain(g):
    done = g.run("build", "cycle/a")
    assert done.returncode == 1 and "cycle/a needs cycle/b needs cycle/a" in done.stdout
    analyzed = g.run("analyze", "cycle/a")
    assert analyzed.returncode == 2 and "cycle/a needs cycle/b needs cycle/a" in analyzed.stderr


def test_bad_input_exits_2_naming_the_value(g):
    bad_ref = g.run("build", "has space")
    assert bad_ref.returncode == 2 and "'has space'" in bad_ref.stderr
    unknown = g.run("logs", "no-such-run")
    assert unknown.returncode == 2 and "'no-such-run'" in unknown.stderr
    producible = g.run("partitions", "mark-available", "ok/1")
    assert producible.returncode == 2 and "ok/1" in producible.stderr
    no_producer = g.run("analyze", "nothing/1")
    assert no_producer.returncode == 2 and "no job in graph //tests/e2e:chaos_graph produces nothing/1" in no_producer.stderr


def test_concurrent_builds_delegate_instead_of_running_twice(g):
    first = g.start("build", "slow/2")
    g.wait_for("slow/2", "building")
    second = g.run("build", "slow/2", "ok/d")
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert second.returncode == 0, second.stdout + second.stderr
    assert [line.split()[1] for line in g.runs()].count("slow/2") == 1
    build_id = second.stdout.split()[-1]  # "want ID satisfied by build BUILD_ID"
    delegations = g.json("builds", "show", build_id)["build"]["delegations"]
    assert delegations[0]["partitions"] == ["slow/2"]


def test_sigterm_leaves_the_want_and_want_cancel_stops_its_jobs(g):
    proc = g.start("build", "slow/60")
    g.wait_for("slow/60", "building")
    job_pid = g.job_pid()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "is still building" in err, out + err
    (want,) = g.json("want", "list", "--status", "building")["wants"]
    os.kill(job_pid, 0)  # the job goes on: only following stopped
    cancelled = g.run("want", "cancel", want["want_id"], "--reason", "changed my mind")
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    deadline = time.monotonic() + 30
    while g.json("builds", "list")["builds"][0]["status"] != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with pytest.raises(ProcessLookupError):
        os.kill(job_pid, 0)
    build = g.json("builds", "list")["builds"][0]
    assert build["status"] == "cancelled" and build["cancel_requested"]
    (run,) = g.json("builds", "show", build["build_id"])["job_runs"]
    assert run["status"] == "cancelled"
    assert g.status("slow/60") == "missing"


def test_serve_answers_http_and_sees_cli_writes(g):
    import requests

    assert g.run("--local", "partitions", "mark-available", "ext/served").returncode == 0
    server = g.start("serve", "--port", "0", "--token", "t0k")
    try:
        url = g.served(server)["url"]
        health = requests.get(f"{url}/api/v1/health", timeout=10).json()
        assert health["graph_label"] == "//tests/e2e:chaos_graph" and health["latest_event_index"] == 1
        shown = requests.get(f"{url}/api/v1/partitions/ext/served").json()
        assert shown["partition"]["status"] == "available"
        denied = requests.post(f"{url}/api/v1/partitions:mark-available", json={"refs": ["ext/other"]})
        assert denied.status_code == 401
    finally:
        server.terminate()
        server.communicate(timeout=30)
    refused = g.run("serve", "--host", "0.0.0.0")
    assert refused.returncode == 2 and "requires --token" in refused.stderr


def test_local_mode_builds_without_a_daemon(g):
    done = g.run("--local", "build", "ok/local")
    assert done.returncode == 0 and "satisfied" in done.stdout, done.stdout + done.stderr
    assert g.run("daemon", "status").returncode == 1
    assert g.run("--local", "--json", "partitions", "show", "ok/local").returncode == 0


def test_build_through_the_service_flag_and_cancel_it(g):
    assert g.run("daemon", "start").returncode == 0
    record = json.loads((Path(g.env["DATABUILD_STATE_DIR"]) / "daemon.json").read_text())
    g.env.update(DATABUILD_SERVICE=record["url"], DATABUILD_TOKEN=record["token"])
    try:
        done = g.run("build", "ok/remote", "slow/0")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "satisfied" in done.stdout and "2/2 done" in done.stderr
        assert g.status("ok/remote") == "available"
        proc = g.start("build", "slow/60")
        g.wait_for("slow/60", "building")
        build_id = g.json("builds", "list")["builds"][0]["build_id"]
        assert g.run("builds", "cancel", build_id).returncode == 0
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1 and "failed" in out, out + err  # one attempt, and it was cancelled
        assert g.status("slow/60") == "missing"
    finally:
        del g.env["DATABUILD_SERVICE"], g.env["DATABUILD_TOKEN"]


def test_daemon_killed_mid_build_restarts_consistent_and_the_want_completes(g):
    g.env.update(DATABUILD_MAX_ATTEMPTS="3", DATABUILD_RETRY_BACKOFF="1s")
    proc = g.start("build", "slow/8")
    g.wait_for("slow/8", "building")
    state = Path(g.env["DATABUILD_STATE_DIR"])
    daemon_pid = json.loads((state / "daemon.json").read_text())["pid"]
    before = g.json("partitions", "show", "slow/8")["history"]
    (want,) = g.json("want", "list")["wants"]
    killed_build = g.json("builds", "list")["builds"][0]["build_id"]
    os.kill(daemon_pid, signal.SIGKILL)
    proc.kill()
    proc.communicate(timeout=30)
    orphan = g.job_pid()
    os.kill(orphan, 0)  # the killed daemon's job runs on, orphaned
    build = g.json("builds", "show", killed_build)["build"]  # starts a new daemon, which recovers
    deadline = time.monotonic() + 2
    while process_alive(orphan):  # recovery killed it (it would run 8 s; it started seconds ago)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert json.loads((state / "daemon.json").read_text())["pid"] != daemon_pid
    assert build["status"] == "failed" and "exited without finishing" in build["message"]
    (run,) = g.json("builds", "show", killed_build)["job_runs"]
    assert run["status"] == "failed"
    after = g.json("partitions", "show", "slow/8")
    assert after["history"][: len(before)] == before  # nothing recorded before the kill was lost
    # The want survived and is retried by the new daemon until its partition exists.
    followed = g.run("want", "status", want["want_id"])
    assert followed.returncode == 0
    deadline = time.monotonic() + 60
    while (shown := g.json("want", "status", want["want_id"]))["status"] != "satisfied":
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    # The crash was not the want's failure: the attempt it used was given back.
    assert shown["attempts"] == 1 and shown["last_error"] == "" and shown["build_id"] != killed_build
    timeline = g.json("want", "status", want["want_id"])["timeline"]
    assert any("lost with its executor" in e.get("want_status_changed", {}).get("message", "") for e in timeline)
    assert g.status("slow/8") == "available"


def test_foreground_serve_without_token_makes_one(g):
    import requests

    server = subprocess.Popen([str(g.binary), "serve", "--port", "0"], env=g.env, cwd="/",
                              stderr=subprocess.PIPE, text=True)
    try:
        lines = [server.stderr.readline(), server.stderr.readline()]  # a new log's notice, then the token
        line = next(line for line in lines if line.startswith("token for mutating requests: "))
        token = line.split(": ", 1)[1].strip()
        url = f"{g.served(server)['url']}/api/v1/partitions:mark-available"
        assert requests.post(url, json={"refs": ["ext/t"]}).status_code == 401
        assert requests.post(url, json={"refs": ["ext/t"]},
                             headers={"Authorization": f"Bearer {token}"}).status_code == 201
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_want_commands_wait_release_sla_and_bad_input(g):
    created = g.run("want", "create", "fan/y", "--sla", "1h", "--data-timestamp", "2020-01-01",
                    "--comment", "for the e2e test")
    assert created.returncode == 0, created.stderr
    want_id = created.stdout.strip()
    deadline = time.monotonic() + 30
    while (status := g.run("want", "status", want_id)).stdout.splitlines()[0] != f"want {want_id}: waiting":
        assert time.monotonic() < deadline, status.stdout
        time.sleep(0.1)
    assert "ext/y (no upstream declares it" in status.stdout and "VIOLATED" in status.stdout
    violated = g.json("want", "list", "--sla-violated")["wants"]
    assert [w["want_id"] for w in violated] == [want_id]
    assert g.runs() == []
    assert g.run("partitions", "mark-available", "ext/y").returncode == 0  # releases it: the build runs
    while g.json("want", "status", "fan/y")["status"] != "satisfied":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert g.status("fan/y") == "available" and len(g.runs()) == 4
    cancel_done = g.run("want", "cancel", want_id)
    assert cancel_done.returncode == 2 and "already satisfied" in cancel_done.stderr

    for args, fragment in [(("want", "create", "ok/1", "--ttl", "5x"), "'5x'"),
                           (("want", "create", "ok/1", "--ttl", "0s"), "got 0"),
                           (("want", "create", "ok/1", "--sla", "-1h"), "'-1h'"),
                           (("want", "create", "ok/1", "--data-timestamp", "yesterday"), "'yesterday'"),
                           (("want", "create", "bad ref"), "'bad ref'"),
                           (("want", "list", "--status", "sleeping"), "sleeping"),
                           (("want", "status", "nope/nothing"), "'nope/nothing'"),
                           (("want", "cancel", "0190ae3c-0000-7000-8000-000000000000"), "0190ae3c")]:
        done = g.run(*args)
        assert done.returncode == 2 and fragment in done.stderr, (args, done.stderr)
    assert len(g.json("want", "list")["wants"]) == 1  # nothing recorded by the bad commands
