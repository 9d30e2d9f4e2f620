"""The job-run history index and the pure SLA predictor, with integer-microsecond times."""

from __future__ import annotations

import pytest

from databuild.events import open_event_log
from databuild.proto import databuild_pb2 as pb
from databuild.state import StateProjection
from databuild.state.history import JobHistory, percentile, ref_shape
from databuild.wants.sla import predict
from slahistory import S, build_events, record_build, run_event

T0 = 1_800_000_000 * S  # 2027-01-15 08:00:00 UTC


class Clock:
    def __init__(self, us: int = T0) -> None:
        self.us = us

    def __call__(self) -> int:
        return self.us


@pytest.fixture
def log_and_clock():
    clock = Clock()
    log = open_event_log("memory://", [StateProjection()], clock)
    yield log, clock
    log.close()


def history_of(log) -> JobHistory:
    history = JobHistory()
    history.catch_up(log)
    return history


def want(status: int, partitions=("daily/a",), sla_s: int = 3600, waiting=(), created: int = T0,
         build_id: str = "") -> pb.WantState:
    w = pb.WantState(status=status, waiting_for=waiting, build_id=build_id)
    w.spec.want_id, w.spec.sla_seconds = "w1", sla_s
    w.spec.partitions.extend(partitions)
    w.spec.created_at.FromMicroseconds(created)
    w.spec.data_timestamp.FromMicroseconds(created)
    return w


def test_percentile_is_nearest_rank():
    assert percentile([5, 1, 3], 0.5) == 3
    assert percentile(list(range(1, 101)), 0.95) == 95
    assert percentile([7], 0.95) == 7
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_ref_shape_replaces_the_date():
    assert ref_shape("raw/votes/2025-01-02/red") == ("raw/votes/{date}/red", 1735776000 * S)
    assert ref_shape("raw/votes") is None and ref_shape("raw/2025-13-40") is None


def test_history_keeps_durations_counts_and_builds_incrementally(log_and_clock):
    log, clock = log_and_clock
    for i, seconds in enumerate((100, 300, 200)):
        record_build(log.append, clock, f"b{i}", "//g:daily", [f"daily/{i}"], seconds)
    log.append([run_event("b9", "r9", "//g:daily", pb.JOB_RUN_STATUS_RUNNING)])
    log.append([run_event("b9", "r9", "//g:daily", pb.JOB_RUN_STATUS_FAILED)])
    history = history_of(log)
    assert history.job_seconds("//g:daily") == 200 and history.job_seconds("//g:daily", 0.95) == 300
    assert history.build_seconds("//g:daily") == 200 and history.job_seconds("//g:other") is None
    [stats] = history.stats()
    assert (stats.job_label, stats.p50_seconds, stats.p95_seconds, stats.succeeded, stats.failed) == (
        "//g:daily", 200, 300, 3, 1)
    assert stats.success_rate == 0.75
    record_build(log.append, clock, "b4", "//g:daily", ["daily/4"], 1000)
    history.catch_up(log)  # only the new events are read
    assert history.job_seconds("//g:daily", 0.95) == 1000


def test_arrival_lag_is_learned_per_ref_shape(log_and_clock):
    log, clock = log_and_clock
    day = 1735689600 * S  # 2025-01-01
    for d, lag_h in enumerate((3, 5, 4)):
        clock.us = day + d * 86400 * S + lag_h * 3600 * S
        log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
            refs=[f"raw/2025-01-0{d + 1}"]))])
    history = history_of(log)
    assert history.arrival_us("raw/2025-01-09") == 1736380800 * S + 4 * 3600 * S
    assert history.arrival_us("other/2025-01-09") is None and history.arrival_us("raw/x") is None


