"""Every operation of the declared interface answers alike in process and over HTTP,
records the same events, and fails with the same error (class, code, message)."""

from __future__ import annotations

import re
from typing import Callable

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from databuild.errors import DataBuildError, InvalidArgumentError
from databuild.events import open_event_log
from databuild.graph import GraphSpec, JobSpec, TriggerSpec
from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import message_dict
from databuild.service import DataBuildService
from databuild.service.client import ServiceClient
from databuild.service.interface import OPERATIONS, LogSlice
from databuild.state import StateProjection, StateStore
from test_service_http import TOKEN, serving

NOW_US = 1_800_000_000_000_000
JOB = """#!/bin/sh
[ "$1" = config ] || exit 0
shift; printf '{"configs": ['; sep=
for r in "$@"; do printf '%s{"outputs": ["%s"], "inputs": [{"ref": "raw/%s", "dep_type": "materialize"}]}' \\
  "$sep" "$r" "${r#daily/}"; sep=,; done
printf ']}\\n'
"""


class RecordingPool:
    """Stands in for the executor threads: one build "runs"; cancels are recorded."""

    def __init__(self) -> None:
        self.cancelled: list[tuple[str, str]] = []
        self.finished_listeners: list = []

    def running(self) -> int:
        return 1

    def running_ids(self) -> list[str]:
        return ["b-running"]

    def is_running(self, build_id: str) -> bool:
        return build_id == "b-running"

    def cancel_unwanted(self, build_id: str, reason: str) -> bool:
        return False  # the parity cases cancel no building want

    def add_finished_listener(self, listener) -> None:
        self.finished_listeners.append(listener)  # never called: its one build never finishes

    def cancel(self, build_id: str, reason: str) -> None:
        if build_id != "b-running":
            raise InvalidArgumentError(f"build {build_id} is not running here")
        self.cancelled.append((build_id, reason))


def seed(store: StateStore, log_dir) -> None:
    """A running build with one job run and its log, external data, two wants."""
    (log_dir / "j-1.log").write_text("line one\nline two\n")
    store.log.append([
        pb.Event(build_requested=pb.BuildRequested(build_id="b-running", partitions=["daily/1"], want_ids=[])),
        pb.Event(job_run_status_changed=pb.JobRunStatusChanged(
            job_run_id="j-1", build_id="b-running", job_label="//p:daily", status=pb.JOB_RUN_STATUS_RUNNING,
            outputs=["daily/1"], log_path=str(log_dir / "j-1.log"))),
        pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(refs=["raw/1", "raw/2"])),
        *(pb.Event(trigger_pause_changed=pb.TriggerPauseChanged(trigger=f"resumable_{side}", paused=True))
          for side in ("local", "remote")),
    ])


#: A schedule to fire by hand; per side, one to pause and one (paused by ``seed``) to resume.
TRIGGERS = (
    TriggerSpec("nightly", "//p:nightly", cron="0 2 * * *", partitions=("daily/{date-1d}",), comment="nightly"),
    *(TriggerSpec(f"{what}_{side}", f"//p:{what}_{side}", on=("raw/{n}",), partitions=("daily/{n}",))
      for what in ("hold", "resumable") for side in ("local", "remote")),
)


@pytest.fixture
def sides(tmp_path):
    job = tmp_path / "job.sh"
    job.write_text(JOB)
    job.chmod(0o755)
    graph = GraphSpec("//p:p", (JobSpec("//p:daily", str(job), ("daily/*",)),), triggers=TRIGGERS)
    store = StateStore(open_event_log(f"sqlite://{tmp_path}/bel.sqlite3", [StateProjection()]))
    (tmp_path / "logs").mkdir()
    seed(store, tmp_path / "logs")
    pool = RecordingPool()
    service = DataBuildService(graph, store, str(tmp_path / "logs"), clock_us=lambda: NOW_US, builds=pool)
    seeded = pb.CreateWantRequest(partitions=["daily/9"], external_dependencies=["raw/9"], sla_seconds=60,
                                  comment="seeded")
    wants = service.create_wants(pb.CreateWantsRequest(wants=[seeded, seeded])).wants
    with serving(service) as url:
        yield service, ServiceClient(url, TOKEN), store, pool, [w.spec.want_id for w in wants]
    store.close()


