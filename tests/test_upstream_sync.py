"""Upstream sync: what an upstream's feed records here, tested pure and between two real services."""

from __future__ import annotations

import random
import time
from dataclasses import replace

import pytest

from databuild.events import open_event_log
from databuild.graph import GraphSpec, JobSpec, UpstreamSpec
from databuild.proto import databuild_pb2 as pb
from databuild.service import DataBuildService
from databuild.service.client import ServiceClient
from databuild.service.sync import available_upstream, backoff_s, upstream_effects
from databuild.state import StateProjection, StateStore
from test_service_http import TOKEN, serving

UP = UpstreamSpec("ingest", "//ingest:graph", "http://127.0.0.1:9", ("ingest/*",))


def _available(ref: str, index: int, upstream: str = "") -> pb.Event:
    return pb.Event(index=index, external_partitions_available=pb.ExternalPartitionsAvailable(
        refs=[ref], upstream=upstream))


def _built(ref: str, index: int, status: int = pb.PARTITION_STATUS_AVAILABLE) -> pb.Event:
    return pb.Event(index=index, partition_status_changed=pb.PartitionStatusChanged(ref=ref, status=status))


def _tainted(ref: str, index: int) -> pb.Event:
    return pb.Event(index=index, partitions_tainted=pb.PartitionsTainted(refs=[ref], reason="bad rows"))


def test_effects_record_what_landed_once_and_mirror_taints():
    local: dict[str, pb.PartitionState] = {
        "ingest/old": pb.PartitionState(ref="ingest/old", status=pb.PARTITION_STATUS_AVAILABLE, upstream="ingest")}
    page = [_available("ingest/old", 1), _built("ingest/a", 2, pb.PARTITION_STATUS_BUILDING), _built("ingest/a", 3),
            _available("other/x", 4), _tainted("ingest/a", 5), _built("ingest/a", 6), _tainted("ingest/never", 7)]
    effects = upstream_effects(UP, page, lambda refs: {r: local[r] for r in refs if r in local})
    kinds = [(e.WhichOneof("payload"), list(getattr(e, e.WhichOneof("payload")).refs)) for e in effects]
    # old is known; building is nothing; other/x is not this upstream's; the taint of a ref never seen is nothing
    assert kinds == [("external_partitions_available", ["ingest/a"]), ("partitions_tainted", ["ingest/a"]),
                     ("external_partitions_available", ["ingest/a"])]
    assert effects[0].external_partitions_available.upstream == "ingest"
    assert effects[0].external_partitions_available.upstream_event_index == 3
    assert effects[1].partitions_tainted.requested_by == "upstream:ingest"


def test_backoff_doubles_from_half_a_second_to_thirty_with_jitter():
    rng = random.Random(1)
    waits = [backoff_s(n, rng) for n in range(1, 12)]
    assert all(0.5 <= w <= 30 for w in waits) and waits[0] <= 0.5 and waits[-1] >= 15


def _store(path) -> StateStore:
    return StateStore(open_event_log(f"sqlite://{path}", [StateProjection()]))


JOB = """#!/bin/sh
if [ "$1" = config ]; then
  shift; printf '{"configs": ['; sep=
  for r in "$@"; do printf '%s{"outputs": ["%s"], "inputs": [{"ref": "ingest/%s", "dep_type": "materialize"}]}' \\
    "$sep" "$r" "${r#report/}"; sep=,; done
  printf ']}\\n'; exit 0
fi
exit 0
"""


@pytest.fixture
def two_graphs(tmp_path):
    """An upstream service (ingest) and a downstream one (reports) syncing from it, over real HTTP."""
    job = tmp_path / "job.sh"
    job.write_text(JOB)
    job.chmod(0o755)
    (tmp_path / "up-logs").mkdir()
    (tmp_path / "down-logs").mkdir()
    up_store = _store(tmp_path / "up.sqlite3")
    upstream = DataBuildService(GraphSpec("//ingest:graph", ()), up_store, str(tmp_path / "up-logs"))
    with serving(upstream) as up_url:
        graph = GraphSpec("//reports:graph", (JobSpec("//reports:job", str(job), ("report/*",)),),
                          upstreams=(replace(UP, url=up_url),))
        down_store = _store(tmp_path / "down.sqlite3")
        downstream = DataBuildService(graph, down_store, str(tmp_path / "down-logs"))
        for sync in downstream.syncs:
            sync.wait_seconds = 5
        downstream.start_evaluator()
        yield ServiceClient(up_url, TOKEN), downstream, down_store
        downstream.close()
        down_store.close()
    up_store.close()


