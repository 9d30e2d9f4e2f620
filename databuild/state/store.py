"""Queries over the state read models (no event replay)."""

from __future__ import annotations

from typing import Sequence

from google.protobuf.message import Message

from databuild.events import Clock, EventLog, RowQuery, open_event_log, system_clock
from databuild.proto import databuild_pb2 as pb
from databuild.state.projection import StateProjection
from databuild.state.reducers import (
    ACTIVE_WANT_STATUSES, BUILD, JOB_RUN, PARTITION, STATE_TYPES, UPSTREAM, WANT,
)


def open_state_store(uri: str, clock: Clock = system_clock) -> "StateStore":
    """Open the event log at ``uri`` with the state projection registered."""
    return StateStore(open_event_log(uri, [StateProjection()], clock))


class StateStore:
    """Current state of partitions, job runs, builds, wants and upstreams.

    Reads come from read-model rows updated in the append transaction, so each
    lookup is one indexed query whatever the size of the log.
    """

    def __init__(self, log: EventLog) -> None:
        if not any(isinstance(p, StateProjection) for p in log.projections):
            raise ValueError("the event log must be opened with a StateProjection")
        self.log = log

    def _one(self, kind: str, key: str) -> Message | None:
        row = self.log.get_row(kind, key)
        return None if row is None else STATE_TYPES[kind].FromString(row.body)

    def _many(self, kind: str, statuses: Sequence[int], pattern: str | None, after: str | None, limit: int) -> list:
        rows = self.log.query_rows(RowQuery(kind, tuple(statuses), pattern, after, limit))
        return [STATE_TYPES[kind].FromString(r.body) for r in rows]

    def partition(self, ref: str) -> pb.PartitionState | None:
        """State of one partition; None if no event mentioned it (i.e. missing)."""
        return self._one(PARTITION, ref)

    def partitions_by_ref(self, refs: Sequence[str]) -> dict[str, pb.PartitionState]:
        """States of those ``refs`` any event mentioned (one batched lookup)."""
        return {ref: pb.PartitionState.FromString(row.body) for ref, row in self.log.get_rows(PARTITION, refs).items()}

    def partition_statuses(self, refs: Sequence[str]) -> dict[str, int]:
        """Status of each ref; refs never seen are PARTITION_STATUS_MISSING."""
        rows = self.log.get_rows(PARTITION, refs)
        return {ref: rows[ref].status if ref in rows else pb.PARTITION_STATUS_MISSING for ref in refs}

    def partitions(
        self, pattern: str | None = None, statuses: Sequence[int] = (), after: str | None = None, limit: int = 1000
    ) -> list[pb.PartitionState]:
        """Partitions matching ``pattern`` with one of ``statuses``, by ref; page with ``after``."""
        return self._many(PARTITION, statuses, pattern, after, limit)

    def job_run(self, job_run_id: str) -> pb.JobRunState | None:
        return self._one(JOB_RUN, job_run_id)

    def build(self, build_id: str) -> pb.BuildState | None:
        return self._one(BUILD, build_id)

    def builds(self, statuses: Sequence[int] = (), after: str | None = None, limit: int = 1000) -> list[pb.BuildState]:
        return self._many(BUILD, statuses, None, after, limit)

    def want(self, want_id: str) -> pb.WantState | None:
        return self._one(WANT, want_id)

    def wants(self, statuses: Sequence[int] = (), after: str | None = None, limit: int = 1000) -> list[pb.WantState]:
        return self._many(WANT, statuses, None, after, limit)

    def active_wants(self, after: str | None = None, limit: int = 1000) -> list[pb.WantState]:
        """Wants still waiting, queued or building."""
        return self.wants(ACTIVE_WANT_STATUSES, after, limit)

    def upstream(self, name: str) -> pb.UpstreamState | None:
        return self._one(UPSTREAM, name)

    def close(self) -> None:
        self.log.close()
