"""The trigger protocol: `BIN fire TICK` / `BIN fire --partition REF` printing {"wants": [...]}, validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from databuild.errors import DataBuildError
from databuild.jobs.protocol import JobProtocolError
from databuild.proto import databuild_pb2 as pb
from databuild.triggers.protocol import TriggerProtocolError, call_fire, parse_fire
from test_job_protocol import HOLD_STDOUT, gone, script

WHO = "trigger nightly"


def test_fire_gets_its_argument_and_its_wants_are_parsed(tmp_path):
    binary = script(tmp_path / "bin", """
assert sys.argv[1] == "fire"
refs = [f"report/{sys.argv[-1]}"]
print(json.dumps({"wants": [{"partitions": refs, "data_timestamp": "2026-01-01T00:00:00+01:00", "comment": "c"},
                            {"partitions": ["other/1"]}]}))""")
    first, second = call_fire(WHO, binary, ["--partition", "raw/1"], 5.0)
    assert list(first.partitions) == ["report/raw/1"] and first.comment == "c"
    assert first.data_timestamp.ToJsonString() == "2025-12-31T23:00:00Z"
    assert list(second.partitions) == ["other/1"] and not second.HasField("data_timestamp")


def test_an_empty_list_wants_nothing():
    assert parse_fire(WHO, '{"wants": []}') == []


@pytest.mark.parametrize("stdout, fragment", [
    ("not json", "fire printed invalid JSON"),
    ('{"configs": []}', 'fire must print {"wants": [...]}'),
    ('{"wants": [], "extra": 1}', 'fire must print {"wants": [...]}'),
    ('{"wants": ["report/1"]}', "wants[0] must be an object"),
    ('{"wants": [{"partitions": []}]}', "wants[0] needs a non-empty list of partitions"),
    ('{"wants": [{"partitions": ["a b"]}]}', "wants[0]: partition ref 'a b' contains whitespace"),
    ('{"wants": [{"partitions": ["a"], "ttl_seconds": 5}]}', "wants[0] has unknown field(s) ttl_seconds"),
    ('{"wants": [{"partitions": ["a"], "data_timestamp": "yesterday"}]}', "wants[0]: not a valid CreateWantRequest"),
])
def test_garbage_is_a_named_error(stdout, fragment):
    with pytest.raises(TriggerProtocolError) as info:
        parse_fire(WHO, stdout, "the binary's stderr")
    assert fragment in str(info.value) and str(info.value).startswith(f"{WHO}: ")
    assert "the binary's stderr" in str(info.value)
    assert (info.value.code, info.value.http_status, info.value.exit_code) == ("trigger_protocol_error", 422, 1)
    assert isinstance(info.value, JobProtocolError) and isinstance(info.value, DataBuildError)


def test_a_failing_binary_names_its_exit_and_shows_its_stderr(tmp_path):
    binary = script(tmp_path / "bin", "print('no data for that day', file=sys.stderr); sys.exit(3)")
    with pytest.raises(TriggerProtocolError, match=r"exited with code 3 for 2026-01-01T02:00:00Z(.|\n)*no data"):
        call_fire(WHO, binary, ["2026-01-01T02:00:00Z"], 5.0)
    with pytest.raises(TriggerProtocolError, match="does not exist"):
        call_fire(WHO, str(tmp_path / "missing"), ["2026-01-01T02:00:00Z"], 5.0)


def test_a_hung_binary_is_killed_with_its_process_group_at_the_timeout(tmp_path):
    path = tmp_path / "bin"
    binary = script(path, HOLD_STDOUT + "import time; time.sleep(300)")
    with pytest.raises(TriggerProtocolError, match=f"{WHO}: did not finish within 0.5s"):
        call_fire(WHO, binary, ["2026-01-01T02:00:00Z"], 0.5)
    assert gone(int(Path(f"{path}.child").read_text()))


def test_a_binary_does_not_get_the_service_tokens(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABUILD_TOKEN", "s3cret")
    monkeypatch.setenv("DATABUILD_UPSTREAM_RAW_TOKEN", "up-s3cret")
    binary = script(tmp_path / "bin", "import os\nprint(json.dumps({'wants': [{'partitions': ['env/1'], "
                                      "'comment': ' '.join(sorted(os.environ))}]}))")
    (want,) = call_fire(WHO, binary, ["2026-01-01T02:00:00Z"], 5.0)
    assert isinstance(want, pb.CreateWantRequest)
    assert not {"DATABUILD_TOKEN", "DATABUILD_UPSTREAM_RAW_TOKEN"} & set(want.comment.split())
