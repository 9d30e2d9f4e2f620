"""Executor decisions with fake jobs: in memory, no processes, no sleeps."""

from __future__ import annotations

import pytest

from databuild.events import MemoryEventLog
from databuild.executor import BuildExecutor, executor_identity
from databuild.graph import GraphSpec, JobSpec
from databuild.proto import databuild_pb2 as pb
from databuild.state import StateProjection, StateStore
from eventgen import partition_event
from fakes import FakeLauncher, FakeResolver, cfg, ids

A, F, M = pb.PARTITION_STATUS_AVAILABLE, pb.PARTITION_STATUS_FAILED, pb.PARTITION_STATUS_MISSING
GRAPH = GraphSpec("//g:g", (JobSpec("daily", "/bin/true", ("daily/*",)), JobSpec("weekly", "/bin/true", ("weekly/*",))))


def resolver():
    return FakeResolver(
        jobs={"daily": lambda r: cfg([r], [f"raw/{r.split('/')[1]}"]),
              "weekly": lambda r: cfg([r], [f"daily/{d}" for d in range(1, 6)])},
        produces={"daily": lambda r: r.startswith("daily/"), "weekly": lambda r: r.startswith("weekly/")},
    )


@pytest.fixture
def store():
    s = StateStore(MemoryEventLog([StateProjection()]))
    s.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
        refs=[f"raw/{d}" for d in range(1, 6)]))])
    return s


def executor(store, launcher, tmp_path, **kw):
    return BuildExecutor(GRAPH, store, launcher, str(tmp_path), resolver=kw.pop("resolver", resolver()),
                         new_id=ids(), poll_interval=0, **kw)


def statuses(store, refs):
    return [store.partition_statuses(refs)[r] for r in refs]


def run_statuses(store, build_id):
    events = store.log.list_events(0, limit=10_000).events
    out = {}
    for e in events:
        if e.HasField("job_run_status_changed") and e.job_run_status_changed.build_id == build_id:
            out[e.job_run_status_changed.job_run_id] = e.job_run_status_changed.status
    return out


def test_build_runs_in_dependency_order_within_parallelism(store, tmp_path):
    launcher = FakeLauncher()
    progress = []
    result = executor(store, launcher, tmp_path, parallelism=2, on_progress=lambda p: progress.append(
        (p.pending, p.running, p.succeeded))).run(["weekly/1"])
    assert result.ok, result.message
    assert launcher.started == ["daily"] * 5 + ["weekly"]
    assert launcher.max_concurrent == 2
    assert statuses(store, ["weekly/1", "daily/3"]) == [A, A]
    build = store.build(result.build_id)
    assert build.status == pb.BUILD_STATUS_COMPLETED and len(build.job_graph.job_runs) == 6
    assert set(run_statuses(store, result.build_id).values()) == {pb.JOB_RUN_STATUS_SUCCEEDED}
    assert progress[-1] == (0, 0, 6)
    assert all(p.endswith(".log") and result.build_id in p for p in launcher.log_paths.values())


def test_available_partitions_are_skipped(store, tmp_path):
    store.log.append([partition_event(f"daily/{d}") for d in (1, 2, 3)])
    launcher = FakeLauncher()
    result = executor(store, launcher, tmp_path).run(["weekly/1"])
    assert result.ok
    assert launcher.started == ["daily", "daily", "weekly"]


def test_first_failure_stops_new_runs(store, tmp_path):
    launcher = FakeLauncher(exit_codes={"daily": 3})
    result = executor(store, launcher, tmp_path, parallelism=1).run(["weekly/1"])
    assert result.status == pb.BUILD_STATUS_FAILED
    assert launcher.started == ["daily"]  # nothing started after the failure
    assert "exited with code 3" in result.message
    states = store.partitions_by_ref([f"daily/{d}" for d in range(1, 6)] + ["weekly/1"])
    assert sorted(p.status for p in states.values()) == sorted([F, M, M, M, M, M])
    runs = run_statuses(store, result.build_id)
    assert sorted(runs.values()) == sorted([pb.JOB_RUN_STATUS_FAILED] + [pb.JOB_RUN_STATUS_CANCELLED] * 5)
    assert store.build(result.build_id).message == result.message


def test_missing_external_inputs_refuse_the_build(tmp_path):
    store = StateStore(MemoryEventLog([StateProjection()]))
    store.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(refs=["raw/1"]))])
    launcher = FakeLauncher()
    result = executor(store, launcher, tmp_path).run(["daily/1", "daily/2", "daily/3"])
    assert result.status == pb.BUILD_STATUS_FAILED
    assert result.message == "external partitions not available: raw/2, raw/3"
    assert launcher.started == []


