"""The pure, in-memory fold of events into state.

``fold(fold(EMPTY, a), b) == fold(EMPTY, a + b)`` for any split of an event
sequence; the read models the log keeps (see ``projection``) use the same reducers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from google.protobuf.message import Message

from databuild.proto import databuild_pb2 as pb
from databuild.state.reducers import KINDS, reduce, touched


@dataclass(frozen=True)
class State:
    """Every entity's state after folding events up to ``last_index``."""

    entities: dict[str, dict[str, Message]] = field(default_factory=lambda: {k: {} for k in KINDS})
    last_index: int = 0

    def get(self, kind: str, key: str) -> Message | None:
        """State of one entity, or None if no event touched it."""
        return self.entities[kind].get(key)


EMPTY = State()


def fold(state: State, events: Iterable[pb.Event]) -> State:
    """Return the state after ``events``; ``state`` itself is left unchanged."""
    entities = {kind: dict(by_key) for kind, by_key in state.entities.items()}
    last = state.last_index
    for event in events:
        for kind, key in touched(event):
            entities[kind][key] = reduce(kind, key, entities[kind].get(key), event)
        last = event.index
    return State(entities, last)
