"""Queries over the state read models (no event replay)."""

from __future__ import annotations

import sys
from typing import Sequence

from google.protobuf.message import Message

from databuild.errors import InvalidArgumentError, NotFoundError
from databuild.events import Clock, EventLog, RowQuery, TermMatch, open_event_log, system_clock
from databuild.proto import databuild_pb2 as pb
from databuild.state.projection import StateProjection
from databuild.state.builds import REQUESTED, build_order
from databuild.state.job_runs import INPUT, JOB, spaced_range, job_order
from databuild.state.reducers import BUILD, JOB_RUN, PARTITION, STATE_TYPES, TRIGGER, UPSTREAM, WANT
from databuild.state.wants import ACTIVE_WANT_STATUSES, time_term

_PAGE = 5000  # rows per query when a caller needs all matches
#: Shortest id prefix ``resolve_id`` accepts, and how many matches an ambiguous one lists.
MIN_ID_PREFIX, MAX_LISTED_MATCHES = 4, 10
#: The kinds ``resolve_id`` resolves, as messages name them.
_ID_KINDS = {WANT: "want", BUILD: "build", JOB_RUN: "job run"}


def open_state_store(uri: str, clock: Clock = system_clock) -> "StateStore":
    """Open the event log at ``uri`` with the state projection registered."""
    return StateStore(open_event_log(uri, [StateProjection()], clock))


