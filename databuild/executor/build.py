"""The executor: runs a build's job graph and records every transition in the BEL.

Semantics (docs/builds.md): bounded parallelism; partitions already available are
skipped; partitions another live build has scheduled are not built twice (the
build records a delegation and waits for them); a build whose external inputs are
missing does not start; on the first failure no new run starts; only a run that
exited 0 makes its outputs available. Claims are made with a conditional append, so
two processes planning overlapping builds at once cannot both claim a partition.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from databuild.errors import AppendConflictError, EventLogBusyError
from databuild.executor.launcher import Launcher
from databuild.executor.recorder import Channel, Recorder
from databuild.executor.recovery import close_dead_build, stop_orphans
from databuild.graph import GraphSpec
from databuild.planner import GraphResolver, Plan, PlannedRun, PlanningError, Resolver, plan
from databuild.procs import process_alive
from databuild.progress import Progress
from databuild.proto import databuild_pb2 as pb
from databuild.state import IN_FLIGHT_PARTITION_STATUSES as IN_FLIGHT
from databuild.state import TERMINAL_BUILD_STATUSES as TERMINAL_BUILD
from databuild.state import StateStore
from databuild.timespec import format_duration

AVAILABLE = pb.PARTITION_STATUS_AVAILABLE


def executor_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def executor_alive(identity: str) -> bool:
    """False only when the executor ran on this host and its process is gone."""
    host, _, pid = identity.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return process_alive(int(pid))


@dataclass
class BuildResult:
    build_id: str
    status: int
    message: str = ""
    plan: Plan | None = None
    failed_runs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == pb.BUILD_STATUS_COMPLETED


class BuildFinished(Exception):
    """Internal: ends a build early with a status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _ev(**payload) -> pb.Event:
    return pb.Event(**payload)


def requested_event(graph_label: str, build_id: str, refs: Iterable[str], want_ids: Iterable[str] = ()) -> pb.Event:
    """The ``build_requested`` event of a build this process runs."""
    return _ev(build_requested=pb.BuildRequested(build_id=build_id, partitions=list(refs), want_ids=list(want_ids),
                                                 graph_label=graph_label, executor=executor_identity()))


