"""The JSON contract (docs/json.md): protobuf's mapping with short enum names, numbers
for 64-bit integers and flattened want documents; read back the same way."""

from __future__ import annotations

import random

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from databuild.errors import InvalidArgumentError
from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import FLATTENED, enum_value, message_dict, parse_dict
from databuild.state import EMPTY, fold
from eventgen import random_events

F = FieldDescriptor
_INT64 = {F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64, F.TYPE_FIXED64, F.TYPE_SFIXED64}


def _contract(value, descriptor):
    """Protobuf's own JSON of a message, turned into the contract by the documented rules."""
    out = {}
    flat = FLATTENED.get(descriptor.full_name)
    if flat and flat not in value:  # an unset flattened message still shows its fields
        value = {**value, flat: _protobuf_json(descriptor.fields_by_name[flat].message_type._concrete_class())}
    for key, v in value.items():
        field = descriptor.fields_by_name[key]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            out[key] = v
            continue
        items = v if field.is_repeated else [v]
        converted = [_one(field, item) for item in items]
        if key == FLATTENED.get(descriptor.full_name):
            out.update(converted[0])
        else:
            out[key] = converted if field.is_repeated else converted[0]
    return out


def _one(field, v):
    if field.type == F.TYPE_ENUM:
        prefix = "".join("_" + c if c.isupper() else c.upper() for c in field.enum_type.name).lstrip("_") + "_"
        return v.removeprefix(prefix).lower()
    if field.type in _INT64:
        return int(v)
    if field.type == F.TYPE_MESSAGE and field.message_type.full_name != "google.protobuf.Timestamp":
        return _contract(v, field.message_type)
    return v


