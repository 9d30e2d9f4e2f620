"""Want deadlines and the index terms that let the evaluator and the API find wants
without scanning them all.

Terms (read-model secondary index entries, see ``databuild.events.Term``):

- ``("partition", ref)`` for every partition a want asks for (kept after it ends);
- ``("source", type)`` and ``("source", "type:name")``, e.g. ``cli`` and ``cli:alice``;
- ``("sla_violated", "1")`` once its SLA deadline passed unsatisfied;
- while active: ``("wait", ref)`` for each external partition it waits for,
  ``("build", id)`` for the build it rides on, ``("due", time)`` for its next
  deadline (TTL, SLA or end of retry backoff), ``("sla", time)`` for an SLA deadline
  not yet passed, and ``("queued", time)`` with its urgency while queued.

Times are UTC microseconds, zero-padded so text order is time order.
"""

from __future__ import annotations

from typing import Sequence

from databuild.events import Term
from databuild.proto import databuild_pb2 as pb
from databuild.statuses import ACTIVE_WANT_STATUSES


def time_term(us: int) -> str:
    """Microseconds as sortable text."""
    return f"{max(us, 0):017d}"


def ttl_deadline_us(spec: pb.WantSpec) -> int:
    """When the want gives up: ``created_at + ttl``."""
    return spec.created_at.ToMicroseconds() + spec.ttl_seconds * 1_000_000


def sla_deadline_us(spec: pb.WantSpec) -> int | None:
    """When the want's SLA is violated: ``data_timestamp + sla``; None without an SLA."""
    if spec.sla_seconds <= 0:
        return None
    return spec.data_timestamp.ToMicroseconds() + spec.sla_seconds * 1_000_000


def urgency_us(spec: pb.WantSpec) -> int:
    """Queue order: earliest SLA deadline first; wants without an SLA by their TTL."""
    sla = sla_deadline_us(spec)
    return sla if sla is not None else ttl_deadline_us(spec)


def next_due_us(want: pb.WantState) -> int | None:
    """The next time the want changes without any event: TTL, SLA or backoff end."""
    if want.status not in ACTIVE_WANT_STATUSES:
        return None
    times = [ttl_deadline_us(want.spec)]
    sla = sla_deadline_us(want.spec)
    if sla is not None and not want.sla_violated:
        times.append(sla)
    if want.status == pb.WANT_STATUS_QUEUED and want.HasField("not_before"):
        times.append(want.not_before.ToMicroseconds())
    return min(times)


DEPENDENCIES, PLAN_INPUTS = "external dependencies", "external inputs of its plan"


def waiting_message(refs: Sequence[str], what: str = DEPENDENCIES) -> str:
    """Why a want waits: the one wording the reducer and the evaluator share, so a
    want created waiting needs no second event to say so."""
    return f"waiting for {what}: {', '.join(refs)}"


_SOURCE_LABELS = {v.number: v.name.removeprefix("WANT_SOURCE_TYPE_").lower()
                  for v in pb.WantSourceType.DESCRIPTOR.values}


def source_label(source: pb.WantSource) -> str:
    """``cli``, ``api``, ... (lower case, as users type it)."""
    label = _SOURCE_LABELS.get(source.type)  # a table: the enum wrapper's Name() is slow on every write
    return label if label is not None else pb.WantSourceType.Name(source.type)  # raises, as it did, if unknown


def want_terms(want: pb.WantState) -> tuple[Term, ...]:
    """The index terms of ``want`` (see the module docstring)."""
    spec = want.spec
    source = source_label(spec.source)
    terms: list[Term] = [("partition", ref) for ref in spec.partitions]
    terms += [("source", source), ("source", f"{source}:{spec.source.name}")]
    if want.sla_violated:
        terms.append(("sla_violated", "1"))
    if want.status not in ACTIVE_WANT_STATUSES:
        return tuple(terms)
    terms += [("wait", ref) for ref in want.waiting_for]
    if want.build_id and want.status == pb.WANT_STATUS_BUILDING:
        terms.append(("build", want.build_id))
    terms.append(("due", time_term(next_due_us(want))))
    sla = sla_deadline_us(spec)
    if sla is not None and not want.sla_violated:
        terms.append(("sla", time_term(sla)))
    if want.status == pb.WANT_STATUS_QUEUED:
        terms.append(("queued", time_term(urgency_us(spec))))
    return tuple(terms)
