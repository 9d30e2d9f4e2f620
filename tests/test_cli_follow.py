"""Following a build from the event feed: counts kept current one event at a time."""

from __future__ import annotations

from databuild.cli.follow import PAGE_GAP_S, WANT_TYPES, BuildProgress, follow_want
from databuild.proto import databuild_pb2 as pb


def run_event(index: int, run_id: str, status: int, build_id: str = "b1") -> pb.Event:
    return pb.Event(index=index, job_run_status_changed=pb.JobRunStatusChanged(
        job_run_id=run_id, build_id=build_id, status=status))


def detail() -> pb.BuildDetailResponse:
    """Build b1 as read at index 10: three planned runs, r1 already running (as of index 9)."""
    graph = pb.JobGraph(job_runs=[pb.PlannedJobRun(job_run_id=r) for r in ("r1", "r2", "r3")])
    return pb.BuildDetailResponse(
        build=pb.BuildState(build_id="b1", status=pb.BUILD_STATUS_EXECUTING, job_graph=graph, last_event_index=10),
        job_runs=[pb.JobRunState(job_run_id="r1", build_id="b1", status=pb.JOB_RUN_STATUS_RUNNING,
                                 last_event_index=9)])


def counts(p) -> tuple[int, ...]:
    return p.total, p.pending, p.running, p.succeeded, p.failed, p.skipped


def test_feed_events_move_the_counts_and_stale_or_foreign_ones_do_not():
    build = BuildProgress(detail())
    assert counts(build.progress()) == (3, 2, 1, 0, 0, 0)
    build.apply(run_event(8, "r1", pb.JOB_RUN_STATUS_SCHEDULED))  # older than what the read saw
    build.apply(run_event(11, "r9", pb.JOB_RUN_STATUS_RUNNING, build_id="other"))
    assert counts(build.progress()) == (3, 2, 1, 0, 0, 0)
    build.apply(run_event(12, "r1", pb.JOB_RUN_STATUS_SUCCEEDED))
    build.apply(run_event(13, "r2", pb.JOB_RUN_STATUS_RUNNING))
    build.apply(run_event(14, "r3", pb.JOB_RUN_STATUS_FAILED))
    build.apply(run_event(15, "r2", pb.JOB_RUN_STATUS_SKIPPED))
    assert counts(build.progress()) == (3, 0, 0, 1, 1, 1)
    build.apply(pb.Event(index=16, build_status_changed=pb.BuildStatusChanged(
        build_id="b1", status=pb.BUILD_STATUS_FAILED)))
    build.apply(pb.Event(index=5, build_status_changed=pb.BuildStatusChanged(
        build_id="b1", status=pb.BUILD_STATUS_PLANNING)))  # stale
    assert build.progress().status == pb.BUILD_STATUS_FAILED


def test_a_plan_recorded_after_the_read_sets_the_total():
    d = detail()
    d.build.ClearField("job_graph")
    build = BuildProgress(d)
    build.apply(pb.Event(index=11, job_graph_recorded=pb.JobGraphRecorded(build_id="b1", job_graph=pb.JobGraph(
        job_runs=[pb.PlannedJobRun(job_run_id=f"r{i}") for i in range(5)]))))
    assert counts(build.progress()) == (5, 4, 1, 0, 0, 0)


def test_the_last_round_starts_when_no_more_runs_are_left_to_start_than_run():
    build = BuildProgress(detail())  # r1 running, r2 and r3 to start
    assert build.before_last_round()
    build.apply(run_event(11, "r2", pb.JOB_RUN_STATUS_RUNNING))  # two running, one to start
    assert not build.before_last_round()
    build.apply(run_event(12, "r1", pb.JOB_RUN_STATUS_SUCCEEDED))  # one running, one to start
    assert not build.before_last_round()


class FeedService:
    """A service with a log that grows by a scripted batch of events on each ``events`` call."""

    def __init__(self, arrivals):
        self.arrivals, self.log, self.asked = list(arrivals), [], []

    def want(self, request):
        satisfied = any(e.HasField("want_satisfied") for e in self.log)
        return pb.WantDetailResponse(want=pb.WantState(
            spec=pb.WantSpec(want_id="w1"), build_id="b1",
            status=pb.WANT_STATUS_SATISFIED if satisfied else pb.WANT_STATUS_BUILDING))

    def build(self, request):
        return detail()

    def events(self, request):
        self.asked.append((tuple(request.types), request.wait_seconds, request.since))
        self.log += self.arrivals.pop(0) if self.arrivals else []
        found = [e for e in self.log if e.index > request.since and e.WhichOneof("payload") in request.types]
        page = found[:request.limit]
        return pb.ListEventsResponse(events=page, next=page[-1].index if page else self.log[-1].index)


def test_between_pages_the_follower_long_polls_for_the_wants_move_instead_of_sleeping():
    satisfied = pb.Event(index=20, want_satisfied=pb.WantSatisfied(want_id="w1", build_id="b1"))
    service = FeedService([[run_event(11, "r1", pb.JOB_RUN_STATUS_SUCCEEDED)],  # r2, r3 still to start
                           [satisfied]])  # recorded while the follower waits between pages
    want, interrupted = follow_want(service, "w1", lambda p: None)
    assert want.status == pb.WANT_STATUS_SATISFIED and not interrupted
    (feed, _, _), gap, page = service.asked
    assert gap == (WANT_TYPES, PAGE_GAP_S, 11) and "job_run_status_changed" in feed and page[2] == 11
