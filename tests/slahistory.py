"""Recorded history for SLA prediction tests: the events of past builds and landings,
appended at the times an injected clock says."""

from __future__ import annotations

from typing import Callable, Sequence

from databuild.proto import databuild_pb2 as pb

S = 1_000_000


def build_events(build_id: str, runs: Sequence[tuple[str, str, Sequence[str], Sequence[str]]],
                 refs: Sequence[str]) -> list[pb.Event]:
    """``build_requested`` and ``job_graph_recorded`` of a build of ``refs`` with ``runs``
    (job run id, job label, outputs, input refs)."""
    graph = pb.JobGraph(requested_partitions=refs, job_runs=[
        pb.PlannedJobRun(job_run_id=i, job_label=label, config=pb.JobConfig(
            outputs=outs, inputs=[pb.DataDep(ref=r) for r in ins])) for i, label, outs, ins in runs])
    return [pb.Event(build_requested=pb.BuildRequested(build_id=build_id, partitions=refs)),
            pb.Event(job_graph_recorded=pb.JobGraphRecorded(build_id=build_id, job_graph=graph))]


def run_event(build_id: str, run_id: str, label: str, status: int) -> pb.Event:
    return pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
        job_run_id=run_id, build_id=build_id, job_label=label, status=status))


def record_build(append: Callable[[list[pb.Event]], object], clock, build_id: str, label: str,
                 refs: Sequence[str], seconds: int) -> None:
    """A past one-job build of ``refs`` by ``label`` taking ``seconds`` (the clock moves on)."""
    run_id = f"{build_id}-run"
    append(build_events(build_id, [(run_id, label, refs, ())], refs))
    append([run_event(build_id, run_id, label, pb.JOB_RUN_STATUS_RUNNING)])
    clock.us += seconds * S
    append([run_event(build_id, run_id, label, pb.JOB_RUN_STATUS_SUCCEEDED),
            pb.Event(build_status_changed=pb.BuildStatusChanged(build_id=build_id,
                                                                status=pb.BUILD_STATUS_COMPLETED))])