def test_planning_error_fails_the_build(store, tmp_path):
    result = executor(store, FakeLauncher(), tmp_path).run(["nope/1"])
    assert result.status == pb.BUILD_STATUS_FAILED and "no job in graph //g:g produces nope/1" in result.message
    assert store.build(result.build_id).status == pb.BUILD_STATUS_FAILED


def other_build_scheduled(store, refs, executor_id):
    store.log.append([
        pb.Event(build_requested=pb.BuildRequested(build_id="other", partitions=refs, executor=executor_id)),
        *[partition_event(r, pb.PARTITION_STATUS_SCHEDULED, build_id="other") for r in refs],
    ])


def test_delegates_to_an_in_flight_build(store, tmp_path):
    other_build_scheduled(store, ["daily/1", "daily/2"], executor_identity())

    def other_finishes(launcher):
        if store.partition("daily/1").status != A:
            store.log.append([partition_event(r, A, build_id="other") for r in ("daily/1", "daily/2")])

    launcher = FakeLauncher(on_wait=other_finishes)
    result = executor(store, launcher, tmp_path).run(["weekly/1"])
    assert result.ok, result.message
    assert launcher.started == ["daily"] * 3 + ["weekly"]  # daily/1 and daily/2 were not run again
    build = store.build(result.build_id)
    assert [(list(d.partitions), d.delegated_to_build_id) for d in build.delegations] == [
        (["daily/1"], "other"), (["daily/2"], "other")]


def test_delegated_failure_fails_the_build(store, tmp_path):
    other_build_scheduled(store, ["daily/1"], executor_identity())
    launcher = FakeLauncher(on_wait=lambda l: store.log.append([partition_event("daily/1", F, build_id="other")])
                            if store.partition("daily/1").status != F else None)
    result = executor(store, launcher, tmp_path).run(["weekly/1"])
    assert result.status == pb.BUILD_STATUS_FAILED
    assert "daily/1 was being built by build other, which did not produce it" in result.message


def test_dead_owner_is_not_delegated_to(store, tmp_path):
    other_build_scheduled(store, ["daily/1"], f"{executor_identity().rpartition(':')[0]}:999999999")
    launcher = FakeLauncher()
    result = executor(store, launcher, tmp_path).run(["daily/1"])
    assert result.ok and launcher.started == ["daily"]
    assert store.build("other").status == pb.BUILD_STATUS_FAILED
    assert "exited without finishing" in store.build("other").message


def test_cancel_terminates_running_jobs(store, tmp_path):
    launcher = FakeLauncher(hang={"daily"})
    ex = executor(store, launcher, tmp_path, parallelism=2, kill_grace=10)
    launcher.on_wait = lambda l: ex.cancel("SIGTERM") if l.running else None
    result = ex.run(["weekly/1"])
    assert result.status == pb.BUILD_STATUS_CANCELLED and result.message == "cancelled: SIGTERM"
    assert [force for _, force in launcher.terminated] == [False, False]
    runs = run_statuses(store, result.build_id)
    assert sorted(runs.values()).count(pb.JOB_RUN_STATUS_CANCELLED) == 6
    assert all(s in (M,) for s in statuses(store, [f"daily/{d}" for d in range(1, 6)]))
    assert store.build(result.build_id).cancel_requested