class BuildExecutor:
    """Plans and runs builds of one graph against one state store."""

    def __init__(
        self,
        graph: GraphSpec,
        store: StateStore,
        launcher: Launcher,
        log_dir: str,
        parallelism: int | None = None,
        resolver: Resolver | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        poll_interval: float = 0.05,
        kill_grace: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        recorder: Recorder | None = None,
    ) -> None:
        """``recorder``: where the builds' progress events are appended (the service shares
        one between its builds); by default each build has one of its own, closed as it ends."""
        self.graph, self.store, self.log, self.launcher = graph, store, store.log, launcher
        self.recorder = recorder
        self.log_dir = log_dir
        self.parallelism = max(1, parallelism or os.cpu_count() or 1)
        self.resolver = resolver or GraphResolver(graph)
        self.on_progress = on_progress or (lambda p: None)
        self.new_id, self.poll_interval, self.kill_grace = new_id, poll_interval, kill_grace
        self.clock = clock
        self._cancel_reason: str | None = None

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the running build: safe to call from a signal handler."""
        self._cancel_reason = reason
        self.launcher.wake()

    def run(self, refs: Iterable[str], want_ids: Iterable[str] = (), build_id: str | None = None,
            requested: bool = False, planned: Plan | None = None) -> BuildResult:
        """Plan and execute a build of ``refs``; return how it ended.

        ``requested``: the caller already appended ``requested_event(...)`` for it (e.g.
        with the wants that ride on the build, in one transaction). ``planned``: a plan
        the caller just made for ``refs`` (claims still check every partition's status).
        """
        build_id = build_id or self.new_id()
        refs = list(refs)
        planning = _ev(build_status_changed=pb.BuildStatusChanged(build_id=build_id, status=pb.BUILD_STATUS_PLANNING))
        self.log.append([planning] if requested else [
            requested_event(self.graph.label, build_id, refs, want_ids), planning])
        recorder = self.recorder or Recorder(self.log.append)
        try:
            run = _Run(self, build_id, recorder.channel())
            try:
                run.plan = planned or plan(self.graph.label, refs, self.resolver, self.store.partition_statuses,
                                           self.new_id)
                self.log.append([_ev(job_graph_recorded=pb.JobGraphRecorded(build_id=build_id,
                                                                           job_graph=run.plan.job_graph()))])
                run.check_external()
                run.claim()
                run.execute()
                status, message = pb.BUILD_STATUS_COMPLETED, ""
            except PlanningError as e:
                status, message = pb.BUILD_STATUS_FAILED, str(e)
            except BuildFinished as e:
                status, message = e.status, e.message
            run.finish(status, message)
        finally:
            if recorder is not self.recorder:
                recorder.close()  # after a failure too: what was handed over is appended, its thread ends
        return BuildResult(build_id, status, message, run.plan, run.failed_runs)


class _RunStates:
    """Each job run's state, with counts and a ready queue kept incrementally.

    A run is ready when it is pending, every run it depends on succeeded or was
    skipped, and ``eligible`` (this build owns outputs of it, no delegation pending)
    holds; readiness is updated when a dependency finishes, never by rescanning.
    """

    DONE = ("succeeded", "skipped")

    def __init__(self) -> None:
        self.state: dict[str, str] = {}
        self.counts: dict[str, int] = dict.fromkeys(
            ("pending", "running", "succeeded", "failed", "skipped", "cancelled"), 0)
        self.remaining: dict[str, int] = {}
        self.dependents: dict[str, list[str]] = {}
        self.ready: deque[str] = deque()

    def reset(self, deps: Mapping[str, frozenset[str]]) -> None:
        """Forget every state (a claim is retried from scratch) and load the dependencies."""
        self.state.clear()
        self.counts = dict.fromkeys(self.counts, 0)
        self.remaining, self.dependents, self.ready = {}, {}, deque()
        for rid, ups in deps.items():
            self.remaining[rid] = len(ups)
            for up in ups:
                self.dependents.setdefault(up, []).append(rid)

    def set(self, rid: str, state: str, eligible: Callable[[str], bool] = lambda rid: False) -> None:
        old = self.state.get(rid)
        if old is not None:
            self.counts[old] -= 1
        self.state[rid] = state
        self.counts[state] += 1
        if state in self.DONE:
            for down in self.dependents.get(rid, ()):
                self.remaining[down] -= 1
                self.offer(down, eligible)

    def offer(self, rid: str, eligible: Callable[[str], bool]) -> None:
        """Queue ``rid`` if it can start now."""
        if self.state.get(rid) == "pending" and self.remaining[rid] == 0 and eligible(rid):
            self.ready.append(rid)

    def take_ready(self, slots: int) -> list[str]:
        out = []
        while self.ready and len(out) < slots:
            rid = self.ready.popleft()
            if self.state[rid] == "pending":
                out.append(rid)
        return out

    def with_state(self, state: str) -> list[str]:
        return [rid for rid, s in self.state.items() if s == state]


class _Run:
    """Mutable execution state of one build."""

    def __init__(self, executor: BuildExecutor, build_id: str, recording: Channel) -> None:
        self.x = executor
        self.build_id = build_id
        self.recording = recording
        self.plan: Plan | None = None
        self.mine: dict[str, list[str]] = {}  # job_run_id -> outputs this build claimed
        self.waits_on: dict[str, set[str]] = {}  # job_run_id -> refs other builds produce for it
        self.runs = _RunStates()
        self.failed_runs: list[str] = []
        self.failure: str | None = None
        self.progress = Progress(build_id)
        # Running runs with a deadline -> when to signal them next: at their job's timeout
        # (or when cancelled) SIGTERM, once ``kill_grace`` later SIGKILL.
        self.stop_at: dict[str, float] = {}
        self.terminated: set[str] = set()  # SIGTERM sent
        self.timed_out: set[str] = set()
        self._events: list[pb.Event] = []

    # -- planning-time checks --------------------------------------------

    def check_external(self) -> None:
        statuses = self.x.store.partition_statuses(self.plan.external)
        missing = [ref for ref in self.plan.external if statuses[ref] != AVAILABLE]
        if missing:
            raise BuildFinished(pb.BUILD_STATUS_FAILED, "external partitions not available: " + ", ".join(missing))

    def claim(self) -> None:
        """Mark this build's outputs scheduled, delegating those another live build has.

        Builds whose executor died are closed in the claim; their orphaned jobs are killed
        once, before the first append that closes them (not on every retry of the claim).
        """
        stopped: set[str] = set()
        for _ in range(1000):
            latest = self.x.log.latest_index()
            events, dead = self._claim_events()
            for build in dead:
                if build.build_id not in stopped:
                    stop_orphans(self.x.store, build)
                    stopped.add(build.build_id)
            try:
                self.x.log.append(events, expect_latest=latest)
                return
            except AppendConflictError:
                continue  # someone appended meanwhile: decide again from fresh state
        raise EventLogBusyError("could not claim partitions: the event log kept changing for 1000 attempts")

    def _claim_events(self) -> tuple[list[pb.Event], list[pb.BuildState]]:
        """The claim's events, and the builds they close because their executor died."""
        outputs = [ref for run in self.plan.runs for ref in run.config.outputs]
        parts = self.x.store.partitions_by_ref(outputs)
        owners = {p.build_id for p in parts.values() if p.status in IN_FLIGHT and p.build_id != self.build_id}
        live, dead = self._live_owners(owners)
        events = [e for build in dead for e in close_dead_build(self.x.store, build)]
        self.mine, self.waits_on = {}, {}
        self.runs.reset(self.plan.deps)
        for run in self.plan.runs:
            mine, delegated = [], {}
            for ref in run.config.outputs:
                p = parts.get(ref)
                if p is not None and p.status == AVAILABLE:
                    continue
                if p is not None and p.status in IN_FLIGHT and p.build_id in live:
                    delegated.setdefault((p.build_id, p.job_run_id), []).append(ref)
                else:
                    mine.append(ref)
            events += self._claim_run(run, mine, delegated)
        events.append(_ev(build_status_changed=pb.BuildStatusChanged(
            build_id=self.build_id, status=pb.BUILD_STATUS_EXECUTING)))
        return events, dead

    def _live_owners(self, owners: set[str]) -> tuple[set[str], list[pb.BuildState]]:
        """Of ``owners``, the ids of builds really still running, and the unfinished builds whose executor died."""
        live, dead = set(), []
        for build_id in sorted(owners):
            build = self.x.store.build(build_id)
            if build is None or build.status in TERMINAL_BUILD:
                continue
            if executor_alive(build.executor):
                live.add(build_id)
            else:
                dead.append(build)
        return live, dead

    def _claim_run(self, run: PlannedRun, mine: list[str], delegated: dict) -> list[pb.Event]:
        rid = run.job_run_id
        if not mine and not delegated:
            self.runs.set(rid, "skipped")
            return [self._run_event(run, pb.JOB_RUN_STATUS_SKIPPED, message="outputs already available")]
        self.runs.set(rid, "pending")
        events = []
        for (owner, owner_run), refs in delegated.items():
            self.waits_on.setdefault(rid, set()).update(refs)
            events.append(_ev(delegation_recorded=pb.DelegationRecorded(
                build_id=self.build_id, partitions=refs, delegated_to_build_id=owner,
                delegated_to_job_run_id=owner_run)))
        if mine:
            self.mine[rid] = mine
            events.append(self._run_event(run, pb.JOB_RUN_STATUS_SCHEDULED, config=run.config))
            events += self._partition_events(run, mine, pb.PARTITION_STATUS_SCHEDULED)
        return events

    # -- execution ---------------------------------------------------------

    def execute(self) -> None:
        runs = {r.job_run_id: r for r in self.plan.runs}
        self._mark_initially_ready()
        self._report()
        while True:
            if self.x._cancel_reason is not None:
                self._cancel(runs)
            started = [] if self.failure else [
                runs[rid] for rid in self.runs.take_ready(self.x.parallelism - self.runs.counts["running"])]
            running_events = {}
            for run in started:
                self.runs.set(run.job_run_id, "running")
                running_events[run.job_run_id] = self._run_event(run, pb.JOB_RUN_STATUS_RUNNING,
                                                                 log_path=self._log_path(run))
                self._events.append(running_events[run.job_run_id])
                self._events += self._partition_events(run, self.mine[run.job_run_id], pb.PARTITION_STATUS_BUILDING)
            for run in started:
                self._spawn(run, running_events[run.job_run_id])
            if started:
                # A new child starts on this thread's CPU and would wait for the write below
                # (measured: a job's start-up delayed by all of it); yielding lets it run first.
                os.sched_yield()
            # Handed over after spawning: the runs were already claimed (scheduled), and only
            # their exit makes outputs available; the recorder's thread commits meanwhile.
            self._flush()
            if not self.runs.counts["running"] and not (self.waits_on and not self.failure):
                break
            self._wait(runs, self.x.poll_interval if self.waits_on else None)
            if self.waits_on:
                self._check_delegations(runs)
            self._report()
        self._flush()
        if self.failure:
            raise BuildFinished(pb.BUILD_STATUS_FAILED, self.failure)

    def _eligible(self, rid: str) -> bool:
        return rid in self.mine and not self.waits_on.get(rid)

    def _mark_initially_ready(self) -> None:
        _private_dirs(self.x.log_dir, os.path.join(self.x.log_dir, self.build_id))
        for run in self.plan.runs:
            self.runs.offer(run.job_run_id, self._eligible)

    def _spawn(self, run: PlannedRun, running: pb.Event) -> None:
        """Start the job; its pid goes into the (not yet flushed) RUNNING event, so a
        later recovery can stop it if this process dies."""
        try:
            pid = self.x.launcher.start(run, self._log_path(run))
            if pid:
                running.job_run_status_changed.pid = pid
        except OSError as e:
            self._finished(run, None, f"could not start {run.job_label}: {e}")
            return
        timeout = self.x.graph.job(run.job_label).timeout_seconds
        if timeout:
            self.stop_at[run.job_run_id] = self.x.clock() + timeout

    def _wait(self, runs: dict[str, PlannedRun], timeout: float | None) -> None:
        """Wait until a run ends, ``timeout`` passes or a run is due to be signalled;
        signal the runs that are due (SIGTERM at their deadline, SIGKILL ``kill_grace`` later)."""
        if self.stop_at:
            due = max(0.0, min(self.stop_at.values()) - self.x.clock())
            timeout = due if timeout is None else min(timeout, due)
        for ended in self.x.launcher.wait(timeout):
            self._finished(runs[ended.job_run_id], ended.exit_code, ended.error,
                           log_bytes_dropped=ended.log_bytes_dropped, worker=ended.worker)
        now = self.x.clock()
        for rid, at in list(self.stop_at.items()):
            if at > now:
                continue
            if rid in self.terminated:
                self.x.launcher.terminate(rid, force=True)
                del self.stop_at[rid]
            else:
                self.timed_out.add(rid)
                self._terminate(rid, now)

    def _terminate(self, rid: str, now: float) -> None:
        self.x.launcher.terminate(rid)
        self.terminated.add(rid)
        self.stop_at[rid] = now + self.x.kill_grace

    def _finished(self, run: PlannedRun, code: int | None, error: str = "", log_bytes_dropped: int = 0,
                  worker: str = "") -> None:
        rid = run.job_run_id
        self.stop_at.pop(rid, None)
        self.terminated.discard(rid)
        timed_out = rid in self.timed_out
        if code == 0 and not timed_out:
            self.runs.set(rid, "succeeded", self._eligible)
            self._events.append(self._run_event(run, pb.JOB_RUN_STATUS_SUCCEEDED, exit_code=0,
                                                log_bytes_dropped=log_bytes_dropped, worker=worker))
            self._events += self._partition_events(run, self.mine[rid], AVAILABLE)
            return
        cancelled = self.x._cancel_reason is not None and not timed_out
        self.runs.set(rid, "cancelled" if cancelled else "failed")
        if timed_out:
            limit = format_duration(self.x.graph.job(run.job_label).timeout_seconds)
            error = f"timed out after {limit}; log: {self._log_path(run)}"
        message = error or (f"cancelled: {self.x._cancel_reason}" if cancelled else self._exit_message(run, code))
        status = pb.JOB_RUN_STATUS_CANCELLED if cancelled else pb.JOB_RUN_STATUS_FAILED
        self._events.append(self._run_event(run, status, exit_code=code or 0, message=message,
                                            log_bytes_dropped=log_bytes_dropped, worker=worker))
        parts = pb.PARTITION_STATUS_MISSING if cancelled else pb.PARTITION_STATUS_FAILED
        self._events += self._partition_events(run, self.mine[rid], parts, message)
        if not cancelled:
            self.failed_runs.append(rid)
            self.failure = self.failure or f"job run {rid} of {run.job_label} failed: {message}"

    def _exit_message(self, run: PlannedRun, code: int | None) -> str:
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        return f"{how}; log: {self._log_path(run)}"

    def _check_delegations(self, runs: dict[str, PlannedRun]) -> None:
        refs = sorted({r for refs in self.waits_on.values() for r in refs})
        parts = self.x.store.partitions_by_ref(refs)
        for rid, waiting in list(self.waits_on.items()):
            for ref in list(waiting):
                p = parts.get(ref)
                if p is not None and p.status == AVAILABLE:
                    waiting.discard(ref)
                elif p is None or p.status not in IN_FLIGHT or not self._owner_running(p.build_id):
                    self.failure = self.failure or (
                        f"{ref} was being built by build {p.build_id if p else '?'}, which did not produce it")
                    waiting.clear()
            if not waiting:
                del self.waits_on[rid]
                if rid in self.mine:
                    self.runs.offer(rid, self._eligible)
                elif self.runs.state[rid] == "pending":
                    self.runs.set(rid, "skipped" if not self.failure else "cancelled", self._eligible)
                    if not self.failure:
                        self._events.append(self._run_event(runs[rid], pb.JOB_RUN_STATUS_SKIPPED,
                                                            message="built by another build (delegated)"))

    def _owner_running(self, build_id: str) -> bool:
        build = self.x.store.build(build_id)
        return build is not None and build.status not in TERMINAL_BUILD and executor_alive(build.executor)

    def _cancel(self, runs: dict[str, PlannedRun]) -> None:
        reason = self.x._cancel_reason
        self._events.append(_ev(cancellation_requested=pb.CancellationRequested(build_id=self.build_id, reason=reason)))
        now = self.x.clock()
        for rid in self.runs.with_state("running"):
            if rid not in self.terminated:
                self._terminate(rid, now)
        while self.runs.counts["running"]:
            self._wait(runs, None)
        self._flush()
        raise BuildFinished(pb.BUILD_STATUS_CANCELLED, f"cancelled: {reason}")

    # -- ending ------------------------------------------------------------

    def finish(self, status: int, message: str) -> None:
        """Record the build's end; runs that never started give their partitions back."""
        if self.plan is not None:
            for run in self.plan.runs:
                rid = run.job_run_id
                if self.runs.state.get(rid) == "pending" and rid in self.mine:
                    self.runs.set(rid, "cancelled")
                    why = "not started: build " + ("cancelled" if status == pb.BUILD_STATUS_CANCELLED else "failed")
                    self._events.append(self._run_event(run, pb.JOB_RUN_STATUS_CANCELLED, message=why))
                    self._events += self._partition_events(run, self.mine[rid], pb.PARTITION_STATUS_MISSING, why)
        self._events.append(_ev(build_status_changed=pb.BuildStatusChanged(
            build_id=self.build_id, status=status, message=message)))
        self._flush()
        self.recording.wait()  # the build has ended once its end is in the log
        self.progress.status = status
        self._report()

    # -- helpers -------------------------------------------------------------

    def _flush(self) -> None:
        if self._events:
            self.recording.record(self._events)
            self._events = []

    def _report(self) -> None:
        counts = self.runs.counts
        p = self.progress
        p.total = len(self.runs.state)
        p.pending, p.running, p.succeeded = counts["pending"], counts["running"], counts["succeeded"]
        p.failed, p.skipped = counts["failed"] + counts["cancelled"], counts["skipped"]
        self.x.on_progress(p)

    def _log_path(self, run: PlannedRun) -> str:
        return os.path.join(self.x.log_dir, self.build_id, f"{run.job_run_id}.log")

    def _run_event(self, run: PlannedRun, status: int, **fields) -> pb.Event:
        return _ev(job_run_status_changed=pb.JobRunStatusChanged(
            job_run_id=run.job_run_id, build_id=self.build_id, job_label=run.job_label, status=status,
            outputs=run.config.outputs, **fields))

    def _partition_events(self, run: PlannedRun, refs: list[str], status: int, message: str = "") -> list[pb.Event]:
        return [_ev(partition_status_changed=pb.PartitionStatusChanged(
            ref=ref, status=status, build_id=self.build_id, job_run_id=run.job_run_id, message=message))
            for ref in refs]


def _private_dirs(*paths: str) -> None:
    """Create each directory if needed, readable by its owner only (job logs may hold secrets)."""
    for path in paths:
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)  # also a directory made before logs were private, or with a loose umask