#: Operation -> a function of (side name, ids of the seeded wants) giving its request.
#: Writes name their side in the refs and reasons, so both sides' events can be compared.
CASES: dict[str, Callable[[str, list[str]], object]] = {
    "health": lambda side, w: pb.EmptyRequest(),
    "graph_info": lambda side, w: pb.EmptyRequest(),
    "analyze": lambda side, w: pb.AnalyzeRequest(partitions=["daily/1", "daily/2"]),
    "list_partitions": lambda side, w: pb.ListPartitionsRequest(pattern="raw/*", statuses=[pb.PARTITION_STATUS_AVAILABLE],
                                                               limit=1),
    "mark_available": lambda side, w: pb.MarkAvailableRequest(refs=[f"ext/{side}/1", f"ext/{side}/2"],
                                                              comment=f"from {side}"),
    "taint": lambda side, w: pb.TaintRequest(refs=["raw/1" if side == "local" else "raw/2"], reason=f"bad {side}",
                                             requested_by=f"cli:{side}"),
    "partition": lambda side, w: pb.GetPartitionRequest(ref="daily/1"),
    "list_builds": lambda side, w: pb.ListBuildsRequest(limit=5),
    "build": lambda side, w: pb.GetBuildRequest(build_id="b-ru"),  # a unique prefix
    "cancel_build": lambda side, w: pb.CancelBuildRequest(build_id="b-running", reason=f"stop {side}"),
    "create_wants": lambda side, w: pb.CreateWantsRequest(wants=[pb.CreateWantRequest(
        partitions=[f"daily/{side}"], ttl_seconds=600, comment=side,
        source=pb.WantSource(type=pb.WANT_SOURCE_TYPE_CLI, name=side))]),
    "list_wants": lambda side, w: pb.ListWantsRequest(statuses=[pb.WANT_STATUS_WAITING], pattern="daily/*"),
    "sla_violations": lambda side, w: pb.PageRequest(limit=10),
    "want": lambda side, w: pb.GetWantRequest(want_id=w[0]),
    "cancel_want": lambda side, w: pb.CancelWantRequest(want_id=w[0] if side == "local" else w[1],
                                                        reason=f"no longer {side}", requested_by=f"cli:{side}"),
    "upstreams": lambda side, w: pb.EmptyRequest(),
    "triggers": lambda side, w: pb.EmptyRequest(),
    "fire_trigger": lambda side, w: pb.FireTriggerRequest(name="nightly", at=_timestamp(NOW_US - 3600_000_000),
                                                          requested_by=f"cli:{side}"),
    "pause_trigger": lambda side, w: pb.PauseTriggerRequest(name=f"hold_{side}", requested_by=f"cli:{side}",
                                                            reason=f"by {side}"),
    "resume_trigger": lambda side, w: pb.PauseTriggerRequest(name=f"resumable_{side}", requested_by=f"cli:{side}"),
    "job_stats": lambda side, w: pb.EmptyRequest(),
    "list_job_runs": lambda side, w: pb.ListJobRunsRequest(job_label="//p:daily", limit=5),
    "job_run": lambda side, w: pb.GetJobRunRequest(job_run_id="j-1"),
    "job_run_log": lambda side, w: pb.JobRunLogRequest(job_run_id="j-1", offset=5, limit=8),
    "events": lambda side, w: pb.ListEventsRequest(since=1, patterns=["raw/*"], limit=3),
}

#: Requests each operation must refuse alike.
BAD: dict[str, Callable[[list[str]], object]] = {
    "analyze": lambda w: pb.AnalyzeRequest(),
    "list_partitions": lambda w: pb.ListPartitionsRequest(pattern="a b"),
    "mark_available": lambda w: pb.MarkAvailableRequest(refs=["daily/1"]),
    "taint": lambda w: pb.TaintRequest(refs=["raw/never"], reason="x"),
    "partition": lambda w: pb.GetPartitionRequest(ref=" "),
    "list_builds": lambda w: pb.ListBuildsRequest(limit=0),
    "build": lambda w: pb.GetBuildRequest(build_id="nope"),
    "cancel_build": lambda w: pb.CancelBuildRequest(build_id="nope"),
    "create_wants": lambda w: pb.CreateWantsRequest(wants=[pb.CreateWantRequest(partitions=["bad ref"])]),
    "list_wants": lambda w: pb.ListWantsRequest(limit=10_001),
    "sla_violations": lambda w: pb.PageRequest(limit=-1),
    "want": lambda w: pb.GetWantRequest(want_id="0190ae3c-0000-7000-8000-000000000000"),
    "cancel_want": lambda w: pb.CancelWantRequest(want_id="nope"),
    "list_job_runs": lambda w: pb.ListJobRunsRequest(job_label="//p:nope"),
    "job_run": lambda w: pb.GetJobRunRequest(job_run_id="nope"),
    "job_run_log": lambda w: pb.JobRunLogRequest(job_run_id="j-1", tail=-1),
    "events": lambda w: pb.ListEventsRequest(types=["nope"]),
    "fire_trigger": lambda w: pb.FireTriggerRequest(name="nope"),
    "pause_trigger": lambda w: pb.PauseTriggerRequest(name="nightly!"),
    "resume_trigger": lambda w: pb.PauseTriggerRequest(name="nope"),
}