def test_a_waiting_want_is_predicted_from_arrival_and_past_builds(log_and_clock):
    log, clock = log_and_clock
    midnight = T0 - 8 * 3600 * S  # 2027-01-15
    record_build(log.append, clock, "b0", "//g:daily", ["daily/2027-01-14"], 1200)
    clock.us = midnight - 86400 * S + 6 * 3600 * S  # raw for the 14th landed at 06:00 on the 14th
    log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(refs=["raw/2027-01-14"]))])
    history = history_of(log)
    job_of = lambda ref: "//g:daily" if ref.startswith("daily/") else None
    w = want(pb.WANT_STATUS_WAITING, ["daily/2027-01-15"], sla_s=10 * 3600, waiting=["raw/2027-01-15"],
             created=midnight)  # deadline 10:00
    found = predict(w, None, {}, history, job_of, now_us=midnight)
    assert found.completion_us == midnight + 6 * 3600 * S + 1200 * S and not found.at_risk and not found.unknown
    w.spec.sla_seconds = 6 * 3600  # deadline 06:00: the typical landing already misses it
    assert predict(w, None, {}, history, job_of, now_us=midnight).at_risk
    late = predict(w, None, {}, history, job_of, now_us=midnight + 9 * 3600 * S)  # the data is late: from now
    assert late.completion_us == midnight + 9 * 3600 * S + 1200 * S
    w.sla_violated = True
    assert not predict(w, None, {}, history, job_of, now_us=midnight).at_risk  # violated, no longer "at risk"


def test_unknown_history_counts_as_no_time_and_is_named(log_and_clock):
    log, _ = log_and_clock
    found = predict(want(pb.WANT_STATUS_WAITING, waiting=["raw/x"]), None, {}, history_of(log),
                    lambda ref: "//g:daily", now_us=T0)
    assert found.completion_us == T0 and not found.at_risk
    assert found.unknown == ("raw/x", "//g:daily") and "no history for raw/x, //g:daily" in found.basis()
    assert predict(want(pb.WANT_STATUS_SATISFIED), None, {}, history_of(log), lambda ref: None, T0) is None


def test_a_building_want_follows_its_plans_critical_path(log_and_clock):
    log, clock = log_and_clock
    record_build(log.append, clock, "p1", "//g:extract", ["x/0"], 600)
    record_build(log.append, clock, "p2", "//g:load", ["y/0"], 60)
    record_build(log.append, clock, "p3", "//g:report", ["r/0"], 300)
    history = history_of(log)
    # extract -> report, load -> report: the longest chain is extract (600) then report (300).
    runs = [("e", "//g:extract", ["x/1"], []), ("l", "//g:load", ["y/1"], []),
            ("r", "//g:report", ["r/1"], ["x/1", "y/1"])]
    build = pb.BuildState(build_id="b", status=pb.BUILD_STATUS_EXECUTING)
    build.job_graph.CopyFrom(build_events("b", runs, ["r/1"])[1].job_graph_recorded.job_graph)
    w = want(pb.WANT_STATUS_BUILDING, ["r/1"], sla_s=800, build_id="b")
    now = T0
    assert predict(w, build, {}, history, lambda r: None, now).completion_us == now + 900 * S
    running = pb.JobRunState(job_run_id="e", status=pb.JOB_RUN_STATUS_RUNNING)
    running.started_at.FromMicroseconds(now - 500 * S)
    found = predict(w, build, {"e": running}, history, lambda r: None, now)
    assert found.completion_us == now + 400 * S and not found.at_risk  # 100 s of extract left, then report
    done = {"e": pb.JobRunState(status=pb.JOB_RUN_STATUS_SUCCEEDED), "l": pb.JobRunState(status=pb.JOB_RUN_STATUS_SUCCEEDED)}
    assert predict(w, build, done, history, lambda r: None, now).completion_us == now + 300 * S
    overrun = pb.JobRunState(job_run_id="e", status=pb.JOB_RUN_STATUS_RUNNING)
    overrun.started_at.FromMicroseconds(now - 5000 * S)  # past its p50: counted as ending now; load not started
    assert predict(w, build, {"e": overrun}, history, lambda r: None, now).completion_us == now + 360 * S  # load, report
    w.spec.sla_seconds = 100  # deadline T0 + 100 s
    assert predict(w, build, {}, history, lambda r: None, now).at_risk
