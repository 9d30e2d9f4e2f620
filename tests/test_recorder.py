"""The build recorder: events appended off the build's thread, in order, failures raised to their build."""

from __future__ import annotations

import threading

import pytest

from databuild.errors import StorageError
from databuild.events import open_event_log
from databuild.executor.recorder import Recorder
from databuild.proto import databuild_pb2 as pb


def _requested(build_id: str) -> pb.Event:
    return pb.Event(build_requested=pb.BuildRequested(build_id=build_id, partitions=["p/1"]))


def _moved(build_id: str, status: int) -> pb.Event:
    return pb.Event(build_status_changed=pb.BuildStatusChanged(build_id=build_id, status=status))


def test_a_channel_s_batches_are_in_the_log_in_order_once_it_waited(tmp_path):
    log = open_event_log(f"sqlite://{tmp_path}/bel.sqlite3")
    recorder = Recorder(log.append)
    channel = recorder.channel()
    statuses = [pb.BUILD_STATUS_PLANNING, pb.BUILD_STATUS_EXECUTING, pb.BUILD_STATUS_COMPLETED]
    channel.record([_requested("b1")])
    for status in statuses:
        channel.record([_moved("b1", status)])
    channel.wait()
    events = log.list_events().events
    assert [e.WhichOneof("payload") for e in events] == ["build_requested"] + ["build_status_changed"] * 3
    assert [e.build_status_changed.status for e in events[1:]] == statuses
    recorder.close()
    log.close()


def test_a_failed_append_stops_its_channel_and_is_raised_but_other_channels_go_on():
    appended: list[str] = []
    gate = threading.Event()

    def append(events):
        gate.wait()
        ids = [e.build_status_changed.build_id or e.build_requested.build_id for e in events]
        if "bad" in ids and not appended.count("failed-once"):
            appended.append("failed-once")
            raise StorageError("event log /x: the disk is full")
        appended.extend(ids)

    recorder = Recorder(append)
    bad, good = recorder.channel(), recorder.channel()
    bad.record([_requested("bad")])
    good.record([_requested("good")])
    gate.set()
    with pytest.raises(StorageError, match="the disk is full"):
        bad.wait()
    with pytest.raises(StorageError, match="the disk is full"):  # and the next hand-over says so too
        bad.record([_moved("bad", pb.BUILD_STATUS_COMPLETED)])
    good.record([_moved("good", pb.BUILD_STATUS_COMPLETED)])
    good.wait()
    assert appended == ["failed-once", "good", "good"]  # nothing of "bad" after its failure
    recorder.close()


def test_batches_waiting_together_go_in_one_append_and_close_appends_what_is_queued():
    calls: list[int] = []
    gate = threading.Event()

    def append(events):
        gate.wait()
        calls.append(len(events))

    recorder = Recorder(append)
    channel = recorder.channel()
    channel.record([_requested("b1")])  # taken at once by the thread, which waits at the gate
    for _ in range(5):
        channel.record([_moved("b1", pb.BUILD_STATUS_EXECUTING)])
    gate.set()
    recorder.close()
    assert sum(calls) == 6 and len(calls) <= 2
    with pytest.raises(RuntimeError, match="closed"):
        channel.record([_moved("b1", pb.BUILD_STATUS_COMPLETED)])
