"""The projection that keeps state read models current inside each append."""

from __future__ import annotations

from typing import Sequence

from google.protobuf.message import Message

from databuild.events import ReadModelTx, Row
from databuild.proto import databuild_pb2 as pb
from databuild.state.reducers import KINDS, STATE_TYPES, WANT, apply_in_place, status_of, touched
from databuild.state.wants import want_terms


class StateProjection:
    """Folds events into one read-model row per partition, job run, build, want, upstream."""

    name = "state"
    version = 2  # 2: want index terms
    kinds = KINDS

    def apply(self, tx: ReadModelTx, events: Sequence[pb.Event]) -> None:
        """Load every touched entity once, fold the batch in place, write back what changed."""
        touches = [(event, touched(event)) for event in events]
        wanted: dict[str, set[str]] = {}
        for _, entities in touches:
            for kind, key in entities:
                wanted.setdefault(kind, set()).add(key)
        states: dict[tuple[str, str], Message] = {}
        old_terms: dict[str, tuple] = {}  # want id -> its terms before this batch, to write only the change
        for kind, keys in wanted.items():
            rows = tx.get_many(kind, sorted(keys))
            for key in keys:
                row = rows.get(key)
                states[(kind, key)] = STATE_TYPES[kind].FromString(row.body) if row else STATE_TYPES[kind]()
                if row and kind == WANT:
                    old_terms[key] = want_terms(states[(kind, key)])
        for event, entities in touches:
            for kind, key in entities:
                apply_in_place(key, states[(kind, key)], event)
        tx.put_many([
            Row(kind, key, status_of(kind, s), s.SerializeToString(),
                want_terms(s) if kind == WANT else None, old_terms.get(key) if kind == WANT else None)
            for (kind, key), s in states.items()
        ])