def _timestamp(us: int) -> Timestamp:
    out = Timestamp()
    out.FromMicroseconds(us)
    return out


_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _normal(answer) -> object:
    if isinstance(answer, LogSlice):
        return (answer.offset, answer.next_offset, answer.size, answer.complete, b"".join(answer.chunks))
    text = repr(message_dict(answer)).replace("local", "SIDE").replace("remote", "SIDE")
    text = re.sub(r"'(index|last_event_index|latest_event_index|next|created_index|handled_index)': \d+",
                  r"'\1': N", text)
    text = re.sub(r"'(timestamp|created_at|updated_at|requested_at|finished_at|handled_until)': '[^']*'",
                  r"'\1': T", text)
    text = text.replace("raw/1", "raw/X").replace("raw/2", "raw/X")
    return _IDS.sub("ID", text)


def _recorded(store: StateStore, since: int) -> list:
    return [_normal(e) for e in store.log.list_events(since).events]


def test_every_operation_has_a_parity_case():
    assert set(CASES) == {op.name for op in OPERATIONS}
    assert set(BAD) == {op.name for op in OPERATIONS} - {"health", "graph_info", "upstreams", "triggers",
                                                                  "job_stats"}


@pytest.mark.parametrize("name", [op.name for op in OPERATIONS])
def test_operation_answers_and_records_alike(sides, name):
    service, client, store, pool, wants = sides
    results = {}
    for side, target in (("local", service), ("remote", client)):
        before = store.log.latest_index()
        answer = getattr(target, name)(CASES[name](side, wants))
        results[side] = (_normal(answer), _recorded(store, before))
    assert results["local"] == results["remote"]
    if name == "cancel_build":
        assert pool.cancelled == [("b-running", "stop local"), ("b-running", "stop remote")]


def test_feed_and_health_name_the_log_alike(sides):
    """The feed's cursor fields (hidden from the comparison above as ids and indices) are this log's on both sides."""
    service, client, store, _, _ = sides
    head = store.log.head()
    for target in (service, client):
        page = target.events(pb.ListEventsRequest(since=1, patterns=["raw/*"], limit=3))
        assert (page.log_id, page.head, page.next, page.next_event_id) == (
            store.log.log_id, head.index, head.index, head.event_id)
        health = target.health(pb.EmptyRequest())
        assert (health.log_id, health.latest_event_index, health.latest_event_id) == (
            store.log.log_id, head.index, head.event_id)


#: Feed cursors each side must refuse alike: another log, a cursor past the head, another event at the cursor.
FEED_REFUSALS: dict[str, Callable[[StateStore], pb.ListEventsRequest]] = {
    "log_id": lambda store: pb.ListEventsRequest(log_id="0190ae3c-0000-4000-8000-000000000000"),
    "beyond_head": lambda store: pb.ListEventsRequest(since=store.log.latest_index() + 5,
                                                      log_id=store.log.log_id),
    "cursor": lambda store: pb.ListEventsRequest(since=1, cursor_event_id="not-the-first-event"),
}


@pytest.mark.parametrize("case", sorted(FEED_REFUSALS))
def test_feed_refuses_a_stale_cursor_alike(sides, case):
    service, client, store, _, _ = sides
    errors = []
    for target in (service, client):
        with pytest.raises(DataBuildError) as info:
            target.events(FEED_REFUSALS[case](store))
        errors.append((type(info.value), info.value.code, str(info.value), info.value.http_status,
                       info.value.exit_code))
    assert errors[0] == errors[1]
    assert errors[0][1:2] == (("cursor_diverged",) if case == "cursor" else ("log_reset",))


@pytest.mark.parametrize("name", sorted(BAD))
def test_operation_refuses_alike(sides, name):
    service, client, store, _, wants = sides
    before = store.log.latest_index()
    errors = []
    for target in (service, client):
        with pytest.raises(DataBuildError) as info:
            getattr(target, name)(BAD[name](wants))
        errors.append((type(info.value), info.value.code, str(info.value), info.value.http_status,
                       info.value.exit_code))
    assert errors[0] == errors[1]
    assert store.log.latest_index() == before
