"""`build` against a service: start the build there, follow it through the event feed."""

from __future__ import annotations

import signal

from databuild.executor import BuildResult, Progress
from databuild.proto import databuild_pb2 as pb
from databuild.state import TERMINAL_BUILD_STATUSES

_BUCKET = {
    pb.JOB_RUN_STATUS_SCHEDULED: "pending", pb.JOB_RUN_STATUS_RUNNING: "running",
    pb.JOB_RUN_STATUS_SUCCEEDED: "succeeded", pb.JOB_RUN_STATUS_SKIPPED: "skipped",
    pb.JOB_RUN_STATUS_FAILED: "failed", pb.JOB_RUN_STATUS_CANCELLED: "failed",
}


class Interrupted(Exception):
    """SIGINT or SIGTERM while following a remote build."""


def _interrupt(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def progress_of(detail: pb.BuildDetailResponse) -> Progress:
    """Counts of the build's job runs; planned runs with no state yet count as pending."""
    p = Progress(detail.build.build_id, total=len(detail.build.job_graph.job_runs), status=detail.build.status)
    for run in detail.job_runs:
        bucket = _BUCKET.get(run.status, "pending")
        setattr(p, bucket, getattr(p, bucket) + 1)
    p.pending += p.total - len(detail.job_runs)
    return p


def follow_remote_build(service, refs: list[str], parallelism: int | None, on_progress) -> BuildResult:
    """Start the build on ``service`` and report progress until it ends; a signal cancels it."""
    started = service.start_build(pb.StartBuildRequest(partitions=refs, parallelism=parallelism or 0))
    build_id = started.build_id
    feed = pb.ListEventsRequest(types=["build_status_changed", "job_run_status_changed"], wait_seconds=5, limit=1000)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    cancelled = False
    while True:
        try:
            detail = service.build(build_id)
            on_progress(progress_of(detail))
            if detail.build.status in TERMINAL_BUILD_STATUSES:
                return BuildResult(build_id, detail.build.status, detail.build.message,
                                   failed_runs=[r.job_run_id for r in detail.job_runs
                                                if r.status == pb.JOB_RUN_STATUS_FAILED])
            feed.since = service.events(feed).next
        except Interrupted as e:
            if not cancelled:
                service.cancel_build(build_id, f"cancelled: {e}")
                cancelled = True
