"""The projection that keeps state read models current inside each append."""

from __future__ import annotations

from typing import Callable, Sequence

from google.protobuf.message import Message

from databuild.events import ReadModelTx, Row, Term
from databuild.proto import databuild_pb2 as pb
from databuild.state.builds import build_terms
from databuild.state.job_runs import job_run_terms
from databuild.state.reducers import BUILD, JOB_RUN, KINDS, STATE_TYPES, WANT, apply_in_place, status_of, touched
from databuild.state.wants import want_terms

#: The kinds whose rows carry secondary index terms, and how each derives them from its state.
TERMS: dict[str, Callable[[Message], tuple[Term, ...]]] = {WANT: want_terms, BUILD: build_terms,
                                                            JOB_RUN: job_run_terms}


class StateProjection:
    """Folds events into one read-model row per partition, job run, build, want, upstream."""

    name = "state"
    # 2: want index terms; 3: build index terms; 4: job run input terms; 5: want sla_slack, job run job terms
    version = 5
    kinds = KINDS

    def reads(self, events: Sequence[pb.Event]) -> dict[str, set[str]]:
        """The rows ``apply`` reads for ``events``: every entity they touch (so a backend can
        fetch them all with its first round trip)."""
        wanted: dict[str, set[str]] = {}
        for event in events:
            for kind, key in touched(event):
                wanted.setdefault(kind, set()).add(key)
        return wanted

    def apply(self, tx: ReadModelTx, events: Sequence[pb.Event]) -> None:
        """Load every touched entity once, fold the batch in place, write back what changed."""
        touches = [(event, touched(event)) for event in events]
        wanted: dict[str, set[str]] = {}
        for _, entities in touches:
            for kind, key in entities:
                wanted.setdefault(kind, set()).add(key)
        states: dict[tuple[str, str], Message] = {}
        old_terms: dict[tuple[str, str], tuple[Term, ...]] = {}  # terms before this batch: write only the change
        for kind, keys in wanted.items():
            rows = tx.get_many(kind, sorted(keys))
            for key in keys:
                row = rows.get(key)
                states[(kind, key)] = STATE_TYPES[kind].FromString(row.body) if row else STATE_TYPES[kind]()
                if kind in TERMS:  # a new row has no terms yet: nothing to delete
                    old_terms[(kind, key)] = TERMS[kind](states[(kind, key)]) if row else ()
        for event, entities in touches:
            for kind, key in entities:
                apply_in_place(key, states[(kind, key)], event)
        tx.put_many([
            Row(kind, key, status_of(kind, s), s.SerializeToString(),
                TERMS[kind](s) if kind in TERMS else None, old_terms.get((kind, key)))
            for (kind, key), s in states.items()
        ])
