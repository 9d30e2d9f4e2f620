"""The committed generated code must match proto/databuild.proto (run tools/gen_proto)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ("databuild_pb2.py", "databuild_pb2.pyi")


def test_generated_code_is_fresh(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
         f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", str(ROOT / "proto" / "databuild.proto")],
        check=True,
    )
    for name in GENERATED:
        committed = (ROOT / "databuild" / "proto" / name).read_text()
        assert (tmp_path / name).read_text() == committed, f"databuild/proto/{name} is stale: run tools/gen_proto"


def test_every_payload_has_status_enums_of_the_spec():
    from databuild.proto import databuild_pb2 as pb

    names = lambda enum, prefix: [n.removeprefix(prefix) for n in enum.keys()][1:]
    assert names(pb.PartitionStatus, "PARTITION_STATUS_") == [
        "MISSING", "REQUESTED", "SCHEDULED", "BUILDING", "AVAILABLE", "FAILED", "TAINTED"]
    assert names(pb.JobRunStatus, "JOB_RUN_STATUS_") == [
        "SCHEDULED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"]
    assert names(pb.BuildStatus, "BUILD_STATUS_") == [
        "RECEIVED", "PLANNING", "EXECUTING", "COMPLETED", "FAILED", "CANCELLED"]
    assert names(pb.WantStatus, "WANT_STATUS_") == [
        "WAITING", "QUEUED", "BUILDING", "SATISFIED", "EXPIRED", "CANCELLED", "FAILED"]


def test_job_protocol_json_maps_onto_messages():
    from google.protobuf import json_format
    from databuild.proto import databuild_pb2 as pb

    doc = ('{"configs": [{"outputs": ["a/1"], "inputs": [{"ref": "raw/1", "dep_type": "materialize"},'
           ' {"ref": "raw/2", "dep_type": "query"}], "args": ["--x"], "env": {"K": "V"}}]}')
    parsed = json_format.Parse(doc, pb.JobConfigResponse())
    assert [i.dep_type for i in parsed.configs[0].inputs] == [pb.materialize, pb.query]
    back = json_format.MessageToDict(parsed, preserving_proto_field_name=True)
    assert back["configs"][0]["inputs"][1] == {"ref": "raw/2", "dep_type": "query"}
