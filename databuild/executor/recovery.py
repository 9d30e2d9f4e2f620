"""Closing builds whose executor process died (SIGKILL, crash, power loss).

Nothing of such a build is left "running": its unfinished job runs become failed,
partitions it had claimed but not produced go back to missing, and the build fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket

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


def close_dead_build(store: StateStore, build: pb.BuildState, why: str = "") -> list[pb.Event]:
    """Events that end ``build``, whose executor is gone (``why``: how, for the record).

    Its jobs still running on this host (orphans of a killed executor) are killed, so a
    retry never runs a second job for a partition next to the first.
    """
    why = why or f"executor {build.executor} exited without finishing the build"
    events = []
    for planned in build.job_graph.job_runs:
        run = store.job_run(planned.job_run_id)
        if run is None or run.status not in UNFINISHED_RUN:
            continue
        stop_orphan(run, build.executor)
        events.append(pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
            job_run_id=run.job_run_id, build_id=build.build_id, job_label=run.job_label,
            status=pb.JOB_RUN_STATUS_FAILED, outputs=run.outputs, message=why)))
    outputs = [ref for planned in build.job_graph.job_runs for ref in planned.config.outputs]
    for ref, p in store.partitions_by_ref(outputs).items():
        if p.status in IN_FLIGHT_PARTITION_STATUSES and p.build_id == build.build_id:
            events.append(pb.Event(partition_status_changed=pb.PartitionStatusChanged(
                ref=ref, status=pb.PARTITION_STATUS_MISSING, build_id=build.build_id, message=why)))
    events.append(pb.Event(build_status_changed=pb.BuildStatusChanged(
        build_id=build.build_id, status=pb.BUILD_STATUS_FAILED, message=why)))
    return events


def recover_abandoned_builds(store: StateStore, alive) -> list[str]:
    """Close every unfinished build whose executor ``alive(identity)`` says is gone; return their ids."""
    closed, events = [], []
    for build in store.builds(ACTIVE_BUILD_STATUSES, limit=10_000):
        if not alive(build.executor):
            events += close_dead_build(store, build)
            closed.append(build.build_id)
    if events:
        store.log.append(events)
    return closed
