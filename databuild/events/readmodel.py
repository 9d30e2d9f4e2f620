"""Read models: derived rows the log keeps current inside each append transaction.

The events layer stores rows opaquely (kind, key, status, body); what they mean is
the business of a ``Projection`` supplied by a higher layer (``databuild.state``).
Keeping them in the append transaction means a row never disagrees with the log,
and "status of ref X" or "partitions matching P with status S" never replay events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from databuild.proto import databuild_pb2 as pb
from databuild.refs import compile_pattern


@dataclass(frozen=True)
class Row:
    """One read-model row. ``status`` is the entity's status enum value (0 if none)."""

    kind: str
    key: str
    status: int
    body: bytes


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


@dataclass(frozen=True)
class RowQuery:
    """Rows of one kind, optionally by status and key pattern, in key order."""

    kind: str
    statuses: tuple[int, ...] = ()
    pattern: str | None = None
    after_key: str | None = None
    limit: int = 1000

    def __post_init__(self) -> None:
        if self.pattern is not None:
            compile_pattern(self.pattern)


def row_matches(query: RowQuery, row: Row) -> bool:
    """Evaluate ``query`` (except ``limit``) against one row in memory."""
    return (
        row.kind == query.kind
        and (not query.statuses or row.status in query.statuses)
        and (query.pattern is None or compile_pattern(query.pattern).matches(row.key))
        and (query.after_key is None or row.key > query.after_key)
    )
