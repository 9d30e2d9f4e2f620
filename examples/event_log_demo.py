"""Shows the build event log at work: append a build's events, then query them.

Run as `python examples/event_log_demo.py DIR` (tests/test_demo.py does); writes a fresh SQLite log under DIR.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from google.protobuf import json_format

from databuild.events import EventFilter
from databuild.proto import databuild_pb2 as pb
from databuild.state import open_state_store

P = pb.PartitionStatus


def build_events() -> list[pb.Event]:
    """A want for two days of votes, the build that satisfies it, and a taint."""
    want_id, build_id = str(uuid.uuid4()), str(uuid.uuid4())
    days = ["2025-01-01", "2025-01-02"]
    wanted = [f"daily_votes/{d}/red" for d in days]
    events = [
        pb.Event(want_created=pb.WantCreated(want=pb.WantSpec(
            want_id=want_id, partitions=wanted, ttl_seconds=2 * 86400, sla_seconds=6 * 3600,
            external_dependencies=[f"raw/votes/{d}" for d in days],
            source=pb.WantSource(type=pb.WANT_SOURCE_TYPE_CLI, name="demo")))),
        pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
            refs=[f"raw/votes/{d}" for d in days], upstream="ingest")),
        pb.Event(build_requested=pb.BuildRequested(build_id=build_id, partitions=wanted, want_ids=[want_id])),
        pb.Event(build_status_changed=pb.BuildStatusChanged(build_id=build_id, status=pb.BUILD_STATUS_EXECUTING)),
    ]
    for ref in wanted:
        run = str(uuid.uuid4())
        for run_status, part_status in ((pb.JOB_RUN_STATUS_RUNNING, P.Value("PARTITION_STATUS_BUILDING")),
                                        (pb.JOB_RUN_STATUS_SUCCEEDED, P.Value("PARTITION_STATUS_AVAILABLE"))):
            events.append(pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
                job_run_id=run, build_id=build_id, job_label="//examples:count_votes", status=run_status,
                outputs=[ref])))
            events.append(pb.Event(partition_status_changed=pb.PartitionStatusChanged(
                ref=ref, status=part_status, build_id=build_id, job_run_id=run)))
    events += [
        pb.Event(build_status_changed=pb.BuildStatusChanged(build_id=build_id, status=pb.BUILD_STATUS_COMPLETED)),
        pb.Event(want_satisfied=pb.WantSatisfied(want_id=want_id, build_id=build_id)),
        pb.Event(partitions_tainted=pb.PartitionsTainted(refs=[wanted[0]], reason="late votes arrived")),
    ]
    return events


def main(state_dir: str) -> None:
    path = Path(state_dir) / "bel.sqlite3"
    for stale in path.parent.glob("bel.sqlite3*"):
        stale.unlink()
    uri = f"sqlite://{path}"
    store = open_state_store(uri)
    indices = store.log.append(build_events())
    print(f"appended {len(indices)} events to {uri} as one batch: indices {indices[0]}..{indices[-1]}")
    store.close()

    store = open_state_store(uri)  # reopen: everything is on disk
    print(f"\nreopened; latest index {store.log.latest_index()}")
    print("\nevent feed, first page of 5:")
    page = store.log.list_events(0, limit=5)
    for e in page.events:
        print(f"  #{e.index:<3} {e.WhichOneof('payload')}")
    print(f"  next={page.next} has_more={page.has_more}")

    print("\nevents touching daily_votes/*/red, partition events only:")
    f = EventFilter(ref_patterns=("daily_votes/*/red",), types=("partition_status_changed", "partitions_tainted"))
    for e in store.log.list_events(0, f).events:
        payload = getattr(e, e.WhichOneof("payload"))
        print(f"  #{e.index:<3} {json_format.MessageToJson(payload, indent=None, preserving_proto_field_name=True)[:100]}")

    print("\npartition state (read model, no replay):")
    for p in store.partitions("**"):
        print(f"  {p.ref:<28} {P.Name(p.status):<28} {'external' if p.external else p.message}")
    wants = store.wants()
    print(f"\nwants: {[(w.spec.want_id[:8], pb.WantStatus.Name(w.status)) for w in wants]}; "
          f"active: {len(store.active_wants())}")
    store.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".demo")
