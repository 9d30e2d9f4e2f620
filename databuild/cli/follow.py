"""Following a want to its end through the service's event feed, with live progress."""

from __future__ import annotations

import signal
from typing import Callable

from databuild.executor import Progress
from databuild.proto import databuild_pb2 as pb
from databuild.state import ACTIVE_WANT_STATUSES

_BUCKET = {
    pb.JOB_RUN_STATUS_SCHEDULED: "pending", pb.JOB_RUN_STATUS_RUNNING: "running",
    pb.JOB_RUN_STATUS_SUCCEEDED: "succeeded", pb.JOB_RUN_STATUS_SKIPPED: "skipped",
    pb.JOB_RUN_STATUS_FAILED: "failed", pb.JOB_RUN_STATUS_CANCELLED: "failed",
}


class Interrupted(Exception):
    """SIGINT or SIGTERM while following."""


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


def follow_want(service, want_id: str, on_progress: Callable[[Progress], None],
                on_status: Callable[[pb.WantState], None] = lambda w: None) -> tuple[pb.WantState, bool]:
    """Report the want's build progress until it ends; return its last state and
    whether following was interrupted by a signal (the want is left active then)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    last_status = None
    try:
        want = service.want(pb.GetWantRequest(want_id=want_id)).want
        # Only what happens from now on can move the want: never page the feed from its start.
        feed = pb.ListEventsRequest(since=want.last_event_index, wait_seconds=5, limit=1000)
        while True:
            if (want.status, want.message) != last_status:
                last_status = (want.status, want.message)
                on_status(want)
            if want.build_id and (want.status == pb.WANT_STATUS_BUILDING or want.status not in ACTIVE_WANT_STATUSES):
                on_progress(progress_of(service.build(pb.GetBuildRequest(build_id=want.build_id))))
            if want.status not in ACTIVE_WANT_STATUSES:
                return want, False
            feed.since = service.events(feed).next
            want = service.want(pb.GetWantRequest(want_id=want_id)).want
    except Interrupted:
        return service.want(pb.GetWantRequest(want_id=want_id)).want, True
