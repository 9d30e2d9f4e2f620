"""Want deadlines and the index terms that let the evaluator and the API find wants
without scanning them all.

Terms (read-model secondary index entries, see ``databuild.events.Term``):

- ``("partition", ref)`` for every partition a want asks for (kept after it ends);
- ``("source", type)`` and ``("source", "type:name")``, e.g. ``cli`` and ``cli:alice``;
- ``("sla_violated", "1")`` once its SLA deadline passed unsatisfied;
- while active: ``("wait", ref)`` for each external partition it waits for,
  ``("build", id)`` for the build it rides on, ``("due", time)`` for its next
  deadline (TTL, SLA or end of retry backoff), ``("sla", time)`` for an SLA deadline
  not yet passed, ``("sla_slack", signed)`` beside it when the want has an anchor
  (``sla_anchor_us``): its SLA deadline less that anchor, and ``("queued", time)`` with
  its urgency while queued.

Times are UTC microseconds, zero-padded so text order is time order (``signed_term``
offsets signed durations so that holds for negative ones too).
"""

from __future__ import annotations

from typing import Sequence

from databuild.events import Term
from databuild.proto import databuild_pb2 as pb
from databuild.state.history import ref_shape
from databuild.statuses import ACTIVE_WANT_STATUSES


def time_term(us: int) -> str:
    """Microseconds as sortable text."""
    return f"{max(us, 0):017d}"


#: Added to a signed term so that every value of +-31,000 years is a 19-digit number.
_SIGNED_OFFSET = 10 ** 18


def signed_term(us: int) -> str:
    """Signed microseconds as sortable text (clamped to +-10**18)."""
    return f"{min(max(us + _SIGNED_OFFSET, 0), 2 * _SIGNED_OFFSET - 1):019d}"


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


def sla_anchor_us(want: pb.WantState) -> int | None:
    """The latest time the want's SLA prediction can start from that is not ``now``: the
    dates of the dated external partitions it waits for (they arrive after their date)
    and, queued, the end of its retry backoff; None without either.

    SLA prediction (``databuild.wants.sla``) starts a want without a plan at the latest
    of now, its backoff end and its inputs' typical arrivals (date + lag), so its predicted
    completion is at most ``max(now, anchor + longest lag) + longest build``: wants whose
    deadline is further than that cannot be at risk (``DataBuildService.at_risk_count``)."""
    times = [day for ref in want.waiting_for if (shaped := ref_shape(ref)) is not None for day in (shaped[1],)]
    if want.status == pb.WANT_STATUS_QUEUED and want.HasField("not_before"):
        times.append(want.not_before.ToMicroseconds())
    return max(times) if times else None


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
        anchor = sla_anchor_us(want)
        if anchor is not None:
            terms.append(("sla_slack", signed_term(sla - anchor)))
    if want.status == pb.WANT_STATUS_QUEUED:
        terms.append(("queued", time_term(urgency_us(spec))))
    return tuple(terms)