class StepClock:
    """Injected time that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("ignores_sigterm, signals", [(False, [False]), (True, [False, True])])
def test_a_run_past_its_timeout_is_stopped_and_fails(store, tmp_path, ignores_sigterm, signals):
    graph = GraphSpec("//g:g", (JobSpec("daily", "/bin/true", ("daily/*",), timeout_seconds=90),))
    clock = StepClock()
    launcher = FakeLauncher(hang={"daily"}, ignore_term={"daily"} if ignores_sigterm else (),
                            on_wait=lambda l: setattr(clock, "now", clock.now + 30))  # each wait takes 30 s
    result = BuildExecutor(graph, store, launcher, str(tmp_path), resolver=resolver(), new_id=ids(),
                           kill_grace=60, clock=clock).run(["daily/1"])
    assert result.status == pb.BUILD_STATUS_FAILED
    assert [force for _, force in launcher.terminated] == signals  # SIGTERM at 90 s, SIGKILL 60 s later
    (run,) = result.plan.runs
    message = store.job_run(run.job_run_id).message
    assert store.job_run(run.job_run_id).status == pb.JOB_RUN_STATUS_FAILED
    assert message.startswith("timed out after 1m30s; log: ") and message in result.message
    assert statuses(store, ["daily/1"]) == [F]


def test_a_run_within_its_timeout_is_left_alone(store, tmp_path):
    graph = GraphSpec("//g:g", (JobSpec("daily", "/bin/true", ("daily/*",), timeout_seconds=90),))
    clock = StepClock()
    launcher = FakeLauncher(on_wait=lambda l: setattr(clock, "now", clock.now + 60))
    result = BuildExecutor(graph, store, launcher, str(tmp_path), resolver=resolver(), new_id=ids(),
                           clock=clock).run(["daily/1"])
    assert result.ok and launcher.terminated == []  # it ended 60 s in, before its 90 s


def test_dead_owner_claims_are_released_and_its_runs_failed(store, tmp_path):
    dead = f"{executor_identity().rpartition(':')[0]}:999999999"
    other_build_scheduled(store, ["daily/1"], dead)
    store.log.append([
        pb.Event(job_graph_recorded=pb.JobGraphRecorded(build_id="other", job_graph=pb.JobGraph(job_runs=[
            pb.PlannedJobRun(job_run_id="ghost", job_label="daily", config=cfg(["daily/1"]))]))),
        pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
            job_run_id="ghost", build_id="other", job_label="daily", status=pb.JOB_RUN_STATUS_RUNNING)),
    ])
    result = executor(store, FakeLauncher(), tmp_path).run(["daily/1"])
    assert result.ok
    assert store.job_run("ghost").status == pb.JOB_RUN_STATUS_FAILED
    assert "exited without finishing" in store.job_run("ghost").message


def test_a_dead_owner_is_closed_as_lost_and_its_orphans_stopped_once_across_claim_retries(
        store, tmp_path, monkeypatch):
    import databuild.executor.build as build_module

    dead = f"{executor_identity().rpartition(':')[0]}:999999999"
    other_build_scheduled(store, ["daily/1"], dead)
    stopped = []
    monkeypatch.setattr(build_module, "stop_orphans", lambda store, build: stopped.append(build.build_id))
    real_latest, stale = store.log.latest_index, iter(range(3))
    # The first three claims read a log that moves on before they append: each conflicts.
    monkeypatch.setattr(store.log, "latest_index", lambda: real_latest() - (next(stale, None) is not None))
    assert executor(store, FakeLauncher(), tmp_path).run(["daily/1"]).ok
    assert stopped == ["other"]
    other = store.build("other")
    assert other.status == pb.BUILD_STATUS_FAILED and other.executor_lost


def test_recover_abandoned_builds_leaves_nothing_running(store):
    from databuild.executor import recover_abandoned_builds

    other_build_scheduled(store, ["daily/1", "daily/2"], "somehost:42")
    store.log.append([
        pb.Event(job_graph_recorded=pb.JobGraphRecorded(build_id="other", job_graph=pb.JobGraph(job_runs=[
            pb.PlannedJobRun(job_run_id="r1", job_label="daily", config=cfg(["daily/1", "daily/2"]))]))),
        pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
            job_run_id="r1", build_id="other", job_label="daily", status=pb.JOB_RUN_STATUS_RUNNING)),
        partition_event("daily/2", A, build_id="other"),
    ])
    assert recover_abandoned_builds(store, alive=lambda identity: identity != "somehost:42") == ["other"]
    assert store.build("other").status == pb.BUILD_STATUS_FAILED and store.build("other").executor_lost
    assert store.job_run("r1").status == pb.JOB_RUN_STATUS_FAILED
    assert statuses(store, ["daily/1", "daily/2"]) == [M, A]  # produced partitions stay available
    assert recover_abandoned_builds(store, alive=lambda identity: False) == []  # nothing left to close


def test_stop_orphan_kills_only_a_job_process_group_on_this_host():
    import socket
    import subprocess

    from databuild.executor.recovery import stop_orphan

    here = f"{socket.gethostname()}:1"
    job = subprocess.Popen(["sleep", "30"], start_new_session=True)  # as the launcher starts jobs
    unrelated = subprocess.Popen(["sleep", "30"])  # a reused pid: not a group leader
    try:
        stop_orphan(pb.JobRunState(pid=unrelated.pid), here)
        stop_orphan(pb.JobRunState(pid=job.pid), "other-host:1")
        assert unrelated.poll() is None and job.poll() is None
        stop_orphan(pb.JobRunState(pid=job.pid), here)
        assert job.wait(5) == -9
    finally:
        for p in (job, unrelated):
            p.kill()
            p.wait()
