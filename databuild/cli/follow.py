"""Following a want to its end through the service's event feed, with live progress."""

from __future__ import annotations

import signal
from collections import Counter
from typing import Callable


from databuild.progress import Progress
from databuild.proto import databuild_pb2 as pb
from databuild.statuses import ACTIVE_WANT_STATUSES

_BUCKET = {
    pb.JOB_RUN_STATUS_SCHEDULED: "pending", pb.JOB_RUN_STATUS_RUNNING: "running",
    pb.JOB_RUN_STATUS_SUCCEEDED: "succeeded", pb.JOB_RUN_STATUS_SKIPPED: "skipped",
    pb.JOB_RUN_STATUS_FAILED: "failed", pb.JOB_RUN_STATUS_CANCELLED: "failed",
}


class Interrupted(Exception):
    """SIGINT or SIGTERM while following."""


def _interrupt(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


#: After a page with events, before the build's last round, the follower waits up to this
#: long before reading the next page: a build's events cost the service and the follower two
#: requests per half second, not one per job (a request costs the service some 2 ms of CPU
#: that its jobs' processes would otherwise have), and progress still updates twice a second
#: (a terminal shows it once a second). The wait is a long-poll for want events, so a want's
#: end is seen as soon as it is recorded, never up to a gap later; in the last round (no more
#: runs to start than are running) it asks at once, one request per event of those runs.
PAGE_GAP_S = 0.5

#: What moves a want: the wait between pages ends at the first of these.
WANT_TYPES = ("want_status_changed", "want_satisfied", "want_cancelled", "want_expired")
#: What can move a followed want or its build's progress: the follower reads only these.
FEED_TYPES = (*WANT_TYPES, "build_status_changed", "job_graph_recorded", "job_run_status_changed")


class BuildProgress:
    """A build's job-run counts, read once and then kept current from the feed at a constant
    cost per event: following a build of 10,000 jobs never re-reads its 10,000 runs."""

    def __init__(self, detail: pb.BuildDetailResponse) -> None:
        self.build_id, self.status = detail.build.build_id, detail.build.status
        self.total, self.index = len(detail.build.job_graph.job_runs), detail.build.last_event_index
        self.runs = {r.job_run_id: (r.last_event_index, _BUCKET.get(r.status, "pending")) for r in detail.job_runs}
        self.counts = Counter(bucket for _, bucket in self.runs.values())

    def apply(self, event: pb.Event) -> None:
        """Fold one feed event in; events the first read already reflected change nothing."""
        name = event.WhichOneof("payload")
        if name == "job_run_status_changed" and event.job_run_status_changed.build_id == self.build_id:
            run = event.job_run_status_changed
            seen = self.runs.get(run.job_run_id)
            if seen is not None and seen[0] >= event.index:
                return
            if seen is not None:
                self.counts[seen[1]] -= 1
            bucket = _BUCKET.get(run.status, "pending")
            self.runs[run.job_run_id] = (event.index, bucket)
            self.counts[bucket] += 1
        elif name in ("build_status_changed", "job_graph_recorded") and event.index > self.index \
                and getattr(event, name).build_id == self.build_id:
            self.index = event.index
            if name == "job_graph_recorded":
                self.total = len(event.job_graph_recorded.job_graph.job_runs)
            else:
                self.status = event.build_status_changed.status

    def before_last_round(self) -> bool:
        """Whether more runs are still to start than are running now (so not the last round)."""
        return self.counts["pending"] + self.total - len(self.runs) > self.counts["running"]

    def progress(self) -> Progress:
        """Counts now; planned runs with no state yet count as pending."""
        c = self.counts
        return Progress(self.build_id, total=self.total, pending=c["pending"] + self.total - len(self.runs),
                        running=c["running"], succeeded=c["succeeded"], failed=c["failed"], skipped=c["skipped"],
                        status=self.status)


def _want_of(event: pb.Event) -> str:
    return getattr(getattr(event, event.WhichOneof("payload")), "want_id", "")


def follow_want(service, want_id: str, on_progress: Callable[[Progress], None],
                on_status: Callable[[pb.WantState], None] = lambda w: None) -> tuple[pb.WantState, bool]:
    """Report the want's build progress until it ends; return its last state and
    whether following was interrupted by a signal (the want is left active then).

    Progress comes from the event feed: the build is read once, then each event costs
    the same, whatever the build's size; the want is re-read only when an event names it."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    last_status, build = None, None
    try:
        want = service.want(pb.GetWantRequest(want_id=want_id)).want
        # Only what happens from now on can move the want: never page the feed from its start.
        feed = pb.ListEventsRequest(since=want.last_event_index, types=FEED_TYPES, wait_seconds=5, limit=1000)
        while True:
            if (want.status, want.message) != last_status:
                last_status = (want.status, want.message)
                on_status(want)
            if want.build_id and (build is None or build.build_id != want.build_id):
                build = BuildProgress(service.build(pb.GetBuildRequest(build_id=want.build_id)))
            if build is not None and (want.status == pb.WANT_STATUS_BUILDING or want.status not in ACTIVE_WANT_STATUSES):
                on_progress(build.progress())
            if want.status not in ACTIVE_WANT_STATUSES:
                return want, False
            page = service.events(feed)
            feed.since = page.next
            for event in page.events:
                if build is not None:
                    build.apply(event)
            if any(_want_of(e) == want_id for e in page.events):
                want = service.want(pb.GetWantRequest(want_id=want_id)).want
            elif page.events and build is not None and build.before_last_round():
                # Let the build's events gather, but not past a move of the want.
                service.events(pb.ListEventsRequest(since=feed.since, types=WANT_TYPES, wait_seconds=PAGE_GAP_S,
                                                    limit=1))
    except Interrupted:
        return service.want(pb.GetWantRequest(want_id=want_id)).want, True
