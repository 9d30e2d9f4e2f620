"""EventFilter: which events a query or feed subscription wants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from databuild.errors import InvalidArgumentError
from databuild.events.keys import Key, KeyKind
from databuild.events.types import EVENT_TYPES
from databuild.refs import RefPattern, compile_pattern, validate_ref


def to_micros(t: datetime) -> int:
    """UTC microseconds since the epoch (naive datetimes are taken as UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp() * 1_000_000)


@dataclass(frozen=True)
class EventFilter:
    """Conditions on events; empty fields do not constrain.

    Conditions on different fields combine with AND; values within one field with
    OR (an event matches ``refs`` if it touches any of them, ``refs`` and
    ``ref_patterns`` together form one OR group). Time bounds are
    ``start <= timestamp < end``.
    """

    types: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    ref_patterns: tuple[str, ...] = ()
    build_ids: tuple[str, ...] = ()
    job_run_ids: tuple[str, ...] = ()
    want_ids: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("types", "refs", "ref_patterns", "build_ids", "job_run_ids", "want_ids"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise InvalidArgumentError(f"EventFilter.{name} must be a sequence, got the string {value!r}")
            object.__setattr__(self, name, tuple(value))
        unknown = [t for t in self.types if t not in EVENT_TYPES]
        if unknown:
            raise InvalidArgumentError(
                f"unknown event type(s) {', '.join(map(repr, unknown))}; known: {', '.join(EVENT_TYPES)}"
            )
        for ref in self.refs:
            validate_ref(ref)
        for pattern in self.ref_patterns:
            compile_pattern(pattern)

    @property
    def patterns(self) -> tuple[RefPattern, ...]:
        """The compiled ``ref_patterns``."""
        return tuple(compile_pattern(p) for p in self.ref_patterns)

    @property
    def start_us(self) -> int | None:
        return None if self.start is None else to_micros(self.start)

    @property
    def end_us(self) -> int | None:
        return None if self.end is None else to_micros(self.end)

    def id_groups(self) -> list[tuple[KeyKind, tuple[str, ...]]]:
        """The non-empty exact-id conditions, one OR group each."""
        groups = [(KeyKind.BUILD, self.build_ids), (KeyKind.JOB_RUN, self.job_run_ids), (KeyKind.WANT, self.want_ids)]
        return [(kind, ids) for kind, ids in groups if ids]

    def matches(self, event_type: str, timestamp_us: int, keys: set[Key]) -> bool:
        """Evaluate the filter in memory (the in-memory backend and tests use this)."""
        if self.types and event_type not in self.types:
            return False
        if self.start is not None and timestamp_us < self.start_us:
            return False
        if self.end is not None and timestamp_us >= self.end_us:
            return False
        if self.refs or self.ref_patterns:
            refs = {k for kind, k in keys if kind is KeyKind.PARTITION}
            if not (refs.intersection(self.refs) or any(p.matches(r) for p in self.patterns for r in refs)):
                return False
        return all(any((kind, i) in keys for i in ids) for kind, ids in self.id_groups())


ALL_EVENTS = EventFilter()