class StateStore:
    """Current state of partitions, job runs, builds, wants, upstreams and triggers.

    Reads come from read-model rows updated in the append transaction, so each
    lookup is one indexed query whatever the size of the log.
    """

    def __init__(self, log: EventLog) -> None:
        if not any(isinstance(p, StateProjection) for p in log.projections):
            raise InvalidArgumentError(f"a StateStore needs an event log opened with a StateProjection; "
                                       f"this one has {[p.name for p in log.projections] or 'none'}")
        self.log = log

    def _one(self, kind: str, key: str) -> Message | None:
        row = self.log.get_row(kind, key)
        return None if row is None else STATE_TYPES[kind].FromString(row.body)

    def _many(self, kind: str, statuses: Sequence[int], pattern: str | None, after: str | None, limit: int,
              terms: Sequence[TermMatch] = ()) -> list:
        rows = self.log.query_rows(RowQuery(kind, tuple(statuses), pattern, after, limit, tuple(terms)))
        return [STATE_TYPES[kind].FromString(r.body) for r in rows]

    def _all_wants(self, statuses: Sequence[int], terms: Sequence[TermMatch], after: str | None = None
                   ) -> list[pb.WantState]:
        found = []
        while True:
            page = self.wants(statuses, after, _PAGE, terms)
            found += page
            if len(page) < _PAGE:
                return found
            after = page[-1].spec.want_id

    def _wants_by_term(self, name: str, low: str | None, high: str | None, limit: int) -> list[pb.WantState]:
        """Wants with a term ``name`` in ``[low, high)``, by value, at most ``limit`` (paging past the log's page size)."""
        entries: list[tuple[str, str]] = []
        while len(entries) < limit:
            page = self.log.term_entries(WANT, name, low, high, min(limit - len(entries), _PAGE),
                                         after=entries[-1] if entries else None)
            entries += page
            if len(page) < _PAGE:
                break
        found = self.wants_by_id([key for _, key in entries])
        return [found[key] for key in dict.fromkeys(key for _, key in entries) if key in found]

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

    def job_runs_reading(self, ref: str, limit: int) -> list[pb.JobRunState]:
        """Job runs with ``ref`` among their config's inputs, newest scheduled first, at most
        ``limit``. Walks the ``input`` index entries of ``ref`` only: a call costs what it returns."""
        low, high = spaced_range(ref)
        entries = self.log.term_entries(JOB_RUN, INPUT, low, high, limit, reverse=True)
        rows = self.log.get_rows(JOB_RUN, [key for _, key in entries])
        return [pb.JobRunState.FromString(rows[key].body) for _, key in entries if key in rows]

    def job_runs_of(self, job_label: str, after: str | None = None, limit: int = 50) -> list[pb.JobRunState]:
        """Runs of ``job_label``, newest scheduled first (ties by id, descending), at most
        ``limit``; ``after`` = the last job run id of the previous page. Walks the ``job``
        index entries of the label only: a page costs what it returns."""
        start = None
        if after is not None:
            run = self._one(JOB_RUN, after)
            if run is None or run.job_label != job_label:
                raise NotFoundError(f"no job run {after!r} of {job_label} to page after")
            start = job_order(run)
        low, high = spaced_range(job_label)
        entries = self.log.term_entries(JOB_RUN, JOB, low, high, limit, reverse=True, after=start)
        rows = self.log.get_rows(JOB_RUN, [key for _, key in entries])
        return [pb.JobRunState.FromString(rows[key].body) for _, key in entries if key in rows]

    def build(self, build_id: str) -> pb.BuildState | None:
        return self._one(BUILD, build_id)

    def builds(self, statuses: Sequence[int] = (), after: str | None = None, limit: int = 1000) -> list[pb.BuildState]:
        """Builds by id (an arbitrary order: ids are random), filtered by status; page with ``after``."""
        return self._many(BUILD, statuses, None, after, limit)

    def builds_newest_first(self, after: str | None = None, limit: int = 50) -> list[pb.BuildState]:
        """Builds by request time, newest first (ties by id, descending); ``after`` = the last
        build id of the previous page. Walks the ``requested`` index: a page costs what it returns."""
        start = None
        if after is not None:
            build = self.build(after)
            if build is None:
                raise NotFoundError(f"no build with id {after!r} to page after")
            start = build_order(build)
        entries = self.log.term_entries(BUILD, REQUESTED, limit=limit, reverse=True, after=start)
        rows = self.log.get_rows(BUILD, [key for _, key in entries])
        return [pb.BuildState.FromString(rows[key].body) for _, key in entries if key in rows]

    def resolve_id(self, kind: str, prefix: str) -> str:
        """The full id of the want, build or job run (``kind``: want, build, job_run) that ``prefix``
        names: the id itself, else the one id starting with it (at least MIN_ID_PREFIX characters).

        NotFoundError if none matches; InvalidArgumentError, listing the matches, if several do.
        """
        what = _ID_KINDS.get(kind)
        if what is None:
            raise InvalidArgumentError(f"ids of {kind!r} cannot be resolved; kinds: {', '.join(_ID_KINDS)}")
        prefix = prefix.strip()
        if not prefix:
            raise InvalidArgumentError(f"a {what} id must not be empty")
        if self.log.get_row(kind, prefix) is not None:
            return prefix
        if len(prefix) < MIN_ID_PREFIX:
            raise NotFoundError(f"no {what} with id {prefix!r} (a shortened id needs at least "
                                f"{MIN_ID_PREFIX} characters)")
        matches = self.log.keys_with_prefix(kind, prefix, MAX_LISTED_MATCHES + 1)
        if not matches:
            raise NotFoundError(f"no {what} with id {prefix!r}")
        if len(matches) > 1:
            listed = ", ".join(matches[:MAX_LISTED_MATCHES]) + (", ..." if len(matches) > MAX_LISTED_MATCHES else "")
            raise InvalidArgumentError(f"{what} id {prefix!r} is ambiguous: it matches {listed}; give more characters")
        return matches[0]

    def want(self, want_id: str) -> pb.WantState | None:
        return self._one(WANT, want_id)

    def wants_by_id(self, want_ids: Sequence[str]) -> dict[str, pb.WantState]:
        return {k: pb.WantState.FromString(row.body) for k, row in self.log.get_rows(WANT, want_ids).items()}

    def wants(self, statuses: Sequence[int] = (), after: str | None = None, limit: int = 1000,
              terms: Sequence[TermMatch] = ()) -> list[pb.WantState]:
        """Wants by id (creation order: ids are UUIDv7), filtered by status and index terms."""
        return self._many(WANT, statuses, None, after, limit, terms)

    def find_wants(self, statuses: Sequence[int] = (), pattern: str | None = None, source: str | None = None,
                   sla_violated: bool = False, after: str | None = None, limit: int = 100) -> list[pb.WantState]:
        """Wants in creation order with these statuses, a partition matching ``pattern``, this
        ``source`` (``cli`` or ``cli:alice``) and the SLA violated; all given filters hold."""
        terms = []
        if pattern:
            terms.append(TermMatch("partition", pattern=pattern))
        if source:
            terms.append(TermMatch("source", values=(source.lower(),)))
        if sla_violated:
            terms.append(TermMatch("sla_violated", values=("1",)))
        return self.wants(statuses, after, limit, terms)

    def count_by_status(self, kind: str, statuses: Sequence[int] = ()) -> dict[int, int]:
        """How many entities of ``kind`` (``WANT``, ``BUILD``, ``JOB_RUN``...) have each status
        (of ``statuses`` if given): one aggregate over the status index, no row read."""
        return self.log.count_rows(kind, statuses)

    def count_wants(self, statuses: Sequence[int] = (), sla_violated: bool = False) -> int:
        """How many wants ``find_wants`` would find with these filters (all of them, no page)."""
        term = None
        if sla_violated:
            term = TermMatch("sla_violated", values=("1",))
        if term is not None and not statuses:  # a want has one sla_violated term at most: entries are wants
            return self.log.count_terms(WANT, term)
        return sum(self.log.count_rows(WANT, statuses, term).values())

    def wants_by_sla_deadline(self, after: tuple[str, str] | None, limit: int, before: str | None = None
                              ) -> tuple[list[tuple[str, str]], dict[str, pb.WantState]]:
        """Active wants whose SLA is not violated, by deadline then id: the index entries
        ``(deadline term, want id)`` after ``after`` and with a deadline term below ``before``
        (at most ``limit``) and those wants by id."""
        entries = self.log.term_entries(WANT, "sla", None, before, limit, after=after)
        return entries, self.wants_by_id([key for _, key in entries])

    def active_wants(self, after: str | None = None, limit: int = 1000) -> list[pb.WantState]:
        """Wants still waiting, queued or building."""
        return self.wants(ACTIVE_WANT_STATUSES, after, limit)

    def active_wants_on(self, refs: Sequence[str], statuses: Sequence[int] = ACTIVE_WANT_STATUSES) -> list[pb.WantState]:
        """Active wants (or those in ``statuses``) asking for, or waiting for, any of ``refs``
        (indexed: cost follows the matches)."""
        refs = tuple(refs)
        queries = [RowQuery(WANT, tuple(statuses), limit=_PAGE, terms=(TermMatch(name, values=refs),))
                   for name in ("partition", "wait")]
        found = {}
        for query, rows in zip(queries, self.log.query_rows_each(queries)):  # both in one round trip
            wants = [pb.WantState.FromString(r.body) for r in rows]
            if len(wants) == _PAGE:  # more than a page: the rest, page by page
                wants += self._all_wants(statuses, query.terms, after=wants[-1].spec.want_id)
            found.update((want.spec.want_id, want) for want in wants)
        return list(found.values())

    def newest_want_on(self, ref: str) -> pb.WantState | None:
        """The most recently created want asking for ``ref``."""
        newest = self.log.term_entries(WANT, "partition", low=ref, high=ref + "\0", limit=1, reverse=True)
        return self.want(newest[0][1]) if newest else None

    def wants_riding(self, build_id: str) -> list[pb.WantState]:
        """Active wants building in ``build_id``."""
        return self._all_wants(ACTIVE_WANT_STATUSES, [TermMatch("build", values=(build_id,))])

    def wants_due(self, after_us: int, until_us: int) -> list[pb.WantState]:
        """Active wants whose next deadline (TTL, SLA, backoff end) is in ``(after_us, until_us]``, all of them."""
        return self._wants_by_term("due", time_term(after_us + 1), time_term(until_us + 1), sys.maxsize)

    def next_due_us(self, after_us: int = -1) -> int | None:
        """The earliest deadline of any active want after ``after_us``."""
        first = self.log.term_entries(WANT, "due", low=time_term(after_us + 1), limit=1)
        return int(first[0][0]) if first else None

    def queued_wants(self, limit: int) -> list[pb.WantState]:
        """Queued wants, most urgent first."""
        return self._wants_by_term("queued", None, None, limit)

    def upstream(self, name: str) -> pb.UpstreamState | None:
        return self._one(UPSTREAM, name)

    def trigger(self, name: str) -> pb.TriggerState | None:
        """A trigger's state; None if no event named it yet."""
        return self._one(TRIGGER, name)

    def triggers_by_name(self, names: Sequence[str]) -> dict[str, pb.TriggerState]:
        """States of those triggers ``names`` that any event named (one batched lookup)."""
        return {k: pb.TriggerState.FromString(row.body) for k, row in self.log.get_rows(TRIGGER, names).items()}

    def close(self) -> None:
        self.log.close()
