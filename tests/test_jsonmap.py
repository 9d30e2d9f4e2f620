"""The fast JSON mapping equals protobuf's own, on every message type the API sends."""

from __future__ import annotations

import random

from google.protobuf import json_format

from databuild.proto import databuild_pb2 as pb
from databuild.service.jsonmap import message_dict
from databuild.state import EMPTY, fold
from eventgen import random_events


def reference(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def test_events_and_states_match_protobuf_json():
    events = random_events(random.Random(7), 400)
    for i, event in enumerate(events, 1):
        event.index = i
        event.timestamp.FromMicroseconds(1_700_000_000_000_000 + i * 1234567)
        assert message_dict(event) == reference(event)
    state = fold(EMPTY, events)
    for entities in state.entities.values():
        for entity in entities.values():
            assert message_dict(entity) == reference(entity)


def test_api_payloads_match_protobuf_json():
    config = pb.JobConfig(outputs=["a/1"], inputs=[pb.DataDep(ref="r/1", dep_type=pb.materialize)],
                          args=["x"], env={"K": "v", "Z": ""})
    want = pb.WantState(spec=pb.WantSpec(want_id="w", partitions=["a/1"], ttl_seconds=2**40,
                                         source=pb.WantSource(type=pb.WANT_SOURCE_TYPE_CLI, name="ann")),
                        status=pb.WANT_STATUS_QUEUED, waiting_for=["r/1"], last_event_index=9)
    want.not_before.FromSeconds(1_800_000_000)
    messages = [
        pb.HealthResponse(status="ok", latest_event_index=12), pb.GraphResponse(label="//g"),
        pb.AnalyzeResponse(job_graph=pb.JobGraph(job_runs=[pb.PlannedJobRun(job_run_id="j", config=config)])),
        pb.ListWantsResponse(wants=[want, pb.WantState()], next_page_token="w"),
        pb.WantDetailResponse(want=want, blocked_by=[pb.WantBlocker(kind="external", ref="r/1")]),
        pb.ErrorResponse(error=pb.ErrorDetail(code="c", message="m")),
        pb.ListEventsResponse(next=5, has_more=True), pb.JobRunDetailResponse(), pb.CreateWantsResponse(wants=[want]),
    ]
    for seconds, nanos in [(0, 0), (1, 5_000_000), (1_800_000_000, 123_456_000), (99, 1), (-1, 0), (253402300799, 0)]:
        timed = pb.WantState()
        timed.finished_at.seconds, timed.finished_at.nanos = seconds, nanos
        messages.append(timed)
    for message in messages:
        assert message_dict(message) == reference(message), type(message).__name__
