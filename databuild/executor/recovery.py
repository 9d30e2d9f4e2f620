"""Closing builds whose executor process died (SIGKILL, crash, power loss).

Nothing of such a build is left "running": its unfinished job runs become failed,
partitions it had claimed but not produced go back to missing, and the build fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from typing import Callable

from databuild.procs import process_alive
from databuild.proto import databuild_pb2 as pb
from databuild.state import ACTIVE_BUILD_STATUSES, IN_FLIGHT_PARTITION_STATUSES, StateStore

UNFINISHED_RUN = (pb.JOB_RUN_STATUS_SCHEDULED, pb.JOB_RUN_STATUS_RUNNING)


def stop_orphan(run: pb.JobRunState, executor: str) -> None:
    """Kill the process group of ``run``'s job if it still runs on this host.

    Jobs start their own session, so pid == process group id; a pid reused by an
    unrelated process is not in a group of that id, and is left alone.
    """
    host = executor.rpartition(":")[0]
    if not run.pid or host != socket.gethostname() or not process_alive(run.pid):
        return
    with contextlib.suppress(ProcessLookupError):  # it may end between the check and the kill
        if os.getpgid(run.pid) == run.pid:
            os.killpg(run.pid, signal.SIGKILL)


def _unfinished_runs(store: StateStore, build: pb.BuildState) -> list[pb.JobRunState]:
    runs = (store.job_run(planned.job_run_id) for planned in build.job_graph.job_runs)
    return [run for run in runs if run is not None and run.status in UNFINISHED_RUN]


def stop_orphans(store: StateStore, build: pb.BuildState) -> None:
    """Kill the jobs of ``build`` still running on this host (orphans of its dead executor),
    so a retry never runs a second job for a partition next to the first."""
    for run in _unfinished_runs(store, build):
        stop_orphan(run, build.executor)


def close_dead_build(store: StateStore, build: pb.BuildState, why: str = "",
                     executor_lost: bool = True) -> list[pb.Event]:
    """Events that end ``build``, whose executor is gone (``why``: how, for the record); kills nothing.

    ``executor_lost``: its executor process died (a crash of the service, not a failure of
    the build), so the wants it served retry without using up an attempt.
    """
    why = why or f"executor {build.executor} exited without finishing the build"
    events = [pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
        job_run_id=run.job_run_id, build_id=build.build_id, job_label=run.job_label,
        status=pb.JOB_RUN_STATUS_FAILED, outputs=run.outputs, message=why)) for run in _unfinished_runs(store, build)]
    outputs = [ref for planned in build.job_graph.job_runs for ref in planned.config.outputs]
    for ref, p in store.partitions_by_ref(outputs).items():
        if p.status in IN_FLIGHT_PARTITION_STATUSES and p.build_id == build.build_id:
            events.append(pb.Event(partition_status_changed=pb.PartitionStatusChanged(
                ref=ref, status=pb.PARTITION_STATUS_MISSING, build_id=build.build_id, message=why)))
    events.append(pb.Event(build_status_changed=pb.BuildStatusChanged(
        build_id=build.build_id, status=pb.BUILD_STATUS_FAILED, message=why, executor_lost=executor_lost)))
    return events


def recover_abandoned_builds(store: StateStore, alive,
                             stop_remote: Callable[[list[str]], None] | None = None) -> list[str]:
    """Close every unfinished build whose executor ``alive(identity)`` says is gone, after
    killing its orphaned jobs (on this host; elsewhere through ``stop_remote(job_run_ids)``,
    e.g. on a Dask cluster); return their ids."""
    closed, events, after, remote = [], [], None, []
    while page := store.builds(ACTIVE_BUILD_STATUSES, after=after, limit=1000):
        for build in page:
            if not alive(build.executor):
                stop_orphans(store, build)
                remote += [run.job_run_id for run in _unfinished_runs(store, build)]
                events += close_dead_build(store, build)
                closed.append(build.build_id)
        after = page[-1].build_id
    if remote and stop_remote is not None:  # before the runs are closed: their retries come after
        stop_remote(remote)
    if events:
        store.log.append(events)
    return closed
