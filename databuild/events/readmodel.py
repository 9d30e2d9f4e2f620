"""Read models: derived rows the log keeps current inside each append transaction.

The events layer stores rows opaquely (kind, key, status, body); what they mean is
the business of a ``Projection`` supplied by a higher layer (``databuild.state``).
Keeping them in the append transaction means a row never disagrees with the log,
and "status of ref X" or "partitions matching P with status S" never replay events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Mapping, Protocol, Sequence

from databuild.proto import databuild_pb2 as pb
from databuild.refs import compile_pattern


#: A secondary index entry of a row: (name, value), e.g. ("partition", "sales/2026-11-25").
Term = tuple[str, str]


@dataclass(frozen=True)
class Row:
    """One read-model row. ``status`` is the entity's status enum value (0 if none).

    ``terms`` are the row's secondary index entries, replaced whenever the row is
    written; ``None`` leaves them as they are (kinds that have none skip the work).
    ``old_terms``, if the writer knows them, lets a backend write only the difference.
    Rows read back carry ``terms=None``.
    """

    kind: str
    key: str
    status: int
    body: bytes
    terms: tuple[Term, ...] | None = None
    old_terms: tuple[Term, ...] | None = None


class ReadModelTx(Protocol):
    """Row access inside an append transaction."""

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Row]:
        """Current rows of ``kind`` for those of ``keys`` that exist."""

    def put_many(self, rows: Sequence[Row]) -> None:
        """Insert or replace rows."""


class Projection(Protocol):
    """Folds events into read-model rows."""

    #: Unique name, recorded with the index it has folded up to.
    name: str
    #: The row kinds it owns (deleted and rebuilt by replay when ``version`` changes).
    kinds: tuple[str, ...]
    #: Bump when the rows' meaning changes: the log then rebuilds them by replay.
    version: int

    def apply(self, tx: ReadModelTx, events: Sequence[pb.Event]) -> None:
        """Update rows for ``events`` (already indexed, in index order)."""


def projection_reads(projection: Projection, events: Sequence[pb.Event]) -> Mapping[str, Collection[str]]:
    """The rows (kind -> keys) ``projection.apply(tx, events)`` will ask ``tx.get_many``
    for, if the projection says (an optional ``reads(events)`` method; events need not be
    indexed yet): a backend may then fetch them in the round trip that opens the
    transaction. Rows it asks for beyond these are read as usual. Empty if it does not say."""
    reads = getattr(projection, "reads", None)
    return reads(events) if reads is not None else {}


@dataclass(frozen=True)
class TermMatch:
    """Rows with a term ``name`` whose value is one of ``values``, in ``[low, high)``
    and matches the ref glob ``pattern``; unset fields do not constrain."""

    name: str
    values: tuple[str, ...] = ()
    low: str | None = None
    high: str | None = None
    pattern: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if self.pattern is not None:
            compile_pattern(self.pattern)

    def matches(self, term: Term) -> bool:
        name, value = term
        return (
            name == self.name
            and (not self.values or value in self.values)
            and (self.low is None or value >= self.low)
            and (self.high is None or value < self.high)
            and (self.pattern is None or compile_pattern(self.pattern).matches(value))
        )


@dataclass(frozen=True)
class RowQuery:
    """Rows of one kind, optionally by status, key pattern and terms (all must match), in key order."""

    kind: str
    statuses: tuple[int, ...] = ()
    pattern: str | None = None
    after_key: str | None = None
    limit: int = 1000
    terms: tuple[TermMatch, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(self.terms))
        if self.pattern is not None:
            compile_pattern(self.pattern)


def row_matches(query: RowQuery, row: Row, terms: Sequence[Term]) -> bool:
    """Evaluate ``query`` (except ``limit``) against one row and its terms in memory."""
    return (
        row.kind == query.kind
        and (not query.statuses or row.status in query.statuses)
        and (query.pattern is None or compile_pattern(query.pattern).matches(row.key))
        and (query.after_key is None or row.key > query.after_key)
        and all(any(m.matches(t) for t in terms) for m in query.terms)
    )