def _protobuf_json(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def reference(message) -> dict:
    return _contract(_protobuf_json(message), message.DESCRIPTOR)


def _messages():
    events = random_events(random.Random(7), 400)
    for i, event in enumerate(events, 1):
        event.index = i
        event.timestamp.FromMicroseconds(1_700_000_000_000_000 + i * 1234567)
    state = fold(EMPTY, events)
    config = pb.JobConfig(outputs=["a/1"], inputs=[pb.DataDep(ref="r/1", dep_type=pb.materialize)],
                          args=["x"], env={"K": "v", "Z": ""})
    want = pb.WantState(spec=pb.WantSpec(want_id="w", partitions=["a/1"], ttl_seconds=2**40,
                                         source=pb.WantSource(type=pb.WANT_SOURCE_TYPE_CLI, name="ann")),
                        status=pb.WANT_STATUS_QUEUED, waiting_for=["r/1"], last_event_index=9)
    want.not_before.FromSeconds(1_800_000_000)
    api = [
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
        api.append(timed)
    return [*events, *(e for entities in state.entities.values() for e in entities.values()), *api]


def test_output_is_protobuf_json_under_the_contract_rules():
    for message in _messages():
        assert message_dict(message) == reference(message), type(message).__name__


def test_documents_read_back_into_the_same_message():
    for message in _messages():
        parsed = parse_dict(message_dict(message), type(message)())
        # An unset flattened message (a want without spec) reads back set but empty: same document.
        assert parsed == message or message_dict(parsed) == message_dict(message), type(message).__name__
        if isinstance(message, (pb.Event, pb.PartitionState, pb.JobRunState, pb.BuildState)):
            assert parsed == message


def test_a_want_document_is_flat_with_id_and_status_on_top():
    want = pb.WantState(spec=pb.WantSpec(want_id="w1", ttl_seconds=5), status=pb.WANT_STATUS_SATISFIED)
    doc = message_dict(want)
    assert doc["want_id"] == "w1" and doc["status"] == "satisfied" and doc["ttl_seconds"] == 5 and "spec" not in doc
    detail = message_dict(pb.WantDetailResponse(want=want, explanation="done"))
    assert {k: detail[k] for k in doc} == doc and detail["explanation"] == "done"


@pytest.mark.parametrize("given", ["satisfied", "SATISFIED", "Satisfied", "WANT_STATUS_SATISFIED", "want_status_satisfied"])
def test_enum_names_are_accepted_short_or_long_in_any_case(given):
    assert enum_value(pb.WantStatus.DESCRIPTOR, given) == pb.WANT_STATUS_SATISFIED
    parsed = parse_dict({"status": given}, pb.WantState())
    assert parsed.status == pb.WANT_STATUS_SATISFIED


def test_bad_input_names_the_value():
    with pytest.raises(InvalidArgumentError, match="'shiny'.*waiting"):
        parse_dict({"status": "shiny"}, pb.WantState())
    with pytest.raises(InvalidArgumentError, match="no field 'colour'"):
        parse_dict({"colour": "red"}, pb.AnalyzeRequest())
    with pytest.raises(InvalidArgumentError, match="AnalyzeRequest"):
        parse_dict({"partitions": "not-a-list"}, pb.AnalyzeRequest())
    with pytest.raises(InvalidArgumentError, match="JSON object"):
        parse_dict([1, 2], pb.AnalyzeRequest())
    assert parse_dict({"colour": "red"}, pb.AnalyzeRequest(), ignore_unknown=True) == pb.AnalyzeRequest()


def test_timestamps_before_the_year_1000_keep_four_digit_years():
    ts = pb.WantSpec().created_at
    ts.FromJsonString("0358-12-19T22:51:52Z")
    assert message_dict(pb.WantSpec(created_at=ts))["created_at"] == "0358-12-19T22:51:52Z"
    ts.FromJsonString("0001-01-01T00:00:00.5Z")
    assert message_dict(pb.WantSpec(created_at=ts))["created_at"] == "0001-01-01T00:00:00.500Z"


_ODD_VALUES = [None, 1, -1, 2**70, True, "", "x", "satisfied", "bogus", 1.5, [], {}, ["a", 1], [{}], {"zz": 1},
               "2025-01-01T00:00:00Z", "12", "\ud800"]


def _mutated(rng: random.Random, doc):
    """``doc`` with one value swapped for an odd one, a key renamed or an unknown key added, at any depth."""
    if not isinstance(doc, dict) or not doc:
        return doc
    key = rng.choice(sorted(doc))
    roll = rng.random()
    if roll < 0.4:
        doc[key] = rng.choice(_ODD_VALUES)
    elif roll < 0.55:
        doc["unknown_" + key] = 1
    elif roll < 0.7:
        doc[key + "X"] = doc.pop(key)
    elif isinstance(doc[key], dict):
        _mutated(rng, doc[key])
    elif isinstance(doc[key], list) and doc[key] and isinstance(doc[key][0], dict):
        _mutated(rng, doc[key][0])
    return doc


def _outcome(doc, cls, ignore_unknown: bool):
    try:
        return "parsed", parse_dict(doc, cls(), ignore_unknown=ignore_unknown).SerializeToString(deterministic=True)
    except InvalidArgumentError as e:
        return "refused", str(e)
    except Exception as e:  # the full path's own failures must stay the same too
        return "failed", type(e).__name__


def test_the_direct_fill_gives_what_protobufs_parser_gives(monkeypatch):
    """Plain documents are set on the message directly (``_fill``); the outcome, message
    or error, is the full path's (protobuf's ParseDict) for good and bad documents alike."""
    import copy

    from databuild.proto import jsonmap

    rng = random.Random(11)
    docs = [message_dict(m) for m in _messages()]
    docs += [{"wants": [{"partitions": [f"p/{i}"], "external_dependencies": ["e/1"], "ttl_seconds": 60,
                         "source": {"type": "cli", "name": "ann"}, "comment": "c"} for i in range(3)]}]
    cases = [(doc, cls) for doc, cls in zip(docs, [*(type(m) for m in _messages()), pb.CreateWantsRequest])]
    cases += [(_mutated(rng, copy.deepcopy(doc)), cls) for _ in range(20) for doc, cls in cases]
    assert jsonmap._fill(copy.deepcopy(docs[-1]), pb.CreateWantsRequest())  # a batch of wants is filled directly
    for doc, cls in cases:
        for ignore_unknown in (False, True):
            fast = _outcome(copy.deepcopy(doc), cls, ignore_unknown)
            with monkeypatch.context() as m:
                m.setattr(jsonmap, "_fill", lambda doc, message: False)
                full = _outcome(copy.deepcopy(doc), cls, ignore_unknown)
            assert fast == full, (cls.__name__, doc)