def _wait(condition, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.slow
def test_data_landing_upstream_builds_the_downstream_want(two_graphs):
    up, down, store = two_graphs
    want = down.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(partitions=["report/1"])])).wants[0]
    _wait(lambda: store.want(want.spec.want_id).status == pb.WANT_STATUS_WAITING, "the want waits")
    detail = down.want(pb.GetWantRequest(want_id=want.spec.want_id))
    assert "ingest/1 (owned by upstream 'ingest': synced)" in detail.explanation
    up.mark_available(pb.MarkAvailableRequest(refs=["ingest/1", "elsewhere/1"]))
    _wait(lambda: store.want(want.spec.want_id).status == pb.WANT_STATUS_SATISFIED, "the want is built")
    mirrored = store.partition("ingest/1")
    assert mirrored.status == pb.PARTITION_STATUS_AVAILABLE and mirrored.upstream == "ingest"
    assert store.partition("elsewhere/1") is None  # not a pattern of the upstream
    status = down.upstreams().upstreams[0]
    assert status.state == pb.UPSTREAM_SYNC_STATE_OK and status.cursor == up.health().latest_event_index

    # Re-reading the whole upstream log records nothing twice.
    recorded = store.log.latest_index()
    store.log.append([pb.Event(upstream_cursor_advanced=pb.UpstreamCursorAdvanced(upstream="ingest", next_index=0))])
    _wait(lambda: store.upstream("ingest").next_index == up.health().latest_event_index, "read again")
    again = store.log.list_events(recorded).events
    assert [e.WhichOneof("payload") for e in again] == ["upstream_cursor_advanced", "upstream_cursor_advanced"]

    # An upstream taint is mirrored here, naming the upstream.
    up.taint(pb.TaintRequest(refs=["ingest/1"], reason="bad rows"))
    _wait(lambda: store.partition("ingest/1").status == pb.PARTITION_STATUS_TAINTED, "the taint is mirrored")
    assert "ingest" in store.partition("ingest/1").message


@pytest.mark.slow
def test_an_unreachable_upstream_backs_off_visibly(tmp_path):
    graph = GraphSpec("//reports:graph", (), upstreams=(UP,))  # nothing listens on port 9
    store = _store(tmp_path / "down.sqlite3")
    service = DataBuildService(graph, store, str(tmp_path))
    assert service.upstreams().upstreams[0].state == pb.UPSTREAM_SYNC_STATE_STOPPED
    service.start_evaluator()
    try:
        _wait(lambda: service.upstreams().upstreams[0].consecutive_failures >= 2, "two failures")
        status = service.upstreams().upstreams[0]
        assert status.state == pb.UPSTREAM_SYNC_STATE_BACKOFF and "127.0.0.1:9" in status.last_error
        assert list(status.patterns) == ["ingest/*"] and status.cursor == 0
        want = service.create_wants(pb.CreateWantsRequest(wants=[pb.CreateWantRequest(
            partitions=["report/1"], external_dependencies=["ingest/1"])])).wants[0]
        explained = service.want(pb.GetWantRequest(want_id=want.spec.want_id)).explanation
        assert "owned by upstream 'ingest': unreachable since" in explained and "retrying" in explained
    finally:
        service.close()
        store.close()


def test_what_a_whole_upstream_log_leaves_available():
    log = [_available("ingest/a", 1), _built("ingest/b", 2), _tainted("ingest/a", 3), _built("ingest/c", 4),
           _built("ingest/c", 5, pb.PARTITION_STATUS_FAILED), _available("other/x", 6)]
    assert available_upstream(UP, log) == {"ingest/b"}
